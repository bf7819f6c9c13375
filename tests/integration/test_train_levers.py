"""The supernet-training levers of train: (issue 9) do what they say, on the tiny synthetic spec.

color_stems: grayscale and rgb subnets own different stem weights, both train, export through
StaticNet; data_sampling subnet: one step trains several data configurations on the same images;
warmup_largest_epochs: only the largest subnet trains during the warm-up.
"""
import json
import random

import numpy as np
import pytest
import torch

from dnasgen.candidate import DataConfig
from dnasgen.data.preprocess import preprocess_frames
from dnasgen.nn import Supernet, load_supernet
from dnasgen.train import LOG_NAME, train_supernet
from dnasgen.train.sandwich import step_candidates
from tests.integration.test_train_loop import TINY, bundle, spec, tiny_spec  # noqa: F401 (fixtures)

ONE_EPOCH = TINY.replace("epochs: 2", "epochs: 1")


def _train(tmp_path, bundle, extra: str, text: str = ONE_EPOCH):  # noqa: F811
    tmp_path.mkdir(parents=True, exist_ok=True)
    lever_spec = tiny_spec(tmp_path, text.replace("lr: 0.05}", f"lr: 0.05, {extra}}}"))
    return lever_spec, train_supernet(lever_spec, tmp_path / "work", bundle=bundle, threads=1)


def test_color_stems_are_separate_and_both_train(tmp_path, bundle):  # noqa: F811
    lever_spec, path = _train(tmp_path, bundle, "color_stems: true")
    torch.manual_seed(lever_spec.train.seed)
    init = Supernet(lever_spec.space, color_stems=True)
    model = load_supernet(path)
    assert model.color_stems and set(model.stem.by_color) == {"grayscale", "rgb"}
    gray, rgb = (model.stem.by_color[c].weight for c in ("grayscale", "rgb"))
    assert gray.shape[1] == 1 and rgb.shape[1] == 3
    for color in ("grayscale", "rgb"):          # both colour paths received gradient steps
        moved = (model.stem.by_color[color].weight - init.stem.by_color[color].weight).abs().max()
        assert moved > 1e-4, color
    assert not torch.allclose(gray[:, 0], rgb.sum(dim=1), atol=1e-3)   # not the summed rgb kernel
    cand = lever_spec.space.largest(DataConfig(24, "grayscale"))
    model.set_active(cand)
    static = model.get_active_subnet().eval()
    width = static.layers["stem"].weight.shape[0]
    assert torch.equal(static.layers["stem"].weight, gray[:width])
    x = torch.randn(2, 1, 24, 24)
    with torch.no_grad():
        assert torch.allclose(static(x), model.eval()(x), atol=1e-5)


def test_data_sampling_subnet_draws_a_config_per_subnet(spec):  # noqa: F811
    rng = random.Random(0)
    steps = [step_candidates(spec.space, None, 2, rng) for _ in range(30)]
    teacher = spec.space.largest()
    assert {s[0] for s in steps} == {teacher}            # the largest subnet at the largest config
    per_step = [len({c.data for c in s}) for s in steps]
    assert max(per_step) >= 2 and len({c.data for s in steps for c in s[1:]}) == 4
    wide = {c.data for s in steps for c in s[1:] if c.arch == teacher.arch}   # the largest arch elsewhere
    assert len(wide) == 3 and teacher.data not in wide


def test_train_frames_are_the_images_of_every_config(bundle):  # noqa: F811
    frames = list(bundle.train_frames(32, 0, 1))
    for data in (DataConfig(24, "grayscale"), DataConfig(29, "rgb")):
        for (raw, y_raw), (x, y) in zip(frames, bundle.train_batches(data, 32, 0, 1)):
            assert np.array_equal(preprocess_frames(raw, bundle.sensor, data), x)
            assert np.array_equal(y_raw, y)


def test_data_sampling_subnet_trains(tmp_path, bundle):  # noqa: F811
    lever_spec, path = _train(tmp_path, bundle, "data_sampling: subnet")
    record = json.loads((path.parent / LOG_NAME).read_text().splitlines()[-1])
    assert record["step"] == 96 // 32 and np.isfinite(record["loss"])


@pytest.mark.parametrize("warmup", [1])
def test_warmup_trains_the_largest_subnet_alone(tmp_path, bundle, warmup):  # noqa: F811
    _, path = _train(tmp_path, bundle, f"warmup_largest_epochs: {warmup}", text=TINY)
    records = [json.loads(line) for line in (path.parent / LOG_NAME).read_text().splitlines()]
    # the step loss is the mean over the step's subnets: the largest's alone during the warm-up
    assert records[0]["loss"] == pytest.approx(records[0]["loss_largest"], rel=1e-9)
    assert abs(records[1]["loss"] - records[1]["loss_largest"]) > 1e-3


def test_init_copies_the_matching_weights(tmp_path, spec):  # noqa: F811
    import dataclasses
    from dnasgen.nn import save_supernet
    from dnasgen.nn.checkpoint import copy_matching
    source = save_supernet(Supernet(spec.space), tmp_path / "base.pt")
    other = Supernet(dataclasses.replace(spec.space, num_classes=5))     # another product's classes
    copied, total = copy_matching(other, source)
    base = load_supernet(source).state_dict()
    assert copied == total - 2                      # all but the classifier's weight and bias
    for key, value in other.state_dict().items():
        assert torch.equal(value, base[key]) == (not key.startswith("classifier")), key


def test_init_is_keyed_and_a_missing_one_is_a_located_error(tmp_path, bundle):  # noqa: F811
    from dnasgen.errors import SpecError
    from dnasgen.train.state import train_spec_hash
    base_spec, base = _train(tmp_path / "base", bundle, "seed: 0")
    init_spec, path = _train(tmp_path / "init", bundle, f"init: {base}")
    assert init_spec.train.init == str(base) and train_spec_hash(init_spec) != train_spec_hash(base_spec)
    assert not torch.equal(load_supernet(path).stem.weight, load_supernet(base).stem.weight)
    with pytest.raises(SpecError, match=r"train\.init.*does not exist"):
        tiny_spec(tmp_path, ONE_EPOCH.replace("lr: 0.05}", "lr: 0.05, init: missing.pt}"))
