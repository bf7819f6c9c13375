"""Supernet active output == extracted StaticNet output (fp32, eval); folded weights agree."""
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dnasgen.candidate import Candidate, SearchSpace, stem_channels
from dnasgen.graph import build_graph
from dnasgen.nn import StaticNet, Supernet, load_static, load_supernet, save_static, save_supernet
from dnasgen.nn.ops import conv_padded, pad_same, same_pads

SPACE = SearchSpace(resolutions=(32, 75), colors=("grayscale", "rgb"), widths=(0.35, 0.5, 0.75),
                    depths=((1,), (1, 2), (1, 2, 3), (2, 3, 4), (1, 2, 3), (1, 2, 3), (1,)),
                    kernels=(3, 5, 7), expands=(3, 4, 6), head_channels=256, num_classes=4)


def _randomise_bn(model: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)


@pytest.fixture(scope="module")
def supernet():
    torch.manual_seed(0)
    net = Supernet(SPACE)
    _randomise_bn(net, 1)
    return net.eval()


def _candidates(n: int, seed: int) -> list[Candidate]:
    rng = random.Random(seed)
    return [SPACE.largest(), SPACE.smallest()] + [SPACE.sample(rng) for _ in range(n)]


def _input(cand: Candidate, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    r = cand.data.resolution
    return torch.rand(2, cand.data.channels, r, r, generator=g) * 2 - 1


@pytest.mark.parametrize("idx", range(8))
def test_active_supernet_equals_static(supernet, idx):
    cand = _candidates(6, 42)[idx]
    supernet.set_active(cand)
    static = supernet.get_active_subnet().eval()
    x = _input(cand, idx)
    with torch.no_grad():
        a, b = supernet(x), static(x)
    assert a.shape == (2, SPACE.num_classes)
    assert torch.max(torch.abs(a - b)).item() <= 1e-5
    assert sum(p.numel() for p in static.parameters() if p.dim() > 1) == sum(
        op.weights for op in build_graph(cand, 4, 256).ops)


def test_odd_resolution_and_both_colours_run(supernet):
    for color in ("grayscale", "rgb"):
        cand = Candidate.from_dict({**SPACE.largest().to_dict(), "data": {"resolution": 75, "color": color}})
        supernet.set_active(cand)
        static = supernet.get_active_subnet().eval()
        assert static.layers["stem"].weight.shape[1] == cand.data.channels
        x = _input(cand, 7)
        with torch.no_grad():
            assert torch.allclose(supernet(x), static(x), atol=1e-5, rtol=0)


def test_grayscale_stem_is_summed_rgb_kernel(supernet):
    """A gray image (R=G=B) gives the same output through the RGB and the grayscale path."""
    rgb = SPACE.largest()
    gray = Candidate.from_dict({**rgb.to_dict(), "data": {"resolution": 32, "color": "grayscale"}})
    x1 = torch.rand(1, 1, 32, 32)
    supernet.set_active(gray)
    with torch.no_grad():
        out_gray = supernet(x1)
        out_rgb = supernet(x1.expand(1, 3, 32, 32).contiguous())
    assert torch.allclose(out_gray, out_rgb, atol=1e-5)
    w = supernet.get_active_subnet().layers["stem"].weight
    assert w.shape == (stem_channels(rgb.arch.width), 1, 3, 3)


def test_same_padding_is_asymmetric():
    x = torch.ones(1, 1, 4, 4)
    y = pad_same(x, 3, 2)          # TF: out 2, total pad 1 -> 0 before, 1 after
    assert y.shape == (1, 1, 5, 5)
    assert y[0, 0, 0].sum() == 4 and y[0, 0, -1].sum() == 0
    assert pad_same(torch.ones(1, 1, 75, 75), 3, 2).shape[-1] == 77   # out 38: 1 + 1


def _functional_forward(graph, folded, x: torch.Tensor) -> torch.Tensor:
    """Independent forward: folded weights, explicit graph paddings, ReLU6, adds."""
    t = {graph.input: x.double()}
    for op in graph.ops:
        a = t[op.inputs[0]]
        if op.kind in ("conv", "dwconv"):
            w, b = (torch.from_numpy(v).double() for v in folded[op.name])
            top, bottom, left, right = op.pad
            y = F.conv2d(F.pad(a, (left, right, top, bottom)), w, b, stride=op.stride,
                         groups=a.shape[1] if op.kind == "dwconv" else 1)
            t[op.output] = y.clamp(0, 6) if op.relu6 else y
        elif op.kind == "add":
            t[op.output] = a + t[op.inputs[1]]
        elif op.kind == "mean":
            t[op.output] = a.mean(dim=(2, 3))
        else:
            w, b = (torch.from_numpy(v).double() for v in folded[op.name])
            t[op.output] = a @ w.T + b
    return t[graph.output]


@pytest.mark.parametrize("idx", [0, 1, 3, 5])
def test_folded_weights_reproduce_static_output(supernet, idx):
    cand = _candidates(6, 7)[idx]
    supernet.set_active(cand)
    static = supernet.get_active_subnet().eval()
    folded = static.folded()
    graph = build_graph(cand, 4, 256)
    weight_ops = {op.name for op in graph.ops if op.kind in ("conv", "dwconv", "fc")}
    assert set(folded) == weight_ops
    for op in graph.ops:
        if op.name in folded:
            w, b = folded[op.name]
            assert w.dtype == np.float32 and b.shape == (op.out_shape[2],)
            assert w.size == op.weights
    x = _input(cand, 3)[:1]
    with torch.no_grad():
        ref = static(x).double()
    out = _functional_forward(graph, folded, x)
    assert torch.max(torch.abs(out - ref)).item() <= 1e-4


def test_checkpoints_round_trip(supernet, tmp_path):
    cand = _candidates(3, 9)[3]
    supernet.set_active(cand)
    static = supernet.get_active_subnet().eval()
    save_static(static, tmp_path / "s.pt")
    back = load_static(tmp_path / "s.pt")
    assert back.candidate == cand and back.num_classes == 4
    x = _input(cand, 1)
    with torch.no_grad():
        assert torch.equal(back(x), static(x))
    save_supernet(supernet, tmp_path / "super.pt")
    sup = load_supernet(tmp_path / "super.pt")
    assert sup.space == SPACE
    sup.set_active(cand)
    with torch.no_grad():
        assert torch.equal(sup(x), supernet(x))
    save_supernet(supernet, tmp_path / "again" / "super.pt")      # same checkpoint, same bytes (and hash)
    assert (tmp_path / "again" / "super.pt").read_bytes() == (tmp_path / "super.pt").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again", "s.pt", "super.pt"]   # no temp files


def test_unreadable_or_stale_checkpoints_are_clean_errors(supernet, tmp_path):
    from dnasgen.errors import DnasgenError
    from dnasgen.nn.checkpoint import atomic_torch_save, supernet_payload
    good = save_supernet(supernet, tmp_path / "super.pt")
    (tmp_path / "cut.pt").write_bytes(good.read_bytes()[:1000])           # truncated copy
    (tmp_path / "text.pt").write_text("not a checkpoint\n")
    atomic_torch_save({**supernet_payload(supernet), "version": 0}, tmp_path / "old.pt")
    for name, message in (("cut.pt", "not a readable supernet"), ("text.pt", "not a readable supernet"),
                          ("old.pt", "version 0, expected 1")):
        with pytest.raises(DnasgenError, match=message):
            load_supernet(tmp_path / name)
    with pytest.raises(DnasgenError, match="not a static checkpoint"):
        load_static(good)


def test_candidate_outside_space_is_rejected(supernet):
    cand = Candidate.from_dict({**SPACE.largest().to_dict(), "data": {"resolution": 99, "color": "rgb"}})
    with pytest.raises(ValueError, match="resolution 99"):
        supernet.set_active(cand)
    assert isinstance(supernet.get_active_subnet(), StaticNet)


@pytest.mark.parametrize("kernel, stride, size", [(3, 1, 16), (5, 1, 9), (7, 1, 12), (3, 2, 16), (3, 2, 15),
                                                  (5, 2, 12), (7, 2, 11), (1, 1, 8)])
@pytest.mark.parametrize("depthwise", [False, True])
def test_conv_padded_equals_an_explicit_same_pad(kernel, stride, size, depthwise):
    """The symmetric part of a TF SAME pad done by conv2d itself: the same values, bit for bit, as
    padding the whole tensor first (channels-last, as training and scoring feed it)."""
    g = torch.Generator().manual_seed(kernel * 100 + size)
    c = 8
    x = torch.randn(5, c, size, size, generator=g).contiguous(memory_format=torch.channels_last)
    w = torch.randn(c if depthwise else 6, 1 if depthwise else c, kernel, kernel, generator=g)
    groups = c if depthwise else 1
    ref = F.conv2d(pad_same(x, kernel, stride), w, stride=stride, groups=groups)
    assert torch.equal(conv_padded(x, w, stride, groups, same_pads(x, kernel, stride)), ref)
