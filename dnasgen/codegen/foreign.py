"""generate_foreign: the project of a model without a spec (dnasgen compile): context and lock."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from dnasgen.codegen import context as ctx
from dnasgen.codegen.cgen import BANNER
from dnasgen.codegen.lowering import lower
from dnasgen.codegen.tflm import add_tflm
from dnasgen.codegen.project import (LOCK_VERSION, _json_default, base_context, model_summary,
                                     model_tools, plan_program, write_project)
from dnasgen.io import json_text


def _lock(name: str, board, model: dict, vectors: dict, runtimes, tools: dict | None, hashes: dict,
          memory: str | None = None) -> str:
    from dnasgen import __version__
    lock = {"generated_by": BANNER, "version": LOCK_VERSION, "dnasgen": __version__,
            "source": "compile", "name": name, "board": board.id, "runtimes": list(runtimes),
            "board_budgets": {"flash_bytes": board.flash_budget_bytes, "ram_bytes": board.ram_budget_bytes},
            "model": model, "vectors": vectors, "model_tools": model_tools(tools), "files": hashes}
    if memory is not None:
        lock["memory"] = memory
    return json_text(lock, indent=2, sort_keys=False, default=_json_default)


def generate_foreign(tflite_bytes: bytes, name: str, board, out_dir: Path, vectors: int,
                     seed: int = 0, tools: dict | None = None, runtimes=("dnasgen",),
                     memory: str | None = None) -> Path:
    """Lower, plan, make `vectors` random int8 test vectors (BUILTIN_REF) and write the project
    (with tflm/ where `runtimes` has tflm).
    tools: the LiteRT / TensorFlow versions to record (None: this machine's, which made the
    expected outputs; `generate --from-lock` passes the lock's)."""
    from dnasgen.codegen.compile import random_inputs, tensor_vectors
    program = lower(tflite_bytes)
    plan = plan_program(program, memory)
    shape = program.tensors[program.input].shape
    vecs = tensor_vectors(tflite_bytes, random_inputs(shape, vectors, seed))
    comment = (f"compiled {name} ({len(program.ops)} ops: {', '.join(program.kernels)}), "
               f"{program.macs:,} MACs")
    context = base_context(program, plan, name, board.id, comment,
                           f"{program.tensors[program.output].bytes} output scores")
    context["defines"] = ctx.define_lines(ctx.model_defines(program, plan.offsets, plan.arena_bytes))
    context.update(ctx.vectors_context(list(vecs.frames), list(vecs.expected)))
    if "tflm" in runtimes:
        add_tflm(context, tflite_bytes, [f.view(np.int8) for f in vecs.frames], vecs.expected)
    return write_project(out_dir, context, tflite_bytes, lambda hashes: _lock(
        name, board, model_summary(program, plan, tflite_bytes, context), {"count": vectors, "seed": seed},
        runtimes, tools, hashes, memory))
