"""Template context of a generated project: lowered program + arena plan + sensor + boards -> values.

Everything model-dependent comes from the lowered .tflite (dnasgen.codegen.lowering) and the
memory planner (dnasgen.cost.plan_arena); everything sensor-dependent from the spec.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from dnasgen import abi
from dnasgen.codegen import cgen
from dnasgen.codegen.lowering import KERNELS, COp, Program
from dnasgen.codegen.qemu import M4_BOARD_ID, QEMU_TARGETS, instr_per_tick
from dnasgen.errors import CodegenError

PIXEL_FORMATS = {"rgb565": "DN_FMT_RGB565", "rgb888": "DN_FMT_RGB888", "grayscale": "DN_FMT_GRAYSCALE",
                 "yuyv": "DN_FMT_YUYV"}
CPU_FLAGS = {
    "cortex-m4": "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16",
    "cortex-m7": "-mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16",
    "cortex-m0plus": "-mcpu=cortex-m0plus -mthumb -mfloat-abi=soft",
    "cortex-m3": "-mcpu=cortex-m3 -mthumb -mfloat-abi=soft",
    "cortex-m33": "-mcpu=cortex-m33 -mthumb -mfloat-abi=hard -mfpu=fpv5-sp-d16",
    "cortex-m55": "-mcpu=cortex-m55 -mthumb -mfloat-abi=hard",
}
# `make qemu CORE=<m0plus|m3|m4|m7|m33|m55>` runs on one emulated machine per core (codegen/qemu.py);
# the default (m4) is the catalogue's QEMU board, mps2-an386.
QEMU_BOARD_ID = M4_BOARD_ID



@dataclass(frozen=True)
class LinkBoard:
    id: str
    name: str
    core: str
    flash_origin: str
    flash_bytes: int
    ram_origin: str
    ram_bytes: int
    instr_per_tick: int          # SysTick tick -> instructions: instr_per_tick / tick_div
    tick_div: int = 1
    machine: str = ""            # qemu-system-arm -M, for the QEMU targets
    rodata_origin: str = ""      # read-only data in its own region (else in FLASH)
    rodata_bytes: int = 0

    @property
    def cpu_flags(self) -> str:
        return CPU_FLAGS[self.core]

    @property
    def qemu_core(self) -> str:
        """`make qemu BOARD=<id>`: the CORE= key of the QEMU machine emulating this board's core."""
        return next((t.core_key for t in QEMU_TARGETS if t.core == self.core), "")


def _qemu_link(t) -> LinkBoard:
    scale = instr_per_tick(t.clock_mhz)
    rodata = (hex(t.rodata[0]), t.rodata[1]) if t.rodata else ("", 0)
    return LinkBoard(t.board_id, t.name, t.core, hex(t.flash[0]), t.flash[1], hex(t.ram[0]), t.ram[1],
                     scale.numerator, scale.denominator, t.machine, *rodata)


def link_boards() -> list[LinkBoard]:
    """Every catalogue Cortex-M board with a memory map, then the QEMU targets of the other cores."""
    from dnasgen.boards import board_ids, get_board
    boards = []
    for bid in board_ids():
        b = get_board(bid)
        if b.core in CPU_FLAGS and b.flash_origin is not None and b.ram_origin is not None:
            boards.append(LinkBoard(b.id, b.name, b.core, hex(b.flash_origin), int(b.flash_kb * 1024),
                                    hex(b.ram_origin), int(b.ram_kb * 1024), 1))
    ids = [b.id for b in boards]
    if QEMU_BOARD_ID not in ids:
        raise CodegenError(f"the board catalogue has no {QEMU_BOARD_ID} entry (needed by make qemu)")
    for t in QEMU_TARGETS:
        link = _qemu_link(t)
        if t.board_id in ids:         # the catalogue's own QEMU board: its memory map, QEMU's clock
            i = ids.index(t.board_id)
            boards[i] = replace(boards[i], instr_per_tick=link.instr_per_tick, tick_div=link.tick_div,
                                machine=t.machine)
        else:
            boards.append(link)
    return boards


def _array_name(op: COp, key: str) -> str:
    return f"dn_{op.name}_{key}"


def _op_entry(op: COp, program: Program, offsets: dict[str, int]) -> dict:
    fields = dict(op.params)
    for key in op.arrays:
        fields[key] = _array_name(op, key)
    args = ", ".join(f"dn_arena + {offsets[n]}" for n in op.inputs + (op.output,))
    shapes = " + ".join(str(program.tensors[n].shape) for n in op.inputs)
    return {"name": op.name, "index": op.index, "ctype": abi.KERNEL_STRUCTS[op.kernel], "init": cgen.struct_initializer(fields),
            "call": f"dn_{op.kernel}(&{op.name}, {args})",
            "output_ptr": f"dn_arena + {offsets[op.output]}", "output_bytes": program.tensors[op.output].bytes,
            "comment": f"op {op.index}: {op.opcode} ({op.kernel}) {shapes} -> "
                       f"{program.tensors[op.output].shape}"}


def model_arrays(program: Program) -> list[tuple[str, np.ndarray]]:
    return [(_array_name(op, key), arr) for op in program.ops for key, arr in op.arrays.items()]


def padded_bytes(arr: np.ndarray, align: int = abi.ARRAY_ALIGNMENT) -> int:
    return -(-max(arr.nbytes, 1) // align) * align


def model_context(program: Program, offsets: dict[str, int], arena_bytes: int,
                  input_table: np.ndarray, plan=None) -> dict:
    """model.c / model_data.c's values (plan: the MemoryPlan, for its patch stage if any)."""
    from dnasgen.codegen.patch import patch_context, patch_descriptor_bytes
    patch = patch_context(program, plan)
    layered = program.ops[patch["patch_ops"]:]
    arrays = model_arrays(program)
    descriptors = sum(abi.descriptor_bytes(op.kernel) for op in layered) + patch_descriptor_bytes(patch)
    table = abi.INPUT_TABLE_BYTES if input_table is not None else 0
    data_bytes = sum(padded_bytes(a) for _, a in arrays) + table + descriptors
    ins, outs = program.tensors[program.input], program.tensors[program.output]
    return {
        **patch,
        "ops": [_op_entry(op, program, offsets) for op in layered],
        "arrays": [cgen.array_definition(name, arr) for name, arr in arrays],
        "array_decls": [cgen.array_declaration(name, arr) for name, arr in arrays],
        "input_table": "" if input_table is None else
        cgen.array_definition("dn_input_table", np.asarray(input_table, np.int8)),
        "model_data_bytes": data_bytes,
        "arena_bytes": arena_bytes,
        "input_shape": "x".join(map(str, ins.shape)), "output_shape": str(outs.bytes),
        "input_quant": (repr(ins.scale), ins.zero_point), "output_quant": (repr(outs.scale), outs.zero_point),
    }


def abi_context(pointer_sizes: tuple[int, ...] = (4, 8)) -> dict:
    """dn_abi.h: the structs of dnasgen.abi, their field offsets per pointer size, the checks."""
    constants = {name: getattr(abi, name.removeprefix("DN_")) for name in (
        "DN_ARRAY_ALIGNMENT", "DN_ARENA_ALIGNMENT", "DN_SCRATCH_WORD_BYTES", "DN_ADD_TABLE_WORDS",
        "DN_DWK_MAX_KW", "DN_DWK_TAP_BYTES", "DN_PREPROCESS_ACC_BYTES",
        "DN_ARG_LINE_BYTES", "DN_MAX_ARGS", "DN_PLATFORM_STATE_BYTES", "DN_VECTOR_TABLE_ENTRIES")}
    offsets = []
    for ptr in pointer_sizes:
        values = {}
        for s in abi.STRUCTS:
            lay = abi.layout(s.name, ptr)
            values.update({f"{s.prefix}_{f.upper()}": o for f, o in lay.offsets.items()})
            values[f"{s.prefix}_BYTES"] = lay.size
        offsets.append((ptr, define_lines(values)))
    structs = [{"name": s.name, "comment": s.comment,
                "lines": [f"{g.decl};" + (f"   /* {g.comment} */" if g.comment else "") for g in s.fields],
                "checks": [f"offsetof({s.name}, {f}) == {s.prefix}_{f.upper()}" for f in abi.layout(s.name).offsets]
                + [f"sizeof({s.name}) == {s.prefix}_BYTES"]} for s in abi.STRUCTS]
    return {"abi_constants": define_lines(constants), "abi_offsets": offsets, "abi_structs": structs}


def check_model_input(program: Program, data) -> None:
    shape = program.tensors[program.input].shape
    if shape != (data.resolution, data.resolution, data.channels):
        raise CodegenError(f"model input {shape} does not match the candidate's data config "
                           f"{data.resolution}x{data.resolution}x{data.channels}")


def model_defines(program: Program, offsets: dict[str, int], arena_bytes: int,
                  preprocess: bool = False) -> dict:
    """The config defines that depend on the model alone."""
    ins, outs = program.tensors[program.input], program.tensors[program.output]
    values = {"DN_PREPROCESS": int(preprocess), "DN_INPUT_BYTES": ins.bytes,
              "DN_OUTPUT_BYTES": outs.bytes, "DN_ARENA_BYTES": arena_bytes,
              "DN_INPUT_OFFSET": offsets[program.input], "DN_OUTPUT_OFFSET": offsets[program.output],
              "DN_MACS": program.macs, "DN_SCRATCH_WORDS": program.scratch_words,
              "DN_ACT_CLAMP": program.act_clamp, "DN_DW_GENERIC": program.dw_generic,
              "DN_CONV_FALLBACK": program.conv_fallback, "DN_DW_FALLBACK": program.dw_fallback}
    values.update({f"DN_KERNEL_{k.upper()}": int(k in program.kernels) for k in KERNELS})
    values["DN_DW_K3"] = int("dw3" in program.dw_codes)        # other sizes: DN_DW_GENERIC (dn_dwk)
    return values


def define_lines(values: dict) -> list[str]:
    return [cgen.define(k, v) for k, v in values.items()]


def config_defines(program: Program, offsets: dict[str, int], arena_bytes: int, sensor, data) -> list[str]:
    from dnasgen.data.preprocess import frame_bytes
    check_model_input(program, data)
    if sensor.pixel_format not in PIXEL_FORMATS:
        raise CodegenError(f"unknown sensor pixel format {sensor.pixel_format!r}")
    values = {"DN_FRAME_W": sensor.width, "DN_FRAME_H": sensor.height,
              "DN_PIXEL_FORMAT": PIXEL_FORMATS[sensor.pixel_format], "DN_FRAME_BYTES": frame_bytes(sensor),
              "DN_RES": data.resolution, "DN_CHANNELS": data.channels}
    values.update(model_defines(program, offsets, arena_bytes, preprocess=True))
    return define_lines(values)


def vectors_context(frames: list[np.ndarray], expected: list[np.ndarray]) -> dict:
    entries = [{"frame": cgen.array_definition(f"dn_vector_frame{i}", np.asarray(f, np.uint8)),
                "expected": ", ".join(str(int(v)) for v in np.asarray(e, np.int8).reshape(-1))}
               for i, (f, e) in enumerate(zip(frames, expected))]
    return {"vectors": entries,
            "vector_frame_names": ", ".join(f"dn_vector_frame{i}" for i in range(len(entries)))}
