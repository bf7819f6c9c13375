"""Op graph + folded weights -> float Keras model (NHWC) that converts 1:1 to int8 TFLite.

One Keras layer per graph op: Conv2D / DepthwiseConv2D with padding="same" (TF SAME,
asymmetric like graph.py, so the converter emits no PAD), ReLU6 as the layer's fused
activation, Add, GlobalAveragePooling2D (-> MEAN, keepdims false: no RESHAPE before
the Dense) and Dense (-> FULLY_CONNECTED). BN is already folded by the producer, so
every layer carries its bias. Layer names are the graph's op names.
"""
from __future__ import annotations

import numpy as np

from dnasgen.errors import ExportError
from dnasgen.export.quiet import quietly
from dnasgen.graph import Graph, Op


def keras_weights(op: Op, weight: np.ndarray, bias: np.ndarray) -> list[np.ndarray]:
    """Torch layouts -> Keras: conv (O,I,kh,kw)->(kh,kw,I,O), dw (C,1,kh,kw)->(kh,kw,C,1), fc (O,I)->(I,O)."""
    w = np.asarray(weight, np.float32)
    b = np.asarray(bias, np.float32).reshape(-1)
    in_c, out_c, k = op.in_shape[2], op.out_shape[2], op.kernel
    expected = {"conv": (out_c, in_c, k, k), "dwconv": (out_c, 1, k, k), "fc": (out_c, in_c)}[op.kind]
    if w.shape != expected or b.shape != (out_c,):
        raise ExportError(f"op {op.name} ({op.kind}): weight {w.shape} / bias {b.shape} do not match "
                          f"the graph (expected {expected} / ({out_c},))")
    if op.kind == "fc":
        return [w.T.copy(), b]
    if op.kind == "dwconv":
        return [w.transpose(2, 3, 0, 1).copy(), b]
    return [w.transpose(2, 3, 1, 0).copy(), b]


def _layer(op: Op):
    from keras import layers
    act = "relu6" if op.relu6 else None
    if op.kind == "conv":
        return layers.Conv2D(op.out_shape[2], op.kernel, strides=op.stride, padding="same",
                             activation=act, name=op.name)
    if op.kind == "dwconv":
        return layers.DepthwiseConv2D(op.kernel, strides=op.stride, padding="same",
                                      activation=act, name=op.name)
    if op.kind == "add":
        return layers.Add(name=op.name)
    if op.kind == "mean":
        return layers.GlobalAveragePooling2D(name=op.name)
    if op.kind == "fc":
        return layers.Dense(op.out_shape[2], activation=act, name=op.name)
    raise ExportError(f"op {op.name}: unsupported kind {op.kind!r}")


@quietly
def build_keras(graph: Graph, weights: dict):
    """Float Keras model of `graph` with `weights[op_name] = (w, b)` in torch layouts (BN folded)."""
    import keras
    missing = [op.name for op in graph.ops if op.kind in ("conv", "dwconv", "fc") and op.name not in weights]
    if missing:
        raise ExportError(f"no weights for ops: {', '.join(missing)}")
    inp = keras.Input(shape=graph.tensors[graph.input], name=graph.input)
    tensors = {graph.input: inp}
    for op in graph.ops:
        layer = _layer(op)
        args = [tensors[name] for name in op.inputs]
        tensors[op.output] = layer(args if op.kind == "add" else args[0])
        if op.kind in ("conv", "dwconv", "fc"):
            layer.set_weights(keras_weights(op, *weights[op.name]))
    return keras.Model(inp, tensors[graph.output], name="dnasgen")
