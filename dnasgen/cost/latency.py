"""The latency model's terms: what one op of the graph costs on a core, in cycles.

    cycles(op) = sum over the terms t of its kind: coefficient[core][kind][t] * term_t(op)

The kinds follow the C kernels an op lowers to: `conv1x1` (1x1 stride 1), `conv` (im2col: the stem),
`dwconv3` / `dwconv5` / `dwconv7` (one per depthwise kernel size: the M4 runs 3x3 over a padded band,
5x5 / 7x7 unrolled inside the input and in C on the border), `fc`, `add`, `mean`. The terms (per op):

    op          1 (the call, descriptor and requantisation set-up)
    mac         multiply-accumulates (depthwise: every tap of every output, k*k*C*H*W)
    element     output elements H*W*C (mean: its input elements; fc: output channels)
    input       conv: the bytes its inner loop widens, H*W * k*k*Cin (im2col / the input pair)
    weight      conv: weights k*k*Cin*Cout (one pass over them per odd output pixel: 1x1 maps);
                depthwise: weights k*k*C (widened once per 4-channel group)
    pixel       conv: output pixels H*W
    row         depthwise: output rows x channels H*C (a band or a border per row and group)
    tap         depthwise: the taps inside the input (each window clipped at the padding), x C: the
                work of the portable kernels, which skip the padding
    border_mac  depthwise: the taps inside the input of the output pixels whose window crosses the
                padding, x C (the DSP border path; on a 4x4 map with k = 5 that is every pixel)

The coefficients are data (latency.yaml), fitted per core by `python -m dnasgen.verify.calibrate` to
QEMU instruction counts; a term a kind does not list costs nothing. The differentiable search prices
with these same functions (dnasgen.search.diffcost), so both see one model.
"""
from __future__ import annotations

from dnasgen.errors import DnasgenError
from dnasgen.graph import Op

CONV_TERMS = ("op", "mac", "element", "input", "weight", "pixel")
DW_TERMS = ("op", "mac", "element", "weight", "row", "tap", "border_mac")
DW_KERNELS = (3, 5, 7)
TERMS = {"conv": CONV_TERMS, "conv1x1": CONV_TERMS,
         **{f"dwconv{k}": DW_TERMS for k in DW_KERNELS},
         "fc": ("op", "mac", "element"), "add": ("op", "element"), "mean": ("op", "element")}
MAC_TERMS = ("mac", "tap", "border_mac")     # terms that scale with the multiply-accumulate work


def latency_kind(op: Op) -> str:
    """The latency-model kind of a graph op (TERMS' keys)."""
    if op.kind == "conv":
        return "conv1x1" if op.kernel == 1 and op.stride == 1 else "conv"
    if op.kind == "dwconv":
        return f"dwconv{op.kernel}"
    return op.kind


def _window_taps(size: int, out: int, k: int, stride: int, pad: int) -> tuple[int, int]:
    """Along one axis: (sum over outputs of the taps inside the input, outputs whose window is whole)."""
    taps = whole = 0
    for o in range(out):
        start = o * stride - pad
        inside = min(k, size - start) - max(0, -start)
        taps += inside
        whole += inside == k
    return taps, whole


def window_taps(op: Op) -> tuple[int, int]:
    """Per channel: (taps inside the input over every output pixel, those of the output pixels whose
    k x k window crosses the padding)."""
    (ih, iw, _), (oh, ow, _) = op.in_shape, op.out_shape
    ty, wy = _window_taps(ih, oh, op.kernel, op.stride, op.pad[0])
    tx, wx = _window_taps(iw, ow, op.kernel, op.stride, op.pad[2])
    return ty * tx, ty * tx - wy * wx * op.kernel * op.kernel


def op_terms(op: Op) -> dict[str, float]:
    """The term values of one op (every term of its kind, TERMS)."""
    kind = latency_kind(op)
    oh, ow, oc = op.out_shape
    pixels, k2, ic = oh * ow, op.kernel * op.kernel, op.in_shape[2]
    if kind in ("conv", "conv1x1"):
        values = {"mac": op.macs, "element": pixels * oc, "input": pixels * k2 * ic, "weight": k2 * ic * oc,
                  "pixel": pixels}
    elif kind.startswith("dwconv"):
        inside, border = window_taps(op)
        values = {"mac": op.macs, "element": pixels * oc, "weight": k2 * oc, "row": oh * oc, "tap": inside * oc,
                  "border_mac": border * oc}
    elif kind == "fc":
        values = {"mac": op.macs, "element": oc}
    else:
        shape = op.in_shape if kind == "mean" else op.out_shape
        values = {"element": shape[0] * shape[1] * shape[2]}
    return {"op": 1.0, **{t: float(v) for t, v in values.items()}}


def op_cycles(op: Op, coeffs: dict) -> float:
    """Estimated cycles of one op on a core (coeffs: one core's block of latency.yaml)."""
    kind = latency_kind(op)
    if kind not in coeffs["kinds"]:
        raise DnasgenError(f"dnasgen/cost/latency.yaml has no coefficients for {kind!r} ({op.name})")
    table = coeffs["kinds"][kind]
    return sum(table.get(t, 0.0) * v for t, v in op_terms(op).items())


def cycles_ms(cycles: float, clock_mhz: float) -> float:
    """Milliseconds that `cycles` take at clock_mhz MHz."""
    return cycles / (clock_mhz * 1000.0)
