"""Run stages in order, reusing each one whose cache key and artifacts are unchanged."""
from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from dnasgen import __version__ as TOOL_VERSION
from dnasgen.errors import BuildError
from dnasgen.io import json_digest, sha256_file
from dnasgen.pipeline.cache import (Manifest, append_log, code_fingerprint, load_manifest, stale_outputs,
                                    write_manifest)
from dnasgen.layout import inside
from dnasgen.pipeline.stages import Context, Stage


@dataclass
class StageRecord:
    """What happened to one stage in this build."""
    name: str
    status: str            # "ran" | "cached"
    seconds: float = 0.0
    reason: str = ""       # why it ran: "new", "inputs changed", "artifact changed: ..."
    key: str = ""


@dataclass
class RunLog:
    run_id: str
    records: list[StageRecord] = field(default_factory=list)

    def status(self) -> dict[str, str]:
        return {r.name: r.status for r in self.records}


def stage_key(ctx: Context, stage: Stage) -> tuple[str, dict[str, str]]:
    """Cache key of a stage: its spec sections, input artifact hashes, tool version and code."""
    missing = [name for name in stage.inputs if name not in ctx.artifacts]
    if missing:
        raise BuildError(f"stage {stage.name} needs {', '.join(missing)}, which no earlier stage made")
    inputs = {name: ctx.artifacts[name]["sha256"] for name in stage.inputs}
    extra = stage.extra_key(ctx) if stage.extra_key else None
    key = json_digest([stage.name, TOOL_VERSION, code_fingerprint(stage.code),
                       ctx.spec.section_hash(*stage.sections), inputs, extra])
    return key[:32], inputs


def _reuse_reason(ctx: Context, manifest: Manifest | None, key: str) -> str:
    """'' when the cached result is valid, else why the stage must run."""
    if manifest is None:
        return "new"
    if manifest.key != key:
        return "inputs changed"
    stale = stale_outputs(ctx.project, manifest)
    if stale:
        return "artifact changed or corrupt: " + ", ".join(stale)
    return ""


def _record_outputs(ctx: Context, result) -> dict[str, dict]:
    outputs = {}
    for name, path in result.outputs.items():
        path = inside(ctx.project, path)
        outputs[name] = {"path": str(path.relative_to(ctx.project)), "sha256": sha256_file(path)}
    return outputs


@contextlib.contextmanager
def native_stderr_to(path: Path | None):
    """Send fd 2 (TensorFlow's C++ logs, Python warnings) to a log file while a stage runs."""
    if path is None:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(path, "a", buffering=1) as log, contextlib.redirect_stderr(log):
            os.dup2(log.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def run_stage(ctx: Context, stage: Stage, display, log: RunLog) -> StageRecord:
    """Reuse one stage when its key and recorded artifacts still match, else run it."""
    key, inputs = stage_key(ctx, stage)
    manifest = load_manifest(ctx.work, stage.name)
    reason = _reuse_reason(ctx, manifest, key)
    if reason:
        manifest = _execute(ctx, stage, display, log, key, inputs, reason)
        record = StageRecord(stage.name, "ran", manifest.seconds, reason, key)
    else:
        record = StageRecord(stage.name, "cached", manifest.seconds, "", key)
        display.cached(stage.name, manifest.info)
        append_log(ctx.work, {"run": log.run_id, "stage": stage.name, "status": "cached", "key": key})
    ctx.artifacts.update(manifest.outputs)
    ctx.infos[stage.name] = manifest.info
    log.records.append(record)
    return record


def _execute(ctx: Context, stage: Stage, display, log: RunLog, key: str, inputs: dict,
             reason: str) -> Manifest:
    """Run a stage; its manifest (the commit point) is written only after it succeeded."""
    append_log(ctx.work, {"run": log.run_id, "stage": stage.name, "status": "started", "key": key,
                          "reason": reason})
    t0 = time.monotonic()
    log_file = ctx.work_path(f"{stage.name}.log") if stage.quiet_stderr else None
    try:
        with display.running(stage.name, stage.title, reason, log_file), native_stderr_to(log_file):
            result = stage.run(ctx)
    except BaseException as exc:
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        append_log(ctx.work, {"run": log.run_id, "stage": stage.name, "status": status,
                              "error": str(exc)[:500]})
        raise
    seconds = round(time.monotonic() - t0, 3)
    manifest = Manifest(stage=stage.name, key=key, outputs=_record_outputs(ctx, result),
                        inputs=inputs, sections=list(stage.sections), info=result.info,
                        seconds=seconds, tool_version=TOOL_VERSION)
    write_manifest(ctx.work, manifest)
    append_log(ctx.work, {"run": log.run_id, "stage": stage.name, "status": "ran", "key": key,
                          "seconds": seconds})
    display.done(stage.name, seconds, result.info)
    return manifest


def run_stages(ctx: Context, stages: list[Stage], display, until: str | None = None,
               run_id: str | None = None) -> RunLog:
    """Run `stages` in order (stopping after `until`), reusing cached ones."""
    names = [s.name for s in stages]
    if until is not None and until not in names:
        raise BuildError(f"--until {until}: no such stage (stages: {', '.join(names)})")
    log = RunLog(run_id or f"{time.time():.3f}")
    for stage in stages:
        run_stage(ctx, stage, display, log)
        if stage.name == until:
            break
    return log
