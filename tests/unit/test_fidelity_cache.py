"""The fidelity cache: a stand-alone net depends on the train settings it reads, not on the supernet recipe."""
from dnasgen.fidelity import measure
from tests.integration.test_train_loop import TINY, tiny_spec

RECIPE = "lr: 0.05, distill: false, data_sampling: subnet, warmup_largest_epochs: 1, color_stems: true}"


def test_standalone_records_survive_a_new_supernet_recipe(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr("dnasgen.search.standalone.train_standalone",
                        lambda spec, bundle, cand, epochs, seed: calls.append(spec.train) or {"val": 0.5})
    texts = {"base": TINY, "recipe": TINY.replace("lr: 0.05}", RECIPE), "lr": TINY.replace("lr: 0.05}", "lr: 0.1}"),
             "final": TINY.replace("search: {eval_samples: 48}", "search: {eval_samples: 48, finetune_crop_area_min: 0.5}")}
    specs = {}
    for name, text in texts.items():
        (tmp_path / name).mkdir()
        specs[name] = tiny_spec(tmp_path / name, text)
    cand = specs["base"].space.smallest()
    for name in ("base", "recipe", "lr", "final"):
        cache = measure.Cache(tmp_path / "work", specs[name], supernet_identity=name)
        measure.standalone(cache, specs[name], None, cand, epochs=2, seed=0)
    # the new supernet recipe reused base's record; lr and the final training's crops retrained
    assert [t.lr for t in calls] == [0.05, 0.1, 0.05]
    fits = {measure.Cache(tmp_path, specs[n], "same").train for n in ("base", "recipe")}
    assert len(fits) == 2          # supernet-based records are keyed by the whole train section
