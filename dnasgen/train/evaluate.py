"""BN recalibration, evaluation and candidate scoring (no training: weights are shared)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dnasgen.train.runtime import to_input

RECAL_BATCH = 128     # BN recalibration batch (batch statistics: part of the fitness)
EVAL_BATCH = 256


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _batch(x, start: int, stop: int, device: torch.device) -> torch.Tensor:
    """Model input of x[start:stop]: x uint8 NHWC (converted by to_input) or a tensor that
    to_input already made (sliced as is: the same values, elementwise)."""
    if isinstance(x, torch.Tensor):
        return x[start:stop]
    return to_input(x[start:stop], device)


@torch.no_grad()
def recalibrate_bn(model: nn.Module, x_u8, batch_size: int = RECAL_BATCH) -> nn.Module:
    """Reset every BatchNorm's running statistics and re-estimate them (exact average) on x_u8
    (uint8 NHWC, or its to_input tensor).

    Works on a Supernet (for its active candidate) and on a StaticNet alike. Leaves the
    model in eval mode.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None                    # cumulative moving average
    model.train()
    device = _device(model)
    for start in range(0, len(x_u8), batch_size):
        model(_batch(x_u8, start, start + batch_size, device))
    for m, momentum in zip(bns, saved):
        m.momentum = momentum
    return model.eval()


@torch.no_grad()
def predict(model: nn.Module, x_u8, batch_size: int = EVAL_BATCH) -> np.ndarray:
    """Class predictions (argmax of the logits), eval mode; x_u8 uint8 NHWC or its to_input tensor."""
    model.eval()
    device = _device(model)
    out = [model(_batch(x_u8, s, s + batch_size, device)).argmax(dim=1).cpu()
           for s in range(0, len(x_u8), batch_size)]
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.int64)


def evaluate(model: nn.Module, x_u8, y: np.ndarray, batch_size: int = EVAL_BATCH) -> float:
    """Top-1 accuracy in [0, 1]."""
    if len(y) == 0:
        return 0.0
    return float((predict(model, x_u8, batch_size) == np.asarray(y)).mean())


def subset(n_total: int, n: int, seed: int = 0) -> np.ndarray:
    """A deterministic random subset of indices (sorted), all of them when n >= n_total."""
    if n >= n_total:
        return np.arange(n_total)
    return np.sort(np.random.default_rng(seed).choice(n_total, size=n, replace=False))


def recal_arrays(bundle, data, samples: int, seed: int = 0) -> np.ndarray:
    """A fixed random subset of the training images for BN recalibration."""
    x, _ = bundle.arrays("train", data)
    return x[subset(len(x), samples, seed)]


def score_candidate(supernet: nn.Module, bundle, candidate, spec, eval_samples: int | None = None) -> float:
    """Validation accuracy of a candidate with shared weights: set active, BN recal, evaluate."""
    supernet.set_active(candidate)
    recalibrate_bn(supernet, recal_arrays(bundle, candidate.data, spec.train.bn_recal_samples,
                                          spec.train.seed))
    limit = eval_samples if eval_samples is not None else spec.search.eval_samples
    x, y = bundle.arrays("val", candidate.data)
    idx = subset(len(y), limit, spec.train.seed)
    return evaluate(supernet, x[idx], y[idx])
