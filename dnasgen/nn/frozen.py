"""FrozenSubnet: the supernet's active subnet with its weights sliced once, for scoring.

Scoring a candidate runs its subnet several times (BN recalibration batches, evaluation
batches, a race stage then a full one), and the elastic ops slice and crop their max-size
weights on every forward. A FrozenSubnet takes those active weights once (contiguous, the same
values) and runs the same functional ops in the same order as Supernet.forward (TF "SAME"
padding, conv, batch norm, ReLU6, residual adds, mean, linear), so its logits equal the active
supernet's bit for bit. Its BatchNorm statistics are its own: `recalibrate` re-estimates them
as dnasgen.train.recalibrate_bn does (reset, cumulative average over the batches), leaving the
supernet's untouched. No autograd: scoring only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from dnasgen.nn.ops import ElasticConvBN, conv_padded, same_pads


@dataclass
class _ConvBN:
    """One conv + BN (+ ReLU6): the active weight and BN affine, and running statistics of its own."""
    weight: torch.Tensor
    gamma: torch.Tensor
    beta: torch.Tensor
    mean: torch.Tensor
    var: torch.Tensor
    kernel: int
    stride: int
    groups: int
    relu6: bool
    eps: float

    @classmethod
    def of(cls, op: ElasticConvBN, in_channels: int) -> "_ConvBN":
        w = op.active_weight(in_channels).detach().contiguous()
        bn = op.active_bn(w.shape[0])
        return cls(w, bn["weight"].detach(), bn["bias"].detach(), torch.zeros_like(bn["running_mean"]),
                   torch.ones_like(bn["running_var"]), op.active_kernel, op.stride,
                   in_channels if op.depthwise else 1, op.relu6, op.bn.eps)

    @property
    def out(self) -> int:
        return self.weight.shape[0]

    def reset(self) -> None:
        self.mean.zero_()
        self.var.fill_(1.0)

    def __call__(self, x: torch.Tensor, momentum: float | None) -> torch.Tensor:
        """momentum None: eval (running statistics); else batch statistics, running ones updated."""
        y = conv_padded(x, self.weight, self.stride, self.groups, same_pads(x, self.kernel, self.stride))
        y = F.batch_norm(y, self.mean, self.var, self.gamma, self.beta, momentum is not None,
                         momentum or 0.0, self.eps)
        return F.relu6(y, inplace=True) if self.relu6 else y      # in place: the same values, no new tensor


class FrozenSubnet:
    """The active subnet of a Supernet (its set_active candidate) for inputs of `channels` colours."""

    @torch.no_grad()
    def __init__(self, supernet, channels: int):
        stem = supernet.stem.by_color[supernet.stem.color] if supernet.color_stems else supernet.stem
        self.stem = _ConvBN.of(stem, channels)
        self.blocks: list[tuple[_ConvBN | None, _ConvBN, _ConvBN, bool]] = []
        c = self.stem.out
        for depth, blocks in zip(supernet.active_depths, supernet.stages):
            for blk in blocks[:depth]:
                expand = _ConvBN.of(blk.expand, c) if blk.use_expand else None
                hidden = expand.out if expand else c
                dw = _ConvBN.of(blk.dw, hidden)
                project = _ConvBN.of(blk.project, hidden)
                self.blocks.append((expand, dw, project, blk.stride == 1 and project.out == c))
                c = project.out
        self.head = _ConvBN.of(supernet.head, c)
        w, b = supernet.classifier.active_params(self.head.out)
        self.fc = (w.detach().contiguous(), b.detach())

    def layers(self) -> list[_ConvBN]:
        inner = [op for block in self.blocks for op in block[:3] if op is not None]
        return [self.stem, *inner, self.head]

    @property
    def nbytes(self) -> int:
        tensors = [t for op in self.layers() for t in (op.weight, op.mean, op.var)] + [self.fc[0]]
        return sum(t.nbytes for t in tensors)

    def forward(self, x: torch.Tensor, momentum: float | None = None) -> torch.Tensor:
        x = self.stem(x, momentum)
        for expand, dw, project, residual in self.blocks:
            y = project(dw(expand(x, momentum) if expand else x, momentum), momentum)
            x = y + x if residual else y
        return F.linear(self.head(x, momentum).mean(dim=(2, 3)), *self.fc)

    @torch.no_grad()
    def recalibrate(self, x: torch.Tensor, batch_size: int) -> "FrozenSubnet":
        """BN statistics reset and re-estimated on x (a to_input tensor): the exact average over
        its batches, as recalibrate_bn on the supernet."""
        for op in self.layers():
            op.reset()
        for i, start in enumerate(range(0, len(x), batch_size)):
            self.forward(x[start:start + batch_size], 1.0 / (i + 1))
        return self

    @torch.no_grad()
    def accuracy(self, x: torch.Tensor, y: np.ndarray, batch_size: int) -> float:
        """Top-1 accuracy on x (a to_input tensor), batched as dnasgen.train.evaluate."""
        if len(y) == 0:
            return 0.0
        pred = torch.cat([self.forward(x[s:s + batch_size]).argmax(dim=1).cpu() for s in range(0, len(x), batch_size)])
        return float((pred.numpy() == np.asarray(y)).mean())

    @torch.no_grad()
    def batch_accuracy(self, x: torch.Tensor, y: np.ndarray) -> float:
        """Top-1 accuracy on x in one pass normalised by x's own batch statistics (BN "adapted" to
        the evaluation images, labels unused): a recalibration and an evaluation in one forward.
        The running statistics are left holding x's (a later `recalibrate` resets them)."""
        if len(y) == 0:
            return 0.0
        for op in self.layers():
            op.reset()
        pred = self.forward(x, 1.0).argmax(dim=1).cpu()
        return float((pred.numpy() == np.asarray(y)).mean())
