"""Elastic ops (Once-for-All style): max-size weights, configured only through active state.

Every op infers its active input channels from the tensor it receives and takes its active
output channels / kernel size from attributes set by the owning block (`configure`).
Padding is TF "SAME" (asymmetric: the extra row/column goes to the bottom/right), so the
torch network matches the Keras/TFLite graph of dnasgen.graph exactly.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dnasgen.graph import same_padding

BN_EPS = 1e-3        # Keras MobileNetV2's BatchNormalization epsilon
BN_MOMENTUM = 0.1


def same_pads(x: torch.Tensor, kernel: int, stride: int) -> tuple[int, int, int, int]:
    """TF "SAME" padding of an NCHW tensor for a kernel/stride: (top, bottom, left, right)."""
    _, top, bottom = same_padding(x.shape[-2], kernel, stride)
    _, left, right = same_padding(x.shape[-1], kernel, stride)
    return top, bottom, left, right


def pad_same(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Pad an NCHW tensor like TF "SAME" for a kernel/stride (no-op when nothing to pad)."""
    top, bottom, left, right = same_pads(x, kernel, stride)
    if top or bottom or left or right:
        x = F.pad(x, (left, right, top, bottom))
    return x


def conv_padded(x: torch.Tensor, weight: torch.Tensor, stride: int, groups: int,
                pads: tuple[int, int, int, int]) -> torch.Tensor:
    """conv2d of x zero-padded by (top, bottom, left, right): the symmetric part by the convolution
    itself (no padded copy; on CPU ~1.5x faster at the search's batch sizes, the same values), only
    the extra bottom/right row and column of an asymmetric SAME pad by F.pad."""
    top, bottom, left, right = pads
    if bottom > top or right > left:
        x = F.pad(x, (0, right - left, 0, bottom - top))
    return F.conv2d(x, weight, stride=stride, padding=(top, left), groups=groups)


def centre_crop_kernel(weight: torch.Tensor, kernel: int) -> torch.Tensor:
    """The centre kernel x kernel window of a (out, in, K, K) weight."""
    start = (weight.shape[-1] - kernel) // 2
    return weight[..., start:start + kernel, start:start + kernel]


class ElasticConvBN(nn.Module):
    """Conv (regular or depthwise) + BatchNorm (+ ReLU6) over max-size parameters.

    Active output channels = first `active_out` filters; active kernel = centre crop.
    A depthwise conv has as many outputs as its input has channels. A regular conv whose
    weight has 3 input channels and receives a 1-channel tensor uses the kernel summed over
    its input channels (a gray image is R=G=B): both encodings share the RGB stem weights.
    """

    def __init__(self, max_in: int, max_out: int, max_kernel: int, stride: int = 1,
                 depthwise: bool = False, relu6: bool = True):
        super().__init__()
        self.stride, self.depthwise, self.relu6 = stride, depthwise, relu6
        self.max_kernel = max_kernel
        in_per_group = 1 if depthwise else max_in
        self.weight = nn.Parameter(torch.empty(max_out, in_per_group, max_kernel, max_kernel))
        nn.init.kaiming_normal_(self.weight, mode="fan_out")
        self.bn = nn.BatchNorm2d(max_out, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.active_out = max_out
        self.active_kernel = max_kernel

    def configure(self, out_channels: int | None = None, kernel: int | None = None) -> None:
        if out_channels is not None:
            self.active_out = out_channels
        if kernel is not None:
            if kernel > self.max_kernel or kernel % 2 == 0:
                raise ValueError(f"kernel {kernel} not an odd size <= {self.max_kernel}")
            self.active_kernel = kernel

    def active_weight(self, in_channels: int) -> torch.Tensor:
        """The active conv weight for an input with in_channels channels."""
        w = centre_crop_kernel(self.weight, self.active_kernel)
        if self.depthwise:
            return w[:in_channels]
        w = w[:self.active_out]
        if in_channels == 1 and self.weight.shape[1] == 3:
            return w.sum(dim=1, keepdim=True)
        return w[:, :in_channels]

    def active_bn(self, channels: int) -> dict[str, torch.Tensor]:
        bn = self.bn
        return {"weight": bn.weight[:channels], "bias": bn.bias[:channels],
                "running_mean": bn.running_mean[:channels], "running_var": bn.running_var[:channels]}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c_in = x.shape[1]
        w = self.active_weight(c_in)
        y = conv_padded(x, w, self.stride, c_in if self.depthwise else 1, same_pads(x, self.active_kernel, self.stride))
        y = elastic_batch_norm(self.bn, y)
        return F.relu6(y) if self.relu6 else y


def elastic_batch_norm(bn: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    """BatchNorm over the first C channels of a max-size BN (running stats sliced in place)."""
    c = x.shape[1]
    use_batch_stats = bn.training or not bn.track_running_stats
    momentum = bn.momentum
    if bn.training and bn.track_running_stats and bn.momentum is None:
        bn.num_batches_tracked.add_(1)
        momentum = 1.0 / float(bn.num_batches_tracked)
    return F.batch_norm(x, bn.running_mean[:c], bn.running_var[:c], bn.weight[:c], bn.bias[:c],
                        use_batch_stats, momentum or 0.0, bn.eps)


class ElasticLinear(nn.Module):
    """Fully connected layer over the first in-features of a max-size weight."""

    def __init__(self, max_in: int, out_features: int):
        super().__init__()
        self.linear = nn.Linear(max_in, out_features)

    def active_params(self, in_features: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.linear.weight[:, :in_features], self.linear.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w, b = self.active_params(x.shape[1])
        return F.linear(x, w, b)
