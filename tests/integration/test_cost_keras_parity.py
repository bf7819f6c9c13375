"""Correctness anchor: params (BN folded) and MACs equal keras.applications.MobileNetV2's.

Full depth, kernel 3, expand 6 MobileNetV2 at the reference widths/resolutions. Keras' convs
have no bias and are followed by BatchNormalization (4 params per channel); folding turns
conv + BN into a conv with a bias, so folded params = Keras params - 3 x (BN channels).
MACs are computed from the Keras layers' own kernel and output shapes.
"""
import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")

from dnasgen.boards import get_board  # noqa: E402
from dnasgen.candidate import ArchConfig, Candidate, DataConfig, StageConfig  # noqa: E402
from dnasgen.cost import estimate  # noqa: E402
from dnasgen.graph import build_graph  # noqa: E402

FULL_DEPTHS = (1, 2, 3, 4, 3, 3, 1)
CASES = [(0.35, 96, 2), (0.5, 160, 2), (1.0, 224, 2), (1.0, 96, 10)]
KERAS_KINDS = {"Conv2D": "conv", "DepthwiseConv2D": "dwconv", "Dense": "fc",
               "Add": "add", "GlobalAveragePooling2D": "mean"}


def reference_candidate(width, res):
    stages = tuple(StageConfig(d, (3,) * d, ((1 if i == 0 else 6),) * d) for i, d in enumerate(FULL_DEPTHS))
    return Candidate(DataConfig(res, "rgb"), ArchConfig(width, stages))


def keras_ops(model):
    """(kind, output HWC, MACs) per compute layer, in model order, from Keras' own shapes."""
    ops = []
    for layer in model.layers:
        kind = KERAS_KINDS.get(type(layer).__name__)
        if kind is None:
            continue
        out = tuple(layer.output.shape[1:])
        out = (1, 1, out[0]) if len(out) == 1 else out
        kernel = tuple(layer.weights[0].shape) if kind in ("conv", "dwconv", "fc") else ()
        if kind == "conv":
            macs = out[0] * out[1] * out[2] * kernel[0] * kernel[1] * kernel[2]
        elif kind == "dwconv":
            macs = out[0] * out[1] * out[2] * kernel[0] * kernel[1]
        elif kind == "fc":
            macs = kernel[0] * kernel[1]
        else:
            macs = 0
        ops.append((kind, out, macs))
    return ops


def folded_params(model):
    bn_channels = sum(layer.weights[0].shape[0] for layer in model.layers
                      if type(layer).__name__ == "BatchNormalization")
    return model.count_params() - 3 * bn_channels


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{c[0]}@{c[1]}x{c[2]}cls")
def case(request):
    width, res, classes = request.param
    keras.utils.clear_session()
    model = keras.applications.MobileNetV2(input_shape=(res, res, 3), alpha=width, weights=None,
                                           include_top=True, classes=classes)
    return width, res, classes, keras_ops(model), folded_params(model)


def test_params_equal_keras_after_bn_folding(case):
    width, res, classes, _, params = case
    graph = build_graph(reference_candidate(width, res), classes, 1280)
    assert graph.params == params
    rep = estimate(reference_candidate(width, res), get_board("stm32h743"), classes, 1280)
    assert rep.params == params


def test_macs_and_op_sequence_match_keras(case):
    width, res, classes, kops, _ = case
    graph = build_graph(reference_candidate(width, res), classes, 1280)
    ours = [(op.kind, op.out_shape, op.macs) for op in graph.ops]
    assert ours == kops
    assert graph.macs == sum(m for _, _, m in kops)


def test_known_totals():
    expect = {(0.35, 96): (391_650, 10_656_688), (0.5, 160): (680_970, 48_906_560),
              (1.0, 224): (2_209_378, 299_496_832)}
    for (width, res), figures in expect.items():
        graph = build_graph(reference_candidate(width, res), 2, 1280)
        assert (graph.params, graph.macs) == figures
