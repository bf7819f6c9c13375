"""Lowering of the ops foreign models bring: pooling, softmax, depthwise with a depth multiplier.

Each follows the arithmetic of LiteRT's BUILTIN_REF kernel (reference_integer_ops::AveragePool /
MaxPool, reference_ops::Softmax with gemmlowp fixed point); the C side is in kernels.c.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from dnasgen.codegen import quant
from dnasgen.codegen.lowering import (COp, _activation, _fail, _filter, _lower_conv, _lower_dwconv,
                                      _window_params)
from dnasgen.codegen.tflite import Model, Operator

SOFTMAX_DIFF_BITS = 5        # kScaledDiffIntegerBits of the reference softmax


def _lower_pool(model: Model, op: Operator) -> COp:
    x, y = _activation(model, op, op.inputs[0]), _activation(model, op, op.outputs[0])
    if x.shape[2] != y.shape[2]:
        raise _fail(op, f"pooling changes the channels {x.shape} -> {y.shape}")
    if (x.scale, x.zero_point) != (y.scale, y.zero_point):
        raise _fail(op, "int8 pooling needs equal input and output quantisation")
    kh, kw = op.options.get("filterHeight", 1), op.options.get("filterWidth", 1)
    params = _window_params(op, x, y, kh, kw)
    params["act_min"], params["act_max"] = quant.activation_range(
        op.options.get("fusedActivationFunction", 0), y.scale, y.zero_point)
    kernel = "avgpool" if op.opcode == "AVERAGE_POOL_2D" else "maxpool"
    return COp(op.index, op.opcode, kernel, (x.name,), y.name, params)


def softmax_params(beta: float, input_scale: float) -> dict:
    """activations.cc SoftmaxPrepare (kReference): PreprocessSoftmaxScaling + CalculateInputRadius."""
    real = min(float(beta) * float(np.float32(input_scale)) * (1 << (31 - SOFTMAX_DIFF_BITS)),
               (1 << 31) - 1.0)
    mult, left_shift = quant.quantize_multiplier(real)
    if left_shift < 0:
        raise quant.CodegenError(f"softmax input multiplier {real!r} is below one")
    radius = math.floor(1.0 * ((1 << SOFTMAX_DIFF_BITS) - 1) * (1 << (31 - SOFTMAX_DIFF_BITS))
                        / (1 << left_shift))
    return {"mult": mult, "left_shift": left_shift, "diff_min": -radius}


def _lower_softmax(model: Model, op: Operator) -> COp:
    x, y = _activation(model, op, op.inputs[0]), _activation(model, op, op.outputs[0])
    if x.shape != y.shape or x.shape[:2] != (1, 1):
        raise _fail(op, f"softmax over the last axis of a vector only (input {x.shape})")
    if (y.scale, y.zero_point) != (1.0 / 256, -128):
        raise _fail(op, f"int8 softmax output must have scale 1/256 and zero point -128, "
                        f"got {y.scale!r} / {y.zero_point}")
    params = {"size": x.shape[2], **softmax_params(op.options.get("beta", 1.0), x.scale)}
    return COp(op.index, op.opcode, "softmax", (x.name,), y.name, params)


def _lower_depthwise(model: Model, op: Operator) -> COp:
    """Depth multiplier 1: the depthwise kernel. Otherwise a dense conv whose filter holds each
    output channel's taps at its input channel (zeros elsewhere): integer sums and per-channel
    requantisation are those of the depthwise reference, so the outputs are identical."""
    x, y = _activation(model, op, op.inputs[0]), _activation(model, op, op.outputs[0])
    if y.shape[2] == x.shape[2]:
        return _lower_dwconv(model, op)
    ic, oc = x.shape[2], y.shape[2]
    mult = op.options.get("depthMultiplier", 1)
    if oc != ic * mult:
        raise _fail(op, f"{oc} output channels for {ic} inputs with depth multiplier {mult}")
    w = _filter(model, op, op.inputs[1], oc, 3)
    kh, kw = w.shape[1], w.shape[2]
    dense = np.zeros((oc, kh, kw, ic), np.int8)
    taps = w.data.reshape(kh, kw, oc)
    for c in range(oc):
        dense[c, :, :, c // mult] = taps[:, :, c]
    tensor = dataclasses.replace(w, shape=dense.shape, data=dense, quantized_dim=0)
    tensors = tuple(tensor if t.index == w.index else t for t in model.tensors)
    cop = _lower_conv(dataclasses.replace(model, tensors=tensors), op)
    return dataclasses.replace(cop, macs=y.shape[0] * y.shape[1] * oc * kh * kw)


LOWER = {"AVERAGE_POOL_2D": _lower_pool, "MAX_POOL_2D": _lower_pool, "SOFTMAX": _lower_softmax,
         "DEPTHWISE_CONV_2D": _lower_depthwise}
