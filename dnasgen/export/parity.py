"""Parity checks of the export: torch vs Keras float logits, float vs int8 accuracy.

Torch is the trained model, Keras the converter's input; their float logits must agree
to 1e-4 (same graph, same SAME paddings, same folded weights). On failure the first op
whose output differs beyond the tolerance is named, so a layout or padding bug points
at its layer.
"""
from __future__ import annotations

import numpy as np

from dnasgen.errors import ExportError
from dnasgen.export.convert import normalize_u8
from dnasgen.export.quiet import quietly
from dnasgen.graph import Graph

PARITY_TOLERANCE = 1e-4


def torch_logits(static_net, x_u8: np.ndarray) -> np.ndarray:
    """Float logits of the torch net on NHWC uint8 (normalised, NCHW inside)."""
    import torch
    x = torch.from_numpy(normalize_u8(x_u8).transpose(0, 3, 1, 2).copy())
    static_net.eval()
    with torch.no_grad():
        return static_net(x).double().numpy()


@quietly
def keras_logits(keras_model, x_u8: np.ndarray, batch_size: int = 64) -> np.ndarray:
    x = normalize_u8(x_u8)
    parts = [np.asarray(keras_model(x[i:i + batch_size], training=False))
             for i in range(0, len(x), batch_size)]
    return np.concatenate(parts).astype(np.float64)


def _torch_intermediates(static_net, graph: Graph, x_u8: np.ndarray) -> dict[str, np.ndarray]:
    """Outputs (NHWC) of the torch modules named after graph ops, via forward hooks."""
    layers = getattr(static_net, "layers", {})
    seen, handles = {}, []
    for op in graph.ops:
        module = layers[op.name.replace(".", "_")] if op.name.replace(".", "_") in layers else None
        if module is not None:
            def hook(_m, _i, out, name=op.name):
                arr = out.detach().double().numpy()
                seen[name] = arr.transpose(0, 2, 3, 1) if arr.ndim == 4 else arr
            handles.append(module.register_forward_hook(hook))
    try:
        torch_logits(static_net, x_u8)
    finally:
        for h in handles:
            h.remove()
    return seen


@quietly
def worst_op(static_net, keras_model, graph: Graph, x_u8: np.ndarray) -> tuple[str, float] | None:
    """The first graph op whose torch and Keras outputs differ beyond the tolerance (and the diff)."""
    import keras
    torch_out = _torch_intermediates(static_net, graph, x_u8)
    names = [op.name for op in graph.ops if op.name in torch_out]
    if not names:
        return None
    probe = keras.Model(keras_model.inputs, [keras_model.get_layer(n).output for n in names])
    outs = probe(normalize_u8(x_u8), training=False)
    for name, out in zip(names, outs if isinstance(outs, (list, tuple)) else [outs]):
        diff = float(np.max(np.abs(np.asarray(out, np.float64) - torch_out[name])))
        if diff > PARITY_TOLERANCE:
            return name, diff
    return None


def check_float_parity(static_net, keras_model, graph: Graph, x_u8: np.ndarray) -> float:
    """Max abs diff of torch vs Keras logits on a batch; ExportError (naming the worst op) above 1e-4."""
    diff = float(np.max(np.abs(torch_logits(static_net, x_u8) - keras_logits(keras_model, x_u8))))
    if not diff <= PARITY_TOLERANCE:
        culprit = worst_op(static_net, keras_model, graph, x_u8)
        where = f"; first diverging op {culprit[0]} (max abs diff {culprit[1]:.3g})" if culprit else ""
        raise ExportError(f"torch vs Keras float logits differ by {diff:.3g} > {PARITY_TOLERANCE:g} "
                          f"on {len(x_u8)} samples{where}")
    return diff


def accuracy(scores: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(scores, axis=1) == np.asarray(y))) if len(y) else float("nan")


def logit_error(float_scores: np.ndarray, int8_scores: np.ndarray, output_quant: tuple[float, int]) -> float:
    """RMS of (dequantised int8 - float) logits, as a fraction of the float logits' range."""
    scale, zp = output_quant
    deq = (int8_scores.astype(np.float64) - zp) * scale
    spread = float(np.ptp(float_scores)) if float_scores.size else 0.0
    rms = float(np.sqrt(np.mean((deq - float_scores) ** 2))) if float_scores.size else float("nan")
    return rms / spread if spread > 0 else float("nan")
