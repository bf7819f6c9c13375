"""Constraint-first pricing: every candidate is priced by the cost model before it is scored.

`Pricer` memoises `dnasgen.cost.estimate_spec` per candidate key: the spec's board, classes,
head, latency limit and sensor pixel format (which sizes the preprocessing code and buffer), so
the search's RAM/flash figures are the generated firmware's. `repair` shrinks an infeasible
candidate one gene at a time (random gene group, seeded) until it fits every budget at once;
`feasible_data_configs` raises BudgetError, naming the budget and the closest candidate's cost,
when not even the smallest candidate of any allowed data configuration fits.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Callable

from dnasgen.candidate import ArchConfig, Candidate, DataConfig, SearchSpace, StageConfig
from dnasgen.errors import BudgetError
from dnasgen.io import json_digest

GENE_GROUPS = ("resolution", "color", "width", "depth", "kernel", "expand")
DATA_GROUPS = ("resolution", "color")


@dataclass(frozen=True)
class Budgets:
    ram_bytes: int
    flash_bytes: int
    latency_ms: float | None

    @classmethod
    def from_spec(cls, spec) -> "Budgets":
        return cls(spec.board.ram_budget_bytes, spec.board.flash_budget_bytes,
                   spec.constraints.max_latency_ms)

    def overshoot(self, cost: dict) -> float:
        """Sum of relative excess over every budget (0 when the cost fits)."""
        pairs = [(cost["ram_bytes"], self.ram_bytes), (cost["flash_bytes"], self.flash_bytes)]
        if self.latency_ms is not None:
            pairs.append((cost["latency_ms"], self.latency_ms))
        return sum(max(0.0, value / limit - 1.0) for value, limit in pairs)

    def to_dict(self) -> dict:
        return {"ram_bytes": self.ram_bytes, "flash_bytes": self.flash_bytes, "latency_ms": self.latency_ms}


def _spec_estimator(spec) -> Callable[[Candidate], dict]:
    from dnasgen.cost import estimate_spec

    def price(cand: Candidate) -> dict:      # board, classes, head, latency limit, sensor format
        return estimate_spec(spec, cand).to_dict()
    return price


def cost_model_identity() -> str:
    """Digest of the cost model's data files and the firmware layouts it prices (dnasgen.abi):
    a recalibration or a layout change invalidates a saved search state."""
    from dnasgen import abi
    from dnasgen.cost import footprint_table, latency_table
    return json_digest([footprint_table(), latency_table(), abi.facts()])[:16]


def _layer_latency(spec) -> Callable[[Candidate], float]:
    """The candidate's layer-by-layer latency (ms) as the cost model computes it (the op cycles of
    its graph over the clock, memoised per op geometry), without the memory plan: a lower bound of
    every plan's latency (a patch stage never makes an op faster, dnasgen.cost.model.choose_plan),
    so a candidate over the latency budget by it is over the budget by the full estimate too, at a
    graph build and a sum."""
    from dnasgen.cost.latency import cycles_ms
    from dnasgen.cost.model import graph_cycles
    from dnasgen.graph import build_graph
    core, clock = spec.board.core, spec.board.clock_mhz

    def latency_ms(cand: Candidate) -> float:
        return cycles_ms(sum(graph_cycles(build_graph(cand, spec.num_classes, spec.space.head_channels), core)), clock)
    return latency_ms


class Pricer:
    """Memoised cost model for one spec (board, classes, head, latency limit). `fits` first rejects
    a candidate over the latency budget by its layer-by-layer latency (same answer, cheaper)."""

    def __init__(self, spec, estimator: Callable[[Candidate], dict] | None = None):
        self.budgets = Budgets.from_spec(spec)
        self._estimate = estimator or _spec_estimator(spec)
        self._latency = _layer_latency(spec) if estimator is None and self.budgets.latency_ms is not None else None
        self._cache: dict[str, dict] = {}
        self._too_slow: set[str] = set()
        self.priced = 0

    def cost(self, cand: Candidate) -> dict:
        key = cand.key
        if key not in self._cache:
            self._cache[key] = self._estimate(cand)
            self.priced += 1
        return self._cache[key]

    def fits(self, cand: Candidate) -> bool:
        key = cand.key
        if key in self._too_slow:
            return False
        if self._latency is not None and key not in self._cache and self._latency(cand) > self.budgets.latency_ms:
            self._too_slow.add(key)
            return False
        return not self.cost(cand)["violations"]


def _smaller(value, choices) -> list:
    return [c for c in choices if c < value]


def _shrink_data(space: SearchSpace, cand: Candidate, group: str) -> list[Candidate]:
    d = cand.data
    if group == "resolution":
        return [replace(cand, data=DataConfig(r, d.color)) for r in _smaller(d.resolution, space.resolutions)]
    if d.color == "rgb" and "grayscale" in space.colors:
        return [replace(cand, data=DataConfig(d.resolution, "grayscale"))]
    return []


def _with_stage(cand: Candidate, i: int, stage: StageConfig) -> Candidate:
    stages = cand.arch.stages[:i] + (stage,) + cand.arch.stages[i + 1:]
    return replace(cand, arch=ArchConfig(cand.arch.width, stages))


def _shrink_arch(space: SearchSpace, cand: Candidate, group: str) -> list[Candidate]:
    if group == "width":
        return [replace(cand, arch=ArchConfig(w, cand.arch.stages))
                for w in _smaller(cand.arch.width, space.widths)]
    out = []
    for i, st in enumerate(cand.arch.stages):
        if group == "depth":
            out += [_with_stage(cand, i, StageConfig(d, st.kernel[:d], st.expand[:d]))
                    for d in _smaller(st.depth, space.depths[i])]
            continue
        genes, choices = (st.kernel, space.kernels) if group == "kernel" else (st.expand,
                                                                               space.expand_choices(i))
        for j, g in enumerate(genes):
            for s in _smaller(g, choices):
                new = genes[:j] + (s,) + genes[j + 1:]
                kern, expd = (new, st.expand) if group == "kernel" else (st.kernel, new)
                out.append(_with_stage(cand, i, StageConfig(st.depth, kern, expd)))
    return out


def shrink_options(space: SearchSpace, cand: Candidate, group: str) -> list[Candidate]:
    """Every candidate one step smaller than cand in one gene of the given group."""
    if group in DATA_GROUPS:
        return _shrink_data(space, cand, group)
    return _shrink_arch(space, cand, group)


def data_fits(space: SearchSpace, data: DataConfig, pricer: Pricer) -> bool:
    """Whether some architecture fits with this data configuration (its smallest one does)."""
    return pricer.fits(space.smallest(data))


def _shrink_random(space: SearchSpace, cand: Candidate, groups: tuple[str, ...],
                   rng: random.Random) -> Candidate | None:
    """cand shrunk by one step in one random gene (random group first, then a random gene)."""
    order = list(groups)
    rng.shuffle(order)
    options = next((opts for g in order if (opts := shrink_options(space, cand, g))), None)
    return options[rng.randrange(len(options))] if options else None


def repair(space: SearchSpace, cand: Candidate, pricer: Pricer, rng: random.Random,
           fixed_data: bool = False, max_steps: int = 500) -> Candidate | None:
    """Make cand fit every budget, or None if it cannot.

    First the data configuration (unless fixed) is shrunk, one random data gene at a time, until
    some architecture fits with it; then random architecture genes are shrunk until the candidate
    fits. The sampled data configuration survives whenever it is feasible at all."""
    arch_groups = tuple(g for g in GENE_GROUPS if g not in DATA_GROUPS)
    for _ in range(max_steps):
        if pricer.fits(cand):
            return cand
        data_ok = fixed_data or data_fits(space, cand.data, pricer)
        cand = _shrink_random(space, cand, arch_groups if data_ok else DATA_GROUPS, rng)
        if cand is None:
            return None
    return cand if pricer.fits(cand) else None


def _describe(cand: Candidate, cost: dict) -> str:
    lat = f", latency {cost['latency_ms']:.2f} ms" if cost.get("latency_ms") is not None else ""
    return (f"{cand.data.label} width {cand.arch.width:g}: RAM {cost['ram_bytes']:,} B, "
            f"flash {cost['flash_bytes']:,} B{lat}")


def what_of(spec) -> str:
    return f"spec {spec.name!r} on board {spec.board.id}"


def budget_error(what: str, pricer: Pricer, candidates: list[Candidate]) -> BudgetError:
    """The error for 'nothing fits': the violated budgets of the closest candidate, with its cost."""
    closest = min(candidates, key=lambda c: (pricer.budgets.overshoot(pricer.cost(c)), c.key))
    cost = pricer.cost(closest)
    why = "; ".join(cost["violations"]) or "over budget"
    return BudgetError(
        f"no candidate fits {what}: {why}. "
        f"Closest candidate ({_describe(closest, cost)}) vs budgets RAM {pricer.budgets.ram_bytes:,} B, "
        f"flash {pricer.budgets.flash_bytes:,} B"
        + (f", latency {pricer.budgets.latency_ms:g} ms" if pricer.budgets.latency_ms is not None else "")
        + ". Relax the budget, pick a bigger board or add smaller choices to the search space.")


def feasible_data_configs(spec, pricer: Pricer, data_configs: list[DataConfig]) -> list[DataConfig]:
    """Data configurations whose smallest architecture fits; BudgetError when there is none."""
    smallest = [spec.space.smallest(d) for d in data_configs]
    ok = [d for d in data_configs if data_fits(spec.space, d, pricer)]
    if not ok:
        raise budget_error(what_of(spec), pricer, smallest)
    return ok


def largest_feasible_data(spec, pricer: Pricer) -> DataConfig:
    """The hardware-aware baseline's data configuration when the spec does not fix one:
    the highest resolution (RGB before grayscale) whose smallest network still fits."""
    ok = feasible_data_configs(spec, pricer, spec.space.data_configs())
    return max(ok, key=lambda d: (d.resolution, d.channels))
