"""Keras build + full-int8 conversion for random candidates of a full search space.

The converter must emit exactly the graph's ops (no PAD/RESHAPE/QUANTIZE), int8 in/out,
per-channel weights, sane activation scales; the result runs under LiteRT BUILTIN_REF,
is byte-for-byte deterministic, and the firmware's u8 -> int8 table equals the
converter's own input quantization.
"""
from __future__ import annotations

import hashlib
import random
import subprocess
import sys

import numpy as np
import pytest

from dnasgen.candidate import BASE_STAGES, DataConfig, SearchSpace
from dnasgen.data.preprocess import quantize_table
from dnasgen.export import (EXPECTED_OPS, ReferenceInterpreter, build_keras, make_test_model,
                            random_static_weights, structured_images, to_int8_tflite)
from dnasgen.export.convert import convert
from dnasgen.graph import build_graph

TFLITE_OP = {"conv": "CONV_2D", "dwconv": "DEPTHWISE_CONV_2D", "add": "ADD", "mean": "MEAN",
             "fc": "FULLY_CONNECTED"}
SPACE = SearchSpace(resolutions=(64, 75, 96), colors=("grayscale", "rgb"), widths=(0.1, 0.2, 0.35),
                    depths=tuple(tuple(range(1, n + 1)) for _, _, n, _ in BASE_STAGES),
                    kernels=(3, 5, 7), expands=(1, 2, 3, 4, 5, 6), head_channels=256, num_classes=3)
DATA = [DataConfig(75, "grayscale"), DataConfig(75, "rgb"), DataConfig(64, "rgb"), DataConfig(96, "grayscale")]
CANDIDATES = [SPACE.sample(random.Random(i), data=d) for i, d in enumerate(DATA)]
CALIB_N = 16


@pytest.fixture(scope="module")
def models() -> dict:
    return {}


def converted(models: dict, idx: int):
    """(graph, tflite bytes) of CANDIDATES[idx], converted once per module."""
    if idx not in models:
        cand = CANDIDATES[idx]
        graph = build_graph(cand, SPACE.num_classes, SPACE.head_channels)
        blob = make_test_model(cand, SPACE.num_classes, SPACE.head_channels, seed=idx, calib_n=CALIB_N)
        models[idx] = (graph, blob)
    return models[idx]


def test_candidates_cover_the_space():
    kernels = {k for c in CANDIDATES for s in c.arch.stages for k in s.kernel}
    expands = {e for c in CANDIDATES for s in c.arch.stages for e in s.expand}
    assert kernels == {3, 5, 7} and {1, 6} <= expands and len(expands) >= 4
    assert {c.data.color for c in CANDIDATES} == {"grayscale", "rgb"}


@pytest.mark.parametrize("idx", range(len(CANDIDATES)))
def test_converter_emits_exactly_the_graph(models, idx):
    graph, blob = converted(models, idx)
    ref = ReferenceInterpreter(blob)
    assert ref.op_names() == [TFLITE_OP[op.kind] for op in graph.ops]
    assert set(ref.op_names()) <= EXPECTED_OPS
    res, ch = CANDIDATES[idx].data.resolution, CANDIDATES[idx].data.channels
    assert ref.input_shape == (1, res, res, ch) and ref.output_shape == (1, SPACE.num_classes)
    assert ref.input_dtype == np.int8 and ref.output_dtype == np.int8
    tensors = {t["index"]: t for t in ref.tensor_details()}
    for op, detail in zip(graph.ops, ref.ops_details()):
        if op.kind in ("conv", "dwconv", "fc"):   # weights per-channel, int32 bias per-channel
            w, b = (tensors[i] for i in detail["inputs"][1:3])
            assert w["dtype"] == np.int8 and b["dtype"] == np.int32
            assert len(w["quantization_parameters"]["scales"]) == op.out_shape[2]
            assert not w["quantization_parameters"]["zero_points"].any()
        out = tensors[detail["outputs"][0]]
        assert out["dtype"] == np.int8 and out["quantization"][0] > 1e-4, (op.name, out["quantization"])


@pytest.mark.parametrize("idx", [0, 1])
def test_int8_outputs_are_not_degenerate(models, idx):
    """He-scaled random weights keep scores spread out on structured images (no collapse/saturation)."""
    _, blob = converted(models, idx)
    ref = ReferenceInterpreter(blob)
    cand = CANDIDATES[idx]
    images = structured_images(12, cand.data.resolution, cand.data.channels, seed=99)
    scores = ref.run_batch(quantize_table(*ref.input_quant)[images]).astype(int)
    assert scores.std(axis=0).max() > 2
    assert (np.abs(scores) < 127).mean() > 0.5


def test_quantize_table_equals_converter_input_quantization(models):
    """The firmware's table lookup = the converter's QUANTIZE op on normalised input, for all 256 values."""
    cand = CANDIDATES[0]
    graph = build_graph(cand, SPACE.num_classes, SPACE.head_channels)
    keras_model = build_keras(graph, random_static_weights(graph, 0))
    calib = structured_images(CALIB_N, 75, 1, seed=0)
    int8_ref = ReferenceInterpreter(converted(models, 0)[1])
    float_ref = ReferenceInterpreter(convert(keras_model, calib, float_input=True), preserve_all_tensors=True)
    first = float_ref.ops_details()[0]
    assert first["op_name"] == "QUANTIZE"
    u8 = np.resize(np.arange(256, dtype=np.uint8), (1, 75, 75, 1))
    x = ((u8.astype(np.float32) - 128.0) / 128.0).astype(np.float32)
    scores = float_ref.run(x)
    table = quantize_table(*int8_ref.input_quant)
    np.testing.assert_array_equal(float_ref.tensor(first["outputs"][0]), table[u8])
    np.testing.assert_array_equal(scores, int8_ref.run(table[u8]))


def test_conversion_is_deterministic(models):
    graph = build_graph(CANDIDATES[2], SPACE.num_classes, SPACE.head_channels)
    keras_model = build_keras(graph, random_static_weights(graph, 2))
    calib = structured_images(CALIB_N, 64, 3, seed=2)
    first = to_int8_tflite(keras_model, calib)
    assert first == converted(models, 2)[1]     # same process, fresh Keras model
    assert first == to_int8_tflite(keras_model, calib)
    code = ("import hashlib, random, sys; sys.path.insert(0, 'tests/integration');"
            "from test_export_tflite import CANDIDATES, SPACE, CALIB_N;"
            "from dnasgen.export import make_test_model;"
            "print(hashlib.sha256(make_test_model(CANDIDATES[2], SPACE.num_classes, SPACE.head_channels,"
            " seed=2, calib_n=CALIB_N)).hexdigest())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == hashlib.sha256(first).hexdigest()


def test_reference_interpreter_rejects_bad_input(models):
    from dnasgen.errors import ExportError
    ref = ReferenceInterpreter(converted(models, 0)[1])
    with pytest.raises(ExportError, match="input must be int8"):
        ref.run(np.zeros((1, 75, 75, 1), np.float32))
    assert ref.run(np.zeros((75, 75, 1), np.int8)).shape == (SPACE.num_classes,)
