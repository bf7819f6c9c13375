"""StaticNet: one candidate as a plain torch module, built from dnasgen.graph's op list.

It executes exactly the graph the export produces (same op names, same residual adds,
same TF "SAME" paddings), so `folded()` hands the export engineer BN-folded weights keyed
by graph op names: conv (out, in, kh, kw), dwconv (C, 1, kh, kw), fc (out, in).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dnasgen.candidate import Candidate
from dnasgen.graph import Graph, Op, build_graph
from dnasgen.nn.ops import BN_EPS, BN_MOMENTUM, conv_padded


def _key(op_name: str) -> str:
    return op_name.replace(".", "_")


class StaticConvBN(nn.Module):
    """Conv (regular or depthwise) + BN (+ ReLU6) with the fixed padding of a graph op."""

    def __init__(self, op: Op):
        super().__init__()
        in_c, out_c = op.in_shape[2], op.out_shape[2]
        self.groups = in_c if op.kind == "dwconv" else 1
        self.stride, self.pad, self.relu6 = op.stride, op.pad, op.relu6
        self.weight = nn.Parameter(torch.zeros(out_c, in_c // self.groups, op.kernel, op.kernel))
        self.bn = nn.BatchNorm2d(out_c, eps=BN_EPS, momentum=BN_MOMENTUM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn(conv_padded(x, self.weight, self.stride, self.groups, self.pad))
        return F.relu6(y) if self.relu6 else y

    def folded(self) -> tuple[np.ndarray, np.ndarray]:
        """(weight, bias) with the eval-mode BN folded in."""
        bn = self.bn
        scale = bn.weight.detach().double() / torch.sqrt(bn.running_var.double() + bn.eps)
        w = self.weight.detach().double() * scale[:, None, None, None]
        b = bn.bias.detach().double() - bn.running_mean.double() * scale
        return w.float().numpy(), b.float().numpy()


class StaticNet(nn.Module):
    def __init__(self, candidate: Candidate, num_classes: int, head_channels: int = 1280):
        super().__init__()
        self.candidate = candidate
        self.num_classes = num_classes
        self.head_channels = head_channels
        self.graph: Graph = build_graph(candidate, num_classes, head_channels)
        self.layers = nn.ModuleDict()
        for op in self.graph.ops:
            if op.kind in ("conv", "dwconv"):
                self.layers[_key(op.name)] = StaticConvBN(op)
            elif op.kind == "fc":
                self.layers[_key(op.name)] = nn.Linear(op.in_shape[2], op.out_shape[2])

    def init_kwargs(self) -> dict:
        return {"candidate": self.candidate.to_dict(), "num_classes": self.num_classes,
                "head_channels": self.head_channels}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tensors = {self.graph.input: x}
        for op in self.graph.ops:
            first = tensors[op.inputs[0]]
            if op.kind == "add":
                out = first + tensors[op.inputs[1]]
            elif op.kind == "mean":
                out = first.mean(dim=(2, 3))
            else:
                out = self.layers[_key(op.name)](first)
            tensors[op.output] = out
        return tensors[self.graph.output]

    @torch.no_grad()
    def load_from_supernet(self, supernet: nn.Module) -> None:
        """Copy the supernet's active weights (sliced, cropped, colour-summed) into this net."""
        for op in self.graph.ops:
            if op.kind not in ("conv", "dwconv", "fc"):
                continue
            src, dst = supernet.elastic_op(op.name), self.layers[_key(op.name)]
            if op.kind == "fc":
                w, b = src.active_params(op.in_shape[2])
                dst.weight.copy_(w)
                dst.bias.copy_(b)
                continue
            dst.weight.copy_(src.active_weight(op.in_shape[2]))
            for name, value in src.active_bn(op.out_shape[2]).items():
                getattr(dst.bn, name).copy_(value)

    def folded(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """BN-folded float32 weights keyed by graph op name (conv/dwconv/fc ops)."""
        out = {}
        for op in self.graph.ops:
            layer = self.layers[_key(op.name)] if _key(op.name) in self.layers else None
            if isinstance(layer, StaticConvBN):
                out[op.name] = layer.folded()
            elif isinstance(layer, nn.Linear):
                out[op.name] = (layer.weight.detach().float().numpy().copy(),
                                layer.bias.detach().float().numpy().copy())
        return out
