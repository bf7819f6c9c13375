"""Speed of the export (pytest-benchmark; run with `make bench`): Keras build + int8 conversion of a
small model, and one LiteRT BUILTIN_REF inference of MobileNetV2-0.35@96 (the reference the firmware matches)."""
from __future__ import annotations

import numpy as np
import pytest

from dnasgen.candidate import ArchConfig, BASE_STAGES, Candidate, DataConfig, StageConfig
from dnasgen.export import (ReferenceInterpreter, build_keras, make_test_model, random_static_weights,
                            structured_images, to_int8_tflite)
from dnasgen.graph import build_graph


def mobilenet_v2(width: float, resolution: int, color: str = "rgb") -> Candidate:
    stages = tuple(StageConfig(n, (3,) * n, (t,) * n) for t, _, n, _ in BASE_STAGES)
    return Candidate(DataConfig(resolution, color), ArchConfig(width, stages))


SMALL = Candidate(DataConfig(64, "grayscale"), ArchConfig(0.35, tuple(
    StageConfig(1, (3,), (1 if i == 0 else 6,)) for i in range(len(BASE_STAGES)))))


def test_bench_export_small_model(benchmark):
    """build_keras + to_int8_tflite (32 calibration images) of a 1-block-per-stage 0.35@64 model."""
    graph = build_graph(SMALL, 2, 1280)
    weights = random_static_weights(graph, 0)
    calib = structured_images(32, 64, 1, seed=0)
    blob = benchmark.pedantic(lambda: to_int8_tflite(build_keras(graph, weights), calib),
                              rounds=3, iterations=1, warmup_rounds=1)
    assert ReferenceInterpreter(blob).op_names()[-1] == "FULLY_CONNECTED"


@pytest.fixture(scope="module")
def mnv2_035_96() -> ReferenceInterpreter:
    return ReferenceInterpreter(make_test_model(mobilenet_v2(0.35, 96), 2, 1280, seed=0, calib_n=16))


def test_bench_reference_invoke_mnv2_035_96(benchmark, mnv2_035_96):
    """One BUILTIN_REF inference of MobileNetV2-0.35@96 int8 (10.66 M MACs)."""
    x = np.random.default_rng(0).integers(-128, 128, mnv2_035_96.input_shape, dtype=np.int8)
    scores = benchmark(mnv2_035_96.run, x)
    assert scores.shape == (2,)
