"""Random folded test weights and structured calibration images (numpy only, no TensorFlow)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np

from dnasgen.candidate import BASE_STAGES, DataConfig, SearchSpace
from dnasgen.export import random_static_weights, structured_images
from dnasgen.graph import build_graph

SPACE = SearchSpace(resolutions=(75,), colors=("rgb",), widths=(0.35,),
                    depths=tuple(tuple(range(1, n + 1)) for _, _, n, _ in BASE_STAGES),
                    kernels=(3, 5, 7), expands=(1, 3, 6))


def test_weights_match_graph_shapes_in_torch_layouts():
    graph = build_graph(SPACE.largest(DataConfig(75, "grayscale")), 4, 1280)
    weights = random_static_weights(graph, seed=1)
    weighted = [op for op in graph.ops if op.kind in ("conv", "dwconv", "fc")]
    assert sorted(weights) == sorted(op.name for op in weighted)
    for op in weighted:
        w, b = weights[op.name]
        ic, oc, k = op.in_shape[2], op.out_shape[2], op.kernel
        want = {"conv": (oc, ic, k, k), "dwconv": (oc, 1, k, k), "fc": (oc, ic)}[op.kind]
        assert w.shape == want and b.shape == (oc,)
        assert w.dtype == np.float32 and b.dtype == np.float32
    assert weights["stem"][0].shape == (16, 1, 3, 3)   # grayscale: one input channel


def test_weights_are_he_scaled_and_seeded():
    graph = build_graph(SPACE.largest(), 2, 1280)
    a, b = random_static_weights(graph, 0), random_static_weights(graph, 0)
    c = random_static_weights(graph, 1)
    assert all(np.array_equal(a[k][0], b[k][0]) for k in a)
    assert not np.array_equal(a["stem"][0], c["stem"][0])
    w = a["head"][0]                       # 1x1 conv with ReLU6: std sqrt(2 / fan_in)
    assert abs(w.std() - np.sqrt(2.0 / w.shape[1])) < 0.1 * np.sqrt(2.0 / w.shape[1])


def test_structured_images_look_like_images():
    x = structured_images(8, 75, 3, seed=0)
    assert x.shape == (8, 75, 75, 3) and x.dtype == np.uint8
    assert np.array_equal(x, structured_images(8, 75, 3, seed=0))
    assert 20 < x.std() < 100 and len(np.unique(x)) > 200
    neighbour = np.abs(np.diff(x.astype(int), axis=2)).mean()
    assert neighbour < 0.5 * np.abs(x[:, :, ::-1].astype(int) - x).mean()   # spatially smooth


def test_importing_export_does_not_load_tensorflow():
    code = ("import sys, dnasgen.export as e; e.random_static_weights; e.structured_images;"
            "print(sorted(m for m in ('tensorflow', 'keras', 'torch', 'ai_edge_litert') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
