"""`runtime: tflm`: a TensorFlow Lite Micro project beside the generated C (`tflm/` in the project).

The model as an aligned C array, an op resolver with exactly the model's ops, a main.cc that runs
the project's own test vectors through TFLM and compares them with the LiteRT reference, and the
tensor arena TFLM needs, measured by running the model in the `tflite-micro` Python package (its
RecordingMicroAllocator). The TFLM sources are not shipped: tflm/README.md says how to build it.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
from contextlib import contextmanager

import numpy as np

from dnasgen.codegen import cgen
from dnasgen.errors import CodegenError

TFLM_PACKAGE = "tflite-micro"
TFLM_DIR = "tflm"
MODEL_ARRAY = "dn_tflm_model"
_ARENA_LINE = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")


def runtimes_schema() -> dict:
    """The spec schema's `codegen.runtimes`: the one list of runtimes and their default."""
    from dnasgen.spec.schema import schema_dict
    return schema_dict()["properties"]["codegen"]["properties"]["runtimes"]


def check_runtimes(runtimes) -> tuple[str, ...]:
    """The runtimes as a tuple (None: the default), each known; `dnasgen` (the interpreter-free
    C) always included."""
    schema = runtimes_schema()
    known = schema["items"]["enum"]
    chosen = tuple(schema["default"] if runtimes is None else runtimes)
    unknown = [r for r in chosen if r not in known]
    if unknown:
        raise CodegenError(f"unknown runtime {', '.join(map(repr, unknown))} (known: {', '.join(known)})")
    return tuple(r for r in known if r in chosen or r == "dnasgen")


def model_ops(tflite_bytes: bytes) -> list[str]:
    """The model's builtin op names, each once, in the order of first use."""
    from dnasgen.codegen.tflite import read_model
    return list(dict.fromkeys(op.opcode for op in read_model(tflite_bytes).operators))


def resolver_method(op: str) -> str:
    """MicroMutableOpResolver's method for a builtin op: DEPTHWISE_CONV_2D -> AddDepthwiseConv2D."""
    return "Add" + "".join(part if part[:1].isdigit() else part.capitalize() for part in op.split("_"))


def _runtime():
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError as exc:
        raise CodegenError(f"runtime tflm needs the {TFLM_PACKAGE} package to measure TFLM's arena "
                           f"(`pip install {TFLM_PACKAGE}`, pinned in constraints.txt): {exc}") from None
    return runtime


@contextmanager
def _captured_stderr():
    """The C stderr (file descriptor 2) redirected to a file while the block runs; yields a
    function that reads what was written so far."""
    with tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)

        def read() -> str:
            captured.seek(0)
            return captured.read().decode("utf-8", "replace")
        try:
            yield read
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _accepts(runtime, tflite_bytes: bytes, arena_size: int | None):
    """The interpreter, or None where AllocateTensors fails in an arena of `arena_size` bytes."""
    try:
        return runtime.Interpreter.from_bytes(tflite_bytes, arena_size=arena_size)
    except (RuntimeError, ValueError):
        return None


def smallest_arena(runtime, tflite_bytes: bytes, used: int) -> int:
    """The smallest arena (16-byte steps) AllocateTensors accepts. `used` (what the recorder saw
    in a large arena) is a lower bound; planning can need more for a moment (the greedy planner's
    scratch, taken from the same arena)."""
    lo, hi = -(-used // 16) * 16 - 16, -(-used // 16) * 16
    while _accepts(runtime, tflite_bytes, hi) is None:
        lo, hi = hi, hi * 2
    while hi - lo > 16:
        mid = (lo + hi) // 32 * 16
        lo, hi = (lo, mid) if _accepts(runtime, tflite_bytes, mid) is not None else (mid, hi)
    return hi


def run_tflm(tflite_bytes: bytes, inputs) -> tuple[dict, list[np.ndarray]]:
    """Run `inputs` (int8 input tensors) through the tflite-micro interpreter:
    (its arena figures, the int8 outputs)."""
    from importlib.metadata import version
    runtime, blob = _runtime(), bytes(tflite_bytes)
    with _captured_stderr() as report:
        interpreter = _accepts(runtime, blob, None)          # the package's default: 10x the model
        if interpreter is None:
            raise CodegenError(f"TFLM ({TFLM_PACKAGE}) cannot load the model: {report().strip()}")
        shape = interpreter.get_input_details(0)["shape"]
        outputs = []
        for x in inputs:
            interpreter.set_input(np.asarray(x, np.int8).reshape(shape), 0)
            interpreter.invoke()
            outputs.append(np.asarray(interpreter.get_output(0), np.int8).reshape(-1).copy())
        before = len(report())
        interpreter.print_allocations()
        figures = {k: int(v) for k, v in _ARENA_LINE.findall(report()[before:])}
        if set(figures) != {"total", "head", "tail"}:
            raise CodegenError(f"{TFLM_PACKAGE}: no arena figures in its allocation report")
        smallest = smallest_arena(runtime, blob, figures["total"])
    arena = {"arena_bytes": figures["total"], "arena_head_bytes": figures["head"],
             "arena_tail_bytes": figures["tail"], "arena_min_bytes": smallest,
             "package": f"{TFLM_PACKAGE} {version(TFLM_PACKAGE)}"}
    return arena, outputs


def tflm_summary(tflite_bytes: bytes, inputs, expected) -> dict:
    """The lock's `model.tflm`: TFLM's arena and how its outputs compare with the reference's
    on the project's test vectors (inputs: the int8 input tensors of the vectors)."""
    arena, outputs = run_tflm(tflite_bytes, inputs)
    diffs = [int(np.max(np.abs(o.astype(np.int16) - np.asarray(e, np.int8).reshape(-1))))
             for o, e in zip(outputs, expected)]
    return {**arena, "vectors_exact": sum(d == 0 for d in diffs), "vectors": len(diffs),
            "max_abs_diff": max(diffs, default=0)}


def tflm_context(tflite_bytes: bytes, summary: dict) -> dict:
    """What templates/tflm reads."""
    data = np.frombuffer(bytes(tflite_bytes), np.uint8)
    ops = model_ops(tflite_bytes)
    return {"tflm": summary, "tflm_ops": [{"name": op, "method": resolver_method(op)} for op in ops],
            "tflm_model_bytes": int(data.size),
            "tflm_model_array": (f"alignas(16) const unsigned char {MODEL_ARRAY}[{data.size}] = {{\n"
                                 f"{cgen.array_body(data, per_line=20)}\n}};\n")}


def add_tflm(context: dict, tflite_bytes: bytes, inputs, expected) -> dict:
    """Put the TFLM project's values into a project context (inputs: the vectors' int8 input tensors)."""
    context.update(tflm_context(tflite_bytes, tflm_summary(tflite_bytes, inputs, expected)))
    return context
