"""In-place ops: which op may write its output over its own input, and how far apart they sit.

An op of the in-place schedule has its output placed `delta` bytes BEFORE its input in the
arena (output at offset o, input at o + delta), so both share o .. o + max(out, delta + in)
instead of needing in + out. It is safe when no byte of the input is overwritten before its
last read. That depends only on the order in which the C kernels (templates/firmware) read and
write, which kernels.h states as a contract:

  * depthwise conv (depth multiplier 1), any stride, TF SAME or VALID padding: output rows are
    finished in order (portable C: pixel by pixel; DSP: when the output overlaps the input,
    rows outer and 4-channel groups inner; the unrolled M4 kernels: one row of one group per
    call). While output row oy is written (bytes below (oy + 1) * OW * C of the output), the
    rows still to be read start at input row r0 = max(0, oy * stride - pad_top), so
    delta >= max over oy of ((oy + 1) * OW * C - r0 * W * C). Stride 1: (pad_top + 1) input
    rows; stride 2: about one output row.
  * 1x1 conv, stride 1, expanding (Cout > Cin: a contracting one would tie the depthwise
    output to the next block's tensors and constrain the placement more than it saves): pixels in order; pixel i's outputs are written while pixel i's inputs
    are still read (portable and Helium paths; the DSP path widens a block of 4 pixels first, which
    is weaker), so Cout * (i + 1) <= delta + Cin * i for every pixel i:
    delta >= Cout + max(0, (Cout - Cin) * (P - 1)).

An op qualifies only if it is the last reader of an input that some op produced (never the
graph input or a tensor that must stay live) and the overlap saves bytes.
"""
from __future__ import annotations

from dataclasses import dataclass

from dnasgen.abi import ARENA_ALIGNMENT

MEMORY_MODES = ("layer", "inplace", "patch")   # patch: dnasgen.cost.patch (in place after the split)
DEFAULT_MEMORY = "inplace"     # the smallest arena without re-computation


@dataclass(frozen=True)
class WindowOp:
    """What the in-place rules need to know of an op (from a Graph op or a lowered COp)."""
    kind: str                        # "dwconv", "conv1x1" (stride 1) or anything else (never in place)
    inputs: tuple[str, ...]
    output: str
    in_shape: tuple[int, int, int]   # H, W, C
    out_shape: tuple[int, int, int]
    stride: int = 1                  # vertical stride
    pad_top: int = 0
    kernel: tuple[int, int] = (1, 1)  # k_h, k_w (the patch planner, dnasgen.cost.patch)
    stride_w: int = 1
    pad_left: int = 0


def dw_delta(in_shape, out_shape, stride: int, pad_top: int) -> int:
    """Bytes the input of an in-place depthwise conv must start after its output."""
    _, w, c = in_shape
    oh, ow, _ = out_shape
    return max(0, max((oy + 1) * ow * c - max(0, oy * stride - pad_top) * w * c for oy in range(oh)))


def pointwise_delta(in_shape, out_shape) -> int:
    """Bytes the input of an in-place 1x1 stride-1 conv must start after its output."""
    pixels, cin, cout = in_shape[0] * in_shape[1], in_shape[2], out_shape[2]
    return cout + max(0, (cout - cin) * (pixels - 1))


def op_delta(op: WindowOp) -> int | None:
    """delta of an op that can run in place, else None."""
    if len(op.inputs) != 1:
        return None
    if op.kind == "dwconv" and op.in_shape[2] == op.out_shape[2]:
        return dw_delta(op.in_shape, op.out_shape, op.stride, op.pad_top)
    if op.kind == "conv1x1" and op.in_shape[:2] == op.out_shape[:2] and op.out_shape[2] > op.in_shape[2]:
        return pointwise_delta(op.in_shape, op.out_shape)
    return None


def _align(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


def overlaps(ops: list[WindowOp], keep: tuple[str, ...] = (), alignment: int = ARENA_ALIGNMENT) -> dict[str, tuple[str, int]]:
    """output -> (input, aligned delta) of every op that runs in place (one input, its last reader)."""
    produced = {op.output for op in ops}
    last_reader: dict[str, int] = {}
    for i, op in enumerate(ops):
        for name in op.inputs:
            last_reader[name] = i
    result = {}
    for i, op in enumerate(ops):
        delta = op_delta(op)
        if delta is None:
            continue
        src = op.inputs[0]
        if src not in produced or src in keep or last_reader[src] != i:
            continue
        size_in = _align(op.in_shape[0] * op.in_shape[1] * op.in_shape[2], alignment)
        size_out = _align(op.out_shape[0] * op.out_shape[1] * op.out_shape[2], alignment)
        delta = _align(delta, alignment)
        if max(size_out, delta + size_in) < size_in + size_out:
            result[op.output] = (src, delta)
    return result


def graph_window_ops(graph) -> list[WindowOp]:
    """The ops of a dnasgen.graph.Graph as the in-place rules see them."""
    def kind(op):
        if op.kind == "conv" and op.kernel == 1 and op.stride == 1:
            return "conv1x1"
        return op.kind
    return [WindowOp(kind(op), op.inputs, op.output, op.in_shape, op.out_shape, op.stride, op.pad[0],
                     (op.kernel, op.kernel), op.stride, op.pad[2]) for op in graph.ops]


def check_mode(mode: str) -> str:
    if mode not in MEMORY_MODES:
        raise ValueError(f"memory mode {mode!r} is not one of {', '.join(MEMORY_MODES)}")
    return mode
