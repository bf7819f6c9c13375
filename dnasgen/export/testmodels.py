"""Real int8 test models without training: sensible-scale random folded weights + structured images.

Random weights with untrained BN statistics collapse activation scales deep in the
network (DESIGN.md). Here the weights are drawn already folded, He-scaled per layer
(std sqrt(2 / fan_in)), so activations keep an O(1) range through every block and
the int8 model is not degenerate. Used by codegen/verify tests and benchmarks.
"""
from __future__ import annotations

import numpy as np

from dnasgen.candidate import Candidate
from dnasgen.graph import Graph, build_graph


def random_static_weights(graph: Graph, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Folded (weight, bias) per weighted op in torch layouts, He-scaled so activations stay O(1)."""
    rng = np.random.default_rng(seed)
    out = {}
    for op in graph.ops:
        in_c, out_c, k = op.in_shape[2], op.out_shape[2], op.kernel
        if op.kind == "conv":
            shape, fan_in = (out_c, in_c, k, k), in_c * k * k
        elif op.kind == "dwconv":
            shape, fan_in = (out_c, 1, k, k), k * k
        elif op.kind == "fc":
            shape, fan_in = (out_c, in_c), in_c
        else:
            continue
        gain = 2.0 if op.relu6 or op.kind == "dwconv" else 1.0
        w = rng.normal(0.0, np.sqrt(gain / fan_in), shape).astype(np.float32)
        b = rng.normal(0.0, 0.1, out_c).astype(np.float32)
        out[op.name] = (w, b)
    return out


def structured_images(n: int, resolution: int, channels: int, seed: int = 0) -> np.ndarray:
    """uint8 (n, r, r, C) images with image-like statistics: smooth gradients, blobs, edges, noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:resolution, 0:resolution].astype(np.float32) / max(resolution - 1, 1)
    images = np.empty((n, resolution, resolution, channels), np.uint8)
    for i in range(n):
        base = np.zeros((resolution, resolution, channels), np.float32)
        for _ in range(3):  # low-frequency waves
            fx, fy, ph = rng.uniform(0.5, 4.0), rng.uniform(0.5, 4.0), rng.uniform(0, 2 * np.pi)
            wave = np.sin(2 * np.pi * (fx * xx + fy * yy) + ph)
            base += wave[..., None] * rng.uniform(20, 60, channels)
        cx, cy, rad = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.3)
        blob = ((xx - cx) ** 2 + (yy - cy) ** 2) < rad ** 2
        base += blob[..., None] * rng.uniform(-80, 80, channels)
        base += rng.normal(0, 8, base.shape) + rng.uniform(60, 190)
        images[i] = np.clip(np.rint(base), 0, 255).astype(np.uint8)
    return images


def make_test_model(candidate: Candidate, num_classes: int = 2, head_channels: int = 1280,
                    seed: int = 0, calib_n: int = 32) -> bytes:
    """A real full-int8 .tflite of `candidate` with random He-scaled weights, calibrated on structured images."""
    from dnasgen.export.convert import to_int8_tflite
    from dnasgen.export.keras_model import build_keras
    graph = build_graph(candidate, num_classes, head_channels)
    model = build_keras(graph, random_static_weights(graph, seed))
    calib = structured_images(calib_n, candidate.data.resolution, candidate.data.channels, seed)
    return to_int8_tflite(model, calib)
