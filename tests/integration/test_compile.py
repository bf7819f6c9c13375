"""`dnasgen compile`: a full-int8 .tflite made elsewhere -> the generated C project, tensors in.

The models are built here (Keras -> int8 TFLite); nothing is written when an op or a tensor
type is unsupported, and the error lists every one of them."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from dnasgen.errors import CodegenError

BOARD = "qemu-mps2-an386"


def _convert(model, shape, int8: bool = True) -> bytes:
    import tensorflow as tf
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        rng = np.random.default_rng(0)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([rng.uniform(-1, 1, (1, *shape)).astype(np.float32)]
                                               for _ in range(8))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    return bytes(conv.convert())


def _keras(shape, layers, batch=None):
    import keras
    inp = keras.Input(shape, batch_size=batch)
    x = inp
    for layer in layers:
        x = layer(x)
    return keras.Model(inp, x)


@pytest.fixture(scope="module")
def tiny():
    """CONV_2D (non-square, one channel), MEAN and FULLY_CONNECTED: a model dnasgen did not make."""
    import keras
    shape = (9, 6, 1)
    return _convert(_keras(shape, [keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
                                   keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)]), shape)


def test_compile_writes_a_tensor_project_that_matches_the_reference(tiny, tmp_path):
    import dnasgen
    from dnasgen.verify.project import run_make, score_lines
    project = dnasgen.compile_model(tiny, BOARD, name="tiny", out=tmp_path, vectors=5)
    assert project == tmp_path / "tiny"
    assert not (project / "preprocess.c").exists() and (project / "model.c").is_file()
    lock = json.loads((project / "dnasgen.lock.json").read_text())
    assert (lock["source"], lock["board"], lock["model"]["input"]["shape"]) == ("compile", BOARD, [9, 6, 1])
    out = run_make(project, "test")
    assert "test: ok, vectors matching: 5" in out and len(score_lines(out)) == 5
    # --tensor: the embedded vector 0 as a file gives the same scores line
    vec = (project / "test_vectors.c").read_text().split("{", 1)[1].split("}", 1)[0]
    data = np.array([int(v) for v in vec.replace("\n", " ").split(",")], np.uint8)
    (tmp_path / "x.bin").write_bytes(data.tobytes())
    run = subprocess.run([str(project / "build/host/app"), "--tensor", str(tmp_path / "x.bin")],
                         capture_output=True, text=True, check=True)
    assert score_lines(run.stdout) == score_lines(out)[:1]


def test_every_unsupported_op_and_type_is_named_before_writing(tmp_path):
    import keras
    from dnasgen.codegen.compile import compile_model
    shape = (8, 8, 3)
    blob = _convert(_keras(shape, [keras.layers.Conv2D(4, 3), keras.layers.UpSampling2D(),
                                   keras.layers.Flatten(), keras.layers.Dense(3),
                                   keras.layers.Lambda(lambda t: t * t), keras.layers.Activation("tanh")]),
                    shape)
    with pytest.raises(CodegenError) as err:
        compile_model(blob, BOARD, out=tmp_path)
    message = str(err.value)
    for op in ("EXPAND_DIMS", "TILE", "MUL", "TANH"):
        assert f"op {op} (op" in message
    assert "int32 activation tensors are not supported" in message     # SHAPE's outputs
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(CodegenError, match=r"float32 activation tensors are not supported"):
        compile_model(_convert(_keras(shape, [keras.layers.Conv2D(4, 3)]), shape, int8=False), BOARD,
                      out=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_cli_compile_errors_exit_with_the_codegen_code(tmp_path):
    from typer.testing import CliRunner
    from dnasgen.cli import app
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model")
    result = CliRunner().invoke(app, ["compile", str(bad), "--board", BOARD, "--out", str(tmp_path / "o")])
    assert result.exit_code == 6 and "TFL3" in result.output
    result = CliRunner().invoke(app, ["compile", str(bad), "--board", "no-such-board"])
    assert result.exit_code == 6 and "unknown board" in result.output


def test_pooling_softmax_and_depth_multiplier_are_bit_exact(tmp_path):
    """Ops no shared model exercises this way: max pooling, SAME average pooling with clipped
    windows, depth multiplier 2 on 3 channels, fully-connected layers with 7 inputs (not a multiple
    of 4) and 5 outputs (odd), a softmax over 5 classes, on a non-square input; host and QEMU."""
    import keras
    from dnasgen.codegen.compile import compile_model
    from dnasgen.verify.project import run_make, toolchain_available
    shape = (11, 7, 3)
    layers = [keras.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu6"),
              keras.layers.MaxPooling2D(2, padding="same"),
              keras.layers.AveragePooling2D(3, strides=2, padding="same"),
              keras.layers.Conv2D(8, 1), keras.layers.Flatten(), keras.layers.Dense(7), keras.layers.Dense(5),
              keras.layers.Softmax()]
    blob = _convert(_keras(shape, layers, batch=1), shape)      # batch 1: Flatten is a static RESHAPE
    project = compile_model(blob, BOARD, name="ops", out=tmp_path, vectors=8)
    lock = json.loads((project / "dnasgen.lock.json").read_text())["model"]
    assert {"maxpool", "avgpool", "softmax", "conv"} <= set(lock["kernels"])
    assert "test: ok, vectors matching: 8" in run_make(project, "test")
    if toolchain_available():       # the Cortex-M4 build: DSP kernels where they exist
        assert "test: ok, vectors matching: 8" in run_make(project, "qemu")


def test_compiled_project_regenerates_from_its_lock_byte_identical(tiny, tmp_path):
    import dnasgen
    from dnasgen.codegen.compile import compile_model
    project = compile_model(tiny, BOARD, name="tiny", out=tmp_path / "a", vectors=3, seed=7)
    again = dnasgen.generate_from_lock(project / "dnasgen.lock.json", out=tmp_path / "b")
    files = sorted(p.relative_to(project) for p in project.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert all((project / f).read_bytes() == (again / f).read_bytes() for f in files)
    lock = json.loads((again / "dnasgen.lock.json").read_text())
    assert lock["vectors"] == {"count": 3, "seed": 7}
    with pytest.raises(CodegenError, match="plain folder name"):
        compile_model(tiny, BOARD, name="../escape", out=tmp_path / "c")


def test_depthwise_kernel_shapes_and_the_dsp_fallbacks_are_bit_exact(tmp_path):
    """dn_dwk (one kernel row of up to 7 taps, entered at the kernel's width) on shapes dnasgen's own
    models never have: 2x5, 4x4 stride 2, 6x1 valid; 1x9 (wider than 7: C on every pixel); 6 channels
    (the DSP path's one-channel loop, DN_DW_FALLBACK) after a 1x1 conv of 8 -> 6 (its C GEMM,
    DN_CONV_FALLBACK); host, Cortex-M4 and M55 (Helium) against LiteRT."""
    import keras
    from dnasgen.codegen.compile import compile_model
    from dnasgen.verify.project import run_make, toolchain_available
    shape = (13, 12, 8)
    dw = keras.layers.DepthwiseConv2D
    layers = [dw((2, 5), padding="same", activation="relu6"), dw(4, strides=2, padding="same"),
              dw((6, 1), padding="valid"), dw((1, 9), padding="same"), keras.layers.Conv2D(6, 1),
              dw(5, padding="same"), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(4)]
    project = compile_model(_convert(_keras(shape, layers), shape), BOARD, name="dw", out=tmp_path, vectors=4)
    config = (project / "dnasgen_config.h").read_text()
    assert all(f"#define {d} 1\n" in config for d in ("DN_DW_GENERIC", "DN_DW_FALLBACK", "DN_CONV_FALLBACK"))
    assert "test: ok, vectors matching: 4" in run_make(project, "test")
    if toolchain_available():
        for core in ("m4", "m55"):
            assert "test: ok, vectors matching: 4" in run_make(project, "qemu", f"CORE={core}")
