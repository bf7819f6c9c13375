"""Calibrate the cost model's Cortex-M4 latency coefficients from QEMU instruction counts.

    python -m dnasgen.verify.calibrate [--write] [--json report.json]

For several MobileNetV2 candidates of different shapes (random-weight full-int8 models), the
generated project is built for QEMU mps2-an386 with DN_TRACE=1, which prints the instructions
of every op (`-icount shift=0`: one instruction = one SysTick/40 step, see platform_arm.c).
The per-op counts are fitted, by least squares over all ops of all models, to the cost model's
formula (dnasgen/cost/latency.yaml):

    cycles(op) = overhead + cycles_per_mac[kind] * MACs + cycles_per_element[kind] * elements

(elements: output elements, input elements for mean). The fit is then checked on whole
inferences: estimated vs measured instructions per model (untraced `instructions:` line).
The same models are also measured with the portable C kernels (-DDN_NO_DSP, what cores without
the DSP extension run). `--write` stores the cortex-m4 coefficients in latency.yaml and derives
the other cores from the measured figures with the cost model's documented ratios (cortex-m7
0.6 x the DSP figures; cortex-m0plus 1.8 x per MAC, 2.5 x per element of the portable figures;
xtensa-lx7 the portable figures), editing only the numbers (the file's comments and layout stay).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dnasgen.candidate import ArchConfig, Candidate, DataConfig, StageConfig
from dnasgen.io import atomic_write_text

KINDS = ("conv", "dwconv", "fc", "add", "mean")
MAC_KINDS = ("conv", "dwconv", "fc")
_KIND_OF = {"conv": "conv", "conv1x1": "conv", "dwconv": "dwconv", "fc": "fc", "add": "add",
            "mean_sum": "mean", "mean_same": "mean"}
CORE = "cortex-m4"
VARIANTS = {"dsp": "-O2 -DDN_TRACE=1", "portable": "-O2 -DDN_TRACE=1 -DDN_NO_DSP"}
# core -> (measured variant, factor per MAC, factor per element, factor on the per-op overhead)
DERIVED = {"cortex-m4": ("dsp", 1.0, 1.0, 1.0), "cortex-m7": ("dsp", 0.6, 0.6, 0.6),
           "cortex-m0plus": ("portable", 1.8, 2.5, 1.5), "xtensa-lx7": ("portable", 1.0, 1.0, 1.0)}


def _cand(res: int, color: str, width: float, depths, kernels, expands) -> Candidate:
    stages = tuple(StageConfig(d, tuple(kernels[i] for _ in range(d)),
                               tuple(1 if i == 0 else expands[i] for _ in range(d)))
                   for i, d in enumerate(depths))
    return Candidate(DataConfig(res, color), ArchConfig(width, stages))


# Different resolutions, colours, widths, depths, kernel sizes and expansions.
MODELS = (
    ("mbv2-0.35-96-rgb", _cand(96, "rgb", 0.35, (1, 2, 3, 4, 3, 3, 1), (3,) * 7, (1, 6, 6, 6, 6, 6, 6)), 1280),
    ("mbv2-0.1-64-gray", _cand(64, "grayscale", 0.1, (1, 2, 3, 4, 3, 3, 1), (3,) * 7, (1, 6, 6, 6, 6, 6, 6)), 1280),
    ("k5-0.25-75-rgb", _cand(75, "rgb", 0.25, (1, 2, 2, 3, 2, 2, 1), (3, 5, 5, 5, 3, 5, 3), (1, 4, 4, 6, 4, 6, 6)), 512),
    ("k7-0.35-48-gray", _cand(48, "grayscale", 0.35, (1, 1, 2, 2, 2, 2, 1), (3, 7, 7, 3, 7, 3, 7), (1, 3, 6, 3, 6, 3, 6)), 512),
    ("wide-0.5-56-rgb", _cand(56, "rgb", 0.5, (1, 2, 2, 2, 1, 2, 1), (5, 3, 3, 5, 3, 3, 3), (1, 2, 3, 4, 5, 6, 2)), 768),
    ("tiny-0.25-32-rgb", _cand(32, "rgb", 0.25, (1, 1, 1, 1, 1, 1, 1), (3, 3, 5, 3, 7, 3, 3), (1, 6, 6, 6, 6, 6, 6)), 256),
)


@dataclass
class OpSample:
    model: str
    variant: str
    kind: str
    macs: int
    elements: int
    instructions: int


@dataclass
class ModelResult:
    name: str
    macs: int
    measured: int            # instructions of one untraced inference
    estimated: float = 0.0

    @property
    def error(self) -> float:
        return self.estimated / self.measured - 1.0


def _trace(project: Path, flags: str) -> dict[int, int]:
    from dnasgen.verify.project import run_make
    out = run_make(project, "qemu", f"ARM_CFLAGS={flags}")
    counts: dict[int, int] = {}
    for op, n in re.findall(r"^op (\d+): instructions (\d+)$", out, re.M):
        counts.setdefault(int(op), int(n))          # first inference only
    return counts


def measure(name: str, cand: Candidate, head: int, work: Path) -> tuple[list[OpSample], ModelResult]:
    """Per-op instruction counts (both kernel variants) and the untraced total of one model."""
    from dnasgen.codegen import generate_project, lower
    from dnasgen.export import make_test_model
    from dnasgen.verify.harness import run_qemu
    blob = make_test_model(cand, num_classes=2, head_channels=head, seed=1, calib_n=8)
    project = generate_project(blob, _spec(), cand, work / name, vectors=None)
    program = lower(blob)
    _, instructions = run_qemu(project)
    samples = []
    for variant, flags in VARIANTS.items():
        counts = _trace(project, flags)
        for op in program.ops:
            tensor = program.tensors[op.inputs[0] if op.kernel.startswith("mean") else op.output]
            samples.append(OpSample(name, variant, _KIND_OF[op.kernel], op.macs, tensor.bytes, counts[op.index]))
    return samples, ModelResult(name, program.macs, instructions[0])


def _spec():
    from dnasgen.boards import get_board
    from dnasgen.candidate import SearchSpace
    from dnasgen.spec.model import Dataset, Sensor, Spec
    return Spec("calibration", ("a", "b"), Dataset("synthetic"), Sensor(96, 96, "rgb888"), SearchSpace(),
                get_board("qemu-mps2-an386"), raw={"name": "calibration"})


def _design(samples: list[OpSample]) -> tuple[np.ndarray, list[str]]:
    names = ["overhead"] + [f"{k}.mac" for k in MAC_KINDS] + [f"{k}.element" for k in KINDS]
    rows = []
    for s in samples:
        row = dict.fromkeys(names, 0.0)
        row["overhead"] = 1.0
        if s.kind in MAC_KINDS:
            row[f"{s.kind}.mac"] = float(s.macs)
        row[f"{s.kind}.element"] = float(s.elements)
        rows.append([row[n] for n in names])
    return np.asarray(rows), names


def fit(samples: list[OpSample]) -> dict:
    """Least-squares coefficients (non-negative) in latency.yaml's layout for one core."""
    a, names = _design(samples)
    y = np.asarray([s.instructions for s in samples], float)
    active = list(range(len(names)))
    while True:                      # drop negative coefficients and refit (tiny NNLS)
        coef = np.zeros(len(names))
        coef[active] = np.linalg.lstsq(a[:, active], y, rcond=None)[0]
        negative = [i for i in active if coef[i] < 0]
        if not negative:
            break
        active = [i for i in active if i not in negative]
    values = dict(zip(names, coef))
    kinds = {k: {"cycles_per_mac": round(float(values.get(f"{k}.mac", 0.0)), 4),
                 "cycles_per_element": round(float(values[f"{k}.element"]), 3)} for k in KINDS}
    return {"overhead_cycles": round(float(values["overhead"]), 1), "kinds": kinds}


def estimate(samples: list[OpSample], coeffs: dict) -> float:
    total = 0.0
    for s in samples:
        kind = coeffs["kinds"][s.kind]
        total += coeffs["overhead_cycles"] + kind["cycles_per_mac"] * s.macs + kind["cycles_per_element"] * s.elements
    return total


def _scaled(coeffs: dict, per_mac: float, per_element: float, overhead: float) -> dict:
    kinds = {k: {"cycles_per_mac": round(v["cycles_per_mac"] * per_mac, 4),
                 "cycles_per_element": round(v["cycles_per_element"] * per_element, 3)}
             for k, v in coeffs["kinds"].items()}
    return {"overhead_cycles": round(coeffs["overhead_cycles"] * overhead, 1), "kinds": kinds}


def derived_cores(fits: dict[str, dict]) -> dict[str, dict]:
    """Coefficients of every core in DERIVED from the fitted variants."""
    return {core: _scaled(fits[variant], *factors) for core, (variant, *factors) in DERIVED.items()}


def _core_block(core: str, coeffs: dict, source: str, calibrated: bool) -> str:
    lines = [f"  {core}:", f"    calibrated: {str(calibrated).lower()}", f"    source: {json.dumps(source)}",
             f"    overhead_cycles: {coeffs['overhead_cycles']}", "    kinds:"]
    for kind, v in coeffs["kinds"].items():
        lines.append(f"      {kind + ':':7s} {{cycles_per_mac: {v['cycles_per_mac']}, "
                     f"cycles_per_element: {v['cycles_per_element']}}}")
    return "\n".join(lines) + "\n"


def write_latency(fits: dict[str, dict], models: int, path: Path | None = None) -> Path:
    """Replace the per-core blocks of latency.yaml (the header comment is kept), atomically."""
    path = path or Path(__file__).resolve().parents[1] / "cost" / "latency.yaml"
    text = path.read_text()
    how = f"least squares over every op of {models} models, python -m dnasgen.verify.calibrate"
    for core, coeffs in derived_cores(fits).items():
        variant, *factors = DERIVED[core]
        if core == CORE:
            source = f"QEMU mps2-an386 -icount shift=0 instruction counts of the generated DSP kernels, {how}"
        else:
            source = (f"derived, {factors[0]:g}x per MAC and {factors[1]:g}x per element of the QEMU-measured "
                      f"{variant} kernels ({how})")
        block = re.compile(rf"^  {re.escape(core)}:\n(?:    .*\n)*", re.M)
        if not block.search(text):
            raise ValueError(f"{path} has no {core} block")
        text = block.sub(lambda _: _core_block(core, coeffs, source, core == CORE), text, count=1)
    return atomic_write_text(path, text)


def calibrate(work: Path, models=MODELS) -> tuple[dict, list[ModelResult], list[OpSample]]:
    """Fitted coefficients per kernel variant, per-model results (DSP build), all op samples."""
    samples, results = [], []
    for name, cand, head in models:
        s, r = measure(name, cand, head, work)
        samples += s
        results.append(r)
    fits = {v: fit([s for s in samples if s.variant == v]) for v in VARIANTS}
    for r in results:
        r.estimated = estimate([s for s in samples if s.model == r.name and s.variant == "dsp"], fits["dsp"])
    return fits, results, samples


def format_results(coeffs: dict, results: list[ModelResult]) -> str:
    lines = [f"{CORE}: overhead {coeffs['overhead_cycles']} cycles/op"]
    lines += [f"  {k:7s} {v['cycles_per_mac']:.4f} cycles/MAC  {v['cycles_per_element']:.3f} cycles/element"
              for k, v in coeffs["kinds"].items()]
    lines.append(f"{'model':20s} {'MACs':>11s} {'measured':>12s} {'estimated':>12s} {'error':>7s} {'instr/MAC':>9s}")
    for r in results:
        lines.append(f"{r.name:20s} {r.macs:11,d} {r.measured:12,d} {r.estimated:12,.0f} "
                     f"{100 * r.error:+6.1f}% {r.measured / r.macs:9.2f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true", help="store the coefficients in dnasgen/cost/latency.yaml")
    ap.add_argument("--json", type=Path, help="write the per-model and per-op figures as JSON")
    args = ap.parse_args(argv)
    from dnasgen.verify.project import toolchain_available
    if not toolchain_available():
        print("error: arm-none-eabi-gcc and qemu-system-arm are needed", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="dnasgen-calibrate-") as tmp:
        fits, results, samples = calibrate(Path(tmp))
    print(format_results(fits["dsp"], results))
    if args.json:
        figures = {"fits": fits, "models": [vars(r) | {"error": r.error} for r in results],
                   "ops": [vars(s) for s in samples]}
        atomic_write_text(args.json, json.dumps(figures, indent=1))
    if args.write:
        print(f"wrote {write_latency(fits, len(results))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
