"""make_plan: compile a spec into a SearchPlan before any training (no torch / tensorflow).

Per data config it prices the space's smallest architecture (the floor of RAM, flash,
latency there); it prices N seeded random samples to tell which fraction fits each
budget; the cheapest and the largest feasible candidate (by MACs) are picked among
the samples plus the space's smallest and largest architecture at every data config.
When nothing fits it refuses with a BudgetError that names the budget and the gap.
"""
from __future__ import annotations

import random
from pathlib import Path

from dnasgen.candidate import Candidate
from dnasgen.cost import CostReport, estimate_spec
from dnasgen.errors import BudgetError
from dnasgen.plan.model import DataConfigPlan, Pick, SearchPlan, write_plan
from dnasgen.plan.render import kb

DEFAULT_SAMPLES = 500


def _floor(spec, data) -> tuple[DataConfigPlan, Candidate, CostReport]:
    cand = spec.space.smallest(data)
    rep = estimate_spec(spec, cand)
    row = DataConfigPlan(data, data.resolution * data.resolution * data.channels, rep.ram_bytes,
                         rep.flash_bytes, round(rep.latency_ms, 3), rep.macs, rep.fits, rep.violations)
    return row, cand, rep


def _fits(rep: CostReport, spec) -> dict[str, bool]:
    lat = spec.constraints.max_latency_ms
    ok = {"ram": rep.ram_bytes <= rep.ram_budget_bytes, "flash": rep.flash_bytes <= rep.flash_budget_bytes,
          "latency": lat is None or rep.latency_ms <= lat}
    ok["all"] = all(ok.values())
    return ok


def _refusal(spec, floors: list[DataConfigPlan]) -> BudgetError:
    """Say which budget cannot be met and by how much (best data config for that budget)."""
    board, lat = spec.board, spec.constraints.max_latency_ms
    checks = [("ram", lambda f: f.min_ram_bytes, board.ram_budget_bytes, kb),
              ("flash", lambda f: f.min_flash_bytes, board.flash_budget_bytes, kb)]
    if lat is not None:
        checks.append(("latency", lambda f: f.min_latency_ms, lat, lambda v: f"{v:,.1f} ms"))
    lines = []
    for what, get, budget, fmt in checks:
        best = min(floors, key=get)
        if get(best) > budget:
            line = (f"{what}: the smallest candidate needs {fmt(get(best))} at {best.data.label}, "
                    f"budget {fmt(budget)} (over by {fmt(get(best) - budget)})")
            if what == "ram" and best.input_bytes > budget:
                line += f"; the input tensor alone is {kb(best.input_bytes)}"
            lines.append(line)
    if not lines:
        lines = ["no candidate meets all budgets at once; the smallest candidate at each data config:"]
        lines += [f"  {f.data.label}: " + "; ".join(f.violations) for f in floors]
    return BudgetError(f"nothing in the search space fits board {board.id}:\n" + "\n".join(lines))


def _pick(cands: list[tuple[Candidate, CostReport]], largest: bool) -> Pick:
    def key(item):
        cand, rep = item
        return (-rep.macs if largest else rep.macs, rep.ram_bytes, cand.key)
    cand, rep = min(cands, key=key)
    return Pick(cand, rep.to_dict())


def make_plan(spec, samples: int = DEFAULT_SAMPLES, seed: int | None = None) -> SearchPlan:
    """The SearchPlan of a spec; BudgetError when no candidate fits the board."""
    seed = spec.search.seed if seed is None else seed
    rng = random.Random(seed)
    floors, pool = [], []
    for data in spec.space.data_configs():
        row, cand, rep = _floor(spec, data)
        floors.append(row)
        pool += [(cand, rep), (big := spec.space.largest(data), estimate_spec(spec, big))]
    sampled = [(c, estimate_spec(spec, c)) for c in (spec.space.sample(rng) for _ in range(samples))]
    fits = [_fits(rep, spec) for _, rep in sampled]
    fraction = {k: (sum(f[k] for f in fits) / len(fits) if fits else 0.0)
                for k in ("ram", "flash", "latency", "all")}
    feasible = [(c, r) for c, r in pool + sampled if r.fits]
    if not feasible:
        raise _refusal(spec, floors)
    board = spec.board
    return SearchPlan(
        spec_name=spec.name, spec_hash=spec.hash,
        board={"id": board.id, "core": board.core, "clock_mhz": board.clock_mhz,
               "ram_budget_bytes": board.ram_budget_bytes, "flash_budget_bytes": board.flash_budget_bytes},
        max_latency_ms=spec.constraints.max_latency_ms, space_size=spec.space.size(), samples=samples,
        seed=seed, fit_fraction=fraction, data_configs=tuple(floors),
        cheapest=_pick(feasible, largest=False), largest_feasible=_pick(feasible, largest=True))


def default_plan_path(spec) -> Path:
    """<output_dir>/<name>/.dnasgen/plan.json (the workdir convention)."""
    from dnasgen.layout import spec_workdir
    return spec_workdir(spec) / "plan.json"


def plan_spec(spec_path: Path, out: Path | None = None,
              samples: int = DEFAULT_SAMPLES) -> tuple[SearchPlan, Path]:
    """Load a spec, make its plan, write it (atomically); returns the plan and where it went."""
    from dnasgen.spec import load_spec
    spec = load_spec(spec_path, check_paths=False)
    plan = make_plan(spec, samples=samples)
    return plan, write_plan(plan, out or default_plan_path(spec))
