"""`dnasgen build`: validate -> plan -> train -> search -> finetune -> export -> generate -> verify.

Stages are cached under <project>/.dnasgen/ (see cache.py); the generated project is
<out>/<name>/ and nothing is written outside <out>.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from dnasgen.errors import BuildError
from dnasgen.io import atomic_write_bytes, atomic_write_json
from dnasgen.layout import LOCK_NAME
from dnasgen.pipeline.display import BuildDisplay
from dnasgen.pipeline.guard import BuildLock, check_hand_edits, project_dir
from dnasgen.pipeline.runner import RunLog, StageRecord, run_stages
from dnasgen.pipeline.stages import Context, Stage, stage_list


@dataclass
class BuildResult:
    """What a build did and where its project is."""
    project: Path
    stages: list[StageRecord]
    summary: dict = field(default_factory=dict)
    seconds: float = 0.0

    def status(self) -> dict[str, str]:
        return {r.name: r.status for r in self.stages}

    @property
    def lock(self) -> Path:
        return self.project / LOCK_NAME


def _read_candidate(candidate, spec):
    """A --candidate (file path or Candidate), checked up front: before anything is written."""
    from dnasgen.candidate import Candidate
    from dnasgen.cost.files import read_candidate
    if candidate is None or isinstance(candidate, Candidate):
        return candidate
    return read_candidate(Path(candidate), spec.space)


def _until(until: str | None, stages: list[Stage]) -> str | None:
    names = [s.name for s in stages]
    if until in (None, "validate") or until in names:
        return until
    if until == "search" and "candidate" in names:
        return "candidate"
    raise BuildError(f"--until {until}: no such stage (stages: validate, {', '.join(names)})")


def _load(spec):
    from dnasgen.spec import Spec, load_spec
    return spec if isinstance(spec, Spec) else load_spec(Path(spec))


def prepare(spec, out: Path | None, candidate) -> Context:
    """Load + validate the spec (nothing written on error), then the guarded project context."""
    spec = _load(spec)
    given = _read_candidate(candidate, spec)
    root = Path(out if out is not None else spec.output_dir)
    project = project_dir(root, spec.name)      # guard before creating anything
    root.mkdir(parents=True, exist_ok=True)
    return Context(spec=spec, root=root.resolve(), project=project, candidate=given)


def _mark_work(ctx: Context) -> None:
    """The stage cache is build state, not part of the project: keep it out of git."""
    ignore = ctx.work_path(".gitignore")
    if not ignore.exists():
        atomic_write_bytes(ignore, b"# dnasgen build cache (safe to delete; rebuilt on demand)\n*\n")


def build(spec, out: Path | None = None, until: str | None = None, force: bool = False,
          candidate=None, console: Console | None = None, quiet: bool = False,
          stages: list[Stage] | None = None) -> BuildResult:
    """Build (or bring up to date) the firmware project of a spec; returns what ran.

    spec: a spec file path or a Spec; out: the output root (default: the spec's output.dir);
    until: last stage to run; force: overwrite hand-edited generated files; candidate: a
    Candidate (or a JSON file of one) to build instead of searching.
    """
    t0 = time.monotonic()
    spec = _load(spec)
    differentiable = spec.search.strategy == "differentiable"
    stages = stages if stages is not None else stage_list(candidate is not None, differentiable)
    stop = _until(until, stages)                 # a bad --until fails before anything is written
    ctx = prepare(spec, out, candidate)
    display = BuildDisplay(["validate"] + [s.name for s in stages], console=console, quiet=quiet)
    with BuildLock(ctx.work), display:
        _mark_work(ctx)
        display.done("validate", 0.0, {"spec": ctx.spec.name})
        check_hand_edits(ctx.project, force)
        log = RunLog("validate") if stop == "validate" else run_stages(ctx, stages, display, stop)
    result = BuildResult(ctx.project, log.records, seconds=round(time.monotonic() - t0, 3))
    result.summary = _summary(ctx, result)
    return result


def _summary(ctx: Context, result: BuildResult) -> dict:
    from dnasgen.pipeline.summary import collect
    summary = collect(ctx, result)
    atomic_write_json(ctx.work_path("summary.json"), summary)
    return summary
