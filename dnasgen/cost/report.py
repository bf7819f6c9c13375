"""CostReport (what estimate() returns), budget checks and a plain-text rendering."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

REPORT_KEYS = ("macs", "params", "flash_bytes", "ram_bytes", "latency_ms", "fits", "violations")


@dataclass(frozen=True)
class OpCost:
    """One op's share of the costs (latency on the report's board)."""
    name: str
    kind: str
    macs: int
    params: int
    flash_bytes: int
    out_bytes: int
    out_offset: int          # arena offset of the op's output tensor
    cycles: float
    latency_ms: float
    in_place: bool = False   # the output overwrites the op's input (export.memory: inplace)
    patch: str = ""          # "3x3": the op runs per patch (export.memory: patch); MACs / cycles of all

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class CostReport:
    macs: int
    params: int
    flash_bytes: int
    ram_bytes: int
    latency_ms: float
    violations: tuple[str, ...]
    arena_bytes: int = 0
    model_flash_bytes: int = 0
    board_id: str = ""
    core: str = ""
    clock_mhz: float = 0.0
    ram_budget_bytes: int = 0
    flash_budget_bytes: int = 0
    max_latency_ms: float | None = None
    latency_calibrated: bool = False
    memory: str = ""         # the arena schedule (dnasgen.cost.inplace.MEMORY_MODES)
    patch: str = ""          # the patch stage chosen (export.memory: patch), "" for none
    patch_grid: tuple[int, int] | None = None   # its (n, ops): what codegen emits
    breakdown: Callable[[], tuple[OpCost, ...]] | None = field(default=None, repr=False, compare=False)

    @property
    def fits(self) -> bool:
        """Every budget met (no violation)."""
        return not self.violations

    @property
    def ram_overhead_bytes(self) -> int:
        """RAM besides the arena: stack, static state, scratch, preprocessing buffer."""
        return self.ram_bytes - self.arena_bytes

    @property
    def code_flash_bytes(self) -> int:
        """Flash besides the model's constant data: kernels, runtime, tables, preprocessing."""
        return self.flash_bytes - self.model_flash_bytes

    @property
    def ops(self) -> tuple[OpCost, ...]:
        """Per-op breakdown (computed on demand: the search never needs it)."""
        return self.breakdown() if self.breakdown else ()

    def to_dict(self) -> dict:
        """Exactly the keys of the `dnasgen estimate --json` contract."""
        return {"macs": self.macs, "params": self.params, "flash_bytes": self.flash_bytes,
                "ram_bytes": self.ram_bytes, "latency_ms": round(self.latency_ms, 3), "fits": self.fits,
                "violations": list(self.violations)}

    def details(self) -> dict:
        """Everything, for reports: the contract keys plus breakdowns and per-op rows."""
        out = self.to_dict()
        out.update(arena_bytes=self.arena_bytes, ram_overhead_bytes=self.ram_overhead_bytes,
                   model_flash_bytes=self.model_flash_bytes, code_flash_bytes=self.code_flash_bytes,
                   board=self.board_id, core=self.core, clock_mhz=self.clock_mhz,
                   ram_budget_bytes=self.ram_budget_bytes, flash_budget_bytes=self.flash_budget_bytes,
                   max_latency_ms=self.max_latency_ms, latency_calibrated=self.latency_calibrated,
                   memory=self.memory, patch=self.patch, ops=[op.to_dict() for op in self.ops])
        return out


def _over(what: str, value: float, budget: float, unit: str, fmt: str) -> str:
    return (f"{what}: {value:{fmt}} {unit} > budget {budget:{fmt}} {unit} "
            f"(by {value - budget:{fmt}} {unit})")


def budget_violations(ram: int, ram_budget: int, flash: int, flash_budget: int,
                      latency_ms: float, max_latency_ms: float | None) -> list[str]:
    """Every exceeded budget, e.g. "ram: 301,234 B > budget 262,144 B (by 39,090 B)"."""
    out = []
    if ram > ram_budget:
        out.append(_over("ram", ram, ram_budget, "B", ","))
    if flash > flash_budget:
        out.append(_over("flash", flash, flash_budget, "B", ","))
    if max_latency_ms is not None and latency_ms > max_latency_ms:
        out.append(_over("latency", latency_ms, max_latency_ms, "ms", ",.1f"))
    return out


BUDGETS = (("ram_bytes", "RAM", "B"), ("flash_bytes", "flash", "B"), ("latency_ms", "latency", "ms"))
BINDS_AT = 0.8          # a budget binds when the chosen candidate uses at least this share of it


def budget_usage(values: dict, budgets: dict) -> list[dict]:
    """Each budget's use by the values (RAM, flash, latency; a missing value or limit is left out):
    {"key", "label", "unit", "used", "limit", "fraction"}."""
    out = []
    for key, label, unit in BUDGETS:
        used, limit = values.get(key), budgets.get(key)
        if used is not None and limit:
            out.append({"key": key, "label": label, "unit": unit, "used": used, "limit": limit,
                        "fraction": used / limit})
    return out


def tightest_budget(values: dict, budgets: dict) -> dict | None:
    """The budget the values come closest to, with "binds" (fraction >= BINDS_AT)."""
    usage = budget_usage(values, budgets)
    if not usage:
        return None
    top = max(usage, key=lambda u: u["fraction"])
    return {**top, "binds": top["fraction"] >= BINDS_AT}


def format_amount(value: float, unit: str) -> str:
    """Bytes as kB (1024), milliseconds with one decimal."""
    return f"{value / 1024:,.1f} kB" if unit == "B" else f"{value:,.1f} ms"


def format_binding(tight: dict | None) -> str:
    """e.g. "RAM 22.2 kB of 24.0 kB (92 %) binds" / "... (8 %): no budget binds"."""
    if tight is None:
        return "no budget"
    text = (f"{tight['label']} {format_amount(tight['used'], tight['unit'])} of "
            f"{format_amount(tight['limit'], tight['unit'])} ({tight['fraction']:.0%})")
    return f"{text} binds" if tight["binds"] else f"{text}, the tightest: no budget binds"


def _pct(value: float, budget: float | None) -> str:
    return f"{100.0 * value / budget:5.1f} %" if budget else "      -"


def format_report(report: CostReport, per_op: bool = False) -> str:
    """Human-readable summary: costs against the board's budgets, then the violations."""
    lat_note = "" if report.latency_calibrated else "  (estimate, not calibrated)"
    lat_budget = f"{report.max_latency_ms:,.1f} ms" if report.max_latency_ms is not None else "-"
    lines = [f"board {report.board_id} ({report.core} @ {report.clock_mhz:g} MHz)",
             f"  MACs        {report.macs:>14,}",
             f"  params      {report.params:>14,}",
             f"  RAM         {report.ram_bytes:>14,} B   budget {report.ram_budget_bytes:>12,} B  "
             f"{_pct(report.ram_bytes, report.ram_budget_bytes)}   (arena {report.arena_bytes:,} B "
             f"[{report.memory}] + runtime {report.ram_overhead_bytes:,} B)",
             f"  flash       {report.flash_bytes:>14,} B   budget {report.flash_budget_bytes:>12,} B  "
             f"{_pct(report.flash_bytes, report.flash_budget_bytes)}   (model {report.model_flash_bytes:,} B "
             f"+ code {report.code_flash_bytes:,} B)",
             f"  latency     {report.latency_ms:>14,.1f} ms  budget {lat_budget:>15}  "
             f"{_pct(report.latency_ms, report.max_latency_ms)}{lat_note}"]
    if report.patch:
        lines.append(f"  patches     {report.patch}")
    if per_op:
        lines.append(f"  {'op':<16}{'kind':<8}{'MACs':>12}{'params':>10}{'flash B':>10}"
                     f"{'out B':>9}{'offset':>9}{'ms':>9}  in place / patch")
        lines += [f"  {o.name:<16}{o.kind:<8}{o.macs:>12,}{o.params:>10,}{o.flash_bytes:>10,}"
                  f"{o.out_bytes:>9,}{o.out_offset:>9,}{o.latency_ms:>9.2f}  "
                  f"{'yes' if o.in_place else o.patch}".rstrip()
                  for o in report.ops]
    lines.append("fits: yes" if report.fits else "fits: NO\n" + "\n".join(f"  - {v}" for v in report.violations))
    return "\n".join(lines)
