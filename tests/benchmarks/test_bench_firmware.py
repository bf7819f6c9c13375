"""Firmware figures for MobileNetV2-0.35@96 int8 (10.66 M MACs, random weights), run with `make bench`:

* Cortex-M4 instructions per MAC in QEMU mps2-an386 (-icount shift=0), the peers' counting:
  TFLM reference kernels 17.21, TFLM + CMSIS-NN 4.27; dnasgen 1.72 (2.63 before the assembly
  GEMM / requantisation / depthwise band kernels, 2.00 before the 4-pixel GEMM and the widened,
  rolling depthwise band, 1.79 before the bias-seeded, 4x-unrolled GEMM; the issue's target is 1.8);
* the tensor arena (in-place depthwise, the default): <= 0.55x TFLM's 204,628 B (measured 111,760 B);
* runtime code size (text minus model data and op descriptors), target <= 12 kB, measured 8,224 B
  (10,080 B before the C fallbacks were compiled only where an op needs them; TFLM: 58 kB reference,
  109 kB with CMSIS-NN), bounded at the measured size + ~5 % on every core (CODE_LIMITS);
* the same on every other core's QEMU machine (`make qemu CORE=`): instructions per MAC of the
  portable C99 kernels on M0+ (ARMv6-M) / M3, of the DSP kernels on M7 / M33 and of the Helium
  convolutions, 3 x 3 depthwise and adds on the M55 (measured 18.71 / 12.22 / 1.73 / 1.72 / 0.743:
  7.91 M; 1.61 before the Helium 4-pixel GEMM, vector requantisation, depthwise and add; issue 12's
  target is 1.0), bit-exact vectors, code measured 7,352 / 5,872 / 8,304 / 8,240 / 8,596 B (M55 9,364 B before:
  the DSP GEMM and 3 x 3 depthwise are no longer built there);
* the host build's inference time (the benchmarked callable).
Instruction counts are deterministic, so they are asserted; times are only recorded.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from codegen_support import make_spec, mobilenet_v2_035_96  # noqa: E402

from dnasgen.spec.model import Sensor  # noqa: E402
from dnasgen.verify import toolchain_available  # noqa: E402

MACS = 10_656_688
# Runtime code (`make size` code), ~5 % over the measured bytes (the module docstring's figures; the
# 12 kB target is issue 12's; a regression trips these first).
CODE_LIMITS = {"m4": 8_640, "m7": 8_720, "m33": 8_650, "m55": 9_030, "m0plus": 7_720, "m3": 6_170}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    from dnasgen.codegen import generate_project
    from dnasgen.export import make_test_model
    cand = mobilenet_v2_035_96()
    blob = make_test_model(cand, num_classes=2, head_channels=1280, seed=0, calib_n=16)
    spec = make_spec(Sensor(160, 120, "rgb565"), name="bench", classes=("a", "b"), board="nucleo-f412zg")
    return generate_project(blob, spec, cand, tmp_path_factory.mktemp("bench") / "bench"), blob


@pytest.mark.skipif(not toolchain_available(), reason="arm-none-eabi-gcc / qemu-system-arm not installed")
def test_bench_cortex_m4_instructions_per_mac(benchmark, project):
    from dnasgen.verify.harness import run_qemu
    from dnasgen.verify.project import parse_size, run_make
    proj, _ = project
    lines, instructions = benchmark.pedantic(lambda: run_qemu(proj), rounds=1, iterations=1)
    sizes = parse_size(run_make(proj, "size", "BOARD=nucleo-f412zg"))
    per_mac = instructions[0] / MACS
    benchmark.extra_info.update({"instructions": instructions[0], "instructions_per_mac": round(per_mac, 3),
                                 "code_bytes": sizes["code"], "flash_bytes": sizes["flash"],
                                 "ram_bytes": sizes["ram"], "arena_bytes": sizes["arena"]})
    assert len(lines) == 2 and abs(instructions[0] - instructions[1]) <= 400   # 40-instruction ticks
    assert per_mac <= 1.80, f"{per_mac:.2f} instructions/MAC"        # measured 1.724 (18.37 M)
    assert sizes["code"] <= CODE_LIMITS["m4"], f"code {sizes['code']} B"
    # TFLM's arena for the same model: 204,628 B; in place (the default export.memory) <= 0.55x of it
    assert sizes["arena"] <= 112_500, f"arena {sizes['arena']} B"


# Upper bounds, ~5 % over the measured figures (deterministic counts: a regression trips them); the
# M55's is also under issue 12's target of 1.0 instructions/MAC (measured 0.743).
CORE_LIMITS = {"m0plus": 19.6, "m3": 12.8, "m7": 1.88, "m33": 1.88, "m55": 0.78}


@pytest.mark.skipif(not toolchain_available(), reason="arm-none-eabi-gcc / qemu-system-arm not installed")
@pytest.mark.parametrize("core", list(CORE_LIMITS))
def test_bench_core_instructions_per_mac(benchmark, project, core):
    from dnasgen.codegen.qemu import qemu_target
    from dnasgen.verify.harness import run_qemu
    from dnasgen.verify.project import parse_size, run_make
    proj, _ = project
    lines, instructions = benchmark.pedantic(lambda: run_qemu(proj, core=core), rounds=1, iterations=1)
    m4_lines, _ = run_qemu(proj)
    sizes = parse_size(run_make(proj, "size", f"BOARD={qemu_target(core).board_id}"))
    per_mac = instructions[0] / MACS
    benchmark.extra_info.update({"core": core, "instructions": instructions[0],
                                 "instructions_per_mac": round(per_mac, 3), "code_bytes": sizes["code"]})
    assert len(lines) == 2 and lines == m4_lines
    assert per_mac <= CORE_LIMITS[core], f"{core}: {per_mac:.2f} instructions/MAC"
    assert sizes["code"] <= CODE_LIMITS[core], f"{core}: code {sizes['code']} B"


def test_bench_host_inference(benchmark, project):
    from dnasgen.export import ReferenceInterpreter
    from dnasgen.verify.harness import run_tensors
    proj, blob = project
    ref = ReferenceInterpreter(blob)
    x = np.random.default_rng(0).integers(-128, 128, (4,) + ref.input_shape[1:], dtype=np.int8)
    got = benchmark.pedantic(lambda: run_tensors(proj, x), rounds=3, iterations=1)
    assert np.array_equal(got, ref.run_batch(x))


# MLPerf Tiny's visual wake words model (MobileNetV1-0.25 @ 96, `dnasgen compile`: bring your own model),
# outside the project (../shared/models, DNASGEN_MODELS); issue 12's target <= 1.4 instructions/MAC on the M4.
VWW_MACS = 7_489_664


@pytest.mark.skipif(not toolchain_available(), reason="arm-none-eabi-gcc / qemu-system-arm not installed")
def test_bench_vww_cortex_m4_instructions_per_mac(benchmark, tmp_path, foreign_model):
    from dnasgen.codegen.compile import compile_model
    from dnasgen.verify.harness import run_qemu
    proj = compile_model(foreign_model("vww_96_int8.tflite"), "qemu-mps2-an386", name="vww", out=tmp_path, vectors=2)
    lines, instructions = benchmark.pedantic(lambda: run_qemu(proj), rounds=1, iterations=1)
    per_mac = instructions[0] / VWW_MACS
    benchmark.extra_info.update({"instructions": instructions[0], "instructions_per_mac": round(per_mac, 3)})
    assert len(lines) == 2 and abs(instructions[0] - instructions[1]) <= 400
    assert per_mac <= 1.39, f"{per_mac:.3f} instructions/MAC"      # measured 1.385 (10.37 M; 1.450 before)
