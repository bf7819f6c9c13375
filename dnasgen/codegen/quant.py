"""TFLite's fixed-point quantisation parameters, computed exactly as its reference kernels do.

Scales are float32 in the flatbuffer; each formula below repeats the float / double
mix of the TFLite C++ code (kernels/internal/quantization_util.cc, conv.cc, add.cc,
kernel_util.cc) so that the generated constants are bit-identical to the interpreter's.
"""
from __future__ import annotations

import math

import numpy as np

from dnasgen.errors import CodegenError

INT8_MIN, INT8_MAX = -128, 127
ADD_LEFT_SHIFT = 20          # add.cc: left_shift = 20 for int8 (15 for int16)


def round_away(x: float) -> int:
    """TfLiteRound / std::round: round half away from zero."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def quantize_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier: real = m * 2^(shift - 31) with m in [2^30, 2^31) (or (0, 0))."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = round_away(q * (1 << 31))
    if q_fixed > (1 << 31):
        raise CodegenError(f"multiplier {real!r} cannot be quantised")
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:  # newer TFLite clamps; the model would saturate anyway
        return (1 << 31) - 1, 30
    return int(q_fixed), int(shift)


def quantize_multiplier_smaller_than_one(real: float) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp: as quantize_multiplier, real must be in (0, 1)."""
    if not 0.0 < real < 1.0:
        raise CodegenError(f"multiplier {real!r} must be in (0, 1)")
    mult, shift = quantize_multiplier(real)
    if shift > 0:
        raise CodegenError(f"multiplier {real!r} gave a positive shift")
    return mult, shift


def f32(x: float) -> np.float32:
    return np.float32(x)


def per_channel_multipliers(input_scale: float, filter_scales, output_scale: float,
                            channels: int) -> tuple[list[int], list[int]]:
    """conv / depthwise / fully-connected per-channel (or broadcast per-tensor) multipliers.

    effective = double(input_scale) * double(filter_scale) / double(output_scale).
    """
    scales = list(filter_scales)
    if len(scales) not in (1, channels):
        raise CodegenError(f"{len(scales)} filter scales for {channels} output channels")
    if len(scales) == 1:
        scales = scales * channels
    mults, shifts = [], []
    for s in scales:
        real = float(f32(input_scale)) * float(f32(s)) / float(f32(output_scale))
        m, sh = quantize_multiplier(real)
        mults.append(m)
        shifts.append(sh)
    return mults, shifts


def activation_range(activation: int, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8 (0 none, 1 relu, 2 relu_n1_to_1, 3 relu6)."""
    def quantize(value: float) -> int:
        return zero_point + round_away(float(f32(value) / f32(scale)))
    if activation == 0:
        return INT8_MIN, INT8_MAX
    if activation == 1:
        return max(INT8_MIN, quantize(0.0)), INT8_MAX
    if activation == 3:
        return max(INT8_MIN, quantize(0.0)), min(INT8_MAX, quantize(6.0))
    if activation == 2:
        return max(INT8_MIN, quantize(-1.0)), min(INT8_MAX, quantize(1.0))
    raise CodegenError(f"unsupported fused activation {activation}")


def mean_multiplier(input_scale: float, output_scale: float, count: int) -> tuple[int, int]:
    """reduce.h QuantizedMeanOrSum: QuantizeMultiplier(in/out) with 1/count folded in."""
    mult, shift = quantize_multiplier(float(f32(input_scale)) / float(f32(output_scale)))
    extra = min(count.bit_length() - 1, 32, 31 + shift)
    return int((mult << extra) // count), shift - extra


def add_params(scale1: float, scale2: float, out_scale: float) -> dict[str, int]:
    """add.cc Prepare for int8: input/output multipliers and shifts with left_shift 20."""
    twice_max = float(f32(2.0) * max(f32(scale1), f32(scale2)))
    m1, s1 = quantize_multiplier_smaller_than_one(float(f32(scale1)) / twice_max)
    m2, s2 = quantize_multiplier_smaller_than_one(float(f32(scale2)) / twice_max)
    real_out = twice_max / float(f32(1 << ADD_LEFT_SHIFT) * f32(out_scale))
    mo, so = quantize_multiplier_smaller_than_one(real_out)
    return {"left_shift": ADD_LEFT_SHIFT, "in1_mult": m1, "in1_shift": s1, "in2_mult": m2,
            "in2_shift": s2, "out_mult": mo, "out_shift": so}


def srdhm(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul (int32)."""
    if a == b == -(1 << 31):
        return (1 << 31) - 1
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return _trunc_div(ab + nudge, 1 << 31)


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // b
    return q if a >= 0 else -q


def rounding_divide_by_pot(x: int, exponent: int) -> int:
    """gemmlowp RoundingDivideByPOT (round half away from zero)."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def multiply_by_quantized_multiplier(x: int, mult: int, shift: int) -> int:
    """TFLite MultiplyByQuantizedMultiplier (double rounding), int32 wrap-around on the left shift."""
    left, right = max(shift, 0), max(-shift, 0)
    shifted = ((x << left) + (1 << 31)) % (1 << 32) - (1 << 31)
    return rounding_divide_by_pot(srdhm(shifted, mult), right)


def multiply_by_quantized_multiplier_single(x: int, mult: int, shift: int) -> int:
    """The single-rounding form used by the reference fully-connected kernels."""
    total = 31 - shift
    return (x * mult + (1 << (total - 1))) >> total


def fold_constant_channels(arrays: dict, weights: np.ndarray, params: dict) -> None:
    """Output channels whose weights are all zero (rows of `weights`, one per channel) output a
    constant c = clamp(requant(bias) + out_offset). Quantisers give such dead channels huge
    biases (2^30) or multipliers >= 0.5, which keep the whole op off the DSP kernels' fast
    requantisation; rewrite them in place to bias 4 (c - out_offset), multiplier 2^30, shift -1,
    which requantises to exactly c - out_offset (same output, now in the fast path's range)."""
    dead = np.flatnonzero(~np.asarray(weights).reshape(len(arrays["bias"]), -1).any(axis=1))
    for ch in dead:
        v = multiply_by_quantized_multiplier(int(arrays["bias"][ch]), int(arrays["mult"][ch]),
                                             int(arrays["shift"][ch])) + params["out_offset"]
        c = min(max(v, params["act_min"]), params["act_max"])
        arrays["bias"][ch], arrays["mult"][ch], arrays["shift"][ch] = 4 * (c - params["out_offset"]), 1 << 30, -1
