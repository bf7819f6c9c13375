"""Flash and RAM footprint of the generated firmware: the formulas (constants in footprint.yaml).

Mirrors what dnasgen.codegen lowers and the templates lay out (see footprint.yaml for each
term and where it comes from), computed from the candidate's graph so the search can price
thousands of candidates without generating anything. The layout facts (descriptor struct sizes,
array and row padding, the DSP scratch buffer, the stack) are not copied here: they come from
dnasgen.abi, the definition codegen renders the firmware with; footprint.yaml holds only what
was measured (code sizes).
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

from dnasgen import abi
from dnasgen.errors import DnasgenError
from dnasgen.graph import Graph, Op

PIXEL_FORMATS = ("rgb565", "rgb888", "grayscale", "yuyv")


@lru_cache(maxsize=None)
def data_file(name: str) -> dict:
    from ruamel.yaml import YAML
    text = resources.files("dnasgen.cost").joinpath(name).read_text()
    return YAML(typ="safe").load(text)


def footprint_table() -> dict:
    """The flash/RAM footprint coefficients (footprint.yaml)."""
    return data_file("footprint.yaml")


def _padded(nbytes: int, alignment: int) -> int:
    return -(-nbytes // alignment) * alignment if nbytes else 0


# A graph has no weights: its ops are priced on the fast requantisation path (codegen.lowering
# fast_requant; quant.fold_constant_channels keeps dead channels on it), so a C fallback is priced
# only where an op's shape needs one (abi.op_fallback).
FAST_REQUANT = 1

# The C kernel each graph op lowers to (conv: by its kernel and stride, abi.conv_kernel).
_KIND_KERNELS = {"dwconv": "dwconv", "add": "add", "mean": "mean_sum", "fc": "fc"}


def op_kernel(op: Op) -> str:
    if op.kind == "conv":
        return abi.conv_kernel(op.kernel, op.kernel, op.stride, op.stride)
    return _KIND_KERNELS[op.kind]


def conv_row_bytes(op: Op) -> int:
    """Weights per output channel of a conv as laid out (abi.conv_row)."""
    return abi.conv_row(op_kernel(op), op.kernel, op.kernel, op.in_shape[2])


def op_arrays(op: Op) -> tuple[int, ...]:
    """Byte sizes of the constant arrays of one op (weights, then per-channel arrays); () if none."""
    if op.kind not in ("conv", "dwconv", "fc"):
        return ()
    out_c = op.out_shape[2]
    weights = op.weights
    if op.kind == "conv":
        weights = out_c * conv_row_bytes(op)
    (_, weight_bytes), *channel = abi.OP_ARRAYS
    return (weights * weight_bytes,) + tuple(b * out_c for _, b in channel)


def op_flash_bytes(op: Op) -> int:
    """Flash of one op: its padded constant arrays, its descriptor and its call."""
    arrays = sum(_padded(n, abi.ARRAY_ALIGNMENT) for n in op_arrays(op))
    return arrays + abi.descriptor_bytes(op_kernel(op)) + footprint_table()["flash"]["op_call_bytes"]


def patch_descriptor_bytes(stage, graph: Graph) -> int:
    """The descriptors a patch stage (dnasgen.cost.patch) adds: one per distinct window geometry
    of each patched op beyond the op's own."""
    return sum((len(stage.distinct(k)) - 1) * abi.descriptor_bytes(op_kernel(op))
               for k, op in enumerate(graph.ops[:stage.ops])) if stage else 0


def patch_flash_bytes(stage, graph: Graph) -> int:
    """What a patch stage adds to the ops' flash: its descriptors, one call per patch beyond the
    op's own, and the copies of each patch (gather, scatter, crops: one call each)."""
    if stage is None:
        return 0
    call = footprint_table()["flash"]["op_call_bytes"]
    patches = len(stage.windows)
    copies = 2 + len(stage.crops)      # gather, scatter, the adds' crops
    return patch_descriptor_bytes(stage, graph) + (stage.ops * (patches - 1) + copies * patches) * call


def code_bytes(kinds, dw_codes, fallbacks=()) -> int:
    """Kernels (once per distinct op kind; depthwise once per abi.dw_code: dn_dw3, and one dn_dwk for
    every other size) + the C fallbacks compiled (abi.fallbacks) + runtime + tables; additive over
    kinds, depthwise kernels and fallbacks (the differentiable search prices each one's share)."""
    fl = footprint_table()["flash"]
    return (sum(fl["kernel_code_bytes"][k] for k in set(kinds))
            + sum(fl["dwconv_kernel_code_bytes"][c] for c in set(dw_codes))
            + sum(fl["fallback_code_bytes"][f] for f in set(fallbacks))
            + fl["runtime_code_bytes"] + abi.INPUT_TABLE_BYTES + abi.vector_table_bytes())


def kernel_params(op: Op) -> dict:
    """The lowered op's parameters that size its scratch (codegen.lowering's params keys)."""
    return {"w_row": conv_row_bytes(op) if op.kind == "conv" else 0, "k_h": op.kernel, "k_w": op.kernel,
            "in_c": op.in_shape[2], "out_w": op.out_shape[1], "stride_w": op.stride, "fast": FAST_REQUANT}


def code_flash_bytes(graph: Graph) -> int:
    """The code of a graph: `code_bytes` of its op kinds, depthwise kernels and C fallbacks, decided by
    the functions codegen decides them with (abi.dw_codes, abi.fallbacks) on the graph's ops."""
    ops = [(op_kernel(op), kernel_params(op)) for op in graph.ops]
    return code_bytes({op.kind for op in graph.ops}, abi.dw_codes(ops), abi.fallbacks(ops))


def op_scratch_words(op: Op) -> int:
    """32-bit words the DSP kernels need for one op (abi.op_scratch_words, as codegen sizes them)."""
    return abi.op_scratch_words(op_kernel(op), kernel_params(op))


def scratch_bytes(graph: Graph) -> int:
    ops = [(op_kernel(op), kernel_params(op)) for op in graph.ops]
    return abi.SCRATCH_WORD_BYTES * abi.scratch_words(ops)


def static_ram_bytes(graph: Graph) -> int:
    """RAM that does not depend on the sensor: stack, static state, DSP scratch (arena excluded)."""
    return abi.STACK_BYTES + abi.static_ram_bytes() + scratch_bytes(graph)


def preprocess_planes(sensor_format: str | None, channels: int) -> int:
    """Colour planes the streaming preprocessor accumulates (preprocess.c DN_PLANES)."""
    if sensor_format is not None and sensor_format not in PIXEL_FORMATS:
        raise DnasgenError(f"unknown sensor pixel format {sensor_format!r} (known: {', '.join(PIXEL_FORMATS)})")
    if sensor_format == "grayscale" or (sensor_format == "yuyv" and channels == 1):
        return 1
    return 3


def preprocess_code_bytes(sensor_format: str | None, channels: int) -> int:
    """Flash of the preprocessing code for the sensor's pixel format (None: the largest)."""
    table = footprint_table()["flash"]["preprocess_code_bytes"]
    if sensor_format is None:
        return max(table.values())
    preprocess_planes(sensor_format, channels)            # validates the format
    return table["yuyv_rgb" if sensor_format == "yuyv" and channels == 3 else sensor_format]


def preprocess_ram_bytes(resolution: int, planes: int) -> int:
    return abi.PREPROCESS_ACC_BYTES * resolution * planes
