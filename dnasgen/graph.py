"""Candidate -> op graph, exactly as the int8 export produces it.

BN is folded into the convolutions, ReLU6 is fused, padding is TF "SAME"
(asymmetric: the extra row/column goes to the bottom/right). Tensors are HWC int8
activations; the graph is a straight schedule (ops in execution order).
"""
from __future__ import annotations

from dataclasses import dataclass

from dnasgen.candidate import (BASE_STAGES, Candidate, head_channels_for, hidden_channels,
                               stage_channels, stem_channels)

OP_KINDS = ("conv", "dwconv", "add", "mean", "fc")
# The TFLite builtin ops a Candidate's graph exports to (the classifier's FC input is a RESHAPE):
# export refuses a model with any other op, codegen supports at least these.
EXPORTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MEAN", "FULLY_CONNECTED", "RESHAPE")


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    """TF SAME: (output size, pad before, pad after)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return out, total // 2, total - total // 2


@dataclass(frozen=True)
class Op:
    name: str
    kind: str                      # one of OP_KINDS
    inputs: tuple[str, ...]        # tensor names
    output: str
    in_shape: tuple[int, int, int]  # H, W, C of the first input
    out_shape: tuple[int, int, int]  # H, W, C (fc/mean: 1, 1, C)
    kernel: int = 1
    stride: int = 1
    pad: tuple[int, int, int, int] = (0, 0, 0, 0)  # top, bottom, left, right
    relu6: bool = False

    @property
    def macs(self) -> int:
        oh, ow, oc = self.out_shape
        ic = self.in_shape[2]
        if self.kind == "conv":
            return oh * ow * oc * self.kernel * self.kernel * ic
        if self.kind == "dwconv":
            return oh * ow * oc * self.kernel * self.kernel
        if self.kind == "fc":
            return ic * oc
        return 0

    @property
    def weights(self) -> int:
        """Number of weight values (BN folded)."""
        ic, oc = self.in_shape[2], self.out_shape[2]
        if self.kind == "conv":
            return self.kernel * self.kernel * ic * oc
        if self.kind == "dwconv":
            return self.kernel * self.kernel * oc
        if self.kind == "fc":
            return ic * oc
        return 0

    @property
    def biases(self) -> int:
        return self.out_shape[2] if self.kind in ("conv", "dwconv", "fc") else 0

    @property
    def params(self) -> int:
        return self.weights + self.biases


@dataclass(frozen=True)
class Graph:
    ops: tuple[Op, ...]
    tensors: dict          # name -> (H, W, C)
    input: str
    output: str

    @property
    def macs(self) -> int:
        return sum(op.macs for op in self.ops)

    @property
    def params(self) -> int:
        return sum(op.params for op in self.ops)

    def tensor_bytes(self, name: str) -> int:
        h, w, c = self.tensors[name]
        return h * w * c


class _Builder:
    def __init__(self, input_shape: tuple[int, int, int]):
        self.ops: list[Op] = []
        self.tensors = {"input": input_shape}
        self.current = "input"

    def add(self, name: str, kind: str, out_c: int, kernel: int = 1, stride: int = 1,
            relu6: bool = False, extra_input: str | None = None) -> str:
        h, w, c = self.tensors[self.current]
        if kind in ("conv", "dwconv"):
            oh, pt, pb = same_padding(h, kernel, stride)
            ow, pl, pr = same_padding(w, kernel, stride)
            out, pad = (oh, ow, out_c), (pt, pb, pl, pr)
        elif kind == "add":
            out, pad = (h, w, c), (0, 0, 0, 0)
        else:  # mean, fc
            out, pad = (1, 1, out_c), (0, 0, 0, 0)
        inputs = (self.current,) if extra_input is None else (extra_input, self.current)
        op = Op(name, kind, inputs, name, self.tensors[self.current], out, kernel, stride, pad, relu6)
        self.ops.append(op)
        self.tensors[name] = out
        self.current = name
        return name


def build_graph(cand: Candidate, num_classes: int, head_channels: int = 1280) -> Graph:
    """The int8 op graph of a candidate (stem, inverted residual blocks, head, pool, classifier)."""
    res, width = cand.data.resolution, cand.arch.width
    b = _Builder((res, res, cand.data.channels))
    b.add("stem", "conv", stem_channels(width), kernel=3, stride=2, relu6=True)
    for i, (stage, (_, _, _, stride)) in enumerate(zip(cand.arch.stages, BASE_STAGES)):
        out_c = stage_channels(width, i)
        for j in range(stage.depth):
            block_in, in_c = b.current, b.tensors[b.current][2]
            s = stride if j == 0 else 1
            prefix = f"s{i}b{j}"
            if stage.expand[j] != 1:
                b.add(f"{prefix}.expand", "conv", hidden_channels(in_c, stage.expand[j]), relu6=True)
            hid = b.tensors[b.current][2]
            b.add(f"{prefix}.dw", "dwconv", hid, kernel=stage.kernel[j], stride=s, relu6=True)
            b.add(f"{prefix}.project", "conv", out_c)
            if s == 1 and in_c == out_c:
                b.add(f"{prefix}.add", "add", out_c, extra_input=block_in)
    b.add("head", "conv", head_channels_for(width, head_channels), relu6=True)
    b.add("pool", "mean", b.tensors[b.current][2])
    b.add("classifier", "fc", num_classes)
    return Graph(tuple(b.ops), dict(b.tensors), "input", b.current)
