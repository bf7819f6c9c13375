"""Training throughput and the cost of scoring a candidate with shared weights vs fine-tuning it.

- images/s of a training step (forward + backward + SGD) of the largest subnet at 64 px;
- one candidate scored as the search does (BN recalibration + validation on 1000 images) vs
  100 fine-tuning steps of the same candidate (the paper's scoring), as a ratio in one run.
"""
import time
import textwrap

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dnasgen.candidate import DataConfig
from dnasgen.nn import Supernet
from dnasgen.spec import load_spec
from dnasgen.train import score_candidate
from dnasgen.train.runtime import to_input
from dnasgen.train.sandwich import make_optimizer

SPEC = """
name: bench-train
task: {classes: [disc, square, triangle, cross]}
dataset: {source: synthetic, seed: 0, image_size: 64, color_decisive: false, object_size: large,
          samples: {train: 600, val: 1000, test: 16}}
sensor: {width: 64, height: 64, pixel_format: rgb565}
data_options: {resolutions: [48, 64], colors: [grayscale, rgb]}
search_space: {widths: [0.25, 0.35], depths: [[1], [1, 2], [1, 2], [1, 2], [1], [1], [1]],
               kernels: [3, 5], expands: [3, 4, 6], head_channels: 256}
board: {id: qemu-mps2-an386}
train: {batch_size: 64, bn_recal_samples: 300}
search: {eval_samples: 1000}
"""
BATCH = 64
FINETUNE_STEPS = 100
ROUNDS = 3


def _run(benchmark, fn, *args):
    """benchmark.pedantic(fn) -> (result, mean seconds of the measured rounds); also when the
    benchmark plugin is disabled (then fn runs once)."""
    times = []

    def timed(*a):
        t0 = time.perf_counter()
        out = fn(*a)
        times.append(time.perf_counter() - t0)
        return out
    result = benchmark.pedantic(timed, args=args, rounds=ROUNDS, warmup_rounds=1)
    measured = times[-ROUNDS:]
    return result, sum(measured) / len(measured)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("bench")
    (tmp / "spec.yaml").write_text(textwrap.dedent(SPEC))
    spec = load_spec(tmp / "spec.yaml")
    from dnasgen.data import open_dataset
    bundle = open_dataset(spec, cache_dir=tmp / "cache")
    torch.manual_seed(0)
    return spec, bundle, Supernet(spec.space)


def _train_steps(model, x_u8, y, steps: int) -> None:
    optimizer = make_optimizer(model, 0.01, 4e-5)
    model.train()
    for s in range(steps):
        i = (s * BATCH) % (len(y) - BATCH + 1)
        loss = F.cross_entropy(model(to_input(x_u8[i:i + BATCH], "cpu")),
                               torch.from_numpy(np.asarray(y[i:i + BATCH])))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def test_bench_train_images_per_second_largest_64px(benchmark, setup):
    spec, bundle, model = setup
    cand = spec.space.largest(DataConfig(64, "rgb"))
    model.set_active(cand)
    x, y = bundle.arrays("train", cand.data)
    x = np.array(x[:BATCH * 4])
    steps = 4
    _, seconds = _run(benchmark, _train_steps, model, x, y[:BATCH * 4], steps)
    ips = steps * BATCH / seconds
    benchmark.extra_info["images_per_s"] = round(ips, 1)
    assert ips > 0


def test_bench_score_vs_finetune_ratio(benchmark, setup):
    spec, bundle, model = setup
    cand = spec.space.sample(__import__("random").Random(3), DataConfig(64, "rgb"))
    acc, score_s = _run(benchmark, score_candidate, model, bundle, cand, spec)
    model.set_active(cand)
    static = model.get_active_subnet()
    x, y = bundle.arrays("train", cand.data)
    t0 = time.perf_counter()
    _train_steps(static, np.array(x), y, FINETUNE_STEPS)
    finetune_s = time.perf_counter() - t0
    benchmark.extra_info.update(score_s=round(score_s, 3), finetune_100_steps_s=round(finetune_s, 3),
                                finetune_over_score=round(finetune_s / score_s, 1))
    assert 0.0 <= acc <= 1.0 and finetune_s > 0
