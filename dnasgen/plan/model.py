"""SearchPlan: what `dnasgen plan` compiles a spec into (versioned JSON artifact)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from dnasgen.candidate import Candidate, DataConfig
from dnasgen.io import atomic_write_text

PLAN_VERSION = 1
BUDGETS = ("ram", "flash", "latency", "all")


@dataclass(frozen=True)
class Pick:
    """A candidate with its cost figures (CostReport.to_dict())."""
    candidate: Candidate
    cost: dict

    def to_dict(self) -> dict:
        return {"candidate": self.candidate.to_dict(), "cost": dict(self.cost)}

    @classmethod
    def from_dict(cls, obj: dict) -> "Pick":
        return cls(Candidate.from_dict(obj["candidate"]), dict(obj["cost"]))


@dataclass(frozen=True)
class DataConfigPlan:
    """The floor of one data config: costs of the space's smallest architecture there."""
    data: DataConfig
    input_bytes: int          # the int8 input tensor alone
    min_ram_bytes: int
    min_flash_bytes: int
    min_latency_ms: float
    min_macs: int
    fits: bool                # does the smallest architecture fit every budget?
    violations: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"data": self.data.to_dict(), "input_bytes": self.input_bytes,
                "min_ram_bytes": self.min_ram_bytes, "min_flash_bytes": self.min_flash_bytes,
                "min_latency_ms": self.min_latency_ms, "min_macs": self.min_macs, "fits": self.fits,
                "violations": list(self.violations)}

    @classmethod
    def from_dict(cls, obj: dict) -> "DataConfigPlan":
        d = obj["data"]
        return cls(DataConfig(int(d["resolution"]), str(d["color"])), int(obj["input_bytes"]),
                   int(obj["min_ram_bytes"]), int(obj["min_flash_bytes"]), float(obj["min_latency_ms"]),
                   int(obj["min_macs"]), bool(obj["fits"]), tuple(obj["violations"]))


@dataclass(frozen=True)
class SearchPlan:
    spec_name: str
    spec_hash: str
    board: dict               # id, core, clock_mhz, ram_budget_bytes, flash_budget_bytes
    max_latency_ms: float | None
    space_size: int
    samples: int
    seed: int
    fit_fraction: dict        # ram, flash, latency, all -> fraction of the samples that fit
    data_configs: tuple[DataConfigPlan, ...]
    cheapest: Pick            # fewest MACs among the feasible candidates found
    largest_feasible: Pick    # most MACs among the feasible candidates found
    version: int = PLAN_VERSION

    @property
    def feasible_data_configs(self) -> list[DataConfig]:
        return [d.data for d in self.data_configs if d.fits]

    def to_dict(self) -> dict:
        return {"version": self.version, "spec_name": self.spec_name, "spec_hash": self.spec_hash,
                "board": dict(self.board), "max_latency_ms": self.max_latency_ms,
                "space_size": self.space_size, "samples": self.samples, "seed": self.seed,
                "fit_fraction": {k: self.fit_fraction[k] for k in BUDGETS},
                "data_configs": [d.to_dict() for d in self.data_configs],
                "cheapest": self.cheapest.to_dict(), "largest_feasible": self.largest_feasible.to_dict()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, obj: dict) -> "SearchPlan":
        if obj.get("version") != PLAN_VERSION:
            raise ValueError(f"plan version {obj.get('version')!r} is not {PLAN_VERSION}: re-run `dnasgen plan`")
        return cls(spec_name=obj["spec_name"], spec_hash=obj["spec_hash"], board=dict(obj["board"]),
                   max_latency_ms=obj["max_latency_ms"], space_size=int(obj["space_size"]),
                   samples=int(obj["samples"]), seed=int(obj["seed"]),
                   fit_fraction={k: float(obj["fit_fraction"][k]) for k in BUDGETS},
                   data_configs=tuple(DataConfigPlan.from_dict(d) for d in obj["data_configs"]),
                   cheapest=Pick.from_dict(obj["cheapest"]),
                   largest_feasible=Pick.from_dict(obj["largest_feasible"]), version=obj["version"])

    @classmethod
    def from_json(cls, text: str) -> "SearchPlan":
        return cls.from_dict(json.loads(text))


def write_plan(plan: SearchPlan, path: Path) -> Path:
    """Atomic write (dnasgen.io), parent folders created."""
    return atomic_write_text(path, plan.to_json() + "\n")


def read_plan(path: Path) -> SearchPlan:
    return SearchPlan.from_json(Path(path).read_text())
