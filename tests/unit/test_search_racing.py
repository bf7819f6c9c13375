"""Cheaper supernet scoring keeps the search's semantics.

- the scorer's per-data-configuration input tensors equal a fresh preprocessing bit for bit, and
  its scores equal dnasgen.train.score_candidate's exactly;
- racing (search.race_samples) scores the true best of a known-answer generation in full, never
  chooses or reports a race-only score, and counts every raced candidate as an evaluation;
- the Pricer's latency pre-check gives the cost model's answer for every candidate.
"""
from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from dnasgen.search.constraints import Pricer
from dnasgen.search.engine import Engine, SearchConfig
from dnasgen.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "pipeline_tiny.yaml"
QUICKSTART = ROOT / "specs" / "quickstart.yaml"


class Racer:
    """Known answer: the full score is `truth`; the race score is truth + a bounded, key-seeded error."""

    def __init__(self, truth, noise: float):
        self.truth, self.noise, self.raced, self.full = truth, noise, [], []

    def score_many(self, cands):
        self.full += [c.key for c in cands]
        return [self.truth(c) for c in cands]

    def race_many(self, cands, samples, recal=None):
        assert samples == 7 and recal == 5
        self.raced += [c.key for c in cands]
        return [self.truth(c) + self.noise * (2 * random.Random(c.key).random() - 1) for c in cands]


def _capacity(c) -> float:
    return c.data.resolution / 100 + 0.05 * (c.data.color == "rgb") + sum(s.depth for s in c.arch.stages) / 100 \
        + sum(sum(s.expand) for s in c.arch.stages) / 1000


def _population(spec, n: int):
    rng, out = random.Random(0), {}
    while len(out) < n:
        c = spec.space.sample(rng)
        out[c.key] = c
    return list(out.values())


@pytest.mark.parametrize("noise, found", [(0.004, True), (0.3, False)])
def test_racing_scores_the_true_best_in_full(noise, found):
    spec = load_spec(TINY)
    pop = _population(spec, 12)
    truth = {c.key: 0.5 + 0.01 * ((7 * i) % len(pop)) for i, c in enumerate(pop)}   # 0.01 apart
    best = max(pop, key=lambda c: truth[c.key])
    scorer = Racer(lambda c: truth[c.key], noise)
    cfg = SearchConfig(race_samples=7, race_keep=0.25, race_recal=5)
    engine = Engine(spec.space, Pricer(spec), scorer, cfg)
    assert engine._score(pop)
    keep = math.ceil(0.25 * len(pop))
    assert sorted(scorer.raced) == sorted(c.key for c in pop) and len(scorer.full) == keep
    assert (best.key in scorer.full) is found        # a race error far over the margin may lose it
    full = {e.candidate.key: e.accuracy for e in engine._evaluated()}
    assert set(full) == set(scorer.full)               # only fully scored candidates are reported
    assert all(full[k] == truth[k] for k in full)
    assert len(engine.state.memo) == len(pop) and len(engine.state.partial) == len(pop) - keep


def test_racing_search_chooses_a_fully_scored_candidate(tmp_path):
    spec = load_spec(TINY)
    scorer = Racer(_capacity, 0.01)
    cfg = SearchConfig(population=8, generations=2, seed=1, race_samples=7, race_keep=0.25, race_recal=5)
    out = Engine(spec.space, Pricer(spec), scorer, cfg, state_path=tmp_path / "s.json").run()
    assert {e.candidate.key for e in out.evaluated} == set(scorer.full)
    assert out.racing["raced"] == len(scorer.raced) == out.racing["full"] + out.racing["race_only"]
    again = Engine(spec.space, Pricer(spec), Racer(_capacity, 0.01), cfg, state_path=tmp_path / "s.json").run()
    assert [e.candidate.key for e in again.evaluated] == [e.candidate.key for e in out.evaluated]
    plain = Engine(spec.space, Pricer(spec), scorer, SearchConfig(population=8, generations=2, seed=1)).run()
    assert not plain.racing and len(plain.evaluated) == cfg.target_evaluations


def test_cached_inputs_equal_fresh_preprocessing(tmp_path):
    import numpy as np
    import torch

    from dnasgen.data import open_dataset
    from dnasgen.nn import Supernet
    from dnasgen.search.scoring import SupernetScorer
    from dnasgen.train import recalibrate_bn, score_candidate
    from dnasgen.train.evaluate import evaluate, recal_arrays, subset
    from dnasgen.train.runtime import to_input
    spec = load_spec(TINY)
    torch.manual_seed(0)
    bundle = open_dataset(spec, cache_dir=tmp_path / "data")
    scorer = SupernetScorer(Supernet(spec.space).eval(), bundle, spec, threads=1)
    cands = _population(spec, 6)
    for data in spec.space.data_configs():
        recal, x, y = scorer.inputs(data)
        xv, yv = bundle.arrays("val", data)
        idx = subset(len(yv), spec.search.eval_samples, spec.train.seed)
        fresh = to_input(recal_arrays(bundle, data, spec.train.bn_recal_samples, spec.train.seed), torch.device("cpu"))
        assert torch.equal(recal, fresh) and torch.equal(x, to_input(xv[idx], torch.device("cpu")))
        assert np.array_equal(y, yv[idx]) and x.is_contiguous(memory_format=torch.channels_last)
        r_recal, r_x, r_y = scorer.inputs(data, 20, 9)
        assert len(r_y) == 20 and len(r_recal) == 9
        rows = [i for i in range(len(y)) if any(torch.equal(x[i], r) for r in r_x)]
        assert len(rows) == 20 and np.array_equal(r_y, y[rows])     # a part of the subset, in its order
    assert scorer.score_many(cands) == [score_candidate(scorer.supernet, bundle, c, spec) for c in cands]
    small = SupernetScorer(scorer.supernet, bundle, spec, threads=1, cache_bytes=1)    # keeps one entry
    assert small.score_many(cands) == scorer.score_many(cands) and len(small._inputs) == 1
    assert len({c.data for c in cands}) > 1
    c = cands[0]
    scorer.supernet.set_active(c)
    r_recal, r_x, r_y = scorer.inputs(c.data, 20, 9)
    recalibrate_bn(scorer.supernet, r_recal)
    assert scorer.race_many([c], 20, 9) == [evaluate(scorer.supernet, r_x, r_y)]


def test_a_raced_candidate_reuses_its_sliced_subnet_with_the_same_scores(tmp_path):
    """The race stage slices a candidate's subnet once; its full score reuses it and equals a fresh
    scorer's full score (and the elastic supernet's, score_candidate), bit for bit."""
    import torch

    from dnasgen.data import open_dataset
    from dnasgen.nn import Supernet
    from dnasgen.search.scoring import SupernetScorer
    from dnasgen.train import score_candidate
    spec = load_spec(TINY)
    torch.manual_seed(1)
    bundle = open_dataset(spec, cache_dir=tmp_path / "data")
    scorer = SupernetScorer(Supernet(spec.space).eval(), bundle, spec, threads=1)
    cands = _population(spec, 5)
    raced = scorer.race_many(cands, 20, 9)
    assert len(scorer._nets) == len(cands)              # sliced once, kept for the full stage
    full = scorer.score_many(cands)
    assert len(scorer._nets) == len(cands) and scorer.scored == scorer.raced == len(cands)
    fresh = SupernetScorer(scorer.supernet, bundle, spec, threads=1)
    assert full == fresh.score_many(cands) == [score_candidate(scorer.supernet, bundle, c, spec) for c in cands]
    assert raced == fresh.race_many(cands, 20, 9) == scorer.race_many(cands, 20, 9)


def test_race_scores_do_not_depend_on_the_thread_count(tmp_path):
    """Races run one torch thread per candidate, spread over the scorer's threads: the same scores
    at --threads 1 and 2 (one-pass and recalibrated races), the process's thread count restored, a
    candidate raced twice in one call scored once."""
    import torch

    from dnasgen.data import open_dataset
    from dnasgen.nn import Supernet
    from dnasgen.search.scoring import SupernetScorer
    spec = load_spec(TINY)
    torch.manual_seed(2)
    bundle = open_dataset(spec, cache_dir=tmp_path / "data")
    supernet = Supernet(spec.space).eval()
    cands = _population(spec, 6)
    scores = {}
    for threads in (1, 2):
        scorer = SupernetScorer(supernet, bundle, spec, threads=threads)
        scores[threads] = [scorer.race_many(cands + cands[:1], 20, recal) for recal in (0, 9)]
        assert torch.get_num_threads() == threads
    assert scores[1] == scores[2]
    for per_recal in scores[1]:
        assert per_recal[-1] == per_recal[0] and len(per_recal) == len(cands) + 1
    assert scores[1][0] != scores[1][1]       # the one-pass race is its own estimate


def test_latency_precheck_agrees_with_the_cost_model():
    from dnasgen.cost import estimate_spec
    from dnasgen.cost.latency import cycles_ms, op_cycles
    from dnasgen.cost.model import core_coefficients, graph_cycles
    from dnasgen.graph import build_graph
    spec = load_spec(QUICKSTART)
    rng, pricer = random.Random(2), Pricer(spec)
    cands = [spec.space.sample(rng) for _ in range(60)]
    assert [pricer.fits(c) for c in cands] == [not estimate_spec(spec, c).violations for c in cands]
    coeffs = core_coefficients(spec.board.core)
    for c in cands:                                          # memoised per op geometry: the same floats
        ops = build_graph(c, spec.num_classes, spec.space.head_channels).ops
        plain = [op_cycles(op, coeffs) for op in ops]
        assert list(graph_cycles(build_graph(c, spec.num_classes, spec.space.head_channels), spec.board.core)) == plain
        assert pricer._latency(c) == cycles_ms(sum(plain), spec.board.clock_mhz)
    assert 0 < len(pricer._too_slow) and pricer.priced == len({c.key for c in cands}) - len(pricer._too_slow)
