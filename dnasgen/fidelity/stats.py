"""Rank statistics of `dnasgen fidelity` (numpy only): Kendall tau-b, Spearman rho, top-k overlap."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b (ties counted as neither concordant nor discordant); nan below 2 points."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(x) != len(y):
        raise ValueError("kendall_tau needs two sequences of the same length")
    i, j = np.triu_indices(len(x), k=1)
    dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
    n_x, n_y = np.count_nonzero(dx), np.count_nonzero(dy)
    if n_x == 0 or n_y == 0:
        return float("nan")
    return float((dx * dy).sum() / math.sqrt(n_x * n_y))


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties given their average rank."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=float)
    ranks[order] = np.arange(1, len(values) + 1)
    for value in np.unique(values):
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def spearman_rho(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rho: the Pearson correlation of the (tie-averaged) ranks; nan if one side is constant."""
    ra, rb = _ranks(np.asarray(a, dtype=float)), _ranks(np.asarray(b, dtype=float))
    if len(ra) < 2 or ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def top_k_overlap(a: Sequence[float], b: Sequence[float], k: int) -> float:
    """Share of the k best by `a` that are among the k best by `b` (index order breaks ties)."""
    k = max(1, min(int(k), len(a)))
    best_a = set(np.argsort(-np.asarray(a, dtype=float), kind="mergesort")[:k].tolist())
    best_b = set(np.argsort(-np.asarray(b, dtype=float), kind="mergesort")[:k].tolist())
    return len(best_a & best_b) / k


def default_k(n: int) -> int:
    """The top-k of the report: a quarter of the candidates, at least 1."""
    return max(1, round(n / 4))
