"""The generated firmware's binary interface: one definition of every layout and buffer size.

Codegen renders the C structs from STRUCTS (dn_abi.h: typedefs, the byte offset of every field
as a #define that kernels_m4.S reads, and `_Static_assert(offsetof / sizeof)` checks that fail
the build when the C compiler lays a struct out differently), sizes the DSP scratch buffer and
pads the arrays with the rules below; the cost model prices flash and RAM with the same
functions, so neither keeps a copy. Pure Python (no numpy): `dnasgen estimate` imports it.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

TARGET_POINTER_BYTES = 4          # Cortex-M: 32-bit pointers (the host build's are 8)
ARRAY_ALIGNMENT = 16              # DN_ALIGNED() of every constant array (model_data.c)
ARENA_ALIGNMENT = 16              # the tensor arena and every tensor offset in it (memory planner)
CONV_ROW_MULTIPLE = 4             # k x k conv weight rows padded to whole words (DSP im2col path)
SCRATCH_WORD_BYTES = 4            # dn_scratch is uint32_t[DN_SCRATCH_WORDS] (kernels_dsp.c)
ADD_TABLE_WORDS = 512             # dn_add (DSP path): each input's 256 scaled values, int32, where dn_scratch has room
DW3_ROTATIONS = 3                 # the 3 x 3 depthwise weights once per rotation of the band's row slots
DWK_MAX_KW = 7                    # dn_dwk (kernels_m4.S): one unrolled kernel row of at most this many taps ...
DWK_TAP_BYTES = 34                # ... of this many bytes of code each (the assembler checks it)
DW3_MIN_RUN = 8                   # output pixels per band of the 3 x 3 depthwise kernel at least (more if room)
STACK_BYTES = 2048                # reserved by the linker scripts (Makefile STACK_BYTES)
INPUT_TABLE_BYTES = 256           # dn_input_table: u8 pixel -> int8 model input
PREPROCESS_ACC_BYTES = 4          # preprocess.c dn_acc: a uint32 accumulator per output column and plane
ARG_LINE_BYTES = 256              # platform_arm.c: the semihosting command line ...
MAX_ARGS = 8                      # ... split into at most this many argv pointers
PLATFORM_STATE_BYTES = 8          # platform_arm.c: SysTick wrap count, console handle
VECTOR_TABLE_ENTRIES = 16         # platform_arm.c dn_vectors: initial SP + the 15 system exceptions
# The constant arrays of a conv / dwconv / fc op (model_data.c), bytes per element: int8 weights,
# then int32 bias, multiplier and shift per output channel (Dense is quantised per channel too).
OP_ARRAYS = (("weights", 1), ("bias", 4), ("mult", 4), ("shift", 4))

_SCALAR_BYTES = {"int32_t": 4, "uint32_t": 4}


@dataclass(frozen=True)
class Fields:
    """One declaration line of a struct: `ctype name, name[n];` (ctype ending in '*': pointers)."""
    ctype: str
    names: tuple[str, ...]
    comment: str = ""

    @property
    def decl(self) -> str:
        if self.ctype.endswith("*"):
            return f"{self.ctype}" + ", *".join(self.names)
        return f"{self.ctype} " + ", ".join(self.names)


@dataclass(frozen=True)
class Struct:
    name: str                     # the C typedef name
    prefix: str                   # of its offset defines: <prefix>_<FIELD>, <prefix>_BYTES
    comment: str
    fields: tuple[Fields, ...]


def _f(ctype: str, names: str, comment: str = "") -> Fields:
    return Fields(ctype, tuple(names.split()), comment)


_WINDOW = "in_h in_w in_c out_h out_w out_c k_h k_w stride_h stride_w pad_t pad_l"
_RQ_ARRAYS = (_f("const int8_t *", "weights"), _f("const int32_t *", "bias mult shift"))
STRUCTS = (
    Struct("dn_conv_t", "DN_CONV", "conv k x k / 1x1 and depthwise conv (depth multiplier 1). "
           "Weights: conv OHWI, dw HWC.", (
               _f("int32_t", _WINDOW), _f("int32_t", "in_offset out_offset act_min act_max"),
               _f("int32_t", "fast", "|accumulator| < 2^30 and every shift <= -1: SMMULR requantisation "
                                     "is exact"),
               _f("int32_t", "w_row", "weights per output channel in the array (k x k conv rows padded "
                                      "to 4n)"), *_RQ_ARRAYS)),
    Struct("dn_fc_t", "DN_FC", "fully connected (reference FullyConnected, per-channel weights).", (
        _f("int32_t", "in_c out_c in_offset out_offset act_min act_max"), *_RQ_ARRAYS)),
    Struct("dn_add_t", "DN_ADD", "elementwise add of two equally shaped tensors (reference Add).", (
        _f("int32_t", "size left_shift in1_offset in2_offset out_offset act_min act_max"),
        _f("int32_t", "in1_mult in1_shift in2_mult in2_shift out_mult out_shift"))),
    Struct("dn_mean_t", "DN_MEAN", "mean over height and width (reference Mean / QuantizedMeanOrSum).", (
        _f("int32_t", "in_h in_w channels in_zp out_zp mult shift"),)),
    Struct("dn_pool_t", "DN_POOL", "average / max pooling (reference_integer_ops::AveragePool / MaxPool): "
           "HWC, equal quantisation.", (_f("int32_t", _WINDOW), _f("int32_t", "act_min act_max"))),
    Struct("dn_softmax_t", "DN_SOFTMAX", "softmax of an int8 vector, int8 output (scale 1/256, zero point "
           "-128): reference_ops::Softmax.", (_f("int32_t", "size mult left_shift diff_min"),)),
    Struct("dn_chq_t", "DN_CHQ", "requantisation constants of one channel (DSP fast path): multiplier, "
           "right shift, rounding half.", (_f("int32_t", "m e h"),)),
    Struct("dn_gemm_args_t", "DN_GEMM", "arguments of dn_gemm4 / dn_gemm4_sat (kernels_m4.S loads them "
           "with two ldm: fifteen consecutive words).", (
               _f("const int8_t *", "w"), _f("const int32_t *", "bias mult shift"),
               _f("int32_t", "k n4 n off lo hi", "k = row length, n4 = k / 4, n = out_c, off = output offset"),
               _f("const int8_t *", "in", "the pixels' inputs (k apart), widened 4 pixels at a time"),
               _f("int32_t", "pixels in_off"), _f("uint32_t *", "x"), _f("int8_t *", "out"))),
    Struct("dn_dw3_t", "DN_DW3", "arguments of the 3 x 3 depthwise kernel dn_dw3 over a padded band "
           "(kernels_m4.S).", (
               _f("int32_t", "bias[4]"), _f("const uint32_t *", "x w", "window of the next pixel in the band, "
                                          "the group's widened weights"),
               _f("int32_t", "unused xadj", "xadj: bytes from a window's 17th word to the next window"),
               _f("uint32_t", "off2", "input offset in both halves"),
               _f("int32_t", "mt[8]", "m, ~shift of the 4 channels"), _f("int32_t", "k2", "2 out_offset + 1"),
               _f("int8_t *", "out end", "output of the next pixel, after the last"),
               _f("int32_t", "xstep ostep lo hi", "4 stride_w, out_c, activation range"))),
    Struct("dn_dwk_t", "DN_DWK", "arguments of the k_h x k_w depthwise kernel dn_dwk (kernels_m4.S).", (
        _f("const int8_t *", "x", "window origin of the first pixel + channel"),
        _f("const uint32_t *", "w", "the group's table: row entries, weights widened to int16 pairs "
                                    "(dw_kernel_words)"),
        _f("int8_t *", "out"), _f("int32_t", "n c xstep rowadj", "pixels, channels, stride * c, "
                                  "in_w * c - (k_w - 1) * c"),
        _f("uint32_t", "off2", "input offset in both halves"), _f("int32_t", "off lo hi"),
        _f("dn_chq_t", "q[4]"), _f("int32_t", "bias[4]"),
        _f("int32_t", "clamp", "0: range -128..127, no clamp"))),
)
STRUCT_BY_NAME = {s.name: s for s in STRUCTS}
# The op descriptor struct of each C kernel variant (codegen.lowering.KERNELS).
KERNEL_STRUCTS = {"conv": "dn_conv_t", "conv1x1": "dn_conv_t", "dwconv": "dn_conv_t", "fc": "dn_fc_t",
                  "add": "dn_add_t", "mean_sum": "dn_mean_t", "mean_same": "dn_mean_t",
                  "avgpool": "dn_pool_t", "maxpool": "dn_pool_t", "softmax": "dn_softmax_t"}


@dataclass(frozen=True)
class Layout:
    size: int
    align: int
    offsets: dict[str, int]       # field name (without [n]) -> byte offset


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _type_layout(ctype: str, pointer_bytes: int) -> tuple[int, int]:
    if ctype.endswith("*"):
        return pointer_bytes, pointer_bytes
    if ctype in _SCALAR_BYTES:
        return _SCALAR_BYTES[ctype], _SCALAR_BYTES[ctype]
    inner = layout(ctype, pointer_bytes)
    return inner.size, inner.align


@lru_cache(maxsize=None)
def layout(struct: str, pointer_bytes: int = TARGET_POINTER_BYTES) -> Layout:
    """The C layout of `struct` (natural alignment, as gcc / the AAPCS lay it out)."""
    offset, align, offsets = 0, 1, {}
    for group in STRUCT_BY_NAME[struct].fields:
        size, a = _type_layout(group.ctype, pointer_bytes)
        for name in group.names:
            base, _, count = name.partition("[")
            offset = _round_up(offset, a)
            offsets[base] = offset
            offset += size * (int(count.rstrip("]")) if count else 1)
            align = max(align, a)
    return Layout(_round_up(offset, align), align, offsets)


def static_ram_bytes() -> int:
    """platform_arm.c's static RAM on the target: argument line, argv, platform state."""
    return ARG_LINE_BYTES + MAX_ARGS * TARGET_POINTER_BYTES + PLATFORM_STATE_BYTES


def vector_table_bytes() -> int:
    return VECTOR_TABLE_ENTRIES * TARGET_POINTER_BYTES


def descriptor_bytes(kernel: str) -> int:
    """Flash of one op's descriptor on the target: sizeof its struct."""
    return layout(KERNEL_STRUCTS[kernel]).size


def conv_kernel(k_h: int, k_w: int, stride_h: int, stride_w: int) -> str:
    """The C kernel of a convolution: the 1x1 stride-1 path or the im2col one."""
    return "conv1x1" if k_h == k_w == 1 and stride_h == stride_w == 1 else "conv"


def conv_row(kernel: str, k_h: int, k_w: int, in_c: int) -> int:
    """Weights per output channel as laid out (w_row): k x k x in_c, padded to whole words
    for the im2col path (its DSP loop reads whole words; the stem's 27 -> 28)."""
    k = k_h * k_w * in_c
    return k if kernel == "conv1x1" else _round_up(k, CONV_ROW_MULTIPLE)


def dw_band_words(params: dict) -> int:
    """The padded band of a 3 x 3 depthwise conv (kernels_dw.h): 3 input rows of (run - 1) x stride_w
    + 3 columns, 2 words each (4 channels widened to int16 pairs) for runs of min(out_w, DW3_MIN_RUN) output pixels (the kernel takes
    longer runs where the scratch the other ops need has room); other kernel sizes have none."""
    if (params["k_h"], params["k_w"]) != (3, 3):
        return 0
    return 6 * ((min(params["out_w"], DW3_MIN_RUN) - 1) * params["stride_w"] + 3)


def dw_kernel_words(k_h: int, k_w: int) -> int:
    """The table dn_dwk runs on (kernels_dw.h dn_dwk_table) for a k_h x k_w depthwise conv other than
    3 x 3: the address of its first kernel row's entry, then per kernel row the k_w taps' weights
    widened to two int16 pairs and the address dn_dwk goes to next (the next row's entry, after the
    last row the requantisation): 1 + k_h (2 k_w + 1) words."""
    return 1 + k_h * (2 * k_w + 1)


def op_scratch_words(kernel: str, params: dict) -> int:
    """32-bit words of the DSP kernels' scratch buffer one op needs (params: w_row, k_h, k_w, in_c,
    out_w, stride_w)."""
    kpad = _round_up(params.get("w_row", 0), 4)
    if kernel == "conv1x1":       # four pixels widened to int16 pairs (+ tails of the C path's two)
        return 2 * kpad + 4
    if kernel == "conv":          # ... + four im2col windows (int8)
        return 2 * kpad + 4 + kpad
    if kernel == "dwconv":        # a 4-channel group's weights widened to int16 (3 x 3: 3 row rotations + the band)
        if (params["k_h"], params["k_w"]) == (3, 3):
            return 2 * 9 * DW3_ROTATIONS + dw_band_words(params)
        return dw_kernel_words(params["k_h"], params["k_w"])
    if kernel == "fc":            # the input vector widened to int16 pairs
        return params["in_c"] // 2 + 1
    return 0


def scratch_words(ops: list[tuple[str, dict]]) -> int:
    """DN_SCRATCH_WORDS: the largest need over (kernel, params) of the ops, at least 1."""
    return max([1] + [op_scratch_words(kernel, params) for kernel, params in ops])


def dw_code(k_h: int, k_w: int) -> str:
    """The Cortex-M depthwise kernel a k_h x k_w depthwise conv runs on: "dw3" (dn_dw3, the 3 x 3 band)
    or "dwk" (dn_dwk, one copy for every other size: DN_DW_GENERIC)."""
    return "dw3" if (k_h, k_w) == (3, 3) else "dwk"


def dw_codes(ops: list[tuple[str, dict]]) -> frozenset[str]:
    """The depthwise kernels (dw_code) compiled for (kernel, params) ops."""
    return frozenset(dw_code(p["k_h"], p["k_w"]) for kernel, p in ops if kernel == "dwconv")


def op_fallback(kernel: str, params: dict) -> str | None:
    """The DSP path's C fallback one op can reach (params: fast, in_c): "conv" (kernels_dsp.c
    dn_gemm_pixels: slow requantisation, or a 1x1 conv whose input channels are not whole words),
    "dwconv" (kernels_dw.h dn_dw_single: slow requantisation, or channels not a multiple of 4), else None."""
    if kernel in ("conv", "conv1x1") and (not params["fast"] or (kernel == "conv1x1" and params["in_c"] % 4)):
        return "conv"
    if kernel == "dwconv" and (not params["fast"] or params["in_c"] % 4):
        return "dwconv"
    return None


def fallbacks(ops: list[tuple[str, dict]]) -> frozenset[str]:
    """The C fallbacks compiled for (kernel, params) ops (DN_CONV_FALLBACK, DN_DW_FALLBACK)."""
    return frozenset(f for f in (op_fallback(kernel, p) for kernel, p in ops) if f)


def facts() -> dict:
    """Everything above that prices a candidate (part of the cost model's identity)."""
    return {"structs": {s.name: layout(s.name).size for s in STRUCTS},
            "alignment": [ARRAY_ALIGNMENT, ARENA_ALIGNMENT, CONV_ROW_MULTIPLE],
            "bytes": [SCRATCH_WORD_BYTES, ADD_TABLE_WORDS, STACK_BYTES, INPUT_TABLE_BYTES, PREPROCESS_ACC_BYTES,
                      static_ram_bytes(), vector_table_bytes()], "arrays": list(OP_ARRAYS)}
