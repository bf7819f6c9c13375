"""model.c's patch loop (export.memory: patch, planned by dnasgen.cost.patch).

Straight-line C, patch after patch: copy the graph input's window into its patch buffer, run each
patched op's own kernel on the patch buffers with a descriptor holding that patch's window (in_h /
in_w / out_h / out_w / pad_t / pad_l; the weights and requantisation arrays are the op's), copy the
last op's output tile into the full-size split tensor. One descriptor per distinct window
geometry of an op (interior patches share one).
"""
from __future__ import annotations

from dnasgen import abi
from dnasgen.codegen import cgen
from dnasgen.codegen.lowering import COp, Program
from dnasgen.cost.patch import PatchStage, buffer, crop_buffer


def descriptor_name(op: COp, j: int) -> str:
    return f"{op.name}_w{j}"


def _descriptors(program: Program, stage: PatchStage) -> list[dict]:
    out = []
    for k, op in enumerate(program.ops[:stage.ops]):
        for j, (ih, iw, oh, ow, pt, pl) in enumerate(stage.distinct(k)):
            if op.kernel == "add":
                fields = {**op.params, "size": oh * ow * program.tensors[op.output].shape[2]}
            else:
                fields = {**op.params, "in_h": ih, "in_w": iw, "out_h": oh, "out_w": ow, "pad_t": pt, "pad_l": pl}
            fields.update({key: f"dn_{op.name}_{key}" for key in op.arrays})
            out.append({"name": descriptor_name(op, j), "ctype": abi.KERNEL_STRUCTS[op.kernel],
                        "init": cgen.struct_initializer(fields), "kernel": op.kernel,
                        "comment": f"op {op.index} on a {ih}x{iw} window -> {oh}x{ow}, pad {pt}/{pl}"})
    return out


def _rect(program: Program, name: str, inner, outer, offset: int) -> tuple[str, int, int, int]:
    """Pointer to rectangle `inner` of a buffer at `offset` that holds rectangle `outer` of tensor
    `name`, the buffer's row bytes, and the rectangle's rows and row bytes."""
    c = program.tensors[name].shape[2]
    (y0, y1), (x0, x1) = inner
    row = (outer[1][1] - outer[1][0]) * c
    start = offset + (y0 - outer[0][0]) * row + (x0 - outer[1][0]) * c
    return f"dn_arena + {start}", row, y1 - y0, (x1 - x0) * c


def _copy_rect(program, name, rect, src_outer, src_offset, dst_offset) -> str:
    """dn_copy_rows of rectangle `rect` from a buffer holding src_outer into one holding just it."""
    src, src_row, rows, row_bytes = _rect(program, name, rect, src_outer, src_offset)
    return f"dn_copy_rows(dn_arena + {dst_offset}, {row_bytes}, {src}, {src_row}, {rows}, {row_bytes});"


def _patch_calls(program: Program, stage: PatchStage, offsets: dict[str, int], p: int) -> list[str]:
    ops, wins, need = program.ops[:stage.ops], stage.windows[p], stage.regions[p]
    source, split = ops[0].inputs[0], ops[-1].output
    full = {n: ((0, program.tensors[n].shape[0]), (0, program.tensors[n].shape[1])) for n in (source, split)}
    tile = (wins[-1].out_y, wins[-1].out_x)
    lines = [f"/* patch {p}: rows {tile[0][0]}..{tile[0][1] - 1}, columns {tile[1][0]}..{tile[1][1] - 1} of {split} */",
             _copy_rect(program, source, need[source], full[source], offsets[source], offsets[buffer(source)])]
    for k, op in enumerate(ops):
        args = []
        for j, name in enumerate(op.inputs):
            if (k, j) in stage.crops:
                lines.append(_copy_rect(program, name, (wins[k].out_y, wins[k].out_x), need[name],
                                        offsets[buffer(name)], offsets[crop_buffer(name, k)]))
            args.append(f"dn_arena + {offsets[crop_buffer(name, k) if (k, j) in stage.crops else buffer(name)]}")
        j = stage.distinct(k).index(wins[k].geometry)
        lines.append(f"dn_{op.kernel}(&{descriptor_name(op, j)}, {', '.join(args)}, "
                     f"dn_arena + {offsets[buffer(op.output)]});")
    dst, dst_row, rows, row_bytes = _rect(program, split, tile, full[split], offsets[split])
    lines.append(f"dn_copy_rows({dst}, {dst_row}, dn_arena + {offsets[buffer(split)]}, {row_bytes}, {rows}, {row_bytes});")
    return lines


def patch_context(program: Program, plan) -> dict:
    """The template values of the patch loop (none: no patch stage)."""
    stage = plan.patch if plan is not None else None
    if stage is None:
        return {"patch_descriptors": [], "patch_code": [], "patch_trace": None, "patch_ops": 0, "patch_comment": ""}
    split = program.ops[stage.ops - 1]
    code = [line for p in range(len(stage.windows)) for line in _patch_calls(program, stage, plan.offsets, p)]
    return {"patch_descriptors": _descriptors(program, stage), "patch_code": code, "patch_ops": stage.ops,
            "patch_trace": {"index": split.index, "ptr": f"dn_arena + {plan.offsets[split.output]}",
                            "bytes": program.tensors[split.output].bytes},
            "patch_comment": f"\n * Ops {program.ops[0].index}..{split.index} run in {stage.n}x{stage.n} patches "
                             f"(+{stage.extra_macs:,} MACs recomputed in the halos)."}


def patch_descriptor_bytes(context: dict) -> int:
    return sum(abi.descriptor_bytes(d["kernel"]) for d in context["patch_descriptors"])
