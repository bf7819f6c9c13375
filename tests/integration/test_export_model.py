"""export_model end to end on a real StaticNet: torch vs Keras parity, int8 accuracy, files written.

The network gets He-initialised conv weights, random BN affine parameters and BN
statistics from a pass over the data (DESIGN.md: untrained BN statistics collapse
activation scales). Training is not the point here: int8 vs float agreement is.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dnasgen.boards import get_board
from dnasgen.candidate import ArchConfig, BASE_STAGES, Candidate, DataConfig, SearchSpace, StageConfig
from dnasgen.errors import ExportError
from dnasgen.export import ReferenceInterpreter, build_keras, export_model, structured_images
from dnasgen.export.parity import check_float_parity
from dnasgen.nn.static import StaticNet
from dnasgen.spec.model import Dataset, Search, Sensor, Spec

SPACE = SearchSpace(resolutions=(75,), colors=("rgb",), widths=(0.35,),
                    depths=tuple(tuple(range(1, n + 1)) for _, _, n, _ in BASE_STAGES),
                    kernels=(3, 5, 7), expands=(1, 3, 6), head_channels=128, num_classes=2)
CAND = Candidate(DataConfig(75, "rgb"), ArchConfig(0.35, tuple(
    StageConfig(d, (k,) * d, (e,) * d) for d, k, e in
    [(1, 3, 1), (2, 5, 3), (2, 7, 6), (1, 3, 3), (2, 5, 6), (1, 3, 3), (1, 7, 6)])))


class ImageArrays:
    """Labelled structured images (label: is the image brighter than 128 on average)."""

    def __init__(self, n: int = 160):
        x = structured_images(n, 75, 3, seed=5)
        self.x, self.y = x, (x.reshape(n, -1).mean(1) > 128).astype(np.int64)

    def arrays(self, split: str, data: DataConfig, limit: int | None = None):
        assert data == CAND.data
        part = slice(0, 96) if split == "train" else slice(96, None)
        x, y = self.x[part], self.y[part]
        return x[:limit], y[:limit]


def _nchw(x_u8: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(((x_u8.astype(np.float32) - 128) / 128).transpose(0, 3, 1, 2).copy())


def _random_net(bundle: ImageArrays) -> StaticNet:
    """He-initialised weights, random BN affine, BN statistics from a pass over the training images."""
    torch.manual_seed(0)
    net = StaticNet(CAND, SPACE.num_classes, SPACE.head_channels)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(m.weight, 0.5, 1.5)
            torch.nn.init.normal_(m.bias, 0.0, 0.2)
            m.momentum = None                    # cumulative average over the pass below
        elif hasattr(m, "weight") and m.weight.dim() == 4:
            torch.nn.init.kaiming_normal_(m.weight)
    x, _ = bundle.arrays("train", CAND.data)
    net.train()
    with torch.no_grad():
        for i in range(0, len(x), 48):
            net(_nchw(x[i:i + 48]))
    return net.eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    bundle = ImageArrays()
    net = _random_net(bundle)
    spec = Spec("exp", ("dark", "bright"), Dataset("synthetic"), Sensor(),
                SPACE, get_board("qemu-mps2-an386"), search=Search(calibration_samples=64, eval_samples=64))
    out = tmp_path_factory.mktemp("export")
    return net, bundle, export_model(net, spec, bundle, out), out


def test_export_writes_model_and_versioned_report(exported):
    _, _, result, out = exported
    assert sorted(p.name for p in out.iterdir()) == ["export.json", "export.log", "model.tflite"]
    assert "Statistics for quantized inputs" in (out / "export.log").read_text()   # TF's noise, kept here
    report = json.loads((out / "export.json").read_text())
    assert report["version"] == 1 and report["candidate"] == CAND.to_dict()
    assert report["sha256"] == result.sha256 and report["classes"] == ["dark", "bright"]
    assert report["calibration_samples"] == 64 and report["eval_samples"] == 64
    ref = ReferenceInterpreter((out / "model.tflite").read_bytes())
    assert ref.input_quant == tuple(report["input_quant"]) and ref.op_names() == report["ops"]


def test_torch_keras_parity_and_int8_accuracy(exported):
    result = exported[2]
    assert 0.0 <= result.parity_max_abs_diff <= 1e-4 and result.parity_samples == 16
    net, bundle, _, _ = exported
    x, y = bundle.arrays("val", CAND.data, limit=64)
    with torch.no_grad():
        torch_acc = float((net(_nchw(x)).argmax(1).numpy() == y).mean())
    assert result.float_accuracy == torch_acc and result.eval_samples == 64
    assert abs(result.int8_accuracy - result.float_accuracy) <= 0.1
    assert result.int8_agreement >= 0.75          # near-tied random logits may flip
    assert result.int8_logit_error <= 0.15       # random weights: ~0.09 measured
    print(f"parity {result.parity_max_abs_diff:.2e} float {result.float_accuracy:.3f} "
          f"int8 {result.int8_accuracy:.3f} agreement {result.int8_agreement:.3f} logit error {result.int8_logit_error:.4f}")


def test_parity_failure_names_the_diverging_op(exported):
    net, bundle, _, _ = exported
    weights = net.folded()
    w, b = weights["s2b0.dw"]
    weights["s2b0.dw"] = (w[:, :, ::-1, :].copy(), b)     # a flipped depthwise kernel
    from dnasgen.graph import build_graph
    graph = build_graph(CAND, SPACE.num_classes, SPACE.head_channels)
    x, _ = bundle.arrays("val", CAND.data, limit=4)
    with pytest.raises(ExportError, match=r"first diverging op s2b0\.dw"):
        check_float_parity(net, build_keras(graph, weights), graph, x)
