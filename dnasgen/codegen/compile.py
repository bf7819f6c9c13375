"""`dnasgen compile`: a full-int8 .tflite made anywhere -> the same verified C project as `generate`.

No spec, no sensor, no preprocessing stage: the project takes int8 input tensors (`app --tensor`),
its test vectors are deterministic random input tensors with the LiteRT BUILTIN_REF outputs, and
the lock records the model's hash and the board instead of a spec and a candidate. Everything the
C generator cannot lower is reported at once, before anything is written.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from dnasgen.errors import CodegenError

DEFAULT_VECTORS = 20
# Tensor types a supported model may hold: int8 activations and weights, int32 biases and shapes.
CONST_TYPES = ("int8", "int32")


def unsupported(model) -> list[str]:
    """Every op type and tensor type of `model` the C generator cannot lower (empty: all fine)."""
    from dnasgen.codegen.lowering import SUPPORTED_OPS
    ops: dict[str, list[int]] = {}
    types: dict[str, list[str]] = {}
    for op in model.operators:
        if op.opcode not in SUPPORTED_OPS:
            ops.setdefault(op.opcode, []).append(op.index)
    for t in model.tensors:
        allowed = CONST_TYPES if t.data is not None else ("int8",)
        if t.type not in allowed:
            types.setdefault(f"{t.type} {'constant' if t.data is not None else 'activation'}",
                             []).append(t.name)
    problems = [f"op {name} ({'ops' if len(idx) > 1 else 'op'} {', '.join(map(str, idx))}) is not supported"
                for name, idx in ops.items()]
    problems += [f"{kind} tensors are not supported ({_names(names)})" for kind, names in types.items()]
    return problems


def _names(names: list[str], shown: int = 3) -> str:
    more = f", ... {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(repr(n) for n in names[:shown]) + more


def check_supported(tflite_bytes: bytes, source: str = "model") -> None:
    """CodegenError listing each unsupported op and tensor type of the model."""
    from dnasgen.codegen.lowering import SUPPORTED_OPS
    from dnasgen.codegen.tflite import read_model
    problems = unsupported(read_model(tflite_bytes))
    if problems:
        raise CodegenError(f"{source}: cannot compile to C:\n" + "\n".join(f"  - {p}" for p in problems)
                           + f"\n(supported ops: {', '.join(SUPPORTED_OPS)}; int8 activations)")


def reference_bytes(tflite_bytes: bytes) -> bytes:
    """A copy LiteRT accepts: 1-D tensors' quantized_dimension set to 0 (TFLM tolerates other
    values there, LiteRT refuses them; scales and zero points are unchanged)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema
    model = schema.ModelT.InitFromPackedBuf(bytes(tflite_bytes), 0)
    changed = False
    for sg in model.subgraphs:
        for t in sg.tensors:
            q = t.quantization
            if q is not None and t.shape is not None and len(t.shape) == 1 and q.quantizedDimension:
                q.quantizedDimension, changed = 0, True
    if not changed:
        return bytes(tflite_bytes)
    builder = flatbuffers.Builder(len(tflite_bytes) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def random_inputs(shape: tuple[int, ...], count: int, seed: int = 0) -> list[np.ndarray]:
    """Deterministic random int8 input tensors (uniform over the whole int8 range)."""
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, size=shape, dtype=np.int16).astype(np.int8) for _ in range(count)]


def tensor_vectors(tflite_bytes: bytes, inputs):
    """TestVectors of int8 input tensors (stored as their bytes) with the BUILTIN_REF outputs."""
    from dnasgen.codegen.vectors import TestVectors, reference_interpreter
    ref = reference_interpreter(reference_bytes(tflite_bytes))
    frames, expected = [], []
    for x in inputs:
        x = np.asarray(x, np.int8)
        frames.append(x.reshape(-1).view(np.uint8).copy())
        expected.append(ref.run(x.reshape(ref.input_shape)).astype(np.int8))
    return TestVectors(tuple(frames), tuple(expected))


def default_name(path: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(path).stem).strip("-").lower()
    return name or "model"


def compile_model(tflite, board: str, name: str | None = None, out=None,
                  vectors: int = DEFAULT_VECTORS, seed: int = 0, tools: dict | None = None,
                  runtimes=None, memory: str | None = None) -> Path:
    """Compile a .tflite (path or bytes) for `board` into <out>/<name>/ (out default: .).
    tools: model-tool versions for the lock (None: this machine's). runtimes: with "tflm", also
    the TFLM project in tflm/ and TFLM's arena (None: dnasgen's C only). memory: the arena
    schedule (export.memory's modes; None: the default; patch: the smallest arena, no latency
    budget)."""
    from dnasgen.boards import get_board
    from dnasgen.codegen.foreign import generate_foreign
    from dnasgen.codegen.tflm import check_runtimes
    runtimes = check_runtimes(runtimes)
    _check_memory(memory)
    if isinstance(tflite, (bytes, bytearray)):
        blob, source = bytes(tflite), "model"
        name = name or "model"
    else:
        path = Path(tflite)
        if not path.is_file():
            raise CodegenError(f"{path}: no such model file")
        blob, source, name = path.read_bytes(), str(path), name or default_name(path)
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name):
        raise CodegenError(f"project name {name!r} must be a plain folder name (letters, digits, _ . -)")
    try:
        target = get_board(board)
    except KeyError as exc:
        raise CodegenError(f"unknown board {board!r} (see `dnasgen boards`)") from exc
    check_supported(blob, source)
    if vectors < 1:
        raise CodegenError("at least one test vector is needed")
    project = Path(out if out is not None else ".") / name
    return generate_foreign(blob, name, target, project, vectors, seed, tools, runtimes, memory)


def _check_memory(memory: str | None) -> None:
    from dnasgen.cost.inplace import MEMORY_MODES
    if memory is not None and memory not in MEMORY_MODES:
        raise CodegenError(f"memory mode {memory!r} is not one of {', '.join(MEMORY_MODES)}")
