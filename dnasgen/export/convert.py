"""Float Keras model -> full-int8 TFLite flatbuffer (int8 input and output), deterministically.

The representative dataset is real preprocessed uint8 samples normalised exactly as
in training (dnasgen.data.normalize: (u8 - 128) / 128). The model is traced with a
fixed batch of 1 (what the firmware runs), so the flatbuffer has static shapes.
"""
from __future__ import annotations

import numpy as np

from dnasgen.errors import ExportError
from dnasgen.graph import EXPORTED_OPS
from dnasgen.export.quiet import quietly

# Ops the exporter may emit, and nothing else (codegen supports exactly these). The converter
# inserts a RESHAPE before an ADD whose residual tensors are 1x1 spatially; codegen aliases it.
EXPECTED_OPS = frozenset(EXPORTED_OPS)


def normalize_u8(x_u8: np.ndarray) -> np.ndarray:
    """The training input convention (dnasgen.data.normalize)."""
    from dnasgen.data import normalize
    return np.asarray(normalize(x_u8), np.float32)


def _concrete_function(keras_model):
    import tensorflow as tf
    shape = (1,) + tuple(int(d) for d in keras_model.inputs[0].shape[1:])
    fn = tf.function(lambda x: keras_model(x, training=False),
                     input_signature=[tf.TensorSpec(shape, tf.float32, name="input")])
    return fn.get_concrete_function()


def _check_calibration(keras_model, calib_u8: np.ndarray) -> np.ndarray:
    calib = np.asarray(calib_u8)
    if calib.dtype != np.uint8 or calib.ndim != 4 or len(calib) == 0:
        raise ExportError(f"calibration data must be non-empty uint8 NHWC, got {calib.dtype} {calib.shape}")
    expected = tuple(int(d) for d in keras_model.inputs[0].shape[1:])
    if calib.shape[1:] != expected:
        raise ExportError(f"calibration samples {calib.shape[1:]} do not match the model input {expected}")
    return normalize_u8(calib)


@quietly
def convert(keras_model, calib_u8: np.ndarray, float_input: bool = False) -> bytes:
    """Full-int8 conversion; `float_input=True` keeps a float input (the converter's own QUANTIZE op
    first), used only to check that the firmware's u8 -> int8 table matches the converter.
    The converter's logs and warnings stay off the terminal (dnasgen.export.quiet)."""
    import tensorflow as tf
    samples = _check_calibration(keras_model, calib_u8)

    def representative():
        for i in range(len(samples)):
            yield [samples[i:i + 1]]

    # A frozen concrete function with a fixed batch of 1 (trackable_obj would keep READ_VARIABLE ops).
    converter = tf.lite.TFLiteConverter.from_concrete_functions([_concrete_function(keras_model)])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.float32 if float_input else tf.int8
    converter.inference_output_type = tf.int8
    try:
        return bytes(converter.convert())
    except Exception as exc:  # the converter raises many types; report them as one
        raise ExportError(f"TFLite int8 conversion failed: {exc}") from exc


def to_int8_tflite(keras_model, calib_u8: np.ndarray) -> bytes:
    """Full-int8 (TFLITE_BUILTINS_INT8, int8 in/out) .tflite calibrated on `calib_u8` (N,H,W,C) uint8.

    Deterministic: the same model and calibration data give byte-identical flatbuffers.
    Fails with ExportError if the converter emits any op outside EXPECTED_OPS.
    """
    blob = convert(keras_model, calib_u8)
    check_ops(blob)
    return blob


def check_ops(tflite_bytes: bytes) -> list[str]:
    """The model's op list; ExportError when the converter emitted anything outside EXPECTED_OPS."""
    from dnasgen.export.reference import ReferenceInterpreter
    ops = ReferenceInterpreter(tflite_bytes).op_names()
    extra = sorted(set(ops) - EXPECTED_OPS)
    if extra:
        raise ExportError(f"the converter emitted unsupported ops {extra} (full list: {ops})")
    return ops
