"""End to end: a tiny spec through every stage to a QEMU run; a `board:` edit re-runs only what
reads the board; --from-lock regenerates byte-identically; hand edits are refused; a build
killed with SIGKILL mid-training resumes and ends with the same result.

One module-scoped build (~1 min on 2 cores); the later tests reuse its cache.
"""
from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dnasgen.cli import app
from dnasgen.errors import BuildError
from dnasgen.pipeline import build
from dnasgen.io import read_json, sha256_file
from dnasgen.pipeline.cache import load_manifest
from dnasgen.pipeline.fromlock import generate_from_lock
from dnasgen.verify import toolchain_available
from dnasgen.verify.project import TOOLCHAIN

pytestmark = pytest.mark.slow
TINY = Path(__file__).parent.parent / "pipeline_tiny.yaml"
STAGES = ["plan", "train", "search", "finetune", "export", "generate", "verify"]
NOT_GENERATED = (".dnasgen", "build", "report")


def project_files(project: Path) -> dict[str, str]:
    """sha256 of every file of the generated project (not the cache, make outputs or report)."""
    return {p.relative_to(project).as_posix(): sha256_file(p) for p in sorted(project.rglob("*"))
            if p.is_file() and p.relative_to(project).parts[0] not in NOT_GENERATED}


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    spec = root / "tiny.yaml"
    shutil.copy(TINY, spec)
    cwd = os.getcwd()
    os.chdir(root)             # anything written to a default location would land here
    try:
        result = build(spec, out=root / "out", quiet=True)
    finally:
        os.chdir(cwd)
    assert sorted(p.name for p in root.iterdir()) == ["out", "tiny.yaml"]
    assert sorted(p.name for p in (root / "out").iterdir()) == ["tiny"]
    work = result.project / ".dnasgen"
    saved = {"candidate": (work / "candidate.json").read_text(),
             "tflite": (work / "model.tflite").read_bytes(), "files": project_files(result.project)}
    return {"root": root, "spec": spec, "result": result, "saved": saved}


def test_every_stage_runs_to_a_verified_project(first):
    result = first["result"]
    assert [r.name for r in result.stages] == STAGES
    assert all(r.status == "ran" for r in result.stages)
    project = result.project
    lock = read_json(project / "dnasgen.lock.json")
    assert lock["files"] and all(sha256_file(project / f) == h for f, h in lock["files"].items())
    assert "do not edit" in (project / "model.c").read_text().splitlines()[0]
    verify = read_json(project / ".dnasgen" / "verify.json")
    assert verify["ok"] and verify["host_ok"] and verify["vectors"] == 4
    summary = result.summary
    assert summary["data"] in ("24px-grayscale", "24px-rgb", "32px-grayscale", "32px-rgb")
    assert 0.0 <= summary["accuracy"]["int8_val"] <= 1.0
    assert summary["budget"]["ram_bytes"]["estimate"] <= summary["budget"]["ram_bytes"]["budget"]
    if not toolchain_available():
        pytest.skip("arm-none-eabi-gcc / qemu-system-arm not installed: QEMU part not run")
    assert verify["qemu_ran"] and verify["qemu_match"] and min(verify["instructions"]) > 0
    assert {"gcc", "arm-none-eabi-gcc", "qemu-system-arm"} <= set(verify["tools"])   # in the report,
    assert not set(TOOLCHAIN) & set(lock["model_tools"])                              # not the lock
    assert summary["budget"]["flash_bytes"]["measured"] <= summary["budget"]["flash_bytes"]["budget"]


def test_unchanged_rebuild_reuses_every_stage(first):
    result = build(first["spec"], out=first["root"] / "out", quiet=True)
    assert result.status() == {name: "cached" for name in STAGES}


def test_board_edit_reruns_search_onward_never_training(first):
    spec, out = first["spec"], first["root"] / "out"
    work = first["result"].project / ".dnasgen"
    trained = load_manifest(work, "train").finished
    spec.write_text(spec.read_text().replace("reserve_ram_kb: 32", "reserve_ram_kb: 64"))
    result = build(spec, out=out, quiet=True)
    status = result.status()
    assert status["train"] == "cached" and load_manifest(work, "train").finished == trained
    assert {status[s] for s in ("plan", "search", "generate", "verify")} == {"ran"}
    # fine-tuning and export depend on the chosen candidate, not on the board itself
    same = (work / "candidate.json").read_text() == first["saved"]["candidate"]
    assert status["finetune"] == status["export"] == ("cached" if same else "ran")
    runs = [json.loads(line) for line in (work / "build.log.jsonl").read_text().splitlines()]
    last = {e["stage"]: e["status"] for e in runs if e["run"] == runs[-1]["run"]}
    assert last["train"] == "cached" and last["search"] == "ran"


def test_generate_from_lock_is_byte_identical(first, tmp_path):
    project = first["result"].project
    before = project_files(project)
    result = CliRunner().invoke(app, ["generate", "--from-lock", str(project / "dnasgen.lock.json")])
    assert result.exit_code == 0, result.output
    assert project_files(project) == before
    clone = tmp_path / "clone" / project.name       # a fresh checkout: no cache, no data
    shutil.copytree(project, clone, ignore=shutil.ignore_patterns(*NOT_GENERATED))
    generate_from_lock(clone / "dnasgen.lock.json")
    assert project_files(clone) == before


def test_generate_spec_writes_what_build_writes(first, tmp_path):
    """`dnasgen generate SPEC` runs build's generate-stage code: the same files, lock metrics and
    dnasgen.inputs.json, so a later `generate --from-lock` on its project works."""
    project = first["result"].project
    before = project_files(project)
    lock = json.loads((project / "dnasgen.lock.json").read_text())
    assert "dnasgen.inputs.json" in before and set(lock["metrics"]) >= {"int8_val_accuracy", "estimate"}
    result = CliRunner().invoke(app, ["generate", str(first["spec"]), "--out", str(first["root"] / "out")])
    assert result.exit_code == 0, result.output
    assert project_files(project) == before
    clone = tmp_path / "clone" / project.name
    shutil.copytree(project, clone, ignore=shutil.ignore_patterns(*NOT_GENERATED))
    generate_from_lock(clone / "dnasgen.lock.json")
    assert project_files(clone) == before


def _another_machine(monkeypatch, bin_dir: Path) -> None:
    """Other gcc / arm-none-eabi-gcc / QEMU / make first on PATH, other installed package versions."""
    bin_dir.mkdir()
    for tool in TOOLCHAIN:
        (bin_dir / tool).write_text(f"#!/bin/sh\necho '{tool} (another machine) 99.1'\n")
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(importlib.metadata, "version", lambda pkg: "0.0+another-machine")


def test_from_lock_output_does_not_depend_on_the_machine(first, tmp_path, monkeypatch):
    """CI regenerates with other tool versions than the machine that trained: same bytes; what
    cannot be recomputed there (metrics, the model's tool versions) is carried over from the lock."""
    project = first["result"].project
    clone = tmp_path / "ci" / project.name
    shutil.copytree(project, clone, ignore=shutil.ignore_patterns(*NOT_GENERATED))
    lock_path = clone / "dnasgen.lock.json"
    lock = json.loads(lock_path.read_text())
    assert "tools" not in lock and set(lock["model_tools"]) >= {"torch", "ai-edge-litert"}
    lock["model_tools"] = {pkg: f"{v}+recorded-elsewhere" for pkg, v in lock["model_tools"].items()}
    lock["metrics"]["int8_val_accuracy"] = 0.4321
    lock_path.write_text(json.dumps(lock, indent=2) + "\n")
    expected = project_files(clone)
    _another_machine(monkeypatch, tmp_path / "bin")
    generate_from_lock(lock_path)
    assert project_files(clone) == expected
    assert json.loads(lock_path.read_text())["model_tools"]["torch"].endswith("+recorded-elsewhere")


def test_hand_edits_are_named_refused_and_forced_back(first):
    spec, out, project = first["spec"], first["root"] / "out", first["result"].project
    original = (project / "model.c").read_bytes()
    (project / "model.c").write_bytes(original + b"/* my tweak */\n")
    (project / "notes.txt").write_text("mine")
    with pytest.raises(BuildError) as err:
        build(spec, out=out, quiet=True)
    assert "model.c" in str(err.value) and "notes.txt" in str(err.value)
    (project / "notes.txt").unlink()
    result = build(spec, out=out, quiet=True, force=True)
    assert result.status()["generate"] == "ran" and result.status()["train"] == "cached"
    assert (project / "model.c").read_bytes() == original


def _wait_for_epoch(log: Path, proc: subprocess.Popen, timeout: float = 150.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = log.read_text().splitlines() if log.exists() else []
        if lines:
            return len(lines)
        if proc.poll() is not None:
            pytest.fail(f"build exited early ({proc.returncode}): {proc.stderr.read()[-2000:]}")
        time.sleep(0.02)
    pytest.fail("no training epoch finished in time")


def test_sigkill_mid_training_resumes_to_the_same_result(first, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "dnasgen.cli", "build", str(TINY), "--out", str(out),
           "--until", "export"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    work = out / "tiny" / ".dnasgen"
    done = _wait_for_epoch(work / "train_log.jsonl", proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert load_manifest(work, "train") is None and done < 3      # killed mid-training
    result = build(TINY, out=out, until="export", quiet=True)
    assert result.status()["plan"] == "cached" and result.status()["train"] == "ran"
    epochs = [json.loads(line)["epoch"] for line in (work / "train_log.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3]                   # resumed from the checkpoint, not restarted
    assert (work / "candidate.json").read_text() == first["saved"]["candidate"]
    assert (work / "model.tflite").read_bytes() == first["saved"]["tflite"]


def test_codegen_runtimes_edit_reruns_generate_only(first):
    """codegen.runtimes: [dnasgen, tflm] re-runs only generate (and verify): tflm/ appears, and the
    lock, the stage's figures and the summary carry TFLM's arena next to dnasgen's."""
    pytest.importorskip("tflite_micro", reason="the tflite-micro package is not installed")
    spec = first["root"] / "tflm.yaml"             # same name: the same project and stage cache
    spec.write_text(first["spec"].read_text() + "\ncodegen:\n  runtimes: [dnasgen, tflm]\n")
    result = build(spec, out=first["root"] / "out", until="generate", quiet=True)
    status = result.status()
    assert status["generate"] == "ran" and {status[s] for s in ("plan", "train", "search", "export")} == {"cached"}
    tflm = json.loads((result.project / "dnasgen.lock.json").read_text())["model"]["tflm"]
    assert (result.project / "tflm" / "main.cc").is_file() and tflm["arena_bytes"] > 0
    assert result.summary["arena"]["tflm"] == tflm["arena_bytes"]
    assert result.summary["arena"]["dnasgen"] <= tflm["arena_head_bytes"]
