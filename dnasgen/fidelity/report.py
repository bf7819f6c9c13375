"""The fidelity report in <project>/report/: fidelity.json (the per-candidate pairs), .md, .png.

Every file is written atomically; matplotlib (Agg) is imported only here.
"""
from __future__ import annotations

from pathlib import Path

from dnasgen.io import atomic_write_text
from dnasgen.search.report import REPORT, _pyplot, _save_figure
from dnasgen.search.state import write_record


def _f(value, digits: int = 3) -> str:
    return "n/a" if value is None or value != value else f"{value:.{digits}f}"


def _rows(result: dict) -> list[str]:
    paper = result["paper_steps"] > 0
    head = "| # | data | width | fitness | stand-alone val (seeds) | mean | test |" + (" paper |" if paper else "")
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for i, c in enumerate(result["candidates"]):
        seeds = " / ".join(_f(v) for v in c["standalone_val"])
        row = (f"| {i} | {c['data']} | {c['width']:g} | {_f(c['fitness'])} | {seeds} | "
               f"{_f(c['standalone_val_mean'])} | {_f(c['standalone_test_mean'])} |")
        rows.append(row + (f" {_f(c['paper'])} |" if paper else ""))
    return rows


def summary_lines(result: dict) -> list[str]:
    s, t = result["stats"], result["seconds_per_candidate"]
    lines = [f"Kendall tau {_f(s['kendall_tau'])} (Spearman rho {_f(s['spearman_rho'])}) between the search's "
             f"fitness and the stand-alone validation accuracy (mean of {result['seeds']} seeds, "
             f"{result['epochs']} epochs, {result['n']} candidates)",
             f"noise ceiling (Kendall tau, seed 0 vs seed 1 stand-alone): {_f(s['noise_ceiling'])}; "
             f"fitness vs stand-alone test: {_f(s['kendall_tau_test'])}",
             f"top-{s['top_k']} overlap: {_f(s['top_k_overlap'], 2)}"]
    if result["paper_steps"] > 0:
        done = max(c["paper_steps_done"] for c in result["candidates"])      # whole epochs: ~paper_steps
        lines.append(f"seed paper's scoring ({done} fine-tune steps from the supernet): Kendall tau "
                     f"{_f(s['paper_kendall_tau'])} (Spearman {_f(s['paper_spearman_rho'])})")
    lines.append("seconds per candidate: " + ", ".join(f"{k} {v:.2f}" for k, v in t.items()))
    return lines


def markdown(result: dict) -> str:
    return "\n".join([f"# Ranking fidelity: {result['spec']}", "", *[f"- {x}" for x in summary_lines(result)],
                      "", *_rows(result), ""])


def _plot(result: dict, path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    cands = result["candidates"]
    labels = sorted({c["data"] for c in cands})
    colours = dict(zip(labels, plt.cm.tab10.colors))
    for label in labels:
        group = [c for c in cands if c["data"] == label]
        ax.scatter([c["fitness"] for c in group], [c["standalone_val_mean"] for c in group],
                   color=colours[label], label=label, s=28)
    ax.set_xlabel("search fitness (supernet subnet, val)")
    ax.set_ylabel(f"stand-alone val accuracy ({result['epochs']} epochs, mean of {result['seeds']} seeds)")
    ax.set_title(f"Kendall tau {_f(result['stats']['kendall_tau'])}, "
                 f"noise ceiling {_f(result['stats']['noise_ceiling'])}")
    ax.legend(fontsize=7)
    _save_figure(fig, path)
    plt.close(fig)


def write_fidelity(project: Path, result: dict) -> dict[str, Path]:
    folder = Path(project) / REPORT
    paths = {"json": folder / "fidelity.json", "md": folder / "fidelity.md", "png": folder / "fidelity.png"}
    write_record(paths["json"], result)
    atomic_write_text(paths["md"], markdown(result))
    _plot(result, paths["png"])
    return paths
