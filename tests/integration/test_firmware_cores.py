"""One tiny generated project runs its test vectors bit-exact on every Cortex-M core's QEMU machine."""
from __future__ import annotations

import random

import pytest

from dnasgen.candidate import DataConfig, SearchSpace
from dnasgen.spec.model import Sensor

from codegen_support import make_spec

pytestmark = pytest.mark.toolchain


def _toolchain() -> bool:
    from dnasgen.verify import toolchain_available
    return toolchain_available()


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    if not _toolchain():
        pytest.skip("arm-none-eabi-gcc / qemu-system-arm not installed")
    from dnasgen.codegen import generate_project
    from dnasgen.export import make_test_model
    space = SearchSpace(resolutions=(32,), colors=("rgb",), widths=(0.25,), kernels=(3, 5, 7),
                        expands=(1, 3, 6), depths=((1,),) * 7, head_channels=64, num_classes=3)
    cand = space.sample(random.Random(11), DataConfig(32, "rgb"))
    blob = make_test_model(cand, num_classes=3, head_channels=64, seed=3, calib_n=8)
    spec = make_spec(Sensor(32, 32, "rgb888"), name="cores-test", board="stm32f746-disco")
    return generate_project(blob, spec, cand, tmp_path_factory.mktemp("fw") / "cores-test")


def test_vectors_are_bit_exact_on_every_core(project):
    from dnasgen.codegen.qemu import QEMU_CORES
    from dnasgen.verify import verify_project
    report = verify_project(project, cores=QEMU_CORES)
    assert report.ok and report.qemu_match and report.vectors == 2
    counts = report.core_instructions
    assert list(counts) == ["m0plus", "m3", "m4", "m7", "m33", "m55"]
    assert all(len(c) == 2 and min(c) > 100_000 for c in counts.values())
    # The board is a Cortex-M7: its latency comes from the m7 run.
    assert report.instructions == counts["m7"]
    # DSP path (M4/M7/M33/M55) well under the portable C99 path (M0+/M3); ARMv6-M needs more than ARMv7-M.
    dsp = max(max(counts[c]) for c in ("m4", "m7", "m33", "m55"))
    assert 2 * dsp < min(counts["m3"]) < min(counts["m0plus"])
    # Same DSP source and scale: the M4, M7 and M33 counts agree within 5 % (a wrong SysTick scale is 20 %+);
    # the M55 adds the Helium convolutions and 3 x 3 depthwise (never slower than its DSP build; 1.33 M
    # instructions vs the M4's 1.72 M on this 32 px model).
    m4 = counts["m4"][0]
    assert all(abs(counts[c][0] / m4 - 1) < 0.05 for c in ("m7", "m33"))
    assert 0.5 * m4 < counts["m55"][0] < 1.05 * m4
    # Runtime code of this 3x3 + 7x7 model, issue 12's <= 12 kB met with a margin: one depthwise kernel for
    # every k_w <= 7 (dn_dwk), the C fallbacks compiled only for ops that need them. Measured: m0plus 6,436,
    # m3 5,004, m4 9,020, m7 9,052, m33 9,036, m55 9,460 B (its Helium GEMM and 3 x 3 depthwise instead of
    # the DSP ones; 10,168 B before); bound ~5 % over.
    assert all(2000 < report.core_code_bytes[c] <= (9_920 if c == "m55" else 9_500) for c in QEMU_CORES)


def test_an_unknown_core_is_refused(project):
    from dnasgen.errors import BuildError
    from dnasgen.verify.project import run_make
    with pytest.raises(BuildError, match="CORE=m9 is not one of: m0plus m3 m4 m7 m33 m55"):
        run_make(project, "qemu", "CORE=m9", timeout=60)


def test_make_qemu_board_runs_that_boards_core(project):
    """`make qemu BOARD=<id>`: the catalogue board's core on its QEMU machine (a Cortex-M7 board: mps2-an500)."""
    from dnasgen.errors import BuildError
    from dnasgen.verify.project import run_make, score_lines
    out = run_make(project, "qemu", "BOARD=stm32f746-disco", timeout=300)
    assert "-M mps2-an500" in out and "test: ok, vectors matching: 2" in out
    assert score_lines(out) == score_lines(run_make(project, "qemu", "CORE=m7", timeout=300))
    with pytest.raises(BuildError, match="BOARD=esp32-s3 has no QEMU core"):
        run_make(project, "qemu", "BOARD=esp32-s3", timeout=60)
