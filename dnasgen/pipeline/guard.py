"""Safety around the output tree: hand-edit detection, one build at a time (names, path guard: dnasgen.layout).

- Every path the pipeline writes must resolve inside the output root (`--out`), whatever
  the spec's `name` says and whatever symlinks sit in the tree.
- The generated project is owned by dnasgen: its lock (dnasgen.lock.json, written by the
  code generator) and dnasgen.inputs.json record each file's sha256. A file whose bytes
  differ was edited by hand, a file nobody recorded was added by hand; the build refuses to
  overwrite or delete them unless forced, and names them.
- An exclusive lock on .dnasgen/build.lock stops two builds of the same project racing.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

from dnasgen.errors import BuildError
from dnasgen.io import read_json, sha256_file
from dnasgen.layout import INPUTS_NAME, LOCK_NAME, NOT_GENERATED, WORK_NAME, inside, project_dir

__all__ = ["INPUTS_NAME", "LOCK_NAME", "NOT_GENERATED", "WORK_NAME", "inside", "project_dir",
           "owned_files", "edited_files", "check_hand_edits", "BuildLock", "lock_file_hashes"]

def lock_file_hashes(lock: dict) -> dict[str, str]:
    """{relative path: sha256} of the generated files recorded in a lock."""
    files = lock.get("files") or {}
    return {path: (rec["sha256"] if isinstance(rec, dict) else rec) for path, rec in files.items()}


def owned_files(project: Path) -> dict[str, str]:
    """Every file dnasgen wrote into the project, with its recorded sha256 ('' = unrecorded)."""
    project = Path(project)
    lock = read_json(project / LOCK_NAME)
    if lock is None:
        return {}
    owned = {LOCK_NAME: "", **lock_file_hashes(lock)}
    inputs = read_json(project / INPUTS_NAME)
    if inputs is not None:
        owned[INPUTS_NAME] = ""
        owned.update({f["path"]: f["sha256"] for f in inputs.get("frames", [])})
    return owned


def _foreign(project: Path, owned: dict[str, str]) -> list[str]:
    """Files in the project that dnasgen did not write (regenerating would delete them)."""
    found = []
    for path in sorted(Path(project).rglob("*")):
        rel = path.relative_to(project).as_posix()
        if rel.split("/")[0] in NOT_GENERATED or path.is_dir() or rel in owned:
            continue
        found.append(rel)
    return found


def edited_files(project: Path) -> list[str]:
    """Generated files whose bytes changed by hand, plus files added to the project by hand."""
    project = Path(project)
    if not project.is_dir():
        return []
    owned = owned_files(project)
    edited = [rel for rel, digest in sorted(owned.items())
              if digest and (project / rel).is_file() and sha256_file(project / rel) != digest]
    return edited + _foreign(project, owned)     # a deleted generated file is simply regenerated


def check_hand_edits(project: Path, force: bool) -> list[str]:
    """Refuse (BuildError) when generated files were edited or added, unless `force`."""
    edited = edited_files(project)
    if edited and not force:
        names = "\n".join(f"  {Path(project) / rel}" for rel in edited)
        raise BuildError(f"these files in the generated project were edited or added by hand:\n{names}\n"
                         "dnasgen owns the project and would overwrite or delete them; move your "
                         "changes out of it (or re-run with --force to discard them)")
    return edited


class BuildLock:
    """Exclusive advisory lock on <work>/build.lock for the duration of a build."""

    def __init__(self, work: Path):
        self.path = Path(work) / "build.lock"
        self._fd: int | None = None

    def __enter__(self) -> "BuildLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            self._fd = None
            raise BuildError(f"another dnasgen build is running on {self.path.parent.parent}") from None
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
