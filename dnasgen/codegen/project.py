"""generate_project: int8 .tflite + spec + candidate -> a complete, self-checking C project."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from dnasgen import abi
from dnasgen.codegen import context as ctx
from dnasgen.codegen.cgen import BANNER
from dnasgen.codegen.lowering import Program, lower
from dnasgen.codegen.qemu import ICOUNT_SHIFT, QEMU_TARGETS
from dnasgen.codegen.render import KEEP_ON_REGENERATE, Renderer, check_project_dir, template_root
from dnasgen.codegen.tflm import TFLM_DIR, add_tflm
from dnasgen.codegen.vectors import as_vectors, frame_inputs, input_quant
from dnasgen.errors import CodegenError
from dnasgen.io import atomic_dir, json_text, sha256_bytes, sha256_file
from dnasgen.layout import LOCK_NAME

LOCK_VERSION = 2
PREPROCESS_FILES = ("preprocess.c", "preprocess.h")   # not in projects without a sensor


def program_window_ops(program: Program) -> list:
    """The lowered ops as the in-place rules (dnasgen.cost.inplace) see them."""
    from dnasgen.cost.inplace import WindowOp
    return [WindowOp(op.kernel, op.inputs, op.output, program.tensors[op.inputs[0]].shape,
                     program.tensors[op.output].shape, op.params.get("stride_h", 1), op.params.get("pad_t", 0),
                     (op.params.get("k_h", 1), op.params.get("k_w", 1)), op.params.get("stride_w", 1),
                     op.params.get("pad_l", 0))
            for op in program.ops]


def plan_program(program: Program, memory: str | None = None, grid: tuple[int, int] | None | str = "smallest"):
    """THE memory planner on the lowered tensors (input live from the start, output to the end),
    in the memory mode `memory` (None: dnasgen.cost.inplace.DEFAULT_MEMORY). patch: `grid` is the
    (n, ops) patch stage the cost model chose (None: none; "smallest": the smallest arena)."""
    from dnasgen.cost.inplace import DEFAULT_MEMORY
    from dnasgen.cost.memory import plan_schedule
    from dnasgen.cost.patch import find_stage, patch_stages, plan_stage
    args = (program.tensor_bytes(), program.schedule(), program_window_ops(program), (program.output,))
    if memory != "patch" or grid is None:
        return plan_schedule(*args, "inplace" if memory == "patch" else memory or DEFAULT_MEMORY)
    if grid == "smallest":
        return plan_schedule(*args, memory)
    try:
        return plan_stage(args[0], args[1], args[2], args[3], find_stage(patch_stages(args[2], args[3]), grid))
    except ValueError as err:
        raise CodegenError(f"the lowered model has no patch plan the cost model chose: {err}") from None


def chosen_grid(spec, candidate) -> tuple[int, int] | None:
    """The patch stage the cost model chooses for the candidate under the spec's budgets."""
    from dnasgen.cost import estimate_spec
    return estimate_spec(spec, candidate).patch_grid


def model_tools(recorded: dict | None = None) -> dict[str, str]:
    """The lock's `model_tools`: versions of the packages that made the model and its expected
    outputs (dnasgen.export.MODEL_TOOLS), as recorded when the model was made; None: this
    machine's (the model was just made here). Anything else in `recorded` is dropped."""
    from dnasgen.export.export import MODEL_TOOLS, model_tool_versions
    versions = model_tool_versions() if recorded is None else recorded
    return {k: str(versions[k]) for k in MODEL_TOOLS if k in versions}


def _file_hashes(root: Path, names: list[str]) -> dict[str, str]:
    return {n: sha256_file(root / n) for n in sorted(names)}


def _lock(spec, candidate, metrics: dict, model: dict, tools: dict, hashes: dict) -> str:
    """Only what determines the generated files: nothing read from the generating machine
    (compiler and QEMU versions belong to `dnasgen verify`'s report, not here)."""
    from dnasgen import __version__
    lock = {"generated_by": BANNER, "version": LOCK_VERSION, "dnasgen": __version__,
            "spec_name": spec.name, "spec_hash": spec.hash, "board": spec.board.id,
            "board_budgets": {"flash_bytes": spec.board.flash_budget_bytes,
                              "ram_bytes": spec.board.ram_budget_bytes},
            "candidate": candidate.to_dict(),
            "sensor": {"width": spec.sensor.width, "height": spec.sensor.height,
                       "pixel_format": spec.sensor.pixel_format},
            "classes": list(spec.classes), "metrics": dict(metrics or {}), "model": model,
            "model_tools": tools, "files": hashes}
    return json_text(lock, indent=2, sort_keys=False, default=_json_default)


def _json_default(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    raise TypeError(f"not JSON serialisable: {value!r}")


def base_context(program: Program, plan, name: str, board_id: str, model_comment: str,
                 class_list: str, input_table=None) -> dict:
    """What every generated project's templates read (input_table None: no preprocessing stage)."""
    boards = ctx.link_boards()
    ids = [b.id for b in boards]
    context = {"banner": BANNER, "project_name": name, "stack_bytes": abi.STACK_BYTES,
               "boards": boards, "board_ids": ids,
               "default_board": board_id if board_id in ids else ctx.QEMU_BOARD_ID,
               "qemu_board": ctx.QEMU_BOARD_ID, "icount_shift": ICOUNT_SHIFT,
               "qemu_targets": QEMU_TARGETS,
               "dsp_source": "kernels_dsp.c", "preprocess": input_table is not None,
               "model_comment": model_comment, "class_list": class_list, "tflm": None}
    context.update(ctx.model_context(program, plan.offsets, plan.arena_bytes, input_table, plan))
    context.update(ctx.abi_context())
    return context


def _context(program: Program, plan, spec, candidate, vectors, tflite_bytes: bytes) -> dict:
    from dnasgen.data.preprocess import quantize_table
    comment = (f"{candidate.data.label} MobileNetV2 width {candidate.arch.width:g}, "
               f"{program.macs:,} MACs")
    context = base_context(program, plan, spec.name, spec.board.id, comment,
                           ", ".join(f"{i}={c}" for i, c in enumerate(spec.classes)),
                           quantize_table(*input_quant(tflite_bytes)))
    context.update({"spec": spec, "candidate": candidate.to_dict()})
    context["defines"] = ctx.config_defines(program, plan.offsets, plan.arena_bytes, spec.sensor, candidate.data)
    context.update(ctx.vectors_context(list(vectors.frames), list(vectors.expected)))
    return context


def model_summary(program: Program, plan, tflite_bytes: bytes, context: dict) -> dict:
    """The lock's `model` (with `tflm`, TFLM's arena and outputs, where that runtime is generated)."""
    summary = {"sha256": sha256_bytes(tflite_bytes), "ops": len(program.ops),
            "kernels": list(program.kernels), "macs": program.macs, "arena_bytes": plan.arena_bytes,
            "in_place_ops": [op.name for op in program.ops if op.output in plan.overlaps],
            **({"patch": plan.patch.to_dict()} if plan.patch else {}),
            "model_data_bytes": context["model_data_bytes"],
            "input": {"shape": list(program.tensors[program.input].shape),
                      "scale": program.tensors[program.input].scale,
                      "zero_point": program.tensors[program.input].zero_point},
            "output": {"size": program.tensors[program.output].bytes,
                       "scale": program.tensors[program.output].scale,
                       "zero_point": program.tensors[program.output].zero_point}}
    if context["tflm"]:
        summary["tflm"] = context["tflm"]
    return summary


def generate_project(tflite_bytes: bytes, spec, candidate, out_dir, vectors=None, metrics=None,
                     tools: dict | None = None) -> Path:
    """Write the firmware project for `tflite_bytes` into `out_dir` (replaced as a whole, atomically).

    vectors: TestVectors, a list of raw sensor frames (expected outputs are computed with the
    LiteRT reference), or None (two deterministic random frames). metrics: recorded in the lock.
    tools: versions of the packages that made the model (see `model_tools`), recorded in the
    lock; None reads this machine's. The files depend only on the arguments and dnasgen itself.
    """
    tflite_bytes = bytes(tflite_bytes)
    program = lower(tflite_bytes)
    ctx.check_model_input(program, candidate.data)
    memory = spec.export.memory
    plan = plan_program(program, memory, chosen_grid(spec, candidate) if memory == "patch" else "smallest")
    vecs = as_vectors(vectors, tflite_bytes, spec.sensor, candidate.data)
    if len(vecs) == 0:
        raise CodegenError("at least one test vector is needed")
    context = _context(program, plan, spec, candidate, vecs, tflite_bytes)
    if "tflm" in spec.runtimes:
        add_tflm(context, tflite_bytes, frame_inputs(vecs.frames, tflite_bytes, spec.sensor, candidate.data),
                 vecs.expected)
    return write_project(out_dir, context, tflite_bytes, lambda hashes: _lock(
        spec, candidate, metrics, model_summary(program, plan, tflite_bytes, context),
        model_tools(tools), hashes))


def write_project(out_dir, context: dict, tflite_bytes: bytes, lock_text) -> Path:
    """Render the firmware tree, linker scripts, README, model.tflite and the lock (lock_text:
    file hashes -> the lock's JSON text) into out_dir, replaced as a whole, atomically."""
    root, out_dir = template_root(), Path(out_dir)
    check_project_dir(out_dir)
    skip = () if context["preprocess"] else PREPROCESS_FILES
    with atomic_dir(out_dir, keep=KEEP_ON_REGENERATE) as staged:
        r = Renderer(root, staged)
        r.tree("firmware", context, skip=skip)
        for board in context["boards"]:
            r.render("board.ld.jinja", f"ld/{board.id}.ld", {**context, "board": board})
        r.render("README.md.jinja", "README.md", context)
        if context["tflm"]:
            r.tree("tflm", context, dest=TFLM_DIR)
        r.add_file("model.tflite", tflite_bytes)
        r.add_file(LOCK_NAME, lock_text(_file_hashes(staged, r.written)))
    return out_dir
