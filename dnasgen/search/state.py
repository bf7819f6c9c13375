"""Resumable search state: one versioned JSON file per strategy in `<workdir>/.dnasgen/`.

The state is saved atomically after every generation (and every few scores), so an
interrupted search resumes where it stopped. The RNG state is stored at generation
boundaries; scores are memoised per candidate key, so a resumed run regenerates the same
children, takes their scores from the memo and ends with the same result.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

STATE_VERSION = 1
ARTIFACTS = ".dnasgen"          # <project>/.dnasgen: stage artifacts (supernet.pt, data cache, search state)
DATA_CACHE = "data"             # <project>/.dnasgen/data: the dataset cache every stage opens (build, train, export)


def data_cache(workdir: Path) -> Path:
    """The project's dataset cache: the one `dnasgen build/train/export` use, so it is built once."""
    return Path(workdir) / ARTIFACTS / DATA_CACHE


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a temp file in the same directory, then os.replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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

    def to_dict(self) -> dict:
        return {"version": STATE_VERSION, "fingerprint": self.fingerprint, "generation": self.generation,
                "population": self.population, "memo": self.memo, "committed": self.committed,
                "rng": _rng_to_json(self.rng) if self.rng is not None else None,
                "elapsed_s": self.elapsed_s, "done": self.done, "stop_reason": self.stop_reason}

    @classmethod
    def from_dict(cls, obj: dict) -> "SearchState":
        return cls(obj["fingerprint"], int(obj["generation"]), list(obj["population"]),
                   {k: float(v) for k, v in obj["memo"].items()}, int(obj.get("committed", 0)),
                   _rng_from_json(obj["rng"]) if obj.get("rng") is not None else None,
                   float(obj.get("elapsed_s", 0.0)), bool(obj.get("done", False)),
                   str(obj.get("stop_reason", "")))

    def seen(self) -> set[str]:
        """Keys scored before the current generation began (a resumed generation sees the same)."""
        return set(list(self.memo)[:self.committed])

    def save(self, path: Path) -> None:
        atomic_write_text(path, json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: Path, fingerprint: str) -> "SearchState":
        """The saved state when it belongs to this search (same fingerprint), else a fresh one."""
        path = Path(path)
        if path.exists():
            try:
                obj = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                obj = None
            if obj and obj.get("version") == STATE_VERSION and obj.get("fingerprint") == fingerprint:
                return cls.from_dict(obj)
        return cls(fingerprint)


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes (identifies the supernet a memo of scores belongs to)."""
    import hashlib
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
