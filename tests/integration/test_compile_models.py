"""The foreign models of ../shared/models (SOURCE.md there: TFLM person_detect, MLPerf Tiny's four
reference models) compile, and their C outputs equal LiteRT BUILTIN_REF on 20 random input tensors
each (host; QEMU Cortex-M4 for the keyword spotter). Skipped where the folder is absent: the
models are not part of the project. DNASGEN_MODELS points elsewhere (e.g. from a git worktree)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

BOARD = "qemu-mps2-an386"
VECTORS = 20
# model file -> (ops it must hold, the arena TFLM needs for it: dnasgen's must not be larger)
FOREIGN = {
    "person_detect.tflite": ({"avgpool", "softmax", "dwconv"}, 82_308),
    "vww_96_int8.tflite": ({"avgpool", "softmax", "fc"}, 100_708),
    "pretrainedResnet_quant.tflite": ({"add", "avgpool", "softmax", "fc"}, 54_996),
    "kws_ref_model.tflite": ({"dwconv", "avgpool", "softmax", "fc"}, 22_820),
    "ad01_int8.tflite": ({"fc"}, 2_580),
}


def _compile(model: Path, out: Path, vectors: int = VECTORS) -> Path:
    from dnasgen.codegen.compile import compile_model
    return compile_model(model, BOARD, name=model.stem.lower(), out=out, vectors=vectors)


@pytest.mark.parametrize("name", sorted(FOREIGN))
def test_foreign_model_is_bit_exact_on_the_host(name, tmp_path, foreign_model):
    import json
    from dnasgen.verify.project import run_make, score_lines
    kernels, tflm_arena = FOREIGN[name]
    project = _compile(foreign_model(name), tmp_path)
    lock = json.loads((project / "dnasgen.lock.json").read_text())["model"]
    assert kernels <= set(lock["kernels"])
    assert lock["arena_bytes"] <= tflm_arena
    out = run_make(project, "test")
    assert f"test: ok, vectors matching: {VECTORS}" in out
    assert len(set(score_lines(out))) > 1          # the random inputs give different outputs


def _bmp_tensor(path: Path) -> np.ndarray:
    """The 96x96 8-bit BMP's pixels, top row first, as TFLM's test arrays hold them (int8 bytes)."""
    raw = path.read_bytes()
    offset, height = int.from_bytes(raw[10:14], "little"), int.from_bytes(raw[22:26], "little", signed=True)
    px = np.frombuffer(raw[offset:offset + 96 * 96], np.uint8).reshape(96, 96)
    return (px[::-1] if height > 0 else px).view(np.int8)


def test_person_detect_scores_the_two_test_images(tmp_path, foreign_model):
    import subprocess
    from dnasgen.verify.project import run_make
    project = _compile(foreign_model("person_detect.tflite"), tmp_path, vectors=1)
    run_make(project, "host")
    data = b"".join(_bmp_tensor(foreign_model(f"{n}.bmp")).tobytes() for n in ("person", "no_person"))
    (tmp_path / "images.bin").write_bytes(data)
    out = subprocess.run([str(project / "build/host/app"), "--tensor", str(tmp_path / "images.bin")],
                         capture_output=True, text=True, check=True).stdout
    scores = [[int(v) for v in m.split()] for m in re.findall(r"^scores: (.*) class: \d+$", out, re.M)]
    person, no_person = scores        # class 1 is "person" in TFLM's example
    assert person[1] - person[0] > 50 and no_person[0] - no_person[1] > 50


def test_keyword_spotter_matches_in_qemu(tmp_path, foreign_model):
    from dnasgen.verify.project import toolchain_available
    from dnasgen.verify import verify_project
    if not toolchain_available():
        pytest.skip("arm-none-eabi-gcc / qemu-system-arm not installed")
    report = verify_project(_compile(foreign_model("kws_ref_model.tflite"), tmp_path, vectors=4))
    assert report.ok and report.qemu_match and report.vectors == 4
    # dnasgen's figure below TFLM + CMSIS-NN's 2.85 instructions per MAC on the same model
    assert max(report.instructions) < 2.85 * 2_656_768
