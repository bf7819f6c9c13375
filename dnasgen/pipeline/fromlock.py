"""Generate a project so that it can be regenerated from its lock alone (the CI path).

The code generator writes the firmware, model.tflite and dnasgen.lock.json (file hashes,
candidate, metrics). Next to them the pipeline keeps what the generator was given and a
fresh clone would not have: the resolved spec and the raw sensor frames of the test vectors
(`frames/`, also handy for `app --frame`), listed with their hashes in dnasgen.inputs.json.
`generate_from_lock` rebuilds the project from these and model.tflite: no dataset, no
training, byte-identical output on any machine. What cannot be recomputed there is carried
over from the lock, never re-read from the machine: the metrics and the versions of the tools
that made the model (`model_tools`). The lock holds no compiler or QEMU versions.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from dnasgen.errors import BuildError
from dnasgen.io import atomic_write_bytes, atomic_write_json, read_json, sha256_bytes
from dnasgen.layout import INPUTS_NAME, LOCK_NAME, inside, project_dir
from dnasgen.pipeline.guard import check_hand_edits

INPUTS_VERSION = 1
FRAMES_DIR = "frames"


def _frame_name(index: int, label: str) -> str:
    return f"{FRAMES_DIR}/{index}-{re.sub(r'[^A-Za-z0-9_-]+', '_', label)[:40]}.raw"


def _write_inputs(project: Path, spec, frames: list[np.ndarray], labels: list[str]) -> Path:
    listed = []
    for i, (frame, label) in enumerate(zip(frames, labels)):
        rel = _frame_name(i, label)
        data = frame.tobytes()
        atomic_write_bytes(inside(project, project / rel), data)
        listed.append({"path": rel, "label": label, "sha256": sha256_bytes(data)})
    return atomic_write_json(project / INPUTS_NAME, {
        "version": INPUTS_VERSION, "spec": spec.raw, "frames": listed,
        "about": "generator inputs: `dnasgen generate --from-lock dnasgen.lock.json` rebuilds this "
                 "project from them and model.tflite, byte-identical"})


def generate_with_inputs(tflite_bytes: bytes, spec, candidate, project: Path, frames, labels,
                         metrics: dict, tools: dict | None = None) -> Path:
    """generate_project, then record the spec and the test frames for --from-lock.

    tools: versions of the packages that made the model (None: this machine's)."""
    from dnasgen.codegen import generate_project
    frames = [np.ascontiguousarray(f, np.uint8).reshape(-1) for f in frames]
    names = [spec.classes[int(y)] if not isinstance(y, str) else y for y in labels]
    generate_project(tflite_bytes, spec, candidate, project, frames, metrics, tools)
    _write_inputs(Path(project), spec, frames, names)
    return Path(project)


def _read(path: Path, what: str) -> dict:
    obj = read_json(path)
    if obj is None:
        raise BuildError(f"{path}: missing or not valid JSON ({what})")
    return obj


def _checked_bytes(path: Path, digest: str | None, what: str) -> bytes:
    if not path.is_file():
        raise BuildError(f"{path}: {what} is missing")
    data = path.read_bytes()
    if digest and sha256_bytes(data) != digest:
        raise BuildError(f"{path}: {what} does not match the hash in the lock (edited or corrupt)")
    return data


def _inputs(project: Path, lock: dict):
    """(spec, frames, labels) recorded next to the lock, checked against the lock's spec hash."""
    from dnasgen.spec import build_spec
    inputs = _read(project / INPUTS_NAME, "the generator inputs written by `dnasgen build`")
    if inputs.get("version") != INPUTS_VERSION:
        raise BuildError(f"{project / INPUTS_NAME}: version {inputs.get('version')!r}, "
                         f"expected {INPUTS_VERSION}")
    try:                                           # a hand-edited or truncated record: clean error
        spec = build_spec(inputs["spec"])
        listed = [(f["path"], f["sha256"], f["label"]) for f in inputs["frames"]]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BuildError(f"{project / INPUTS_NAME}: malformed ({type(exc).__name__}: {exc})") from None
    if spec.hash != lock.get("spec_hash"):
        raise BuildError(f"{project / INPUTS_NAME}: its spec does not match the lock's spec hash")
    frames = [np.frombuffer(_checked_bytes(inside(project, project / rel), digest, "a test frame"), np.uint8)
              for rel, digest, _ in listed]
    return spec, frames, [label for _, _, label in listed]


def generate_from_lock(lock_path: Path, out: Path | None = None, force: bool = False) -> Path:
    """Regenerate the project of `lock_path` (in place, or under OUT/<name>/) without training."""
    from dnasgen.candidate import Candidate
    lock_path = Path(lock_path)
    if lock_path.is_dir():
        lock_path = lock_path / LOCK_NAME
    project = lock_path.resolve().parent
    lock = _read(lock_path, "a dnasgen.lock.json")
    if lock.get("source") == "compile":
        return _compiled_from_lock(project, lock, out, force)
    spec, frames, labels = _inputs(project, lock)
    model = lock.get("model") or {}
    tflite = _checked_bytes(project / "model.tflite", model.get("sha256"), "the int8 model")
    target = project if out is None else project_dir(Path(out), spec.name)
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
    check_hand_edits(target, force)
    return generate_with_inputs(tflite, spec, Candidate.from_dict(lock["candidate"]), target,
                                frames, labels, lock.get("metrics") or {}, recorded_tools(lock))


def _compiled_from_lock(project: Path, lock: dict, out: Path | None, force: bool) -> Path:
    """A `dnasgen compile` project: the same model, board, name and random vectors (count, seed)."""
    from dnasgen.codegen.compile import compile_model
    tflite = _checked_bytes(project / "model.tflite", (lock.get("model") or {}).get("sha256"), "the int8 model")
    try:
        name, board, vectors = str(lock["name"]), str(lock["board"]), dict(lock["vectors"])
        count, seed = int(vectors["count"]), int(vectors["seed"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BuildError(f"{project / LOCK_NAME}: malformed ({type(exc).__name__}: {exc})") from None
    if out is None and project.name != name:
        raise BuildError(f"{project}: the lock's project is {name!r}; pass --out to regenerate it elsewhere")
    root = project.parent if out is None else Path(out)
    check_hand_edits(project_dir(root, name), force)
    return compile_model(tflite, board, name, root, count, seed, recorded_tools(lock), lock.get("runtimes"),
                         lock.get("memory"))


def recorded_tools(lock: dict) -> dict:
    """The model-tool versions recorded in a lock (version 1 called them `tools` and mixed in the
    generating machine's compilers; only the model tools are kept). Never this machine's."""
    return dict(lock.get("model_tools", lock.get("tools")) or {})
