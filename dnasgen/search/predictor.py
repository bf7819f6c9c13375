"""Accuracy predictor over the candidate encoding (OFA-style), for predictor-accelerated evolution.

`encode` turns candidates into fixed-length 0/1 vectors: one-hot resolution, colour and width,
per block slot (stage, index) an "active" bit plus one-hot kernel and expand, and the data
configuration crossed with width and with the number of active blocks (a data configuration's
capacity curve). `Predictor` is a ridge regression on those features (closed form, numpy only:
deterministic, refits in milliseconds), fitted on the supernet scores the search has collected.
The search uses it to rank a large pool of mutants and children and scores only the best.

`spearman` is the rank correlation (average ranks for ties) the search records on held-back
scores: every candidate is predicted before it is scored, so each score it later receives is a
held-out test of the predictor.
"""
from __future__ import annotations

import random
from typing import Sequence

import numpy as np

from dnasgen.candidate import Candidate, SearchSpace

RIDGE = 1.0


class Encoder:
    """Candidate -> 0/1 feature vector for one search space."""

    def __init__(self, space: SearchSpace):
        self.space = space
        names: list[tuple] = [("res", r) for r in space.resolutions] + [("color", c) for c in space.colors]
        names += [("width", w) for w in space.widths]
        for i, depths in enumerate(space.depths):
            for j in range(max(depths)):
                names.append(("on", i, j))
                names += [("k", i, j, k) for k in space.kernels]
                names += [("e", i, j, e) for e in space.expand_choices(i)]
        self.data = [(d.resolution, d.color) for d in space.data_configs()]
        names += [("dw", d, w) for d in self.data for w in space.widths]
        names += [("dn", d) for d in self.data]
        self.index = {n: i for i, n in enumerate(names)}
        self.blocks = max(1, sum(max(d) for d in space.depths))
        self.size = len(names)

    def row(self, cand: Candidate) -> np.ndarray:
        out = np.zeros(self.size, np.float64)
        d, w, ix = (cand.data.resolution, cand.data.color), cand.arch.width, self.index
        for name in (("res", d[0]), ("color", d[1]), ("width", w), ("dw", d, w)):
            out[ix[name]] = 1.0
        active = 0
        for i, st in enumerate(cand.arch.stages):
            for j in range(st.depth):
                out[ix[("on", i, j)]] = out[ix[("k", i, j, st.kernel[j])]] = 1.0
                out[ix[("e", i, j, st.expand[j])]] = 1.0
                active += 1
        out[ix[("dn", d)]] = active / self.blocks
        return out

    def matrix(self, cands: Sequence[Candidate]) -> np.ndarray:
        if not cands:
            return np.zeros((0, self.size))
        return np.stack([self.row(c) for c in cands])


class Predictor:
    """Ridge regression over Encoder features; predict() before any fit returns zeros."""

    def __init__(self, space: SearchSpace, ridge: float = RIDGE):
        self.encoder, self.ridge = Encoder(space), ridge
        self.coef: np.ndarray | None = None
        self.mean_x = self.mean_y = self.scale_y = None
        self.fitted_on = 0

    def fit(self, cands: Sequence[Candidate], scores: Sequence[float]) -> "Predictor":
        x, y = self.encoder.matrix(cands), np.asarray(scores, np.float64)
        self.mean_x, self.mean_y = x.mean(0), float(y.mean())
        self.scale_y = float(y.std()) or 1.0
        xc, yc = x - self.mean_x, (y - self.mean_y) / self.scale_y
        gram = xc.T @ xc + self.ridge * np.eye(x.shape[1])
        self.coef = np.linalg.solve(gram, xc.T @ yc)
        self.fitted_on = len(y)
        return self

    def predict_matrix(self, x: np.ndarray) -> np.ndarray:
        if self.coef is None:
            return np.zeros(len(x))
        return (x - self.mean_x) @ self.coef * self.scale_y + self.mean_y

    def predict(self, cands: Sequence[Candidate]) -> np.ndarray:
        return self.predict_matrix(self.encoder.matrix(cands))


def _ranks(values: Sequence[float]) -> np.ndarray:
    """Average ranks (ties share the mean of their positions)."""
    v = np.asarray(values, np.float64)
    order = np.argsort(v, kind="stable")
    ranks = np.empty(len(v))
    ranks[order] = np.arange(len(v), dtype=np.float64)
    for value in np.unique(v):
        tie = v == value
        if tie.sum() > 1:
            ranks[tie] = ranks[tie].mean()
    return ranks


def spearman(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Spearman's rho; None with fewer than 3 pairs or a constant side."""
    if len(a) < 3:
        return None
    ra, rb = _ranks(a), _ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def holdout_spearman(space: SearchSpace, memo: dict[str, float], seed: int = 0,
                     fraction: float = 0.2) -> float | None:
    """Fit on (1 - fraction) of the scored candidates (seeded split), Spearman on the rest."""
    keys = sorted(memo)
    random.Random(seed).shuffle(keys)
    n_test = max(3, round(fraction * len(keys)))
    if len(keys) - n_test < 3:
        return None
    test, train = keys[:n_test], keys[n_test:]
    pred = Predictor(space).fit([Candidate.from_json(k) for k in train], [memo[k] for k in train])
    return spearman(pred.predict([Candidate.from_json(k) for k in test]), [memo[k] for k in test])
