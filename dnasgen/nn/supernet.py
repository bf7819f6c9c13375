"""The MobileNetV2 supernet, elastic in resolution, colour, width, depth, kernel and expansion.

Max-size weights are held once; `set_active(candidate)` configures every elastic op and
`forward(x)` runs the active subnet (resolution and colour come from the input tensor:
NCHW with 1 or 3 channels). `get_active_subnet()` copies the active weights into a StaticNet.
Channel counts come from the dnasgen.candidate rules, so every subnet matches dnasgen.graph.
"""
from __future__ import annotations

import torch
from torch import nn

from dnasgen.candidate import (BASE_STAGES, Candidate, SearchSpace, head_channels_for,
                               hidden_channels, stage_channels, stem_channels)
from dnasgen.nn.ops import ElasticConvBN, ElasticLinear


def _block_in_channels(width: float, stage: int, block: int) -> int:
    """Input channels of block `block` of `stage` at a width."""
    if block > 0:
        return stage_channels(width, stage)
    return stem_channels(width) if stage == 0 else stage_channels(width, stage - 1)


class ElasticBlock(nn.Module):
    """Inverted residual block: [expand 1x1] -> depthwise kxk -> project 1x1 (+ residual)."""

    def __init__(self, max_in: int, max_hidden: int, max_out: int, max_kernel: int,
                 stride: int, has_expand: bool):
        super().__init__()
        self.stride = stride
        self.expand = ElasticConvBN(max_in, max_hidden, 1) if has_expand else None
        self.dw = ElasticConvBN(max_hidden, max_hidden, max_kernel, stride, depthwise=True)
        self.project = ElasticConvBN(max_hidden, max_out, 1, relu6=False)
        self.use_expand = has_expand

    def configure(self, in_channels: int, out_channels: int, kernel: int, expand: int) -> None:
        self.use_expand = expand != 1
        if self.use_expand:
            if self.expand is None:
                raise ValueError("this block has no expand conv (stage 0 / expand 1 only)")
            self.expand.configure(hidden_channels(in_channels, expand))
        self.dw.configure(kernel=kernel)
        self.project.configure(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(x) if self.use_expand else x
        y = self.project(self.dw(y))
        if self.stride == 1 and y.shape[1] == x.shape[1]:
            y = y + x
        return y


class ColorStems(nn.Module):
    """One stem per colour (grayscale: 1 input channel, rgb: 3), picked by the active colour.

    The colour paths then share no first-layer weights or BN; the rest of the supernet is shared.
    Same interface as the ElasticConvBN it replaces (configure, active_weight, active_bn).
    """

    def __init__(self, colors, max_out: int):
        super().__init__()
        self.by_color = nn.ModuleDict({c: ElasticConvBN(3 if c == "rgb" else 1, max_out, 3, stride=2)
                                       for c in colors})
        self.color = colors[0]

    def configure(self, out_channels: int, color: str) -> None:
        self.color = color
        self.by_color[color].configure(out_channels)

    def active_weight(self, in_channels: int) -> torch.Tensor:
        return self.by_color[self.color].active_weight(in_channels)

    def active_bn(self, channels: int) -> dict[str, torch.Tensor]:
        return self.by_color[self.color].active_bn(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.by_color[self.color](x)


class Supernet(nn.Module):
    def __init__(self, space: SearchSpace, color_stems: bool = False):
        super().__init__()
        self.space = space
        self.color_stems = bool(color_stems)
        widths, kmax = space.widths, max(space.kernels)
        max_stem = max(stem_channels(w) for w in widths)
        self.stem = ColorStems(space.colors, max_stem) if self.color_stems else \
            ElasticConvBN(3, max_stem, 3, stride=2)
        self.stages = nn.ModuleList()
        for i, (_, _, _, stride) in enumerate(BASE_STAGES):
            blocks = nn.ModuleList()
            choices = space.expand_choices(i)
            for j in range(max(space.depths[i])):
                ins = [_block_in_channels(w, i, j) for w in widths]
                hidden = max(hidden_channels(c, e) for c in ins for e in choices)
                out = max(stage_channels(w, i) for w in widths)
                blocks.append(ElasticBlock(max(ins), hidden, out, kmax, stride if j == 0 else 1,
                                           has_expand=any(e != 1 for e in choices)))
            self.stages.append(blocks)
        last = max(stage_channels(w, len(BASE_STAGES) - 1) for w in widths)
        head = max(head_channels_for(w, space.head_channels) for w in widths)
        self.head = ElasticConvBN(last, head, 1)
        self.classifier = ElasticLinear(head, space.num_classes)
        self.active: Candidate | None = None
        self.active_depths = space.max_depths()
        self.set_active(space.largest())

    @property
    def options(self) -> dict:
        """Constructor options beyond the space (saved in checkpoints, dnasgen.nn.checkpoint)."""
        return {"color_stems": self.color_stems}

    @property
    def num_classes(self) -> int:
        return self.space.num_classes

    @property
    def head_channels(self) -> int:
        return self.space.head_channels

    def set_active(self, cand: Candidate) -> None:
        """Configure every elastic op for a candidate (architecture part; data comes with x)."""
        problems = self.space.violations(cand)
        if problems:
            raise ValueError("candidate outside the supernet's space: " + "; ".join(problems))
        width = cand.arch.width
        if self.color_stems:
            self.stem.configure(stem_channels(width), cand.data.color)
        else:
            self.stem.configure(stem_channels(width))
        for i, (stage, blocks) in enumerate(zip(cand.arch.stages, self.stages)):
            for j in range(stage.depth):
                blocks[j].configure(_block_in_channels(width, i, j), stage_channels(width, i),
                                    stage.kernel[j], stage.expand[j])
        self.head.configure(head_channels_for(width, self.space.head_channels))
        self.active_depths = tuple(s.depth for s in cand.arch.stages)
        self.active = cand

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for depth, blocks in zip(self.active_depths, self.stages):
            for j in range(depth):
                x = blocks[j](x)
        x = self.head(x).mean(dim=(2, 3))
        return self.classifier(x)

    def elastic_op(self, name: str) -> nn.Module:
        """The elastic module behind a dnasgen.graph op name (stem, s{i}b{j}.dw, head, ...)."""
        if name in ("stem", "head", "classifier"):
            return getattr(self, name)
        block, part = name.split(".")
        i, j = block[1:].split("b")
        return getattr(self.stages[int(i)][int(j)], part)

    def get_active_subnet(self):
        """A StaticNet with copies of the active weights (same output as the active supernet)."""
        from dnasgen.nn.static import StaticNet
        if self.active is None:
            raise ValueError("no active candidate")
        net = StaticNet(self.active, self.num_classes, self.head_channels)
        net.load_from_supernet(self)
        return net.train(self.training)
