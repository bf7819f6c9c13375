"""Search speed: candidates scored per minute (≤ 64 px) and `--compare` on the quickstart task.

Run with `make bench` (pytest --benchmark-enable). Figures land in the benchmark's extra_info
(and, for --compare, in the report folder); the comparison is printed with -s.
"""
from __future__ import annotations

import random
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "specs" / "quickstart.yaml"


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    from dnasgen.spec import load_spec
    return load_spec(QUICKSTART), tmp_path_factory.mktemp("bench_search")


def test_bench_candidates_scored_per_minute(benchmark, quickstart):
    """BN recalibration + validation accuracy of feasible candidates at the quickstart's 32-48 px."""
    import torch

    from dnasgen.data import open_dataset
    from dnasgen.nn import Supernet
    from dnasgen.search.constraints import Pricer
    from dnasgen.search.scoring import SupernetScorer
    spec, work = quickstart
    assert max(spec.space.resolutions) <= 64
    torch.manual_seed(0)
    bundle = open_dataset(spec, cache_dir=work / "data")
    scorer = SupernetScorer(Supernet(spec.space).eval(), bundle, spec)
    pricer, rng = Pricer(spec), random.Random(0)
    cands = [c for c in (spec.space.sample(rng) for _ in range(40)) if pricer.fits(c)][:8]
    scores = benchmark.pedantic(lambda: scorer.score_many(cands), rounds=3, iterations=1,
                                warmup_rounds=1)      # the warm-up builds the preprocessed-array cache
    assert len(scores) == len(cands) and all(0.0 <= s <= 1.0 for s in scores)
    per_min = 60.0 * len(cands) / benchmark.stats.stats.median if benchmark.stats else None
    benchmark.extra_info.update(candidates=len(cands), eval_samples=spec.search.eval_samples,
                                bn_recal_samples=spec.train.bn_recal_samples,
                                threads=torch.get_num_threads(), candidates_per_minute=per_min)


def test_bench_compare_quickstart(benchmark, quickstart, capsys):
    """Data-aware vs hardware-aware vs random at equal evaluation counts (trains the supernet once)."""
    if benchmark.disabled:
        pytest.skip("trains the quickstart supernet: runs with --benchmark-enable (make bench)")
    from dnasgen.search import compare
    spec, work = quickstart
    table = benchmark.pedantic(lambda: compare(spec, work / "quickstart"), rounds=1, iterations=1)
    rows = table.rows()
    assert [r["strategy"] for r in rows] == ["evolution", "hardware_aware", "random"]
    assert len({r["evaluations"] for r in rows}) == 1
    benchmark.extra_info["comparison"] = rows
    with capsys.disabled():
        print("\n" + table.markdown())
