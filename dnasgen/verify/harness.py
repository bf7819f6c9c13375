"""Drive a built project's apps with batches: int8 tensors, raw frames, preprocessing only.

Used by tests, benchmarks and the latency calibration: one process per batch, results parsed
from the `scores: ... class: k` / `instructions: N` lines.
"""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np

from dnasgen.errors import BuildError
from dnasgen.verify.project import qemu_run, run_make, score_lines

HOST_APP = Path("build") / "host" / "app"


def parse_scores(lines: list[str]) -> np.ndarray:
    """`scores: a b c class: k` lines -> int8 (N, classes)."""
    rows = [[int(v) for v in line.split("class:")[0].split()[1:]] for line in lines]
    return np.asarray(rows, np.int8)


def _app(project: Path, *args: str, timeout: float = 600) -> str:
    app = Path(project) / HOST_APP
    if not app.is_file():
        run_make(project, "host")
    try:
        proc = subprocess.run([str(app), *args], capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise BuildError(f"{app} {' '.join(args)} timed out after {timeout:.0f} s") from exc
    if proc.returncode != 0:
        raise BuildError(f"{app} {' '.join(args)} failed (exit {proc.returncode}): {proc.stdout[-400:]}"
                         f"{proc.stderr[-400:]}")
    return proc.stdout


def _batch_file(tmp: str, data: np.ndarray) -> str:
    path = str(Path(tmp) / "batch.bin")
    np.ascontiguousarray(data).tofile(path)
    return path


def run_tensors(project, tensors: np.ndarray) -> np.ndarray:
    """int8 (N, H, W, C) model inputs -> int8 (N, classes) outputs of the host build."""
    with tempfile.TemporaryDirectory() as tmp:
        out = _app(project, "--tensor", _batch_file(tmp, np.asarray(tensors, np.int8)))
    return parse_scores(score_lines(out))


def run_frames(project, frames) -> np.ndarray:
    """Raw sensor frames -> int8 (N, classes) outputs of the host build (preprocessing included)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = _app(project, "--frame", _batch_file(tmp, np.stack([np.asarray(f, np.uint8) for f in frames])))
    return parse_scores(score_lines(out))


def preprocess_c(project, frames, input_shape: tuple[int, int, int]) -> np.ndarray:
    """Raw frames -> int8 (N, r, r, C) model inputs computed by the generated preprocess.c."""
    with tempfile.TemporaryDirectory() as tmp:
        src = _batch_file(tmp, np.stack([np.asarray(f, np.uint8) for f in frames]))
        dst = str(Path(tmp) / "inputs.bin")
        _app(project, "--preprocess", src, dst)
        data = np.fromfile(dst, np.int8)
    return data.reshape((-1,) + tuple(input_shape))


def run_qemu(project, args: str = "", timeout: float = 900, core: str = "m4") -> tuple[list[str], list[int]]:
    """`make qemu CORE=<core>` (embedded vectors, or ARGS): score lines and instructions per inference."""
    out, instructions = qemu_run(project, core, *([f"ARGS={args}"] if args else []), timeout=timeout)
    return score_lines(out), instructions
