"""Pareto front, choice rule, result round trip and the report files."""
from __future__ import annotations

import random

from dnasgen.candidate import DataConfig, SearchSpace
from dnasgen.search.pareto import Evaluated, best_per_data_config, choose, dominates, pareto_front

SPACE = SearchSpace(resolutions=(32, 48), colors=("grayscale", "rgb"), widths=(0.25, 0.35),
                    depths=((1,), (1, 2), (1, 2), (1, 2), (1,), (1,), (1,)), kernels=(3, 5), expands=(3, 6))


def ev(acc, ram, flash=100, lat=1.0, seed=0, data=None):
    cand = SPACE.sample(random.Random(seed), data=data)
    return Evaluated(cand, acc, {"ram_bytes": ram, "flash_bytes": flash, "latency_ms": lat, "macs": 1,
                                 "params": 1, "fits": True, "violations": []})


def test_dominance_and_front():
    a, b, c, d = ev(0.9, 100, seed=1), ev(0.8, 200, seed=2), ev(0.95, 300, seed=3), ev(0.9, 100, lat=2, seed=4)
    assert dominates(a, b) and not dominates(b, a) and dominates(a, d) and not dominates(a, c)
    front = pareto_front([a, b, c, d])
    assert [e.accuracy for e in front] == [0.95, 0.9] and front[1] is a
    # per-objective front: accuracy vs RAM only
    ram_front = {e.candidate.key for e in pareto_front([a, b, c, d], ("ram_bytes",))}
    assert ram_front == {a.candidate.key, c.candidate.key, d.candidate.key}   # a, d equal in both


def test_choose_highest_accuracy_ties_broken_by_latency():
    slow, fast, worse = ev(0.9, 50, lat=5.0, seed=1), ev(0.9, 90, lat=2.0, seed=2), ev(0.85, 10, lat=0.1, seed=3)
    assert choose([slow, fast, worse]) is fast
    assert choose([worse, slow]) is slow


def test_best_per_data_config_groups_by_label():
    items = [ev(0.7, 1, seed=i, data=DataConfig(r, c)) for i, (r, c) in
             enumerate([(32, "rgb"), (48, "grayscale"), (32, "rgb")])] + [ev(0.8, 1, seed=9, data=DataConfig(32, "rgb"))]
    best = best_per_data_config(items)
    assert list(best) == ["32px-rgb", "48px-grayscale"] and best["32px-rgb"].accuracy == 0.8


def test_search_result_round_trips_and_bad_files_are_clean_errors(tmp_path):
    import json

    import pytest

    from dnasgen.errors import DnasgenError
    from dnasgen.search.result import SearchResult
    items = [ev(0.9, 100, seed=1), ev(0.8, 200, seed=2)]
    res = SearchResult("evolution", "s", "b", {"ram_bytes": 1}, {}, choose(items), items, 1.5, "budget", 2)
    back = SearchResult.load(res.save(tmp_path / "search.json"))
    assert back.candidate == items[0].candidate and back.to_dict() == res.to_dict()
    (tmp_path / "old.json").write_text(json.dumps({**res.to_dict(), "version": 0}))
    (tmp_path / "cut.json").write_text((tmp_path / "search.json").read_text()[:200])
    (tmp_path / "bare.json").write_text(json.dumps({"version": res.to_dict()["version"]}))
    for name in ("old.json", "cut.json", "bare.json"):
        with pytest.raises(DnasgenError, match="not a usable search result"):
            SearchResult.load(tmp_path / name)
