"""Stage cache keys and per-stage manifests: the build's cache (atomic writes and hashes: dnasgen.io).

A stage's cache key is the hash of what it depends on: the spec sections it reads
(Spec.section_hash), the hashes of its input artifacts and the tool version. Its
manifest (.dnasgen/<stage>.manifest.json) stores that key and the sha256 of every
file it produced. A stage is reused only when the key matches AND every output file
still hashes to what the manifest recorded: a truncated or edited artifact is rebuilt,
never used. The manifest is written last (atomically), so it is the commit point of a
stage: a build killed mid-stage leaves no manifest and the stage simply runs again.
"""
from __future__ import annotations

import functools
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dnasgen.io import atomic_write_json, read_json, sha256_file

MANIFEST_VERSION = 1


TEMPLATES = "@templates"        # code_fingerprint: the firmware templates, wherever they live


@functools.lru_cache(maxsize=None)
def code_fingerprint(parts: tuple[str, ...]) -> str:
    """sha256 over the source/data files of the given dnasgen modules (paths relative to the
    package, e.g. "nn", "graph.py", or TEMPLATES): a stage's result depends on its code too, so
    editing the cost model's coefficients or a template re-runs exactly the stages using them."""
    import dnasgen
    root = Path(dnasgen.__file__).parent
    digest = hashlib.sha256()
    for part in parts:
        if part == TEMPLATES:
            from dnasgen.codegen.render import template_root
            base = template_root()
        else:
            base = root / part
        files = {part: base} if base.is_file() else {
            f"{part}/{p.relative_to(base).as_posix()}": p for p in sorted(base.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}
        for label, path in files.items():
            digest.update(f"{label}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass
class Manifest:
    """What one stage produced under which key (JSON on disk)."""
    stage: str
    key: str
    outputs: dict[str, dict]           # artifact name -> {"path": rel to project, "sha256": hex}
    inputs: dict[str, str] = field(default_factory=dict)   # artifact name -> sha256
    sections: list[str] = field(default_factory=list)
    info: dict = field(default_factory=dict)   # stage figures for the summary
    seconds: float = 0.0
    finished: float = 0.0
    tool_version: str = ""
    version: int = MANIFEST_VERSION

    @classmethod
    def from_dict(cls, obj: dict) -> "Manifest | None":
        if obj.get("version") != MANIFEST_VERSION or not _valid_outputs(obj.get("outputs")):
            return None
        try:
            return cls(**{k: obj[k] for k in cls.__dataclass_fields__ if k in obj})
        except TypeError:
            return None


def _valid_outputs(outputs) -> bool:
    """Every output recorded as {"path": str, "sha256": str} (a hand-edited manifest is a miss)."""
    return isinstance(outputs, dict) and all(
        isinstance(rec, dict) and isinstance(rec.get("path"), str) and isinstance(rec.get("sha256"), str)
        for rec in outputs.values())


def manifest_path(work: Path, stage: str) -> Path:
    return Path(work) / f"{stage}.manifest.json"


def load_manifest(work: Path, stage: str) -> Manifest | None:
    obj = read_json(manifest_path(work, stage))
    return Manifest.from_dict(obj) if obj is not None else None


def write_manifest(work: Path, manifest: Manifest) -> Path:
    manifest.finished = time.time()
    return atomic_write_json(manifest_path(work, manifest.stage), asdict(manifest))


def stale_outputs(project: Path, manifest: Manifest) -> list[str]:
    """Output files of a manifest that are missing or whose bytes changed."""
    bad = []
    for rec in manifest.outputs.values():
        path = Path(project) / rec["path"]
        if not path.is_file() or sha256_file(path) != rec["sha256"]:
            bad.append(rec["path"])
    return bad


def append_log(work: Path, event: dict) -> None:
    """One JSON line per stage event in .dnasgen/build.log.jsonl (append-only history)."""
    Path(work).mkdir(parents=True, exist_ok=True)
    line = json.dumps({"time": round(time.time(), 3), **event}, sort_keys=True, default=str)
    with open(Path(work) / "build.log.jsonl", "a") as fh:
        fh.write(line + "\n")
