"""The accuracy predictor: learns a monotone function of the genes, deterministically; the
predictor-accelerated evolution ranks far more candidates than it scores and records its rank correlation."""
from __future__ import annotations

import random

import numpy as np
import pytest

from dnasgen.candidate import Candidate
from dnasgen.search.constraints import Pricer
from dnasgen.search.engine import Engine, SearchConfig
from dnasgen.search.predictor import Encoder, Predictor, holdout_spearman, spearman
from tests.unit.test_search_engine import Analytic, make_spec


def monotone(c: Candidate) -> float:
    """Grows with resolution, colour, width, depth, kernels and expands (a smooth, monotone 'accuracy')."""
    blocks = sum(s.depth for s in c.arch.stages)
    genes = sum(sum(s.kernel) + sum(s.expand) for s in c.arch.stages)
    return float(np.tanh(c.data.resolution / 48 + 0.3 * (c.data.color == "rgb") + 2 * c.arch.width
                         + 0.1 * blocks + 0.01 * genes))


def _sample(space, n, seed):
    rng = random.Random(seed)
    return [space.sample(rng) for _ in range(n)]


def test_spearman_known_values():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9486833, abs=1e-6)  # ties: average ranks
    assert spearman([1, 2], [1, 2]) is None and spearman([1, 1, 1], [1, 2, 3]) is None


def test_encoder_is_one_hot_per_gene(tmp_path):
    space = make_spec(tmp_path).space
    enc = Encoder(space)
    small, large = space.smallest(), space.largest()
    rs, rl = enc.row(small), enc.row(large)
    assert rs.shape == (enc.size,) and set(np.unique(rs)) <= {0.0, 1.0, rs[enc.index[("dn", (24, "grayscale"))]]}
    assert rl[enc.index[("on", 1, 1)]] == 1.0 and rs[enc.index[("on", 1, 1)]] == 0.0    # 2nd block of stage 1
    assert rl[enc.index[("res", 48)]] == 1.0 and rs[enc.index[("res", 24)]] == 1.0


def test_predictor_learns_a_monotone_function_deterministically(tmp_path):
    space = make_spec(tmp_path).space
    train, test = _sample(space, 120, 0), _sample(space, 200, 1)
    y_train = [monotone(c) for c in train]
    pred = Predictor(space).fit(train, y_train)
    rho = spearman(pred.predict(test), [monotone(c) for c in test])
    assert rho > 0.8, rho
    again = Predictor(space).fit(train, y_train).predict(test)
    assert np.array_equal(again, pred.predict(test))                       # deterministic
    memo = {c.key: monotone(c) for c in train}
    assert holdout_spearman(space, memo, seed=0) > 0.8
    assert holdout_spearman(space, memo, seed=0) == holdout_spearman(space, memo, seed=0)


def test_predictor_ignores_a_gene_that_does_not_matter(tmp_path):
    space = make_spec(tmp_path).space
    cands = _sample(space, 150, 2)
    pred = Predictor(space).fit(cands, [c.data.resolution / 48 for c in cands])
    idx = pred.encoder.index
    assert abs(pred.coef[idx[("res", 48)]] - pred.coef[idx[("res", 24)]]) > \
        10 * abs(pred.coef[idx[("color", "rgb")]] - pred.coef[idx[("color", "grayscale")]])


def _run(spec, **cfg):
    config = SearchConfig(population=8, generations=3, seed=3, **cfg)
    return Engine(spec.space, Pricer(spec), Analytic(), config).run()


def test_predictor_search_ranks_a_pool_and_records_its_rank_correlation(tmp_path):
    spec = make_spec(tmp_path)
    off = _run(spec, predictor=False)
    on = _run(spec, predictor=True, predictor_pool=500)
    assert len(on.evaluated) == len(off.evaluated) == 8 + 3 * 6            # equal evaluations
    stats = on.predictor
    assert stats["considered"] >= 3 * 400 and stats["screened_scored"] == 3 * 6
    assert stats["spearman_holdout"] > 0.5 and stats["spearman_prospective"] is not None
    assert off.predictor == {}
    # screened children are closer to the best than unscreened ones, compared within one data
    # configuration (data-aware runs split their slots over the data configurations differently)
    data = spec.space.largest().data
    best = Analytic().score_many([spec.space.largest()])[0]          # monotone scorer, no budget binds
    gaps = [best - np.mean([e.accuracy for e in r.evaluated[8:]])      # generations >= 1
            for r in (_run(spec, predictor=p, predictor_pool=500, fixed_data=data) for p in (False, True))]
    assert gaps[1] < 0.5 * gaps[0], gaps
    again = _run(spec, predictor=True, predictor_pool=500)
    assert [e.candidate.key for e in again.evaluated] == [e.candidate.key for e in on.evaluated]


def test_predictor_picks_fit_every_budget(tmp_path):
    spec = make_spec(tmp_path, board={"ram_kb": 40})
    pricer = Pricer(spec)
    out = Engine(spec.space, pricer, Analytic(), SearchConfig(population=8, generations=2, seed=1,
                                                              predictor=True, predictor_pool=300)).run()
    assert all(pricer.fits(e.candidate) for e in out.evaluated)


def test_gene_rows_round_trip_and_pool_is_vectorised(tmp_path):
    space = make_spec(tmp_path).space
    enc = Encoder(space)
    rng = np.random.default_rng(0)
    for cand in _sample(space, 100, 5):
        genes = enc.genes(cand, rng)                          # unused slots random
        assert enc.decode(genes) == cand == enc.decode(enc.canonical(genes[None])[0])
        assert np.array_equal(enc.features(genes[None])[0], enc.row(cand))
    parents = _sample(space, 3, 6)
    pool = enc.pool(parents, 3000, np.random.default_rng(1), prob=0.1, fixed_data=True)
    assert pool.shape == (3000, len(enc.choices))
    assert (pool[:, :2] == enc.genes(parents[0])[:2]).all()  # fixed data: data genes never change
    assert len(np.unique(enc.canonical(pool), axis=0)) > 1000
