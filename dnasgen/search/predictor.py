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

from dnasgen.candidate import Candidate, DataConfig, SearchSpace

RIDGE = 1.0


class Encoder:
    """Candidates <-> integer gene rows (choice indices), and gene rows -> 0/1 feature matrix.

    Gene row: resolution, colour, width, then per stage its depth, then per block slot (stage i,
    index j < the stage's largest depth) its kernel and expand. Slots beyond a candidate's depth
    still hold genes (ignored by the features), so a mutation that deepens a stage gets them."""

    def __init__(self, space: SearchSpace):
        self.space = space
        self.slots = [(i, j) for i, d in enumerate(space.depths) for j in range(max(d))]
        self.expands = [space.expand_choices(i) for i in range(len(space.depths))]
        choices = [space.resolutions, space.colors, space.widths, *space.depths]
        for i, _ in self.slots:
            choices += [space.kernels, self.expands[i]]
        self.choices = [tuple(c) for c in choices]
        self.n_choices = np.array([len(c) for c in self.choices])
        self._offsets()

    def _offsets(self) -> None:
        sp, names = self.space, []
        names += [("res", r) for r in sp.resolutions] + [("color", c) for c in sp.colors]
        names += [("width", w) for w in sp.widths]
        for i, j in self.slots:
            names += [("on", i, j)] + [("k", i, j, k) for k in sp.kernels] + [("e", i, j, e) for e in self.expands[i]]
        self.data = [(r, c) for r in sp.resolutions for c in sp.colors]
        names += [("dw", d, w) for d in self.data for w in sp.widths] + [("dn", d) for d in self.data]
        self.index = {n: i for i, n in enumerate(names)}
        self.size = len(names)
        self.blocks = max(1, len(self.slots))

    def genes(self, cand: Candidate, rng: np.random.Generator | None = None) -> np.ndarray:
        """The candidate's gene row; unused slots random (rng) or 0."""
        g = rng.integers(self.n_choices) if rng is not None else np.zeros(len(self.choices), np.int64)
        g[:3] = (self.choices[0].index(cand.data.resolution), self.choices[1].index(cand.data.color),
                 self.choices[2].index(cand.arch.width))
        n_st = len(self.space.depths)
        for i, st in enumerate(cand.arch.stages):
            g[3 + i] = self.choices[3 + i].index(st.depth)
        for s, (i, j) in enumerate(self.slots):
            st = cand.arch.stages[i]
            if j < st.depth:
                g[3 + n_st + 2 * s] = self.space.kernels.index(st.kernel[j])
                g[4 + n_st + 2 * s] = self.expands[i].index(st.expand[j])
        return g

    def decode(self, g: np.ndarray) -> Candidate:
        from dnasgen.candidate import ArchConfig, StageConfig
        n_st, stages = len(self.space.depths), []
        for i in range(n_st):
            depth = self.choices[3 + i][g[3 + i]]
            cols = [3 + n_st + 2 * s for s, (si, j) in enumerate(self.slots) if si == i and j < depth]
            stages.append(StageConfig(depth, tuple(self.space.kernels[g[c]] for c in cols),
                                      tuple(self.expands[i][g[c + 1]] for c in cols)))
        return Candidate(DataConfig(self.choices[0][g[0]], self.choices[1][g[1]]),
                         ArchConfig(self.choices[2][g[2]], tuple(stages)))

    def active(self, genes: np.ndarray) -> np.ndarray:
        """(N, slots) bool: which block slots a gene row uses."""
        depth = np.stack([np.asarray(self.choices[3 + i])[genes[:, 3 + i]] for i, _ in self.slots], 1) \
            if self.slots else np.zeros((len(genes), 0))
        return depth > np.array([j for _, j in self.slots])

    def canonical(self, genes: np.ndarray) -> np.ndarray:
        """Gene rows with unused slots zeroed: equal rows <=> equal candidates."""
        out = genes.copy()
        n_st, on = len(self.space.depths), self.active(genes)
        out[:, 3 + n_st::2] *= on
        out[:, 4 + n_st::2] *= on
        return out

    def features(self, genes: np.ndarray) -> np.ndarray:
        sp, ix, n = self.space, self.index, len(genes)
        x, rows = np.zeros((n, self.size)), np.arange(n)
        x[rows, ix[("res", sp.resolutions[0])] + genes[:, 0]] = 1.0
        x[rows, ix[("color", sp.colors[0])] + genes[:, 1]] = 1.0
        x[rows, ix[("width", sp.widths[0])] + genes[:, 2]] = 1.0
        data = genes[:, 0] * len(sp.colors) + genes[:, 1]
        x[rows, ix[("dw", self.data[0], sp.widths[0])] + data * len(sp.widths) + genes[:, 2]] = 1.0
        on, n_st = self.active(genes), len(sp.depths)
        for s, (i, j) in enumerate(self.slots):
            a = on[:, s].astype(np.float64)
            x[:, ix[("on", i, j)]] = a
            x[rows, ix[("k", i, j, sp.kernels[0])] + genes[:, 3 + n_st + 2 * s]] = a
            x[rows, ix[("e", i, j, self.expands[i][0])] + genes[:, 4 + n_st + 2 * s]] = a
        x[rows, ix[("dn", self.data[0])] + data] = on.sum(1) / self.blocks
        return x

    def row(self, cand: Candidate) -> np.ndarray:
        return self.features(self.genes(cand)[None])[0]

    def matrix(self, cands: Sequence[Candidate]) -> np.ndarray:
        if not cands:
            return np.zeros((0, self.size))
        return self.features(np.stack([self.genes(c) for c in cands]))

    def pool(self, parents: Sequence[Candidate], n: int, rng: np.random.Generator, prob: float,
             fixed_data: bool = False, data: DataConfig | None = None) -> np.ndarray:
        """n gene rows: a third mutants of random parents (each gene resampled with prob), a third
        uniform crossovers of two parents, a third uniform samples; data genes set to data, or
        to the first parent's when fixed_data."""
        par = np.stack([self.genes(c, rng) for c in parents])
        k = n // 3
        mut = par[rng.integers(len(par), size=k)]
        mask = rng.random(mut.shape) < prob
        mut = np.where(mask, rng.integers(self.n_choices, size=mut.shape), mut)
        a, b = par[rng.integers(len(par), size=k)], par[rng.integers(len(par), size=k)]
        cross = np.where(rng.random(a.shape) < 0.5, a, b)
        rand = rng.integers(self.n_choices, size=(n - 2 * k, len(self.choices)))
        out = np.concatenate([mut, cross, rand])
        data = data or (parents[0].data if fixed_data else None)
        if data is not None:
            out[:, :2] = self.choices[0].index(data.resolution), self.choices[1].index(data.color)
        return out

    def distinct_pool(self, parents: Sequence[Candidate], n: int, rng: np.random.Generator, prob: float,
                      data: DataConfig | None = None, rounds: int = 4) -> np.ndarray:
        """Canonical distinct gene rows of up to `rounds` pools (mutants of few parents repeat),
        stopping once n are distinct."""
        genes = np.zeros((0, len(self.choices)), np.int64)
        for _ in range(rounds):
            genes = np.unique(np.concatenate([genes, self.canonical(self.pool(parents, n, rng, prob, data=data))]),
                              axis=0)
            if len(genes) >= n:
                break
        return genes


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
