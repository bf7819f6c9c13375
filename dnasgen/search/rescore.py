"""Re-scoring the top of a search by stand-alone training (search.rescore_top, rescore_epochs).

The supernet's score is a noisy proxy at the top: on caltech101_20class (55 ms) it ranked 48px-rgb
w0.25 (0.452) over 64px-rgb w0.25 (0.444), nets 5 points apart once trained. With rescore_top K the
search trains its K best fully scored candidates from random initialisation for rescore_epochs
(the final training's recipe, seed 0: dnasgen.search.standalone, whose records `dnasgen fidelity`
shares), and chooses the best of them by validation accuracy (ties: the supernet's order). The K
are the best candidate of each data configuration, in the supernet's order, then the next best
overall: a search confined to one data configuration (hardware-aware) re-scores its K best
architectures. Every strategy that chooses from supernet scores (evolution, hardware-aware, random)
is re-scored alike; the differentiable search chooses by its own selection. Never the test split.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from dnasgen.search.pareto import Evaluated
from dnasgen.search.result import SearchResult


def picks(evaluated: list[Evaluated], k: int) -> list[Evaluated]:
    """The best candidate of each data configuration in rank order, then the next best overall, k in all."""
    ranked = sorted(evaluated, key=Evaluated.rank_key)
    out, labels = [], set()
    for e in ranked:
        if len(out) < k and e.candidate.data.label not in labels:
            out.append(e)
            labels.add(e.candidate.data.label)
    out += [e for e in ranked if e not in out][:k - len(out)]
    return sorted(out, key=Evaluated.rank_key)


def rescore(spec, work: Path, result: SearchResult, scorer) -> SearchResult:
    """The result with its choice re-made by stand-alone training of its top (search.rescore_top >= 2);
    the record (candidates, supernet and re-scored accuracies, seconds) in result.rescore. Its seconds
    are the stand-alone trainings' (also when cached) and count in the result's elapsed_s."""
    k, epochs = spec.search.rescore_top, spec.search.rescore_epochs
    if k < 2 or len(result.evaluated) < 2:
        return result
    from dnasgen.search.standalone import Cache, standalone
    cache = Cache(work, spec, getattr(scorer, "identity", ""))
    top = picks(result.evaluated, k)
    runs = [standalone(cache, spec, scorer.bundle, e.candidate, epochs, 0) for e in top]
    rows = [{"candidate": e.candidate.key, "label": f"{e.candidate.data.label} w{e.candidate.arch.width:g}",
             "supernet": e.accuracy, "val": run["val"], "seconds": round(run["seconds"], 3)}
            for e, run in zip(top, runs)]
    best = max(range(len(top)), key=lambda i: (rows[i]["val"], -i))
    seconds = sum(r["seconds"] for r in rows)          # the training's, also when read from the cache
    record = {"top": k, "epochs": epochs, "candidates": rows, "chosen": top[best].candidate.key,
              "supernet_choice": result.chosen.candidate.key, "trained": cache.computed,
              "seconds": round(seconds, 3)}
    return replace(result, chosen=top[best], elapsed_s=result.elapsed_s + seconds, rescore=record)
