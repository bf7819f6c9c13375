"""Tiny hand-built int8 models: bad input fails generation with a clear error naming the op, the
output is never half-written, and op variants the exporter rarely emits stay bit-exact."""
from __future__ import annotations

import os

import numpy as np
import pytest

from dnasgen.candidate import ArchConfig, Candidate, DataConfig, StageConfig
from dnasgen.errors import CodegenError
from dnasgen.spec.model import Sensor

from codegen_support import make_spec


def _convert(model, int8: bool = True) -> bytes:
    import tensorflow as tf
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        rng = np.random.default_rng(0)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([rng.uniform(-1, 1, (1, 8, 8, 3)).astype(np.float32)]
                                               for _ in range(8))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    return bytes(conv.convert())


def _model(pool: str):
    import keras
    inp = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu6")(inp)
    x = keras.layers.Activation("tanh")(x) if pool == "tanh" else x
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(2)(x))


@pytest.fixture(scope="module")
def tiny():
    """A valid tiny int8 model (CONV_2D, MEAN, FULLY_CONNECTED), its candidate and spec."""
    stages = tuple(StageConfig(1, (3,), (1,)) for _ in range(7))
    cand = Candidate(DataConfig(8, "rgb"), ArchConfig(0.35, stages))
    return _convert(_model("none")), cand, make_spec(Sensor(12, 10, "rgb565"), classes=("a", "b"))


def test_unsupported_op_is_named(tiny, tmp_path):
    from dnasgen.codegen import generate_project
    _, cand, spec = tiny
    with pytest.raises(CodegenError, match=r"op 1 \(TANH\) is not supported"):
        generate_project(_convert(_model("tanh")), spec, cand, tmp_path / "p")
    assert list(tmp_path.iterdir()) == []


def test_float_model_is_rejected_naming_the_op(tiny, tmp_path):
    from dnasgen.codegen import generate_project
    _, cand, spec = tiny
    with pytest.raises(CodegenError, match=r"op 0 \(CONV_2D\).*float32"):
        generate_project(_convert(_model("none"), int8=False), spec, cand, tmp_path / "p")


def test_tiny_model_generates_and_fails_atomically(tiny, tmp_path, monkeypatch):
    from dnasgen.codegen import generate_project
    from dnasgen.codegen.render import Renderer
    from dnasgen.verify.project import run_make
    blob, cand, spec = tiny
    project = generate_project(blob, spec, cand, tmp_path / "p")
    assert "test: ok" in run_make(project, "test")
    before = {p.relative_to(project): p.read_bytes() for p in project.rglob("*") if p.is_file()}

    def boom(self, relative, data):
        raise CodegenError("disk full (simulated)")
    monkeypatch.setattr(Renderer, "add_file", boom)
    with pytest.raises(CodegenError, match="simulated"):
        generate_project(blob, spec, cand, project)
    after = {p.relative_to(project): p.read_bytes() for p in project.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]


def test_candidate_must_match_the_model(tiny, tmp_path):
    from dnasgen.codegen import generate_project
    blob, cand, spec = tiny
    other = Candidate(DataConfig(8, "grayscale"), cand.arch)
    with pytest.raises(CodegenError, match="does not match the candidate"):
        generate_project(blob, spec, other, tmp_path / "p")


def test_keepdims_mean_and_reshape_are_bit_exact(tiny, tmp_path):
    """MEAN with keep_dims + RESHAPE (aliased): LiteRT uses the folded QuantizedMeanOrSum here too."""
    import keras
    from dnasgen.codegen import generate_project, lower
    from dnasgen.export import ReferenceInterpreter
    from dnasgen.export.convert import convert
    from dnasgen.verify.harness import run_tensors
    _, cand, spec = tiny
    inp = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu6")(inp)
    x = keras.layers.Reshape((16,))(keras.layers.GlobalAveragePooling2D(keepdims=True)(x))
    model = keras.Model(inp, keras.layers.Dense(2)(x))
    blob = convert(model, np.random.default_rng(0).integers(0, 256, (8, 8, 8, 3), dtype=np.uint8))
    assert [op.kernel for op in lower(blob).ops] == ["conv", "mean_sum", "fc"]
    project = generate_project(blob, spec, cand, tmp_path / "p")
    xs = np.random.default_rng(1).integers(-128, 128, (100, 8, 8, 3), dtype=np.int8)
    assert np.array_equal(run_tensors(project, xs), ReferenceInterpreter(blob).run_batch(xs))


def test_mean_with_equal_quantisation_is_bit_exact(tmp_path):
    """When the converter gives MEAN's input and output one quantisation: integer sum / count."""
    from dnasgen.codegen import generate_project, lower
    from dnasgen.export import ReferenceInterpreter, make_test_model
    from dnasgen.verify.harness import run_tensors
    cand = Candidate(DataConfig(32, "rgb"), ArchConfig(0.25, tuple(StageConfig(1, (3,), (1 if i == 0 else 2,))
                                                                 for i in range(7))))
    blob = make_test_model(cand, 2, 64, seed=0, calib_n=8)
    assert "mean_same" in [op.kernel for op in lower(blob).ops]
    project = generate_project(blob, make_spec(Sensor(48, 48, "rgb565"), classes=("a", "b")), cand, tmp_path / "p")
    xs = np.random.default_rng(2).integers(-128, 128, (50, 32, 32, 3), dtype=np.int8)
    assert np.array_equal(run_tensors(project, xs), ReferenceInterpreter(blob).run_batch(xs))


def test_spec_runtimes_tflm_adds_a_tflm_project_on_the_same_frames(tiny, tmp_path):
    """codegen.runtimes: [dnasgen, tflm]: tflm/ runs the raw test frames through ../preprocess.c."""
    import dataclasses
    import json
    pytest.importorskip("tflite_micro", reason="the tflite-micro package is not installed")
    from dnasgen.codegen import generate_project
    from dnasgen.verify.project import run_make
    blob, cand, spec = tiny
    project = generate_project(blob, dataclasses.replace(spec, runtimes=("dnasgen", "tflm")), cand, tmp_path / "p")
    tflm = json.loads((project / "dnasgen.lock.json").read_text())["model"]["tflm"]
    assert tflm["vectors"] == 2 and 0 < tflm["arena_head_bytes"] < tflm["arena_bytes"]
    assert "../preprocess.c ../model_data.c" in (project / "tflm" / "Makefile").read_text()
    assert "dn_preprocess(dn_vector_frames[i], input->data.int8);" in (project / "tflm" / "main.cc").read_text()
    assert "test: ok" in run_make(project, "test")        # the dnasgen project is unchanged by tflm/
    if os.environ.get("DNASGEN_TFLM_DIR"):                 # a TFLM tree with its library built
        out = run_make(project / "tflm", "run", f"TFLM_DIR={os.environ['DNASGEN_TFLM_DIR']}",
                       f"MAX_DIFF={tflm['max_abs_diff']}")
        assert f"tflm: {tflm['vectors_exact']} of 2 vectors exact, 0 beyond" in out
