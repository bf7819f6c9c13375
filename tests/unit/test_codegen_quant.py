"""TFLite fixed-point parameters and arithmetic as computed by codegen (no TF, no compiler)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dnasgen.codegen import quant
from dnasgen.errors import CodegenError


@pytest.mark.parametrize("real, expected", [
    (0.5, (1 << 30, 0)),
    (1.0, (1 << 30, 1)),
    (0.75, (3 << 29, 0)),
    (0.1, (1717986918, -3)),
    (1 - 2.0 ** -40, (1 << 30, 1)),     # rounds to 2^31: halved, shift + 1
    (2.0 ** -40, (0, 0)),               # shift < -31: flushed to zero
    (0.0, (0, 0)),
])
def test_quantize_multiplier(real, expected):
    assert quant.quantize_multiplier(real) == expected


def test_quantize_multiplier_represents_the_value():
    for real in np.geomspace(1e-6, 50, 200):
        m, s = quant.quantize_multiplier(float(real))
        assert (1 << 30) <= m < (1 << 31)
        assert math.isclose(m * 2.0 ** (s - 31), real, rel_tol=2 ** -30)


def test_smaller_than_one_rejects_large():
    with pytest.raises(CodegenError):
        quant.quantize_multiplier_smaller_than_one(1.5)


@pytest.mark.parametrize("x, e, expected", [(3, 1, 2), (-3, 1, -2), (5, 2, 1), (6, 2, 2), (-6, 2, -2),
                                           (-5, 2, -1), (7, 0, 7), (-(1 << 31), 31, -1)])
def test_rounding_divide_by_pot_rounds_half_away(x, e, expected):
    assert quant.rounding_divide_by_pot(x, e) == expected


def test_srdhm_matches_floor_form_and_saturates():
    rng = np.random.default_rng(0)
    for a, b in zip(rng.integers(-(1 << 31), 1 << 31, 2000), rng.integers(0, 1 << 31, 2000)):
        a, b = int(a), int(b)
        assert quant.srdhm(a, b) == (a * b + (1 << 30)) >> 31     # what the C kernels compute
    assert quant.srdhm(-(1 << 31), -(1 << 31)) == (1 << 31) - 1


def test_double_and_single_rounding_on_ties():
    m, s = quant.quantize_multiplier(1 / 256)          # (2^30, -7): x / 256 exactly
    assert quant.multiply_by_quantized_multiplier(384, m, s) == 2           # 1.5 -> 2
    assert quant.multiply_by_quantized_multiplier_single(384, m, s) == 2
    assert quant.multiply_by_quantized_multiplier(-384, m, s) == -2         # away from zero
    assert quant.multiply_by_quantized_multiplier_single(-384, m, s) == -1  # towards +infinity
    assert quant.multiply_by_quantized_multiplier(-383, m, s) == -1
    m2, s2 = quant.quantize_multiplier(2.5)
    assert quant.multiply_by_quantized_multiplier(3, m2, s2) == 8           # 7.5 -> 8


def test_per_channel_multipliers_use_double_precision():
    mults, shifts = quant.per_channel_multipliers(0.02, [0.001, 0.002], 0.05, 2)
    for m, s, ws in zip(mults, shifts, (0.001, 0.002)):
        real = float(np.float32(0.02)) * float(np.float32(ws)) / float(np.float32(0.05))
        assert (m, s) == quant.quantize_multiplier(real)
    assert quant.per_channel_multipliers(0.02, [0.001], 0.05, 3)[0] == [mults[0]] * 3
    with pytest.raises(CodegenError):
        quant.per_channel_multipliers(0.02, [0.1, 0.2], 0.05, 3)


def test_activation_ranges():
    assert quant.activation_range(3, 6 / 255, -128) == (-128, 127)
    assert quant.activation_range(3, 0.05, -100) == (-100, 20)
    assert quant.activation_range(1, 0.05, -100) == (-100, 127)
    assert quant.activation_range(0, 0.05, 3) == (-128, 127)
    with pytest.raises(CodegenError):
        quant.activation_range(4, 0.05, 0)


def test_add_params_follow_add_cc():
    p = quant.add_params(0.02, 0.01, 0.03)
    assert p["left_shift"] == 20
    twice = float(np.float32(2) * np.float32(0.02))     # float in add.cc, then double
    assert (p["in1_mult"], p["in1_shift"]) == quant.quantize_multiplier(float(np.float32(0.02)) / twice)
    assert (p["in1_mult"], p["in1_shift"]) == (1 << 30, 0)
    assert (p["in2_mult"], p["in2_shift"]) == quant.quantize_multiplier(float(np.float32(0.01)) / twice)
    real_out = twice / float(np.float32(1 << 20) * np.float32(0.03))
    assert (p["out_mult"], p["out_shift"]) == quant.quantize_multiplier(real_out)


def test_mean_multiplier_folds_the_count():
    m, s = quant.mean_multiplier(0.02, 0.01, 9)
    base_m, base_s = quant.quantize_multiplier(float(np.float32(0.02)) / float(np.float32(0.01)))
    assert s == base_s - 3 and m == (base_m << 3) // 9
    value = quant.multiply_by_quantized_multiplier(900, m, s)
    assert value == 200       # 900 / 9 * 2


def test_dead_channels_fold_to_the_same_constant_in_the_fast_range():
    """Zero-weight channels with a 2^30 bias or a multiplier >= 0.5 (as quantisers leave them):
    rewritten, they requantise to the same clamped constant and the op qualifies for `fast`."""
    from dnasgen.codegen.lowering import fast_requant
    from dnasgen.codegen.quant import fold_constant_channels, multiply_by_quantized_multiplier
    weights = np.array([[0, 0, 0], [1, -2, 3], [0, 0, 0], [0, 0, 0]], np.int8)
    arrays = {"bias": np.array([1 << 30, 5, -(1 << 30), 77], np.int32),
              "mult": np.array([1 << 30, 1 << 30, 1500000000, 1900000000], np.int32),
              "shift": np.array([-8, -3, -20, 0], np.int32)}
    params = {"out_offset": -5, "act_min": -128, "act_max": 100}
    before = {k: v.copy() for k, v in arrays.items()}

    def out(a, ch):
        v = multiply_by_quantized_multiplier(int(a["bias"][ch]), int(a["mult"][ch]), int(a["shift"][ch]))
        return min(max(v + params["out_offset"], params["act_min"]), params["act_max"])
    assert fast_requant(before, 3, 128) == 0
    fold_constant_channels(arrays, weights, params)
    assert [out(arrays, ch) for ch in range(4)] == [out(before, ch) for ch in range(4)]
    assert [out(before, ch) for ch in (0, 2, 3)] == [100, -128, 63]     # clamped high, low, and not
    assert (arrays["bias"][1], arrays["mult"][1], arrays["shift"][1]) == (5, 1 << 30, -3)
    assert fast_requant(arrays, 3, 128) == 1
