"""The search report in `<workdir>/report/`: pareto.png, search.md, search.json, comparison.*.

matplotlib (Agg) is imported only here, when a report is written.
"""
from __future__ import annotations

from pathlib import Path

from dnasgen.search.pareto import COST_OBJECTIVES, Evaluated, pareto_front
from dnasgen.cost.report import format_binding, tightest_budget
from dnasgen.search.result import ComparisonTable, SearchResult, versus, versus_line
from dnasgen.io import atomic_path, atomic_write_text
from dnasgen.search.state import write_record

REPORT = "report"
_AXES = {"ram_bytes": ("RAM (KiB)", 1 / 1024), "flash_bytes": ("flash (KiB)", 1 / 1024),
         "latency_ms": ("latency (ms)", 1.0)}


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save_figure(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix[1:], dpi=110, bbox_inches="tight")


def _panel(ax, items: list[Evaluated], objective: str, budget, colours: dict) -> None:
    label, scale = _AXES[objective]
    for data_label, colour in colours.items():
        group = [e for e in items if e.candidate.data.label == data_label]
        ax.scatter([e.objective(objective) * scale for e in group], [e.accuracy for e in group],
                   s=14, alpha=0.7, color=colour, label=data_label)
    front = sorted(pareto_front(items, (objective,)), key=lambda e: e.objective(objective))
    ax.step([e.objective(objective) * scale for e in front], [e.accuracy for e in front],
            where="post", color="black", lw=1, label="Pareto front")
    if budget is not None:
        ax.axvline(budget * scale, color="red", ls="--", lw=1, label="budget")
    ax.set_xlabel(label)
    ax.grid(alpha=0.3)


def plot_pareto(result: SearchResult, path: Path, title: str = "") -> Path:
    """Accuracy vs RAM / flash / latency, one colour per data configuration, budgets as lines."""
    plt = _pyplot()
    items = result.evaluated
    labels = sorted({e.candidate.data.label for e in items},
                    key=lambda s: (int(s.split("px")[0]), s))
    cmap = plt.get_cmap("tab10" if len(labels) <= 10 else "tab20")
    colours = {lbl: cmap(i % cmap.N) for i, lbl in enumerate(labels)}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), sharey=True)
    for ax, objective in zip(axes, COST_OBJECTIVES):
        _panel(ax, items, objective, result.budgets.get(objective), colours)
    axes[0].set_ylabel("validation accuracy (supernet)")
    best = result.chosen
    for ax, objective in zip(axes, COST_OBJECTIVES):
        ax.scatter([best.objective(objective) * _AXES[objective][1]], [best.accuracy], marker="*",
                   s=160, color="gold", edgecolor="black", zorder=5, label="chosen")
    axes[-1].legend(fontsize=7, loc="lower right")
    fig.suptitle(title or f"{result.spec_name}: {result.strategy} on {result.board_id} "
                          f"({result.evaluations} candidates)")
    _save_figure(fig, path)
    plt.close(fig)
    return path


def _cost_cells(e: Evaluated) -> str:
    c = e.cost
    return (f"{c['ram_bytes']:,} | {c['flash_bytes']:,} | {c['latency_ms']:.2f} | {c['macs']:,} "
            f"| {c['params']:,}")


def _arch(e: Evaluated) -> str:
    depths = "".join(str(s.depth) for s in e.candidate.arch.stages)
    return f"w{e.candidate.arch.width:g} d{depths}"


def _table(rows: list[tuple[str, Evaluated]]) -> list[str]:
    out = ["| | data config | arch | val acc | RAM B | flash B | latency ms | MACs | params |",
           "|---|---|---|---|---|---|---|---|---|"]
    out += [f"| {name} | {e.candidate.data.label} | {_arch(e)} | {e.accuracy:.3f} | {_cost_cells(e)} |"
            for name, e in rows]
    return out


def _rho(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _predictor_lines(stats: dict) -> list[str]:
    if not stats:
        return []
    return [f"- predictor: {stats['considered']:,} candidates ranked ({stats['pool']:,} per generation), "
            f"{stats['screened_scored']} of its picks scored; Spearman rank correlation with the supernet "
            f"on held-back scores: {_rho(stats['spearman_prospective'])} (each pick predicted before it was "
            f"scored), {_rho(stats['spearman_holdout'])} (fit on 80 % of all scores, tested on the rest)"]


def _racing_lines(stats: dict) -> list[str]:
    if not stats:
        return []
    recal = stats["race_recal_samples"]
    bn = f"BN recalibrated on {recal}" if recal else "normalised by their own batch statistics"
    return [f"- racing: {stats['raced']} candidates scored on {stats['race_samples']} validation images "
            f"({bn}), the best {stats['race_keep']:g} of each "
            f"generation's on all: {stats['full']} fully scored, {stats['race_only']} race-only (not chosen "
            f"from, not listed below)"]


def _rescore_lines(info: dict) -> list[str]:
    if not info:
        return []
    rows = ", ".join(f"{r['label']} {r['supernet']:.3f} -> {r['val']:.3f}" for r in info["candidates"])
    same = info["chosen"] == info["supernet_choice"]
    return [f"- re-scored: the top {len(info['candidates'])} (best per data configuration first) trained "
            f"{info['epochs']} epochs from random init, supernet -> stand-alone validation accuracy: {rows}; "
            + ("the supernet's choice kept" if same else "**the choice changed** from the supernet's")
            + f" ({info['seconds']:.0f} s of training; {info['trained']} trained by this run, the rest cached)"]


def _versus_lines(result: SearchResult, baseline: SearchResult | None) -> list[str]:
    rows = versus(result, baseline)
    if rows is None:
        return []
    table = ComparisonTable({r.strategy: r for r in (result, baseline)})
    return ["## Data-aware vs hardware-aware (data configuration fixed to the largest feasible)", "",
            versus_line(rows), "", table.markdown()]


def _selection_lines(info: dict) -> list[str]:
    sel = info["selection"]
    if not sel["draws"]:
        return []
    which = "the argmax itself" if sel["chosen_is_argmax"] else "a draw"
    return [f"- selection: the best-scored feasible of the argmax and {sel['draws']} draws from the learned "
            f"distribution ({sel['distinct']} distinct, {sel['feasible']} feasible, {sel['seconds']:.1f} s): "
            f"{which}, supernet val {sel['chosen_score']:.3f} vs the argmax's {sel['argmax_score']:.3f}"]


def _differentiable_lines(info: dict) -> list[str]:
    """What the differentiable search did, and whether (and by how much) its argmax was repaired."""
    if not info:
        return []
    lines = [f"- differentiable: {info['warmup_epochs']} warm-up + {info['epochs']} search epochs "
             f"({info['warmup_s']:.1f} + {info['search_s']:.1f} s); constraint strengths "
             + ", ".join(f"{k} {v:.3g}" for k, v in info["strengths"].items())] + _selection_lines(info)
    if not info["repaired"]:
        return lines + ["- the argmax architecture meets every budget by the exact cost model (not repaired)"]
    before, after = info["before"], info["after"]
    return lines + [f"- **repaired**: the argmax `{info['argmax']}` missed {'; '.join(info['violations'])} "
                    f"(total relative overshoot {100 * info['overshoot']:.1f} %); the repair step shrank it to "
                    f"the chosen candidate: RAM {before['ram_bytes']:,} -> {after['ram_bytes']:,} B, flash "
                    f"{before['flash_bytes']:,} -> {after['flash_bytes']:,} B, latency "
                    f"{before['latency_ms']:.2f} -> {after['latency_ms']:.2f} ms"]


def search_markdown(result: SearchResult, top: int = 10, baseline: SearchResult | None = None) -> str:
    b = result.budgets
    lat = "none" if b.get("latency_ms") is None else f"{b['latency_ms']:g} ms"
    test = result.holdout.get("chosen")
    lines = [f"# Search report: {result.spec_name}", "",
             f"- strategy: **{result.strategy}**, board **{result.board_id}**",
             f"- budgets: RAM {b['ram_bytes']:,} B, flash {b['flash_bytes']:,} B, latency {lat}",
             f"- evaluations: {result.evaluations} candidates scored (every one fits every budget), "
             f"{result.generations} generations/batches, {result.elapsed_s:.1f} s ({result.stop_reason})",
             f"- chosen: `{result.candidate.to_json()}`",
             f"- chosen accuracy: validation {result.chosen.accuracy:.4f} (supernet subnet, BN recalibrated)"
             + (f", test {test:.4f}" if test is not None else ""),
             f"- binding budget (cost model): {format_binding(tightest_budget(result.chosen.cost, b))}",
             *_predictor_lines(result.predictor), *_racing_lines(result.racing), *_rescore_lines(result.rescore),
             *_differentiable_lines(result.differentiable), "",
             *_versus_lines(result, baseline),
             f"## Top {min(top, len(result.evaluated))} candidates", ""]
    lines += _table([(str(i + 1), e) for i, e in enumerate(result.top(top))])
    lines += ["", "## Best per data configuration", ""]
    lines += _table(list(result.best_per_data().items()))
    lines += ["", f"## Pareto front (accuracy vs RAM, flash, latency): {len(result.pareto)} candidates", ""]
    lines += _table([(str(i + 1), e) for i, e in enumerate(result.pareto)])
    lines += ["", "![Pareto front](pareto.png)", ""]
    return "\n".join(lines)


def write_report(spec, workdir: Path, result: SearchResult, baseline: SearchResult | None = None) -> Path:
    """pareto.png, search.md (with the hardware-aware baseline's choice when one ran), search.json."""
    out = Path(workdir) / REPORT
    out.mkdir(parents=True, exist_ok=True)
    plot_pareto(result, out / "pareto.png")
    atomic_write_text(out / "search.md", search_markdown(result, baseline=baseline))
    result.save(out / "search.json")
    return out


def plot_comparison(table: ComparisonTable, path: Path) -> Path:
    """Every evaluated candidate of each strategy: accuracy vs RAM and vs latency, one colour each."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for (name, res), colour in zip(table.results.items(), ("tab:blue", "tab:orange", "tab:gray", "tab:green")):
        for ax, objective in zip(axes, ("ram_bytes", "latency_ms")):
            scale = _AXES[objective][1]
            ax.scatter([e.objective(objective) * scale for e in res.evaluated],
                       [e.accuracy for e in res.evaluated], s=10, alpha=0.5, color=colour, label=name)
            ax.scatter([res.chosen.objective(objective) * scale], [res.chosen.accuracy], marker="*",
                       s=200, color=colour, edgecolor="black", zorder=5)
            ax.set_xlabel(_AXES[objective][0])
            ax.grid(alpha=0.3)
    axes[0].set_ylabel("validation accuracy (supernet)")
    axes[1].legend(fontsize=8, loc="lower right")
    fig.suptitle("data-aware (evolution) vs hardware-aware vs random (equal evaluations) "
                 + ("vs differentiable (own supernet)" if "differentiable" in table.results else ""))
    _save_figure(fig, path)
    plt.close(fig)
    return path


def write_comparison(spec, workdir: Path, table: ComparisonTable) -> Path:
    out = Path(workdir) / REPORT
    out.mkdir(parents=True, exist_ok=True)
    diff = ("differentiable trains its own supernet in one run (warm-up + joint epochs, its time includes that "
            "training) and scores only its result, so its accuracies are on another supernet; compare the "
            "fine-tuned figures (`--sweep`). " if "differentiable" in table.results else "")
    text = ("# Strategy comparison\n\nSame supernet, same budgets, same number of evaluated candidates; "
            "val acc selects, test acc (supernet subnet, BN recalibrated) is reported only. " + diff + "\n\n"
            + table.markdown() + "\n![comparison](comparison.png)\n")
    atomic_write_text(out / "comparison.md", text)
    write_record(out / "comparison.json", table.to_dict())
    plot_comparison(table, out / "comparison.png")
    return out
