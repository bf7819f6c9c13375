"""In-place ops: the planner's delta is safe for every read/write order the C kernels use.

The kernels (templates/firmware) are replayed byte by byte on a model of the arena: the
output at offset 0, the input at `delta`; every read must still find its input byte.
"""
import itertools

import numpy as np
import pytest

from dnasgen.cost.inplace import WindowOp, dw_delta, op_delta, overlaps, pointwise_delta
from dnasgen.graph import same_padding


class Arena:
    def __init__(self, in_bytes: int, out_bytes: int, delta: int):
        self.mem = np.full(max(out_bytes, delta + in_bytes), -1, np.int64)
        self.mem[delta:delta + in_bytes] = np.arange(in_bytes)
        self.delta = delta

    def read(self, index: int) -> None:
        assert self.mem[self.delta + index] == index, f"input byte {index} overwritten before its read"

    def write(self, index: int) -> None:
        self.mem[index] = -2


def _window(a: Arena, shape, oy, ox, ch, k, s, pt, pl):
    h, w, c = shape
    for ky, kx in itertools.product(range(k), range(k)):
        y, x = oy * s - pt + ky, ox * s - pl + kx
        if 0 <= y < h and 0 <= x < w:
            a.read((y * w + x) * c + ch)


def dw_portable(a, shape, out, k, s, pt, pl):
    """kernels.c dn_dwconv: pixel by pixel, channel by channel."""
    for oy, ox, ch in itertools.product(range(out[0]), range(out[1]), range(shape[2])):
        _window(a, shape, oy, ox, ch, k, s, pt, pl)
        a.write((oy * out[1] + ox) * shape[2] + ch)


def dw_dsp_in_place(a, shape, out, k, s, pt, pl):
    """kernels_dsp.c dn_dwconv with out overlapping in: rows outer, 4-channel groups, then the rest."""
    c = shape[2]
    groups = [list(range(g, g + 4)) for g in range(0, c - c % 4, 4)] + [list(range(c - c % 4, c))]
    for oy in range(out[0]):
        for chans in groups:
            for ox in range(out[1]):
                for ch in chans:
                    _window(a, shape, oy, ox, ch, k, s, pt, pl)
                for ch in chans:
                    a.write((oy * out[1] + ox) * c + ch)


def pw_portable(a, pixels, cin, cout):
    """kernels.c / the Helium path: pixel i's channels read again for each output channel."""
    for i in range(pixels):
        for oc in range(cout):
            for ic in range(cin):
                a.read(i * cin + ic)
            a.write(i * cout + oc)


def pw_dsp_pairs(a, pixels, cin, cout):
    """kernels_dsp.c dn_conv1x1: a pixel pair widened into the scratch, then both written."""
    for i in range(0, pixels, 2):
        for j in range(i, min(i + 2, pixels)):
            for ic in range(cin):
                a.read(j * cin + ic)
        for j in range(i, min(i + 2, pixels)):
            for oc in range(cout):
                a.write(j * cout + oc)


@pytest.mark.parametrize("h,w,c,k,s", [(7, 7, 3, 3, 1), (8, 6, 4, 3, 2), (9, 8, 5, 5, 2), (6, 9, 8, 7, 2),
                                       (5, 5, 6, 5, 1), (10, 10, 4, 7, 1), (11, 7, 9, 3, 2), (4, 4, 4, 7, 2)])
def test_depthwise_delta_is_safe_for_every_kernel_order(h, w, c, k, s):
    oh, pt, _ = same_padding(h, k, s)
    ow, pl, _ = same_padding(w, k, s)
    delta = dw_delta((h, w, c), (oh, ow, c), s, pt)
    for kernel in (dw_portable, dw_dsp_in_place):
        kernel(Arena(h * w * c, oh * ow * c, delta), (h, w, c), (oh, ow), k, s, pt, pl)


def test_depthwise_delta_figures():
    assert dw_delta((48, 48, 16), (48, 48, 16), 1, 1) == 2 * 48 * 16        # stride 1: pad_top + 1 rows
    assert dw_delta((48, 48, 48), (24, 24, 48), 2, 0) == 24 * 48            # stride 2: one output row
    assert dw_delta((12, 12, 8), (6, 6, 8), 2, 2) == 2 * 6 * 8              # k 7, pad 2: rows 0, 1 read row 0
    with pytest.raises(AssertionError):       # one output row less: the DSP order overwrites unread input
        dw_dsp_in_place(Arena(48 * 48 * 4, 48 * 48 * 4, 48 * 4), (48, 48, 4), (48, 48), 3, 1, 1, 1)


@pytest.mark.parametrize("pixels,cin,cout", [(1, 3, 8), (7, 4, 12), (9, 8, 48), (16, 2, 5)])
def test_pointwise_delta_is_safe_for_every_kernel_order(pixels, cin, cout):
    delta = pointwise_delta((pixels, 1, cin), (pixels, 1, cout))
    for kernel in (pw_portable, pw_dsp_pairs):
        kernel(Arena(pixels * cin, pixels * cout, delta), pixels, cin, cout)
    with pytest.raises(AssertionError):     # tight: only the very last byte written may land nearer
        pw_portable(Arena(pixels * cin, pixels * cout, delta - 2), pixels, cin, cout)


def test_only_last_readers_of_produced_tensors_run_in_place():
    ops = [WindowOp("conv", ("x",), "a", (8, 8, 3), (8, 8, 4)),
           WindowOp("conv1x1", ("a",), "b", (8, 8, 4), (8, 8, 24)),        # expanding: in place
           WindowOp("dwconv", ("b",), "c", (8, 8, 24), (4, 4, 24), 2, 0),    # in place
           WindowOp("conv1x1", ("c",), "d", (4, 4, 24), (4, 4, 8)),          # contracting: never
           WindowOp("dwconv", ("d",), "e", (4, 4, 8), (4, 4, 8), 1, 1),      # d read again by the add
           WindowOp("add", ("d", "e"), "f", (4, 4, 8), (4, 4, 8)),
           WindowOp("dwconv", ("x",), "g", (8, 8, 3), (8, 8, 3), 1, 1)]      # the graph input: never
    pairs = overlaps(ops, keep=("f",))
    assert pairs == {"b": ("a", 16 * -(-(24 + 20 * 63) // 16)), "c": ("b", 96)}
    assert op_delta(ops[3]) is None and op_delta(ops[5]) is None


def test_the_spec_switch_lists_the_planner_modes():
    from dnasgen.cost.inplace import DEFAULT_MEMORY, MEMORY_MODES
    from dnasgen.spec import schema_dict
    from dnasgen.spec.model import Export
    memory = schema_dict()["properties"]["export"]["properties"]["memory"]
    assert tuple(memory["enum"]) == MEMORY_MODES and memory["default"] == DEFAULT_MEMORY == Export().memory
