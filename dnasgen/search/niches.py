"""Data-configuration niches of the data-aware evolution (pure Python).

Under binding budgets a small data configuration affords a big network and a large one only a
small network, so the configurations cannot be compared until each has had its networks sized to
the budget and searched a little. A population ranked by accuracy alone fills with whichever
configuration scored best first (measured on the quickstart: 38 of 48 scores in 48px-rgb, while
the better 32px-rgb networks were sampled twice). So each feasible data configuration is a niche:
its own elites are the parents of its own children, and each generation's child slots are split
over the niches by successive halving, the fixed-budget best-arm rule (the search wants the best
final candidate, not a high average): generation g of G keeps the best

    round(K ** (1 - (g - 1) / (G - 1)))

of the K niches (ranked by their best score; a niche without a score first) and splits its slots
evenly over them, the better niche taking the remainder. Generation 1 searches every niche, the
last one refines only the best niche's best networks. The number of scored children per
generation is unchanged: the split only decides where they go.
"""
from __future__ import annotations

from typing import Sequence

from dnasgen.candidate import DataConfig
from dnasgen.search.pareto import Evaluated


def by_data(items: Sequence[Evaluated]) -> dict[DataConfig, list[Evaluated]]:
    """The scored candidates per data configuration, best first."""
    out: dict[DataConfig, list[Evaluated]] = {}
    for e in sorted(items, key=Evaluated.rank_key):
        out.setdefault(e.candidate.data, []).append(e)
    return out


def kept(n_niches: int, generation: int, generations: int) -> int:
    """How many niches generation `generation` (1-based) of `generations` still searches."""
    if generations <= 1:
        return n_niches
    return max(1, round(n_niches ** (1 - (generation - 1) / (generations - 1))))


def allocate(niches: Sequence[DataConfig], scored: Sequence[Evaluated], slots: int,
             generation: int, generations: int) -> dict[DataConfig, int]:
    """Child slots per niche (summing to slots) for this generation, by successive halving."""
    groups = by_data(scored)
    ranked = sorted(range(len(niches)), key=lambda i: (niches[i] in groups,
                                                       groups[niches[i]][0].rank_key() if niches[i] in groups else (),
                                                       i))
    keep = [niches[i] for i in ranked[:kept(len(niches), generation, generations)]]
    out = {d: 0 for d in niches}
    for i in range(slots):
        out[keep[i % len(keep)]] += 1
    return out
