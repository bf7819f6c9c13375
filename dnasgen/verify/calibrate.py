"""Calibrate the cost model's latency coefficients from QEMU instruction counts, per core.

    python -m dnasgen.verify.calibrate [--cores m0plus,m3,m4,m7,m33,m55] [--models NAME,...] [--write]
                                       [--kinds dwconv5,dwconv7] [--json report.json]

For several MobileNetV2 candidates of different shapes (random-weight full-int8 models), the
generated project is built for QEMU with DN_TRACE=1, which prints the instructions of every op
(`-icount shift=0`: one instruction = one SysTick/40 step on the 25 MHz machines, see platform_arm.c).
The per-op counts are fitted, by non-negative least squares over all ops of all models, to the cost
model's formula (the terms and kinds of dnasgen.cost.latency, priced on the candidate's graph):

    cycles(op) = sum over the terms t of its kind: coefficient[kind][t] * term_t(op)

Each op is weighted by 1 / its model's instructions, so every model's relative error counts alike
(the goal: within 10 % of a whole inference). The fit is then checked per model on whole inferences
(untraced `instructions:` line): in sample, and held out (refitted without that model).
On the m4 the same models are also measured with the portable C kernels (-DDN_NO_DSP).

`--cores` measures other cores on their own QEMU machines (`make qemu CORE=<core>`, see
dnasgen.codegen.qemu; each core builds the kernels it runs: portable C99 on m0plus / m3, DSP on
m4 / m7 / m33, Helium on m55) and fits each core's coefficients to its own instruction counts.
`--write` stores every core of latency.yaml's catalogue: a measured core gets its own fit times
its `cycles_per_instruction` (latency.yaml: the datasheet assumption, which verify applies to the
measured instructions too); a core not measured (or not in QEMU, xtensa-lx7) is derived from the
m4's figures with the documented ratios of DERIVED. Only the numbers are edited (the file's header
and each core's cycles per instruction stay). `--kinds` refits only those kinds (one kernel changed):
their coefficients depend only on their own ops (each column of the fit is one kind's), so the models
that have such ops suffice; only the measured cores' blocks are edited, and only those kinds.
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
from dnasgen.cost.latency import MAC_TERMS, TERMS, latency_kind, op_terms
from dnasgen.errors import BuildError, DnasgenError
from dnasgen.io import atomic_write_text

CORE = "cortex-m4"
VARIANTS = {"dsp": "-O2 -DDN_TRACE=1", "portable": "-O2 -DDN_TRACE=1 -DDN_NO_DSP"}
M4_VARIANT = "dsp"          # the variant measured on the m4 is the m4's own build
# core -> (m4 variant, factor on the MAC terms, on the other terms, on the per-op term): the ratios a
# core gets when it is not measured on its own QEMU machine.
DERIVED = {"cortex-m4": ("dsp", 1.0, 1.0, 1.0), "cortex-m7": ("dsp", 0.6, 0.6, 0.6),
           "cortex-m0plus": ("portable", 1.8, 2.5, 1.5), "cortex-m3": ("portable", 1.0, 1.0, 1.0),
           "cortex-m33": ("dsp", 1.0, 1.0, 1.0), "cortex-m55": ("dsp", 1.0, 1.0, 1.0),
           "xtensa-lx7": ("portable", 1.0, 1.0, 1.0)}


def _cand(res: int, color: str, width: float, depths, kernels, expands) -> Candidate:
    stages = tuple(StageConfig(d, tuple(kernels[i] for _ in range(d)),
                               tuple(1 if i == 0 else expands[i] for _ in range(d)))
                   for i, d in enumerate(depths))
    return Candidate(DataConfig(res, color), ArchConfig(width, stages))


# Different resolutions, colours, widths, depths, kernel sizes and expansions; the quickstart demo's
# network (32 px RGB, all 5x5) and its 3x3 / 7x7 twins (small maps: border- and row-bound depthwise).
_DEMO = ((1, 2, 2, 2, 1, 1, 1), (1, 6, 6, 6, 6, 6, 6))
MODELS = (
    ("mbv2-0.35-96-rgb", _cand(96, "rgb", 0.35, (1, 2, 3, 4, 3, 3, 1), (3,) * 7, (1, 6, 6, 6, 6, 6, 6)), 1280),
    ("mbv2-0.1-64-gray", _cand(64, "grayscale", 0.1, (1, 2, 3, 4, 3, 3, 1), (3,) * 7, (1, 6, 6, 6, 6, 6, 6)), 1280),
    ("k5-0.25-75-rgb", _cand(75, "rgb", 0.25, (1, 2, 2, 3, 2, 2, 1), (3, 5, 5, 5, 3, 5, 3), (1, 4, 4, 6, 4, 6, 6)), 512),
    ("k7-0.35-48-gray", _cand(48, "grayscale", 0.35, (1, 1, 2, 2, 2, 2, 1), (3, 7, 7, 3, 7, 3, 7), (1, 3, 6, 3, 6, 3, 6)), 512),
    ("wide-0.5-56-rgb", _cand(56, "rgb", 0.5, (1, 2, 2, 2, 1, 2, 1), (5, 3, 3, 5, 3, 3, 3), (1, 2, 3, 4, 5, 6, 2)), 768),
    ("tiny-0.25-32-rgb", _cand(32, "rgb", 0.25, (1, 1, 1, 1, 1, 1, 1), (3, 3, 5, 3, 7, 3, 3), (1, 6, 6, 6, 6, 6, 6)), 256),
    ("demo-k5-0.35-32-rgb", _cand(32, "rgb", 0.35, _DEMO[0], (5,) * 7, _DEMO[1]), 256),
    ("demo-k3-0.35-32-rgb", _cand(32, "rgb", 0.35, _DEMO[0], (3,) * 7, _DEMO[1]), 256),
    ("demo-k7-0.35-32-rgb", _cand(32, "rgb", 0.35, _DEMO[0], (7,) * 7, _DEMO[1]), 256),
)


@dataclass
class OpSample:
    model: str
    variant: str
    kind: str                # dnasgen.cost.latency kind (TERMS' keys)
    terms: dict              # term -> value (dnasgen.cost.latency.op_terms)
    instructions: int


@dataclass
class ModelResult:
    name: str
    macs: int
    measured: int            # instructions of one untraced inference
    estimated: float = 0.0   # with the fit of every model
    core: str = "m4"
    code_bytes: int = 0      # runtime code (text minus model data) of the core's build
    held_out: float = 0.0    # with the fit of the other models

    @property
    def error(self) -> float:
        return self.estimated / self.measured - 1.0

    @property
    def held_out_error(self) -> float:
        return self.held_out / self.measured - 1.0


def _variants(cores) -> dict[str, tuple[str, str]]:
    """variant -> (QEMU core, ARM_CFLAGS): the m4's two kernel builds, then each other core's own."""
    out = {v: ("m4", flags) for v, flags in VARIANTS.items()}
    out.update({c: (c, VARIANTS["dsp"]) for c in cores if c != "m4"})
    return out


def variant_of(core: str) -> str:
    return M4_VARIANT if core == "m4" else core


def _trace(project: Path, flags: str, core: str = "m4") -> dict[int, int]:
    from dnasgen.verify.project import run_make
    out = run_make(project, "qemu", f"CORE={core}", f"ARM_CFLAGS={flags}")
    counts: dict[int, int] = {}
    for op, n in re.findall(r"^op (\d+): instructions (\d+)$", out, re.M):
        counts.setdefault(int(op), int(n))          # first inference only
    return counts


def _total(project: Path, name: str, macs: int, core: str) -> ModelResult:
    """One untraced inference on `core` (bit-exact with the embedded reference) and its code size."""
    from dnasgen.codegen.qemu import qemu_target
    from dnasgen.verify.project import parse_size, qemu_run, run_make
    out, instructions = qemu_run(project, core)
    if "test: ok" not in out or not instructions:
        raise BuildError(f"{name} on {core}: the test vectors did not pass in QEMU:\n{out[-600:]}")
    code = parse_size(run_make(project, "size", f"BOARD={qemu_target(core).board_id}"))["code"]
    return ModelResult(name, macs, instructions[0], core=core, code_bytes=code)


def graph_ops(cand: Candidate, head: int, program) -> list:
    """The cost model's graph ops of a candidate, checked one to one against the lowered program."""
    from dnasgen.graph import build_graph
    ops = build_graph(cand, 2, head).ops
    if [op.macs for op in ops] != [op.macs for op in program.ops]:
        raise BuildError("calibrate: the cost model's graph and the exported model differ op by op")
    return list(ops)


def measure(name: str, cand: Candidate, head: int, work: Path,
            cores=("m4",)) -> tuple[list[OpSample], list[ModelResult]]:
    """Per-op instruction counts (every variant) and the untraced total per core of one model."""
    from dnasgen.codegen import generate_project, lower
    from dnasgen.export import make_test_model
    blob = make_test_model(cand, num_classes=2, head_channels=head, seed=1, calib_n=8)
    project = generate_project(blob, _spec(), cand, work / name, vectors=None)
    program = lower(blob)
    ops = graph_ops(cand, head, program)
    results = [_total(project, name, program.macs, core) for core in dict.fromkeys(("m4", *cores))]
    samples = []
    for variant, (core, flags) in _variants(cores).items():
        counts = _trace(project, flags, core)
        samples += [OpSample(name, variant, latency_kind(op), op_terms(op), counts[c.index])
                    for op, c in zip(ops, program.ops)]
    return samples, results


def _spec():
    from dnasgen.boards import get_board
    from dnasgen.candidate import SearchSpace
    from dnasgen.spec.model import Dataset, Sensor, Spec
    return Spec("calibration", ("a", "b"), Dataset("synthetic"), Sensor(96, 96, "rgb888"), SearchSpace(),
                get_board("qemu-mps2-an386"), raw={"name": "calibration"})


def _columns() -> list[tuple[str, str]]:
    return [(kind, term) for kind, terms in TERMS.items() for term in terms]


def _design(samples: list[OpSample]) -> np.ndarray:
    return np.asarray([[s.terms.get(t, 0.0) if s.kind == k else 0.0 for k, t in _columns()] for s in samples])


def _nnls(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least squares with every coefficient >= 0 (drop the negative ones and refit)."""
    active = [i for i in range(a.shape[1]) if a[:, i].any()]
    while True:
        coef = np.zeros(a.shape[1])
        if active:
            coef[active] = np.linalg.lstsq(a[:, active], y, rcond=None)[0]
        negative = [i for i in active if coef[i] < 0]
        if not negative:
            return coef
        active = [i for i in active if i not in negative]


def fit(samples: list[OpSample]) -> dict:
    """Coefficients (non-negative) in latency.yaml's layout for one core; each op weighted by
    1 / its model's instructions (every model's relative error counts alike)."""
    totals: dict[str, int] = {}
    for s in samples:
        totals[s.model] = totals.get(s.model, 0) + s.instructions
    w = np.asarray([1.0 / max(totals[s.model], 1) for s in samples])
    y = np.asarray([s.instructions for s in samples], float)
    coef = _nnls(_design(samples) * w[:, None], y * w)
    kinds: dict[str, dict] = {k: {} for k in TERMS}
    for (kind, term), c in zip(_columns(), coef):
        kinds[kind][term] = round(float(c), 4)
    return {"kinds": kinds}


def estimate(samples: list[OpSample], coeffs: dict) -> float:
    return sum(coeffs["kinds"][s.kind].get(t, 0.0) * v for s in samples for t, v in s.terms.items())


def _scaled(coeffs: dict, per_mac: float, per_element: float, overhead: float) -> dict:
    def factor(term):
        return per_mac if term in MAC_TERMS else overhead if term == "op" else per_element
    return {"kinds": {k: {t: round(c * factor(t), 4) for t, c in v.items()} for k, v in coeffs["kinds"].items()}}


def _measured_variant(core: str, fits: dict[str, dict]) -> str | None:
    """The fitted variant measured on a catalogue core's own QEMU machine (the m4: its DSP build), if any."""
    from dnasgen.codegen.qemu import QEMU_TARGETS
    keys = [variant_of(t.core_key) for t in QEMU_TARGETS if t.core == core and variant_of(t.core_key) in fits]
    return keys[0] if keys else None


def _core_key(core: str) -> str:
    from dnasgen.codegen.qemu import QEMU_TARGETS
    return next(t.core_key for t in QEMU_TARGETS if t.core == core)


def derived_cores(fits: dict[str, dict], cpi: dict[str, float]) -> dict[str, dict]:
    """Coefficients of every core in DERIVED: its measured fit x its cycles per instruction (cpi, from
    latency.yaml) where the core was measured, else derived from the m4's by DERIVED's ratios."""
    out = {}
    for core, (variant, *factors) in DERIVED.items():
        measured = _measured_variant(core, fits)
        out[core] = (_scaled(fits[measured], cpi[core], cpi[core], cpi[core]) if measured
                     else _scaled(fits[variant], *factors))
    return out


def _core_block(core: str, coeffs: dict, source: str, calibrated: bool, cpi: float) -> str:
    lines = [f"  {core}:", f"    calibrated: {str(calibrated).lower()}", f"    source: {json.dumps(source)}",
             f"    cycles_per_instruction: {cpi:g}", "    kinds:"]
    for kind, v in coeffs["kinds"].items():
        terms = ", ".join(f"{t}: {c}" for t, c in v.items())
        lines.append(f"      {kind + ':':8s} {{{terms}}}")
    return "\n".join(lines) + "\n"


def _refit_source(source: str, kinds, models: int) -> str:
    """A core's source after a refit of `kinds`: the full fit's text, then one "; refitted K, ... (N
    models)" note per refit still in force (a note whose kinds are all refitted again is dropped)."""
    full, *notes = source.split("; refitted ")
    kept = [n for n in notes if not set(n.split(" (")[0].split(", ")) <= set(kinds)]
    return "; refitted ".join([full, *kept, f"{', '.join(kinds)} ({models} models)"])


def write_latency(fits: dict[str, dict], models: int, path: Path | None = None, kinds=None) -> Path:
    """Replace the per-core blocks of latency.yaml (the header comment is kept), atomically; with
    `kinds`, only those kinds of the measured cores (every other figure stays as it is)."""
    from ruamel.yaml import YAML
    path = path or Path(__file__).resolve().parents[1] / "cost" / "latency.yaml"
    text = path.read_text()
    current = YAML(typ="safe").load(text)["cores"]
    cpi = {c: float(v.get("cycles_per_instruction", 1.0)) for c, v in current.items()}
    how = f"least squares over every op of {models} models, python -m dnasgen.verify.calibrate"
    for core, coeffs in derived_cores(fits, cpi).items():
        variant, *factors = DERIVED[core]
        measured = _measured_variant(core, fits)
        if measured:
            source = (f"QEMU (make qemu CORE={_core_key(core)}) -icount shift=0 instruction counts of the generated "
                      f"kernels x {cpi[core]:g} cycles/instruction, {how}")
        else:
            source = (f"derived, {factors[0]:g}x on the MAC terms, {factors[1]:g}x on the others, {factors[2]:g}x "
                      f"per op of the QEMU-measured {variant} kernels of the m4 ({how})")
        if kinds and not measured:
            continue
        if kinds:
            coeffs = {"kinds": {k: coeffs["kinds"][k] if k in kinds else v for k, v in current[core]["kinds"].items()}}
            source = _refit_source(current[core]["source"], kinds, models)
        block = re.compile(rf"^  {re.escape(core)}:\n(?:    .*\n)*", re.M)
        if not block.search(text):
            raise BuildError(f"{path} has no {core} block: nothing written")
        calibrated = core == CORE or measured is not None
        text = block.sub(lambda _: _core_block(core, coeffs, source, calibrated, cpi[core]), text, count=1)
    return atomic_write_text(path, text)


def calibrate(work: Path, models=MODELS, cores=("m4",)) -> tuple[dict, list[ModelResult], list[OpSample]]:
    """Fitted coefficients per variant (dsp / portable on the m4, then each other core), the
    per-model results of every core (estimated with that core's own fit), all op samples."""
    samples, results = [], []
    for name, cand, head in models:
        s, r = measure(name, cand, head, work, cores)
        samples += s
        results += r
    fits = {v: fit([s for s in samples if s.variant == v]) for v in _variants(cores)}
    for r in results:
        v = variant_of(r.core)
        own = [s for s in samples if s.variant == v and s.model == r.name]
        others = [s for s in samples if s.variant == v and s.model != r.name]
        r.estimated = estimate(own, fits[v])
        r.held_out = estimate(own, fit(others)) if others else float("nan")
    return fits, results, samples


def format_results(coeffs: dict, results: list[ModelResult], core: str = "m4") -> str:
    lines = [f"{core} ({CORE if core == 'm4' else 'QEMU'}): instructions per term"]
    lines += [f"  {k:8s} " + "  ".join(f"{t} {c:g}" for t, c in v.items() if c) for k, v in coeffs["kinds"].items()]
    lines.append(f"{'model':20s} {'MACs':>11s} {'measured':>12s} {'estimated':>12s} {'error':>7s} {'held out':>8s} "
                 f"{'instr/MAC':>9s} {'code B':>7s}")
    for r in results:
        if r.core == core:
            lines.append(f"{r.name:20s} {r.macs:11,d} {r.measured:12,d} {r.estimated:12,.0f} "
                         f"{100 * r.error:+6.1f}% {100 * r.held_out_error:+7.1f}% {r.measured / r.macs:9.2f} "
                         f"{r.code_bytes:7,d}")
    return "\n".join(lines)


def format_ops(samples: list[OpSample], coeffs: dict, model: str, variant: str = "dsp") -> str:
    """Per op of one model: measured instructions (traced) vs the fitted estimate."""
    lines = [f"{model} ({variant}): op, kind, MACs, measured and estimated instructions, error"]
    for i, s in enumerate(x for x in samples if x.model == model and x.variant == variant):
        est = estimate([s], coeffs)
        lines.append(f"  {i:3d} {s.kind:8s} {int(s.terms.get('mac', 0)):9,d} MACs {s.instructions:10,d} {est:10,.0f} "
                     f"{100 * (est / s.instructions - 1):+6.1f}%")
    return "\n".join(lines)


def _names(what: str, text: str, choices) -> tuple[str, ...]:
    """A comma-separated option's names, each one of `choices` (else a clear error, before any work)."""
    names = tuple(text.split(","))
    unknown = [n for n in names if n not in choices]
    if unknown:
        raise SystemExit(f"error: unknown {what} {', '.join(unknown)}; one of: {', '.join(choices)}")
    return names


def _pick(models: str | None):
    names = _names("model", models, [m[0] for m in MODELS]) if models else None
    return MODELS if names is None else tuple(m for m in MODELS if m[0] in names)


def _cores(cores: str) -> tuple[str, ...]:
    from dnasgen.codegen.qemu import QEMU_CORES
    return _names("core", cores, QEMU_CORES)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true", help="store the coefficients in dnasgen/cost/latency.yaml")
    ap.add_argument("--json", type=Path, help="write the per-model and per-op figures as JSON")
    ap.add_argument("--cores", default="m4", help="QEMU cores to measure, comma-separated (m0plus,m3,m4,m7,m33,m55)")
    ap.add_argument("--models", help="only these models of MODELS, comma-separated")
    ap.add_argument("--kinds", help="with --write: store only these kinds (e.g. dwconv5,dwconv7) of the measured cores")
    ap.add_argument("--per-op", action="store_true", help="also print every op's measured and estimated instructions")
    args = ap.parse_args(argv)
    try:
        return _run(args)
    except DnasgenError as exc:          # a failed build / QEMU run: its message, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


def _kinds(text: str | None) -> tuple[str, ...] | None:
    """--kinds: the latency kinds to store (checked before any measurement)."""
    return _names("kind", text, list(TERMS)) if text else None


def _run(args) -> int:
    if args.kinds and not args.write:
        raise SystemExit("error: --kinds selects what --write stores; give --write too")
    cores, models, _ = _cores(args.cores), _pick(args.models), _kinds(args.kinds)
    from dnasgen.verify.project import toolchain_available
    if not toolchain_available():
        print("error: arm-none-eabi-gcc and qemu-system-arm are needed", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="dnasgen-calibrate-") as tmp:
        fits, results, samples = calibrate(Path(tmp), models, cores)
    every = dict.fromkeys(("m4", *cores))
    print("\n\n".join(format_results(fits[variant_of(c)], results, c) for c in every))
    if args.per_op:
        print("\n\n".join(format_ops(samples, fits[variant_of(c)], m[0], variant_of(c)) for c in every for m in models))
    if args.json:
        figures = {"fits": fits, "models": [vars(r) | {"error": r.error, "held_out_error": r.held_out_error}
                                            for r in results],
                   "ops": [vars(s) for s in samples]}
        atomic_write_text(args.json, json.dumps(figures, indent=1))
    if args.write:
        print(f"wrote {write_latency(fits, len(models), kinds=_kinds(args.kinds))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
