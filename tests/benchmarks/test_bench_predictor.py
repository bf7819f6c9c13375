"""Predictor-accelerated search throughput on the quickstart task: candidates considered (ranked by the
predictor) per second and candidates scored (supernet subnet, BN recalibrated) per second; with racing
(search.race_samples) also the fully scored ones per second.

Run with `make bench` (pytest --benchmark-enable); figures land in the benchmark's extra_info.
An untrained supernet keeps it to seconds: throughput does not depend on the weights.
"""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "specs" / "quickstart.yaml"


@pytest.mark.parametrize("predictor, race", [(False, 0), (True, 0), (True, 100)],
                         ids=["plain", "predictor", "predictor-race"])
def test_bench_predictor_throughput(benchmark, tmp_path, predictor, race):
    if benchmark.disabled:
        pytest.skip("scores 30 quickstart candidates per case: runs with --benchmark-enable (make bench)")
    import torch

    from dnasgen.data import open_dataset
    from dnasgen.nn import Supernet
    from dnasgen.search.constraints import Pricer
    from dnasgen.search.engine import Engine, SearchConfig
    from dnasgen.search.scoring import SupernetScorer
    from dnasgen.spec import load_spec
    spec = load_spec(QUICKSTART)
    torch.manual_seed(0)
    scorer = SupernetScorer(Supernet(spec.space).eval(), open_dataset(spec, cache_dir=tmp_path / "data"), spec)
    scorer.score_many([spec.space.largest()])              # warm-up: builds the preprocessed arrays
    cfg = SearchConfig(population=12, generations=2, seed=0, predictor=predictor, predictor_pool=2500,
                       race_samples=race)

    def run():
        return Engine(spec.space, Pricer(spec), scorer, cfg).run()
    out = benchmark.pedantic(run, rounds=1, iterations=1)
    scored = len(out.evaluated) + out.racing.get("race_only", 0)
    considered = out.predictor.get("considered", 0) + scored
    assert scored == cfg.target_evaluations and (len(out.evaluated) < scored) == bool(race)
    assert (considered >= 2 * 2000) == predictor
    benchmark.extra_info.update(considered=considered, scored=scored, full=len(out.evaluated),
                                seconds=out.elapsed_s, considered_per_s=considered / out.elapsed_s,
                                scored_per_s=scored / out.elapsed_s,
                                fully_scored_per_s=len(out.evaluated) / out.elapsed_s,
                                spearman_holdout=out.predictor.get("spearman_holdout"))
