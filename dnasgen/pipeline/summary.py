"""The final build summary: what was chosen, how accurate, how big vs the budget, where, how to run.

`collect` gathers the figures the stages recorded in their manifests (plus the cost model's
estimate of the chosen candidate); `render` prints them with rich.
"""
from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from dnasgen.io import read_json
from dnasgen.layout import INPUTS_NAME


def describe_arch(cand) -> str:
    """e.g. 'MobileNetV2 width 0.35, depths 1-2-2-3-2-2-1, kernels 3 5 3 ..., expands 1 6 4 ...'."""
    stages = cand.arch.stages
    depths = "-".join(str(st.depth) for st in stages)
    kernels = " ".join(str(k) for st in stages for k in st.kernel)
    expands = " ".join(str(e) for st in stages for e in st.expand)
    return (f"MobileNetV2 width {cand.arch.width:g}, depths {depths}, kernels {kernels}, "
            f"expands {expands}")


def _candidate(ctx):
    from dnasgen.candidate import Candidate
    if "candidate" not in ctx.artifacts:
        return None
    return Candidate.from_dict(read_json(ctx.artifact("candidate")))


def _row(estimate, measured, budget) -> dict:
    return {"estimate": estimate, "measured": measured, "budget": budget}


def _budgets(ctx, cand) -> dict:
    from dnasgen.cost import estimate_spec
    from dnasgen.cost.report import tightest_budget
    spec, verify = ctx.spec, ctx.infos.get("verify", {})
    cost = estimate_spec(spec, cand).to_dict()
    out = {
        "ram_bytes": _row(cost["ram_bytes"], verify.get("ram_bytes"), spec.board.ram_budget_bytes),
        "flash_bytes": _row(cost["flash_bytes"], verify.get("flash_bytes"),
                            spec.board.flash_budget_bytes),
        "latency_ms": _row(cost["latency_ms"], verify.get("latency_ms"),
                           spec.constraints.max_latency_ms),
        "macs": cost["macs"], "params": cost["params"], "fits": cost["fits"],
    }
    out["binding"] = tightest_budget(*_used(out))    # measured where verify ran, else the estimate
    return out


def _used(budget: dict) -> tuple[dict, dict]:
    """(values, limits) of the budget rows: the measured figure where there is one."""
    rows = {k: budget[k] for k in ("ram_bytes", "flash_bytes", "latency_ms")}
    return ({k: r["estimate"] if r["measured"] is None else r["measured"] for k, r in rows.items()},
            {k: r["budget"] for k, r in rows.items()})


def _comparison(ctx) -> list[dict] | None:
    """The search's choice vs the hardware-aware baseline's on the same supernet and budgets (from
    search.compare_baseline or `dnasgen search --compare`), as ComparisonTable rows; else None."""
    from dnasgen.errors import DnasgenError
    from dnasgen.search.runner import BASELINE, load_result
    from dnasgen.search.result import versus
    if "search" not in ctx.artifacts:
        return None
    try:
        return versus(load_result(ctx.project), load_result(ctx.project, BASELINE))
    except DnasgenError:           # no baseline result (or an unreadable one): nothing to compare
        return None


def shown(path: Path) -> str:
    """A path as the user would type it: relative to the working directory when inside it."""
    path = Path(path)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def commands(project: Path) -> list[str]:
    inputs = read_json(Path(project) / INPUTS_NAME) or {}
    frame = next((f["path"] for f in inputs.get("frames", [])), "FRAME.raw")
    return [f"cd {shown(project)}",
            f"make host && ./build/host/app --frame {frame}   # one raw camera frame",
            "make test    # bit-exact check of the embedded test vectors",
            "make qemu    # the Cortex-M4 firmware in QEMU (mps2-an386)",
            "make size    # flash / RAM of the firmware"]


def collect(ctx, result) -> dict:
    """The summary as a JSON-able dict (also written to .dnasgen/summary.json)."""
    infos, spec = ctx.infos, ctx.spec
    summary = {
        "spec": spec.name, "project": str(ctx.project), "seconds": result.seconds,
        "board": {"id": spec.board.id, "core": spec.board.core, "clock_mhz": spec.board.clock_mhz},
        "stages": [{"name": r.name, "status": r.status, "seconds": r.seconds} for r in result.stages],
    }
    cand = _candidate(ctx)
    if cand is not None:
        summary.update(candidate=cand.to_dict(), data=cand.data.label, arch=describe_arch(cand),
                       budget=_budgets(ctx, cand), comparison=_comparison(ctx))
    export = infos.get("export") or {}
    summary["accuracy"] = {
        "supernet_val": (infos.get("search") or {}).get("supernet_accuracy"),
        "float_val": export.get("float_accuracy"),
        "int8_val": export.get("int8_accuracy"),
        "float_test": (infos.get("finetune") or {}).get("float_accuracy"),
    }
    generate = infos.get("generate") or {}
    summary["arena"] = {"dnasgen": generate.get("arena_bytes"), "tflm": generate.get("tflm_arena_bytes")}
    summary["verify"] = infos.get("verify")
    if "lock" in ctx.artifacts:
        summary["commands"] = commands(ctx.project)
    return summary


def _fmt(value, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "B":
        return f"{value / 1024:,.1f} kB"
    if unit == "ms":
        return f"{value:,.1f} ms"
    return f"{value:.1%}" if unit == "%" else str(value)


def _budget_table(budget: dict) -> Table:
    from dnasgen.cost.report import BUDGETS, budget_usage
    table = Table(title="resources vs budget", title_justify="left")
    for col in ("", "estimate", "measured", "budget", "used"):
        table.add_column(col, justify="right" if col else "left")
    used = {u["key"]: f"{u['fraction']:.0%}" for u in budget_usage(*_used(budget))}
    for key, label, unit in BUDGETS:
        row = budget[key]
        table.add_row(label, _fmt(row["estimate"], unit), _fmt(row["measured"], unit),
                      _fmt(row["budget"], unit), used.get(key, "-"))
    return table


def _print_choice(summary: dict, console: Console) -> None:
    """The binding budget, and the search's choice against the hardware-aware baseline's."""
    from dnasgen.cost.report import format_binding
    from dnasgen.search.result import versus_line
    console.print(f"[bold]binding budget[/] {format_binding(summary['budget'].get('binding'))}",
                  highlight=False)
    if summary.get("comparison"):
        console.print(f"[bold]vs baseline[/]   {versus_line(summary['comparison'])}", highlight=False)


def render(summary: dict, console: Console | None = None) -> None:
    """Print the summary (rich)."""
    console = console or Console()
    ran = [s["name"] for s in summary["stages"] if s["status"] == "ran"]
    console.rule(f"[bold]dnasgen build: {summary['spec']}[/] ({summary['seconds']:.0f} s)")
    console.print(f"[bold]stages run[/]    {', '.join(ran) or 'none: everything was up to date'}")
    if "candidate" in summary:
        console.print(f"[bold]data[/]          {summary['data']}")
        console.print(f"[bold]architecture[/]  {summary['arch']}")
        acc = summary["accuracy"]
        console.print(f"[bold]accuracy[/]      validation: supernet {_fmt(acc['supernet_val'], '%')}, "
                      f"fine-tuned float {_fmt(acc['float_val'], '%')}, int8 {_fmt(acc['int8_val'], '%')}; "
                      f"test (held out): float {_fmt(acc['float_test'], '%')}")
        console.print(_budget_table(summary["budget"]))
        _print_choice(summary, console)
    arena = summary.get("arena") or {}
    if arena.get("tflm") is not None:
        console.print(f"[bold]arena[/]         dnasgen {arena['dnasgen']:,} B; TFLM {arena['tflm']:,} B "
                      "(tflite-micro package; TFLM project in tflm/)")
    verify = summary.get("verify") or {}
    if verify.get("note"):
        console.print(f"[bold]verify[/]        {verify['note']}")
    if summary.get("commands"):
        console.print(f"[bold]project[/]       {shown(summary['project'])}")
        console.print("[bold]build and run[/]")
        for line in summary["commands"]:
            console.print(f"  {line}", highlight=False)
