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
from dnasgen.cost.patch import PatchStage, Window, buffer


def descriptor_name(op: COp, j: int) -> str:
    return f"{op.name}_w{j}"


def _descriptors(program: Program, stage: PatchStage) -> list[dict]:
    out = []
    for k, op in enumerate(program.ops[:stage.ops]):
        for j, (ih, iw, oh, ow, pt, pl) in enumerate(stage.distinct(k)):
            fields = {**op.params, "in_h": ih, "in_w": iw, "out_h": oh, "out_w": ow, "pad_t": pt, "pad_l": pl}
            fields.update({key: f"dn_{op.name}_{key}" for key in op.arrays})
            out.append({"name": descriptor_name(op, j), "ctype": abi.KERNEL_STRUCTS[op.kernel],
                        "init": cgen.struct_initializer(fields), "kernel": op.kernel,
                        "comment": f"op {op.index} on a {ih}x{iw} window -> {oh}x{ow}, pad {pt}/{pl}"})
    return out


def _copy(dst: str, dst_row: int, src: str, src_row: int, rows: int, row_bytes: int) -> str:
    return f"dn_copy_rows({dst}, {dst_row}, {src}, {src_row}, {rows}, {row_bytes});"


def _patch_calls(program: Program, stage: PatchStage, offsets: dict[str, int], p: int, wins: tuple[Window, ...]) -> list[str]:
    ops = program.ops[:stage.ops]
    source, split = ops[0].inputs[0], ops[-1].output
    _, w, c = program.tensors[source].shape
    first, last = wins[0], wins[-1]
    _, sw, sc = program.tensors[split].shape
    lines = [f"/* patch {p}: rows {last.out_y[0]}..{last.out_y[1] - 1}, columns {last.out_x[0]}..{last.out_x[1] - 1}"
             f" of {split} */",
             _copy(f"dn_arena + {offsets[buffer(source)]}", first.in_hw[1] * c,
                   f"dn_arena + {offsets[source] + (first.in_y[0] * w + first.in_x[0]) * c}", w * c,
                   first.in_hw[0], first.in_hw[1] * c)]
    for k, op in enumerate(ops):
        j = stage.distinct(k).index(wins[k].geometry)
        lines.append(f"dn_{op.kernel}(&{descriptor_name(op, j)}, dn_arena + {offsets[buffer(op.inputs[0])]}, "
                     f"dn_arena + {offsets[buffer(op.output)]});")
    lines.append(_copy(f"dn_arena + {offsets[split] + (last.out_y[0] * sw + last.out_x[0]) * sc}", sw * sc,
                       f"dn_arena + {offsets[buffer(split)]}", last.out_hw[1] * sc, last.out_hw[0],
                       last.out_hw[1] * sc))
    return lines


def patch_context(program: Program, plan) -> dict:
    """The template values of the patch loop (none: no patch stage)."""
    stage = plan.patch if plan is not None else None
    if stage is None:
        return {"patch_descriptors": [], "patch_code": [], "patch_trace": None, "patch_ops": 0, "patch_comment": ""}
    split = program.ops[stage.ops - 1]
    code = [line for p, wins in enumerate(stage.windows) for line in _patch_calls(program, stage, plan.offsets, p, wins)]
    return {"patch_descriptors": _descriptors(program, stage), "patch_code": code, "patch_ops": stage.ops,
            "patch_trace": {"index": split.index, "ptr": f"dn_arena + {plan.offsets[split.output]}",
                            "bytes": program.tensors[split.output].bytes},
            "patch_comment": f"\n * Ops {program.ops[0].index}..{split.index} run in {stage.n}x{stage.n} patches "
                             f"(+{stage.extra_macs:,} MACs recomputed in the halos)."}


def patch_descriptor_bytes(context: dict) -> int:
    return sum(abi.descriptor_bytes(d["kernel"]) for d in context["patch_descriptors"])
