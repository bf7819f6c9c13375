"""Read a .tflite flatbuffer into plain Python values (tensors, quantisation, ops, options).

Uses the flatbuffer schema module that ships with ai-edge-litert (pure Python, needs only
`flatbuffers`): no TensorFlow import, no interpreter.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dnasgen.errors import CodegenError

# TensorType enum values of the schema -> numpy dtypes (only what a model may carry).
_DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 7: np.int16,
           9: np.int8}
_TYPE_NAMES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: "string",
               6: "bool", 7: "int16", 9: "int8", 10: "float64"}


@dataclass(frozen=True)
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    type: str                      # "int8", "int32", "float32", ...
    scales: tuple[float, ...] = ()  # float32 values widened to float (exact)
    zero_points: tuple[int, ...] = ()
    quantized_dim: int = 0
    data: np.ndarray | None = field(default=None, compare=False, repr=False)  # constant tensors

    @property
    def scale(self) -> float:
        return self.scales[0]

    @property
    def zero_point(self) -> int:
        return self.zero_points[0]

    @property
    def elements(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1


@dataclass(frozen=True)
class Operator:
    index: int
    opcode: str                    # builtin op name, e.g. "CONV_2D"
    version: int
    inputs: tuple[int, ...]        # tensor indices (-1: optional input absent)
    outputs: tuple[int, ...]
    options: dict                  # builtin options as a plain dict (camelCase schema names)


@dataclass(frozen=True)
class Model:
    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    description: str = ""


def _schema():
    from ai_edge_litert import schema_py_generated as schema
    return schema


def _op_names(schema) -> dict[int, str]:
    return {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}


def _buffer_bytes(buf, blob: bytes) -> bytes | None:
    if buf is None:
        return None
    if getattr(buf, "offset", 0) > 1:   # large models keep data outside the flatbuffer
        return blob[buf.offset:buf.offset + buf.size]
    if buf.data is None or len(buf.data) == 0:
        return None
    return np.asarray(buf.data, np.uint8).tobytes()


def _tensor(index: int, t, buffers, blob: bytes) -> Tensor:
    type_name = _TYPE_NAMES.get(t.type, f"type{t.type}")
    shape = tuple(int(d) for d in (t.shape if t.shape is not None else ()))
    q = t.quantization
    scales = tuple(float(s) for s in q.scale) if q is not None and q.scale is not None else ()
    zps = tuple(int(z) for z in q.zeroPoint) if q is not None and q.zeroPoint is not None else ()
    qdim = int(q.quantizedDimension) if q is not None else 0
    raw = _buffer_bytes(buffers[t.buffer], blob) if t.buffer < len(buffers) else None
    data = None
    if raw is not None:
        if t.type not in _DTYPES:
            raise CodegenError(f"constant tensor {t.name!r} has unsupported type {type_name}")
        data = np.frombuffer(raw, dtype=_DTYPES[t.type]).reshape(shape).copy()
    name = t.name.decode() if isinstance(t.name, bytes) else str(t.name)
    return Tensor(index, name, shape, type_name, scales, zps, qdim, data)


def _options(op) -> dict:
    opts = op.builtinOptions
    if opts is None:
        return {}
    return {k: v for k, v in vars(opts).items() if isinstance(v, (bool, int, float))}


def read_model(tflite_bytes: bytes) -> Model:
    """Parse a .tflite flatbuffer (one subgraph) into a Model; CodegenError if it is not one."""
    schema = _schema()
    blob = bytes(tflite_bytes)
    if len(blob) < 8 or blob[4:8] != b"TFL3":
        raise CodegenError("not a .tflite flatbuffer (missing TFL3 identifier)")
    try:
        model = schema.ModelT.InitFromPackedBuf(blob, 0)
    except Exception as exc:  # malformed flatbuffers raise assorted errors
        raise CodegenError(f"cannot parse the .tflite flatbuffer: {exc}") from exc
    if not model.subgraphs or len(model.subgraphs) != 1:
        raise CodegenError(f"expected exactly one subgraph, got {len(model.subgraphs or [])}")
    sg, names = model.subgraphs[0], _op_names(schema)
    tensors = tuple(_tensor(i, t, model.buffers, blob) for i, t in enumerate(sg.tensors))
    ops = []
    for i, op in enumerate(sg.operators or []):
        code = model.operatorCodes[op.opcodeIndex]
        builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
        name = names.get(builtin, f"BUILTIN_{builtin}")
        if name == "CUSTOM":
            custom = code.customCode.decode() if isinstance(code.customCode, bytes) else code.customCode
            name = f"CUSTOM({custom})"
        ops.append(Operator(i, name, int(code.version), tuple(int(x) for x in op.inputs),
                            tuple(int(x) for x in op.outputs), _options(op)))
    desc = model.description.decode() if isinstance(model.description, bytes) else (model.description or "")
    return Model(tensors, tuple(ops), tuple(int(x) for x in sg.inputs), tuple(int(x) for x in sg.outputs), desc)
