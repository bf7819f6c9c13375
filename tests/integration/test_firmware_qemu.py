"""The Cortex-M4 build in QEMU (mps2-an386) prints exactly the host build's outputs; sizes; boards."""
from __future__ import annotations

import random

import numpy as np
import pytest

from dnasgen.candidate import DataConfig, SearchSpace
from dnasgen.spec.model import Sensor

from codegen_support import make_spec

pytestmark = pytest.mark.toolchain


def _toolchain() -> bool:
    from dnasgen.verify import toolchain_available
    return toolchain_available()


requires_toolchain = pytest.mark.skipif(not _toolchain(), reason="arm-none-eabi-gcc / qemu-system-arm "
                                        "not installed (apt install gcc-arm-none-eabi "
                                        "libnewlib-arm-none-eabi qemu-system-arm)")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    from dnasgen.codegen import generate_project
    from dnasgen.export import make_test_model
    space = SearchSpace(resolutions=(48,), colors=("rgb",), widths=(0.35,), kernels=(3, 5, 7),
                        expands=(1, 3, 6), depths=((1,), (1, 2), (1, 2), (1, 2), (1,), (1, 2), (1,)),
                        head_channels=256, num_classes=3)
    cand = space.sample(random.Random(11), DataConfig(48, "rgb"))
    blob = make_test_model(cand, num_classes=3, head_channels=256, seed=3, calib_n=8)
    spec = make_spec(Sensor(64, 48, "rgb565"), name="qemu-test", board="nucleo-f412zg")
    return generate_project(blob, spec, cand, tmp_path_factory.mktemp("fw") / "qemu-test"), spec


@requires_toolchain
def test_verify_runs_qemu_and_matches_host(project):
    from dnasgen.verify import verify_project
    report = verify_project(project[0])
    assert report.host_ok and report.qemu_ran and report.qemu_match and report.ok
    assert report.vectors == 2 and len(report.instructions) == 2
    assert all(n > 100_000 for n in report.instructions)
    assert report.board == "nucleo-f412zg" and report.flash_budget == 1024 * 1024
    assert 0 < report.arena_bytes < report.ram_bytes < report.ram_budget
    assert 0 < report.code_bytes < report.flash_bytes < report.flash_budget
    assert report.latency_ms == pytest.approx(max(report.instructions) / 100e3)
    assert report.violations == [] and report.edited_files == []


@requires_toolchain
def test_qemu_reads_frames_over_semihosting(project, tmp_path):
    from dnasgen.codegen.vectors import random_frames
    from dnasgen.verify.harness import run_frames, run_qemu
    proj, spec = project
    frames = random_frames(spec.sensor, 2, seed=9)
    path = tmp_path / "frames.raw"
    np.stack(frames).tofile(path)
    lines, instructions = run_qemu(proj, f"--frame {path}")
    host = run_frames(proj, frames)
    assert len(lines) == 2 and len(instructions) == 2
    assert [f"scores: {' '.join(map(str, row))} class: {int(np.argmax(row))}" for row in host] == lines


@requires_toolchain
@pytest.mark.parametrize("flags", ["", "-DDN_NO_DSP", "-DDN_SLOW_REQUANT=1",
                                   "-fsanitize=undefined -fsanitize-undefined-trap-on-error"],
                         ids=["dsp-kernels", "portable-kernels", "dsp-portable-requant", "dsp-ubsan-trap"])
def test_qemu_tensors_equal_litert_reference(project, tmp_path, flags):
    """Every Cortex-M kernel variant is bit-exact with LiteRT BUILTIN_REF on random tensors, and
    has no undefined behaviour (UBSan traps to the fault handler, which halts: a timeout here).
    The plan runs the 7x7 s0b0 depthwise in place (the default export.memory)."""
    import json
    from dnasgen.export import ReferenceInterpreter
    from dnasgen.layout import LOCK_NAME
    from dnasgen.verify.harness import parse_scores
    from dnasgen.verify.project import run_make, score_lines
    proj, _ = project
    assert json.loads((proj / LOCK_NAME).read_text())["model"]["in_place_ops"]
    ref = ReferenceInterpreter((proj / "model.tflite").read_bytes())
    x = np.random.default_rng(5).integers(-128, 128, (6,) + ref.input_shape[1:], dtype=np.int8)
    path = tmp_path / "tensors.bin"
    x.tofile(path)
    out = run_make(proj, "qemu", f"ARM_CFLAGS=-O2 {flags}", f"ARGS=--tensor {path}", timeout=120)
    assert np.array_equal(parse_scores(score_lines(out)), ref.run_batch(x))


@requires_toolchain
def test_a_cpu_fault_ends_the_qemu_run(project):
    """A fault (here: a call into unmapped memory) stops QEMU with an error, not a hang to the timeout."""
    from dnasgen.errors import BuildError
    from dnasgen.verify.project import run_make
    with pytest.raises(BuildError, match="(?s)failed.*error: CPU fault"):
        run_make(project[0], "qemu", "ARM_CFLAGS=-O2 -Wl,--defsym=dnasgen_invoke=0xF0000001", timeout=60)


@requires_toolchain
def test_budget_violations_are_listed(project):
    from dnasgen.boards import get_board
    from dnasgen.verify import verify_project
    tight = get_board("nucleo-f412zg", reserve_ram_kb=255, reserve_flash_kb=1000)
    report = verify_project(project[0], board=tight)
    assert report.qemu_match and not report.ok
    assert len(report.violations) == 2
    assert report.violations[0].startswith("flash") and report.violations[1].startswith("RAM")


@requires_toolchain
@pytest.mark.parametrize("board", ["rpi-pico", "stm32f746-disco"])
def test_other_cortex_m_boards_build(project, board):
    from dnasgen.verify.project import parse_size, run_make
    sizes = parse_size(run_make(project[0], "size", f"BOARD={board}"))
    assert sizes["arena"] < sizes["ram"] and sizes["code"] > 1000
