"""Data throughput: augmented training batches at 48 px, arrays() build time, synthetic generation."""
import shutil
from pathlib import Path

import pytest

from dnasgen.candidate import DataConfig
from dnasgen.data import open_dataset
from dnasgen.data.synthetic import generate
from dnasgen.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
N_TRAIN = 1024


def record_rate(benchmark, images: int) -> None:
    if benchmark.stats:                      # None when benchmarks are disabled (plain test run)
        benchmark.extra_info["images_per_s"] = round(images / benchmark.stats.stats.mean, 1)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench")
    text = (ROOT / "specs" / "quickstart.yaml").read_text()
    text = text.replace("samples: {train: 2000, val: 400, test: 400}",
                        f"samples: {{train: {N_TRAIN}, val: 512, test: 16}}")
    path = tmp / "spec.yaml"
    path.write_text(text)
    return open_dataset(load_spec(path), tmp / "cache")


@pytest.mark.parametrize("color", ["rgb", "grayscale"])
def test_bench_train_batches_48px(benchmark, bundle, color):
    data = DataConfig(48, color)

    def epoch():
        return sum(len(y) for _, y in bundle.train_batches(data, 64, seed=0, epoch=0))

    n = benchmark.pedantic(epoch, rounds=3, iterations=1)
    record_rate(benchmark, n)
    assert n == N_TRAIN


def test_bench_arrays_build(benchmark, bundle):
    data = DataConfig(48, "rgb")

    def build():
        shutil.rmtree(bundle.arrays_dir, ignore_errors=True)
        return bundle.arrays("val", data)[0].shape

    shape = benchmark.pedantic(build, rounds=3, iterations=1)
    record_rate(benchmark, 512)
    assert shape == (512, 48, 48, 3)


def test_bench_synthetic_generation(benchmark):
    x, _ = benchmark.pedantic(lambda: generate(1000, 128, 2, 0, color_decisive=True), rounds=2, iterations=1)
    record_rate(benchmark, 1000)
    assert x.shape == (1000, 128, 128, 3)
