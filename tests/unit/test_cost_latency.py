"""The latency model's terms (dnasgen.cost.latency), against hand-computed values."""
from __future__ import annotations

import pytest

from dnasgen.cost.latency import TERMS, latency_kind, op_cycles, op_terms, window_taps
from dnasgen.errors import DnasgenError
from dnasgen.graph import Op, same_padding


def _dw(size: int, c: int, k: int, stride: int = 1) -> Op:
    out, top, bottom = same_padding(size, k, stride)
    return Op("dw", "dwconv", ("x",), "dw", (size, size, c), (out, out, c), k, stride, (top, bottom, top, bottom))


def test_window_taps_by_hand():
    # 4x4, k5, pad 2: per axis the windows keep 3, 4, 4, 3 taps and none is whole: every pixel is border.
    assert window_taps(_dw(4, 8, 5)) == (14 * 14, 14 * 14)
    # 4x4, k3, pad 1: 2, 3, 3, 2 taps, the middle two whole: 100 taps, the 2x2 interior's 36 are not border.
    assert window_taps(_dw(4, 8, 3)) == (100, 100 - 4 * 9)
    # 16 -> 8, k5, stride 2, SAME pads 1 (top/left) 2 (bottom/right): windows start -1, 1, ..., 13 and keep
    # 4, 5 x 6, 3 taps (37), six whole: 37^2 - 36 * 25.
    assert window_taps(_dw(16, 8, 5, 2)) == (37 * 37, 37 * 37 - 36 * 25)
    # 1x1 map, k7: one tap of the window is inside.
    assert window_taps(_dw(1, 8, 7)) == (1, 1)
    # 8x8, k3, pad 1: per axis 2 + 3 x 6 + 2 = 22 taps inside.
    assert window_taps(_dw(8, 1, 3))[0] == 22 * 22


def test_depthwise_terms_by_hand():
    op = _dw(4, 8, 5)
    assert latency_kind(op) == "dwconv5"
    assert op_terms(op) == {"op": 1.0, "mac": 16 * 8 * 25, "element": 16 * 8, "weight": 25 * 8, "row": 4 * 8,
                            "tap": 196 * 8, "border_mac": 196 * 8}
    assert set(op_terms(op)) == set(TERMS["dwconv5"])


def test_convolution_terms_by_hand():
    pw = Op("pw", "conv", ("x",), "pw", (2, 2, 16), (2, 2, 24))
    assert latency_kind(pw) == "conv1x1"
    assert op_terms(pw) == {"op": 1.0, "mac": 4 * 24 * 16, "element": 4 * 24, "input": 4 * 16, "weight": 16 * 24,
                            "pixel": 4}
    stem = Op("stem", "conv", ("x",), "stem", (32, 32, 3), (16, 16, 16), 3, 2, (0, 1, 0, 1))
    assert latency_kind(stem) == "conv"
    assert op_terms(stem)["input"] == 256 * 27 and op_terms(stem)["weight"] == 27 * 16
    fc = Op("fc", "fc", ("x",), "fc", (1, 1, 256), (1, 1, 2))
    assert op_terms(fc) == {"op": 1.0, "mac": 512, "element": 2}
    mean = Op("pool", "mean", ("x",), "pool", (4, 4, 256), (1, 1, 256))
    assert latency_kind(mean) == "mean" and op_terms(mean) == {"op": 1.0, "element": 4 * 4 * 256}


def test_cycles_are_the_sum_of_coefficient_times_term():
    coeffs = {"kinds": {"dwconv5": {"op": 100.0, "mac": 2.0, "row": 10.0, "border_mac": 1.5},
                        "conv1x1": {"mac": 1.0}}}
    # 100 + 2 x 3200 + 10 x 32 + 1.5 x 1568 (element and weight not listed: free)
    assert op_cycles(_dw(4, 8, 5), coeffs) == pytest.approx(100 + 6400 + 320 + 2352)
    with pytest.raises(DnasgenError, match="no coefficients for 'dwconv3'"):
        op_cycles(_dw(4, 8, 3), coeffs)
