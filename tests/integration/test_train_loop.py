"""Supernet training: checkpoints describe themselves, resume is bit-exact, scoring works."""
import json
import textwrap

import pytest
import torch

from dnasgen.candidate import DataConfig
from dnasgen.nn import load_supernet
from dnasgen.spec import load_spec
from dnasgen.train import (CHECKPOINT_NAME, LOG_NAME, evaluate, recalibrate_bn, score_candidate,
                           train_supernet)
from dnasgen.train.state import train_spec_hash

TINY = """
name: tiny-train
task: {classes: [a, b, c]}
dataset: {source: synthetic, seed: 3, image_size: 40, color_decisive: true, object_size: large,
          samples: {train: 96, val: 48, test: 16}}
sensor: {width: 40, height: 40, pixel_format: rgb888}
data_options: {resolutions: [24, 29], colors: [grayscale, rgb]}
search_space: {widths: [0.25], depths: [[1], [1], [1, 2], [1], [1], [1], [1]], kernels: [3, 5],
               expands: [2, 3], head_channels: 32}
board: {id: qemu-mps2-an386}
train: {epochs: 2, batch_size: 32, random_subnets: 1, bn_recal_samples: 32, lr: 0.05}
search: {eval_samples: 48}
"""


def tiny_spec(tmp_path, text: str = TINY):
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text))
    return load_spec(path)


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    return tiny_spec(tmp_path_factory.mktemp("spec"))


@pytest.fixture(scope="module")
def bundle(spec, tmp_path_factory):
    from dnasgen.data import open_dataset
    return open_dataset(spec, cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def full_run(spec, bundle, tmp_path_factory):
    work = tmp_path_factory.mktemp("full")
    return train_supernet(spec, work, bundle=bundle, threads=1)


def _payload(path):
    return torch.load(path, map_location="cpu", weights_only=False)


def test_resume_after_interruption_is_bit_exact(spec, bundle, full_run, tmp_path):
    first = train_supernet(spec, tmp_path, bundle=bundle, threads=1, stop_at_epoch=1)
    assert _payload(first)["train"]["epoch"] == 1
    resumed = _payload(train_supernet(spec, tmp_path, bundle=bundle, threads=1))
    ref = _payload(full_run)
    assert resumed["train"]["epoch"] == ref["train"]["epoch"] == 2
    assert resumed["state_dict"].keys() == ref["state_dict"].keys()
    for key, value in ref["state_dict"].items():
        assert torch.equal(value, resumed["state_dict"][key]), key
    mom_a = [s["momentum_buffer"] for s in ref["train"]["optimizer"]["state"].values()]
    mom_b = [s["momentum_buffer"] for s in resumed["train"]["optimizer"]["state"].values()]
    assert all(torch.equal(a, b) for a, b in zip(mom_a, mom_b)) and len(mom_a) > 0
    log = [json.loads(line) for line in (tmp_path / LOG_NAME).read_text().splitlines()]
    ref_log = [json.loads(line) for line in (full_run.parent / LOG_NAME).read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2]
    assert [r["loss"] for r in log] == [r["loss"] for r in ref_log]


def test_finished_run_is_not_retrained(spec, bundle, full_run):
    before = full_run.stat().st_mtime_ns
    assert train_supernet(spec, full_run.parent, bundle=bundle, threads=1) == full_run
    assert full_run.stat().st_mtime_ns == before


def test_checkpoint_describes_itself(spec, full_run):
    payload = _payload(full_run)
    assert full_run.name == CHECKPOINT_NAME
    assert payload["spec_hash"] == train_spec_hash(spec)
    assert payload["train"]["settings"]["epochs"] == 2
    assert payload["train"]["step"] == 2 * (96 // 32)
    assert payload["space"]["widths"] == [0.25] and payload["space"]["num_classes"] == 3
    model = load_supernet(full_run)
    assert model.space == spec.space
    for key, value in payload["state_dict"].items():
        assert torch.equal(model.state_dict()[key], value)


def test_score_candidate_matches_static_subnet(spec, bundle, full_run):
    model = load_supernet(full_run)
    cand = spec.space.largest(DataConfig(29, "rgb"))
    acc = score_candidate(model, bundle, cand, spec)
    assert 0.0 <= acc <= 1.0
    static = model.get_active_subnet().eval()          # BN stats from the recalibration
    x, y = bundle.arrays("val", cand.data)
    assert evaluate(static, x, y) == pytest.approx(acc, abs=1e-9)
    # recalibration is a pure function of the samples: repeating it gives the same accuracy
    assert score_candidate(model, bundle, cand, spec) == acc


def test_recalibrate_bn_sets_exact_batch_statistics(spec, bundle, full_run):
    model = load_supernet(full_run)
    cand = spec.space.smallest(DataConfig(24, "grayscale"))
    model.set_active(cand)
    static = model.get_active_subnet()
    x, _ = bundle.arrays("train", cand.data, limit=40)
    recalibrate_bn(static, x, batch_size=40)
    from dnasgen.train.runtime import to_input
    stem = static.layers["stem"]
    with torch.no_grad():
        conv = torch.nn.functional.conv2d(torch.nn.functional.pad(to_input(x, "cpu"), (0, 1, 0, 1)),
                                          stem.weight, stride=2)
    assert torch.allclose(stem.bn.running_mean, conv.mean(dim=(0, 2, 3)), atol=1e-5)
    assert not static.training


def test_changed_train_section_retrains(spec, bundle, tmp_path):
    other = tiny_spec(tmp_path, TINY.replace("epochs: 2", "epochs: 1"))
    assert train_spec_hash(other) != train_spec_hash(spec)
    path = train_supernet(other, tmp_path / "w", bundle=bundle, threads=1)
    assert _payload(path)["train"]["epoch"] == 1


def test_retraining_with_other_settings_starts_a_fresh_log(spec, bundle, full_run, tmp_path):
    """The log is the trained checkpoint's (the sweep sums its seconds as the training's wall): a
    retraining for changed settings must not append to the older run's records."""
    import shutil
    shutil.copytree(full_run.parent, tmp_path / "w")
    other = tiny_spec(tmp_path, TINY.replace("lr: 0.05", "lr: 0.04"))
    path = train_supernet(other, tmp_path / "w", bundle=bundle, threads=1)
    records = [json.loads(line) for line in (path.parent / LOG_NAME).read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]


def test_epoch_records_go_to_the_log_file_not_the_terminal(spec, bundle, tmp_path, capsys):
    train_supernet(spec, tmp_path, bundle=bundle, threads=1, stop_at_epoch=1)
    shown = capsys.readouterr()
    assert '"epoch"' not in shown.out + shown.err and "loss_largest" not in shown.out + shown.err
    records = [json.loads(line) for line in (tmp_path / LOG_NAME).read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1] and "val_largest" in records[0]


def test_truncated_or_other_version_training_checkpoint_starts_afresh(spec, bundle, full_run, tmp_path, capsys):
    """A resume checkpoint that is cut short, from another version or without the training state is a
    warned fresh start (bit-identical to a first run), never a torch traceback."""
    from dnasgen.nn.checkpoint import atomic_torch_save
    ref = _payload(train_supernet(spec, tmp_path / "ref", bundle=bundle, threads=1, stop_at_epoch=1))
    good = _payload(full_run)
    cases = {"cut": full_run.read_bytes()[:2000], "old": {**good, "version": 0},
             "bare": {k: v for k, v in good.items() if k != "train"}}
    for name, content in cases.items():
        path = tmp_path / name / CHECKPOINT_NAME
        path.parent.mkdir()
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            atomic_torch_save(content, path)
        capsys.readouterr()
        got = _payload(train_supernet(spec, path.parent, bundle=bundle, threads=1, stop_at_epoch=1))
        assert "training starts afresh" in capsys.readouterr().err, name
        assert got["train"]["epoch"] == 1 and got["train"]["step"] == ref["train"]["step"], name
        assert all(torch.equal(v, got["state_dict"][k]) for k, v in ref["state_dict"].items()), name


def _final_spec(tmp_path, init: str):
    final = ("search: {eval_samples: 48, finetune_lr: 0.05, finetune_weight_decay: 0.001, "
             f"finetune_crop_area_min: 0.5, finetune_init: {init}")
    (tmp_path / init).mkdir()
    text = TINY.replace("search: {eval_samples: 48", final).replace("lr: 0.05}", "lr: 0.05, distill: false}")
    return tiny_spec(tmp_path / init, text)


def test_finetune_from_scratch_is_the_stand_alone_training_with_the_final_recipe(spec, bundle, full_run, tmp_path):
    """search.finetune_init: scratch trains the winner from random init exactly as fidelity's stand-alone
    nets are trained, both with the final recipe (search.finetune_weight_decay / finetune_crop_area_min)."""
    from dnasgen.fidelity.measure import train_standalone
    from dnasgen.search.finetune import final_recipe, finetune_candidate
    specs = {init: _final_spec(tmp_path, init) for init in ("scratch", "supernet")}
    recipe = final_recipe(specs["scratch"]).train
    assert (recipe.weight_decay, recipe.crop_area_min) == (0.001, 0.5) and final_recipe(spec) is spec
    cand = spec.space.largest(DataConfig(29, "rgb"))
    got = {init: finetune_candidate(s, full_run, cand, bundle, tmp_path / init, epochs=2) for init, s in specs.items()}
    alone = train_standalone(specs["scratch"], bundle, cand, epochs=2, seed=0)
    assert (got["scratch"].val_accuracy, got["scratch"].test_accuracy) == (alone["val"], alone["test"])
    assert got["scratch"].supernet_val_accuracy == got["supernet"].supernet_val_accuracy   # same estimate
    weights = [torch.load(r.checkpoint, map_location="cpu", weights_only=False) for r in got.values()]
    first = [v for v in weights[0]["state_dict"].values() if v.is_floating_point()][0]
    other = [v for v in weights[1]["state_dict"].values() if v.is_floating_point()][0]
    assert not torch.equal(first, other)          # a different start: not the supernet's weights
