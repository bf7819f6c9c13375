"""The generated project's layout, one source for every stage: names and the path guard.

<out>/<name>/            the project (`project_dir`, guarded to stay inside <out>)
  dnasgen.lock.json      the code generator's lock (file hashes, model, metrics)
  dnasgen.inputs.json    the generator inputs beside it (test frames), for `generate --from-lock`
  .dnasgen/              stage artifacts: plan, supernet, data cache, search state, summary
  report/                the search report
  build/                 make outputs
"""
from __future__ import annotations

from pathlib import Path

from dnasgen.errors import BuildError

LOCK_NAME = "dnasgen.lock.json"
INPUTS_NAME = "dnasgen.inputs.json"
WORK_NAME = ".dnasgen"
REPORT_NAME = "report"
NOT_GENERATED = (WORK_NAME, REPORT_NAME, "build")   # stage cache, search report, make outputs


def inside(root: Path, path: Path) -> Path:
    """`path` resolved; BuildError unless it lies inside `root` (resolved, symlinks followed)."""
    root_r = Path(root).resolve()
    path_r = Path(path).resolve()
    if path_r != root_r and not path_r.is_relative_to(root_r):
        raise BuildError(f"refusing to write {path}: it resolves to {path_r}, outside the output "
                         f"root {root_r}")
    return path_r


def project_dir(out_root: Path, name: str) -> Path:
    """The generated project folder `<out_root>/<name>`, guarded to stay inside out_root."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise BuildError(f"spec name {name!r} is not a plain folder name")
    project = inside(out_root, Path(out_root) / name)
    if project == Path(out_root).resolve():
        raise BuildError(f"spec name {name!r} would make the output root itself the project")
    return project


def spec_project(spec, out: Path | str | None = None) -> Path:
    """<out or spec.output_dir>/<spec.name>, guarded (a relative output dir: from the working directory)."""
    return project_dir(Path(out if out is not None else spec.output_dir), spec.name)


def spec_workdir(spec) -> Path:
    """<spec.output_dir>/<spec.name>/.dnasgen, unresolved (the stage-artifact folder's default place)."""
    return Path(spec.output_dir) / spec.name / WORK_NAME
