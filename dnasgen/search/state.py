"""Resumable search state: one versioned JSON file per strategy in `<workdir>/.dnasgen/`.

The state is saved atomically after every generation (and every few scores), so an
interrupted search resumes where it stopped. The RNG state is stored at generation
boundaries; scores are memoised per candidate key, so a resumed run regenerates the same
children, takes their scores from the memo and ends with the same result.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

from dnasgen.io import atomic_write_json, atomic_write_text, read_json
from dnasgen.layout import WORK_NAME

STATE_VERSION = 1
ARTIFACTS = WORK_NAME           # <project>/.dnasgen: stage artifacts (supernet.pt, data cache, search state)
DATA_CACHE = "data"             # <project>/.dnasgen/data: the dataset cache every stage opens (build, train, export)


DIFF_FIELDS = "diff_"           # search.diff_*: read by the differentiable search only
RESCORE_FIELDS = "rescore_"     # search.rescore_*: read after the search (its own records, dnasgen.search.rescore)


def scored_search_hash(spec) -> str:
    """Hash of what a supernet-scored search (evolution, hardware_aware, random) and its fine-tuning
    read: task, dataset, sensor, search and train, the differentiable search's and the re-scoring's
    settings pinned to their defaults (setting those keeps the evolution's saved state and the sweep's
    fine-tuned winners)."""
    defaults = {f.name: f.default for f in fields(spec.search) if f.name.startswith((DIFF_FIELDS, RESCORE_FIELDS))}
    return spec.section_hash("task", "dataset", "sensor", "search", "train", pinned={"search": defaults})


def data_cache(workdir: Path) -> Path:
    """The project's dataset cache: the one `dnasgen build/train/export` use, so it is built once."""
    return Path(workdir) / ARTIFACTS / DATA_CACHE


def write_record(path: Path, obj: dict) -> Path:
    """The search's JSON records (search*.json, comparison.json, finetune.json): indent 1, keys in
    insertion order, final newline, written atomically."""
    return atomic_write_json(path, obj, indent=1, sort_keys=False, default=None)


def _rng_to_json(state) -> list:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _rng_from_json(obj) -> tuple:
    return (obj[0], tuple(obj[1]), obj[2])


@dataclass
class SearchState:
    fingerprint: str
    generation: int = 0                                  # next generation to run (0 = initial population)
    population: list[str] = field(default_factory=list)  # candidate keys
    memo: dict[str, float] = field(default_factory=dict)  # candidate key -> accuracy, in scoring order
    committed: int = 0                                   # memo entries at the last generation boundary
    rng: tuple | None = None
    elapsed_s: float = 0.0
    done: bool = False
    stop_reason: str = ""
    predicted: dict[str, float] = field(default_factory=dict)   # predictor's estimate, made before scoring
    considered: dict[int, int] = field(default_factory=dict)    # generation -> pool ranked by the predictor
    race: dict[str, float] = field(default_factory=dict)        # racing: candidate key -> race-stage score
    partial: list[str] = field(default_factory=list)            # memo keys holding a race score only

    def to_dict(self) -> dict:
        return {"version": STATE_VERSION, "fingerprint": self.fingerprint, "generation": self.generation,
                "population": self.population, "memo": self.memo, "committed": self.committed,
                "rng": _rng_to_json(self.rng) if self.rng is not None else None,
                "elapsed_s": self.elapsed_s, "done": self.done, "stop_reason": self.stop_reason,
                "predicted": self.predicted, "considered": {str(k): v for k, v in self.considered.items()},
                "race": self.race, "partial": self.partial}

    @classmethod
    def from_dict(cls, obj: dict) -> "SearchState":
        return cls(obj["fingerprint"], int(obj["generation"]), list(obj["population"]),
                   {k: float(v) for k, v in obj["memo"].items()}, int(obj.get("committed", 0)),
                   _rng_from_json(obj["rng"]) if obj.get("rng") is not None else None,
                   float(obj.get("elapsed_s", 0.0)), bool(obj.get("done", False)),
                   str(obj.get("stop_reason", "")), {k: float(v) for k, v in obj.get("predicted", {}).items()},
                   {int(k): int(v) for k, v in obj.get("considered", {}).items()},
                   {k: float(v) for k, v in obj.get("race", {}).items()}, list(obj.get("partial", [])))

    def seen(self) -> set[str]:
        """Keys scored before the current generation began (a resumed generation sees the same)."""
        return set(list(self.memo)[:self.committed])

    def save(self, path: Path) -> None:
        atomic_write_text(path, json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: Path, fingerprint: str) -> "SearchState":
        """The saved state when it belongs to this search (same fingerprint), else a fresh one."""
        obj = read_json(path)
        if obj and obj.get("version") == STATE_VERSION and obj.get("fingerprint") == fingerprint:
            return cls.from_dict(obj)
        return cls(fingerprint)

