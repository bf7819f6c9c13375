"""SearchResult and ComparisonTable: versioned, JSON round-trippable records of a search."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from dnasgen.candidate import Candidate
from dnasgen.errors import DnasgenError
from dnasgen.search.pareto import Evaluated, best_per_data_config, pareto_front
from dnasgen.search.state import write_record

RESULT_VERSION = 1


@dataclass
class SearchResult:
    strategy: str
    spec_name: str
    board_id: str
    budgets: dict                     # ram_bytes, flash_bytes, latency_ms
    config: dict                      # SearchConfig.identity()
    chosen: Evaluated
    evaluated: list[Evaluated]        # every scored candidate, in scoring order
    elapsed_s: float
    stop_reason: str
    generations: int
    supernet: str = ""                # checkpoint digest the scores belong to
    holdout: dict = field(default_factory=dict)   # report-only test accuracy, e.g. {"chosen": 0.91}
    predictor: dict = field(default_factory=dict)  # search.predictor: candidates considered, rank correlations
    differentiable: dict = field(default_factory=dict)  # strategy differentiable: argmax, repair, strengths, log
    racing: dict = field(default_factory=dict)    # search.race_samples: raced, race_only, full counts
    rescore: dict = field(default_factory=dict)   # search.rescore_top: the top re-scored by stand-alone training
    baseline: "SearchResult | None" = field(default=None, repr=False, compare=False)  # this run's, not saved

    @property
    def candidate(self) -> Candidate:
        return self.chosen.candidate

    @property
    def evaluations(self) -> int:
        """Candidates scored: fully (evaluated) and, with racing, on the race stage only."""
        return len(self.evaluated) + int(self.racing.get("race_only", 0))

    @property
    def pareto(self) -> list[Evaluated]:
        return pareto_front(self.evaluated)

    def top(self, n: int = 10) -> list[Evaluated]:
        return sorted(self.evaluated, key=Evaluated.rank_key)[:n]

    def best_per_data(self) -> dict[str, Evaluated]:
        return best_per_data_config(self.evaluated)

    def to_dict(self) -> dict:
        return {
            "version": RESULT_VERSION, "strategy": self.strategy, "spec": self.spec_name,
            "board": self.board_id, "budgets": self.budgets, "config": self.config,
            "candidate": self.candidate.to_dict(), "chosen": self.chosen.to_dict(),
            "evaluations": self.evaluations, "generations": self.generations,
            "elapsed_s": round(self.elapsed_s, 3), "stop_reason": self.stop_reason, "supernet": self.supernet,
            "holdout": self.holdout, "predictor": self.predictor, "differentiable": self.differentiable,
            **({"racing": self.racing} if self.racing else {}),
            **({"rescore": self.rescore} if self.rescore else {}),
            "pareto": [e.to_dict() for e in self.pareto],
            "best_per_data_config": {k: e.to_dict() for k, e in self.best_per_data().items()},
            "evaluated": [e.to_dict() for e in self.evaluated],
        }

    @classmethod
    def from_dict(cls, obj: dict) -> "SearchResult":
        if obj.get("version") != RESULT_VERSION:
            raise ValueError(f"search result version {obj.get('version')!r}, expected {RESULT_VERSION}")
        return cls(obj["strategy"], obj["spec"], obj["board"], obj["budgets"], obj["config"],
                   Evaluated.from_dict(obj["chosen"]), [Evaluated.from_dict(e) for e in obj["evaluated"]],
                   float(obj["elapsed_s"]), obj["stop_reason"], int(obj["generations"]),
                   obj.get("supernet", ""), dict(obj.get("holdout", {})),
                   dict(obj.get("predictor", {})), dict(obj.get("differentiable", {})),
                   dict(obj.get("racing", {})), dict(obj.get("rescore", {})))

    def save(self, path: Path) -> Path:
        return write_record(path, self.to_dict())

    @classmethod
    def load(cls, path: Path) -> "SearchResult":
        """A saved result; an unreadable or other-version file is a DnasgenError (search again)."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (ValueError, KeyError, TypeError) as exc:     # JSONDecodeError is a ValueError
            raise DnasgenError(f"{path}: not a usable search result ({exc}); run `dnasgen search` "
                               "again") from exc


@dataclass
class ComparisonTable:
    """Strategies run with the same supernet, budgets and number of evaluated candidates."""
    results: dict[str, SearchResult]       # strategy -> result

    def rows(self) -> list[dict]:
        out = []
        for name, r in self.results.items():
            c = r.chosen
            out.append({"strategy": name, "evaluations": r.evaluations, "val_accuracy": c.accuracy,
                        "test_accuracy": r.holdout.get("chosen"), "data_config": c.candidate.data.label,
                        "width": c.candidate.arch.width, "ram_bytes": c.cost["ram_bytes"],
                        "flash_bytes": c.cost["flash_bytes"], "latency_ms": c.cost["latency_ms"],
                        "macs": c.cost["macs"], "pareto_size": len(r.pareto),
                        "elapsed_s": round(r.elapsed_s, 1)})
        return out

    def to_dict(self) -> dict:
        first = next(iter(self.results.values()))
        return {"version": RESULT_VERSION, "spec": first.spec_name, "board": first.board_id,
                "budgets": first.budgets, "supernet": first.supernet, "rows": self.rows(),
                "candidates": {k: r.candidate.to_dict() for k, r in self.results.items()}}

    def markdown(self) -> str:
        head = ("| strategy | evaluations | val acc | test acc | data config | width | RAM B | flash B "
                "| latency ms | MACs | Pareto | time s |")
        lines = [head, "|" + "---|" * 12]
        for row in self.rows():
            test = "–" if row["test_accuracy"] is None else f"{row['test_accuracy']:.3f}"
            lines.append(f"| {row['strategy']} | {row['evaluations']} | {row['val_accuracy']:.3f} | {test} "
                         f"| {row['data_config']} | {row['width']:g} | {row['ram_bytes']:,} "
                         f"| {row['flash_bytes']:,} | {row['latency_ms']:.2f} | {row['macs']:,} "
                         f"| {row['pareto_size']} | {row['elapsed_s']:g} |")
        return "\n".join(lines) + "\n"


STRATEGY_LABELS = {"evolution": "data-aware", "hardware_aware": "hardware-aware", "random": "random"}


def checkpoint_of(supernet: str) -> str:
    """The checkpoint digest of a scorer identity (the build appends "+code:..." to it)."""
    return supernet.split("+", 1)[0]


def versus(result: SearchResult, baseline: SearchResult | None) -> list[dict] | None:
    """ComparisonTable rows of a result and its hardware-aware baseline when they are comparable
    (same supernet checkpoint and budgets, different strategies), else None."""
    if baseline is None or baseline.strategy == result.strategy \
            or checkpoint_of(result.supernet) != checkpoint_of(baseline.supernet) \
            or result.budgets != baseline.budgets:
        return None
    return ComparisonTable({result.strategy: result, baseline.strategy: baseline}).rows()


def _choice(row: dict, verb: str = "") -> str:
    return (f"{STRATEGY_LABELS.get(row['strategy'], row['strategy'])}{verb} "
            f"{row['data_config']} width {row['width']:g} (val acc {row['val_accuracy']:.3f})")


def versus_line(rows: list[dict]) -> str:
    """ "data-aware chose 32px-rgb width 0.35 (val acc 0.882) vs hardware-aware 48px-rgb ..." """
    ours, base = rows
    counts = {ours["evaluations"], base["evaluations"]}
    each = f"{ours['evaluations']} candidates each" if len(counts) == 1 else \
        f"{ours['evaluations']} vs {base['evaluations']} candidates"
    return (f"{_choice(ours, ' chose')} vs {_choice(base)}; {each}, same supernet "
            "(supernet subnets, BN recalibrated)")
