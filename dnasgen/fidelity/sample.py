"""The candidates of a fidelity run: stratified over the feasible data configurations and sizes.

Round 0 and 1 take, for every feasible data configuration, its smallest architecture and its
largest one that fits the budgets (alternating which comes first, so a run with fewer candidates
than twice the data configurations still mixes small and large); later rounds take random
feasible architectures of each data configuration. Deterministic from the seed.
"""
from __future__ import annotations

import random

from dnasgen.candidate import Candidate, DataConfig
from dnasgen.errors import DnasgenError
from dnasgen.search.constraints import Pricer, feasible_data_configs, repair

MAX_TRIES = 50      # per wanted candidate, for a new feasible random one


def _extreme(spec, data: DataConfig, large: bool, pricer: Pricer, rng: random.Random) -> Candidate | None:
    cand = spec.space.largest(data) if large else spec.space.smallest(data)
    return repair(spec.space, cand, pricer, rng, fixed_data=True)


def _random(spec, data: DataConfig, pricer: Pricer, rng: random.Random) -> Candidate | None:
    return repair(spec.space, spec.space.sample(rng, data), pricer, rng, fixed_data=True)


def _pick(spec, data: DataConfig, rnd: int, i: int, pricer: Pricer, rng: random.Random) -> Candidate | None:
    if rnd < 2:
        return _extreme(spec, data, large=(rnd + i) % 2 == 1, pricer=pricer, rng=rng)
    return _random(spec, data, pricer, rng)


def sample_candidates(spec, n: int, seed: int = 0, pricer: Pricer | None = None) -> list[Candidate]:
    """n distinct feasible candidates, round-robin over the feasible data configurations."""
    if n < 2:
        raise DnasgenError(f"--candidates must be at least 2 to rank anything (got {n})")
    pricer = pricer or Pricer(spec)
    datas = feasible_data_configs(spec, pricer, spec.space.data_configs())
    rng = random.Random(seed)
    out: dict[str, Candidate] = {}
    misses, rnd = 0, 0
    while len(out) < n and misses < MAX_TRIES * n:
        for i, data in enumerate(datas):
            cand = _pick(spec, data, rnd, i, pricer, rng)
            if cand is None or cand.key in out:
                misses += 1
                continue
            out[cand.key] = cand
            if len(out) == n:
                break
        rnd += 1
    if len(out) < 2:
        raise DnasgenError("the search space holds fewer than 2 distinct feasible candidates; cannot rank")
    return list(out.values())
