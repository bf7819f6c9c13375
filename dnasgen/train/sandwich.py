"""One training step of the sandwich rule with in-place distillation, plus optimiser/schedule.

`SandwichLoss` runs all subnets of a step on the same batch inside ONE forward and returns
the summed loss, so a single backward (and a single DistributedDataParallel all-reduce)
trains them together.
"""
from __future__ import annotations

import math
import random

import torch
import torch.nn.functional as F
from torch import nn

from dnasgen.candidate import Candidate, DataConfig, SearchSpace


def step_candidates(space: SearchSpace, data: DataConfig | None, n_random: int, rng: random.Random,
                    largest_only: bool = False) -> list[Candidate]:
    """Largest (the teacher, first), smallest and n_random random subnets for one data config.

    data None (train.data_sampling: subnet): the teacher is the largest subnet at the largest data
    config; the largest architecture (unless that is the teacher again), the smallest and the random
    subnets each draw their own data config and learn from the teacher.
    largest_only (train.warmup_largest_epochs): the teacher alone.
    """
    if largest_only:
        return [space.largest(data)]
    if data is not None:
        return ([space.largest(data), space.smallest(data)]
                + [space.sample(rng, data) for _ in range(n_random)])
    configs = space.data_configs()
    teacher, wide = space.largest(), space.largest(configs[rng.randrange(len(configs))])
    return ([teacher, *([wide] if wide != teacher else []), space.smallest(configs[rng.randrange(len(configs))])]
            + [space.sample(rng) for _ in range(n_random)])


def soft_cross_entropy(logits: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against the teacher's (detached) softmax: in-place distillation."""
    return -(F.softmax(teacher.float(), dim=1) * F.log_softmax(logits.float(), dim=1)).sum(1).mean()


class SandwichLoss(nn.Module):
    """forward(xs, y, candidates) -> (total loss, loss of the largest subnet).

    xs: one input per candidate (the same images, in the candidate's data configuration).
    """

    def __init__(self, supernet: nn.Module, label_smoothing: float = 0.1, distill: bool = True):
        super().__init__()
        self.supernet = supernet
        self.label_smoothing, self.distill = label_smoothing, distill

    def forward(self, xs: list[torch.Tensor], y: torch.Tensor, candidates: list[Candidate]):
        total, first, teacher = 0.0, None, None
        for x, cand in zip(xs, candidates):
            self.supernet.set_active(cand)
            logits = self.supernet(x)
            if teacher is None or not self.distill:
                loss = F.cross_entropy(logits.float(), y, label_smoothing=self.label_smoothing)
            else:
                loss = soft_cross_entropy(logits, teacher)
            if teacher is None:
                teacher, first = logits.detach(), loss.detach()
            total = total + loss
        return total, first


def make_optimizer(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """SGD with Nesterov momentum; no weight decay on BN parameters and biases."""
    decay, no_decay = [], []
    for p in model.parameters():
        (decay if p.dim() > 1 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True)


def lr_at(step: int, total: int, base: float, warmup: int) -> float:
    """Linear warmup then cosine decay to zero."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * base * (1.0 + math.cos(math.pi * min(1.0, progress)))


def warmup_steps(total: int, steps_per_epoch: int) -> int:
    return max(1, min(steps_per_epoch, total // 20))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
