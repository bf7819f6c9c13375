"""Pareto fronts and the choice of the final candidate (pure Python, no heavy imports).

An `Evaluated` is one scored candidate with its cost report. Accuracy is maximised;
RAM, flash and latency are minimised.
"""
from __future__ import annotations

from dataclasses import dataclass

from dnasgen.candidate import Candidate

COST_OBJECTIVES = ("ram_bytes", "flash_bytes", "latency_ms")


@dataclass(frozen=True)
class Evaluated:
    candidate: Candidate
    accuracy: float
    cost: dict   # the cost model's CostReport.to_dict()

    def objective(self, name: str) -> float:
        value = self.cost.get(name)
        return float("inf") if value is None else float(value)

    def rank_key(self) -> tuple:
        """Sort key for 'best first': accuracy desc, then latency, RAM, flash asc, then key."""
        return (-self.accuracy, self.objective("latency_ms"), self.objective("ram_bytes"),
                self.objective("flash_bytes"), self.candidate.key)

    def to_dict(self) -> dict:
        return {"candidate": self.candidate.to_dict(), "accuracy": self.accuracy,
                "cost": {k: v for k, v in self.cost.items()}}

    @classmethod
    def from_dict(cls, obj: dict) -> "Evaluated":
        return cls(Candidate.from_dict(obj["candidate"]), float(obj["accuracy"]), dict(obj["cost"]))


def dominates(a: Evaluated, b: Evaluated, costs: tuple[str, ...] = COST_OBJECTIVES) -> bool:
    """True when a is at least as good as b everywhere and strictly better somewhere."""
    not_worse = a.accuracy >= b.accuracy and all(a.objective(c) <= b.objective(c) for c in costs)
    better = a.accuracy > b.accuracy or any(a.objective(c) < b.objective(c) for c in costs)
    return not_worse and better


def pareto_front(items: list[Evaluated], costs: tuple[str, ...] = COST_OBJECTIVES) -> list[Evaluated]:
    """Non-dominated items (accuracy up, the given costs down), best accuracy first."""
    unique = {e.candidate.key: e for e in items}.values()
    front = [e for e in unique if not any(dominates(o, e, costs) for o in unique if o is not e)]
    return sorted(front, key=Evaluated.rank_key)


def choose(items: list[Evaluated]) -> Evaluated:
    """Highest accuracy; ties broken by latency (then RAM, flash and the key, for determinism).

    Callers pass only feasible candidates: the search never scores an infeasible one.
    """
    if not items:
        raise ValueError("no evaluated candidates to choose from")
    return min(items, key=Evaluated.rank_key)


def best_per_data_config(items: list[Evaluated]) -> dict[str, Evaluated]:
    """The chosen candidate within each data configuration, keyed by its label (e.g. 64px-rgb)."""
    groups: dict[str, list[Evaluated]] = {}
    for e in items:
        groups.setdefault(e.candidate.data.label, []).append(e)
    ordered = sorted(groups, key=lambda lbl: (_res(groups[lbl]), groups[lbl][0].candidate.data.color))
    return {lbl: choose(groups[lbl]) for lbl in ordered}


def _res(group: list[Evaluated]) -> int:
    return group[0].candidate.data.resolution
