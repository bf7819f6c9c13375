"""Predictor-accelerated search throughput on the quickstart task: candidates considered (ranked by the
predictor) per second and candidates scored (supernet subnet, BN recalibrated) per second; with racing
(search.race_samples) also the fully scored ones per second.

Run with `make bench` (pytest --benchmark-enable); figures land in the benchmark's extra_info.
An untrained supernet keeps it to seconds: throughput does not depend on the weights.
`test_bench_quickstart_default_search` runs the quickstart spec's own search settings (the demo's
default search) and breaks the wall down per score: milliseconds per race, per full score, per
exact price, and the rest (predictor pools and fits, repairs, state).
"""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "specs" / "quickstart.yaml"


def _scorer(spec, tmp_path):
    import torch

    from dnasgen.data import open_dataset
    from dnasgen.nn import Supernet
    from dnasgen.search.scoring import SupernetScorer
    torch.manual_seed(0)
    scorer = SupernetScorer(Supernet(spec.space).eval(), open_dataset(spec, cache_dir=tmp_path / "data"), spec)
    warm = [spec.space.smallest(data) for data in spec.space.data_configs()]
    scorer.score_many(warm)            # warm-up: every data configuration's preprocessed arrays and inputs
    if spec.search.race_samples:       # (else the timed run would count the dataset's preprocessing)
        scorer.race_many(warm, spec.search.race_samples, spec.search.race_recal_samples)
    return scorer


@pytest.mark.parametrize("predictor, race", [(False, 0), (True, 0), (True, 100)],
                         ids=["plain", "predictor", "predictor-race"])
def test_bench_predictor_throughput(benchmark, tmp_path, predictor, race):
    if benchmark.disabled:
        pytest.skip("scores 30 quickstart candidates per case: runs with --benchmark-enable (make bench)")
    from dnasgen.search.constraints import Pricer
    from dnasgen.search.engine import Engine, SearchConfig
    from dnasgen.spec import load_spec
    spec = load_spec(QUICKSTART)
    scorer = _scorer(spec, tmp_path)
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


class _Timed:
    """Wraps an object's methods, adding each call's wall seconds to `seconds[name]`."""

    def __init__(self, obj, names):
        import time
        self.seconds = dict.fromkeys(names, 0.0)
        for name in names:
            def timed(*args, _f=getattr(obj, name), _n=name, **kwargs):
                t = time.perf_counter()
                out = _f(*args, **kwargs)
                self.seconds[_n] += time.perf_counter() - t
                return out
            setattr(obj, name, timed)


def test_bench_quickstart_default_search(benchmark, tmp_path):
    """The quickstart spec's search (population, generations, predictor, racing as the spec sets
    them): candidates considered and supernet-scored per second, and the cost of each part."""
    if benchmark.disabled:
        pytest.skip("runs the quickstart's whole default search: runs with --benchmark-enable (make bench)")
    from dnasgen.search.constraints import Pricer
    from dnasgen.search.engine import Engine
    from dnasgen.search.runner import config_from_spec
    from dnasgen.spec import load_spec
    spec = load_spec(QUICKSTART)
    scorer, cfg = _scorer(spec, tmp_path), config_from_spec(spec, "evolution")
    scorer._nets.items.clear()                             # subnets are sliced within the timed run
    holder = {}

    def run():
        pricer = Pricer(spec)
        holder["scorer"] = _Timed(scorer, ("race_many", "score_many"))
        holder["pricer"], holder["price"] = pricer, _Timed(pricer, ("_estimate",))
        return Engine(spec.space, pricer, scorer, cfg).run()
    out = benchmark.pedantic(run, rounds=1, iterations=1)
    del scorer.race_many, scorer.score_many
    full, raced = len(out.evaluated), out.racing.get("raced", 0)
    scored = full + out.racing.get("race_only", 0)
    considered = out.predictor.get("considered", 0) + scored
    assert scored == cfg.target_evaluations and considered > scored
    seconds, priced = {**holder["scorer"].seconds, **holder["price"].seconds}, holder["pricer"].priced
    rest = out.elapsed_s - sum(seconds.values())
    benchmark.extra_info.update(
        considered=considered, scored=scored, full=full, raced=raced, priced=priced, seconds=out.elapsed_s,
        considered_per_s=considered / out.elapsed_s, scored_per_s=scored / out.elapsed_s,
        fully_scored_per_s=full / out.elapsed_s,
        ms_per_race=1000 * seconds["race_many"] / max(1, raced),
        ms_per_full_score=1000 * seconds["score_many"] / max(1, full),
        ms_per_exact_price=1000 * seconds["_estimate"] / max(1, priced),
        ms_rest_per_scored=1000 * rest / scored)
