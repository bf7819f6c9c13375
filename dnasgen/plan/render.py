"""Human-readable summary of a SearchPlan (what `dnasgen plan` prints)."""
from __future__ import annotations

from dnasgen.plan.model import SearchPlan


def kb(nbytes: float) -> str:
    """Bytes as "12.3 KB" (plan summaries and refusals)."""
    return f"{nbytes / 1024:,.1f} KB"


def _pick_line(label: str, pick) -> str:
    c, cost = pick.candidate, pick.cost
    return (f"  {label:<17} {c.data.label}, width {c.arch.width:g}, depths "
            f"{[s.depth for s in c.arch.stages]}: {cost['macs']:,} MACs, RAM {kb(cost['ram_bytes'])}, "
            f"flash {kb(cost['flash_bytes'])}, {cost['latency_ms']:,.1f} ms")


def _verdict(row, board: dict) -> str:
    if row.fits:
        return "yes"
    if row.input_bytes > board["ram_budget_bytes"]:
        return "no: the input tensor alone exceeds the RAM budget"
    return "no: " + "; ".join(v.split(" >")[0] for v in row.violations)


def _latency_note(core: str) -> str:
    from dnasgen.cost.model import core_coefficients
    if core_coefficients(core)["calibrated"]:
        return f"  (latency: the {core} model fitted to QEMU instruction counts x cycles per instruction)"
    return f"  (latency: an estimate, {core} is not calibrated on an emulator)"


def format_plan(plan: SearchPlan) -> str:
    b = plan.board
    lat = f"{plan.max_latency_ms:,.1f} ms" if plan.max_latency_ms is not None else "none"
    lines = [f"plan for {plan.spec_name} on {b['id']} ({b['core']} @ {b['clock_mhz']:g} MHz)",
             f"  budgets: RAM {kb(b['ram_budget_bytes'])}, flash {kb(b['flash_budget_bytes'])}, "
             f"latency {lat}",
             f"  search space: {plan.space_size:,} candidates over {len(plan.data_configs)} data configs",
             "",
             f"  {'data config':<16}{'input':>11}{'min RAM':>12}{'min flash':>12}{'min ms':>10}  fits"]
    for d in plan.data_configs:
        lines.append(f"  {d.data.label:<16}{kb(d.input_bytes):>11}{kb(d.min_ram_bytes):>12}"
                     f"{kb(d.min_flash_bytes):>12}{d.min_latency_ms:>10,.1f}  " + _verdict(d, b))
    frac = plan.fit_fraction
    lines += ["", f"  of {plan.samples} sampled candidates (seed {plan.seed}) fit: "
              + ", ".join(f"{k} {100 * frac[k]:.1f} %" for k in ("ram", "flash", "latency", "all")),
              _pick_line("cheapest:", plan.cheapest),
              _pick_line("largest feasible:", plan.largest_feasible), _latency_note(b["core"])]
    return "\n".join(lines)
