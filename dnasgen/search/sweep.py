"""`dnasgen search SPEC --compare --sweep KEY=V1,V2,...`: the strategy comparison over a budget sweep.

For each value of one budget (board.ram_kb, board.flash_kb, constraints.max_latency_ms, ...) and
each search seed, evolution (data-aware), hardware_aware and random run at equal evaluations on
ONE trained supernet; with differentiable=True the differentiable search runs too (same budgets and
train recipe; its warm-up is shared by every budget and seed, its joint search epochs run per budget
and seed, and its winner is fine-tuned from its own jointly trained supernet). Each winner is
fine-tuned (dnasgen.search.finetune), exported to int8 (dnasgen.export) and evaluated on the
held-out (test) split; every row records its search wall time. report/sweep.{md,json,png}.

Every value is parsed and priced before anything runs: a key that is not a budget or a value that
does not parse is a SpecError (exit 2), a value where nothing fits a BudgetError (exit 3), and the
report is written (atomically) only when every row is in. Winners are cached by candidate under
.dnasgen/sweep/winners/ (the same net found twice is fine-tuned and exported once), so an
interrupted sweep resumes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

from dnasgen.errors import BudgetError, SpecError
from dnasgen.io import atomic_write_text, json_digest, read_json
from dnasgen.search.constraints import Pricer, feasible_data_configs
from dnasgen.search.state import ARTIFACTS, data_cache, scored_search_hash, write_record

STRATEGY_ORDER = ("evolution", "hardware_aware", "random", "differentiable")
COLOURS = ("tab:blue", "tab:orange", "tab:gray", "tab:green")
# sweep key -> (spec section, field, JSON path in the spec, lowest allowed value)
BUDGET_KEYS = {"board.ram_kb": ("board", "ram_kb", "$.board"),
               "board.flash_kb": ("board", "flash_kb", "$.board"),
               "board.reserve_ram_kb": ("board", "reserve_ram_kb", "$.board"),
               "board.reserve_flash_kb": ("board", "reserve_flash_kb", "$.board"),
               "constraints.max_latency_ms": ("constraints", "max_latency_ms", "$.constraints")}
SWEEP_VERSION = 1
Z95 = 1.96


@dataclass(frozen=True)
class Sweep:
    key: str
    values: tuple[float, ...]


def _issue(spec, path: str, message: str) -> SpecError:
    from dnasgen.spec import spec_issue
    return SpecError([spec_issue(spec, path, message)])


def parse_sweep(spec, text: str) -> Sweep:
    """'KEY=V1,V2,...' -> Sweep; SpecError naming the key or value otherwise."""
    key, sep, rest = (text or "").partition("=")
    key = key.strip()
    if not sep or not key:
        raise _issue(spec, "$", f"--sweep {text!r}: expected KEY=V1,V2,... (e.g. board.ram_kb=32,64)")
    if key not in BUDGET_KEYS:
        raise _issue(spec, "$", f"--sweep {key}: not a budget; sweepable keys: {', '.join(BUDGET_KEYS)}")
    path = BUDGET_KEYS[key][2]
    values = []
    for raw in rest.split(","):
        try:
            value = float(raw.strip())
        except ValueError:
            raise _issue(spec, path, f"--sweep {key}={raw.strip()!r}: not a number") from None
        if not math.isfinite(value) or value < 0 or (value == 0 and "reserve" not in key):
            raise _issue(spec, path, f"--sweep {key}={raw.strip()}: must be a positive number")
        if value in values:
            raise _issue(spec, path, f"--sweep {key}={raw.strip()}: value given twice")
        values.append(value)
    return Sweep(key, tuple(values))


def with_budget(spec, key: str, value: float):
    """The spec with one budget replaced (the supernet, data and search sections unchanged)."""
    section, name, _ = BUDGET_KEYS[key]
    return replace(spec, **{section: replace(getattr(spec, section), **{name: value})})


def check_budgets(spec, sweep: Sweep) -> None:
    """BudgetError naming key=value for the first value where nothing (or not the baseline) fits
    (SpecError where the value leaves the model no RAM or flash at all)."""
    from dnasgen.search.runner import baseline_data
    for value in sweep.values:
        sv = with_budget(spec, sweep.key, value)
        for kind in ("ram", "flash"):
            if getattr(sv.board, f"{kind}_budget_bytes") <= 0:
                raise _issue(spec, BUDGET_KEYS[sweep.key][2], f"--sweep {sweep.key}={value:g}: leaves no {kind} for "
                             f"the model (board.{kind}_kb {getattr(sv.board, f'{kind}_kb'):g} <= board.reserve_"
                             f"{kind}_kb {getattr(sv.board, f'reserve_{kind}_kb'):g})")
        pricer = Pricer(sv)
        try:
            feasible_data_configs(sv, pricer, sv.space.data_configs())
            baseline_data(sv, pricer)
        except BudgetError as exc:
            raise BudgetError(f"--sweep {sweep.key}={value:g}: {exc}") from None


def _label(value: float) -> str:
    return f"{value:g}"


def binomial_ci(p: float, n: int) -> float:
    """Half-width of the 95 % normal-approximation interval of an accuracy p measured on n images."""
    return Z95 * math.sqrt(max(p * (1 - p), 0.0) / n) if n else float("nan")


class WinnerEvaluator:
    """Fine-tune + int8 export + held-out evaluation of a winner, cached per candidate."""

    def __init__(self, spec, workdir: Path, checkpoint: Path, bundle, int8: bool = True,
                 checkpoint_id: str | None = None):
        self.spec, self.checkpoint, self.bundle, self.int8 = spec, Path(checkpoint), bundle, int8
        self.workdir, self.checkpoint_id = Path(workdir), checkpoint_id
        self.root = self.workdir / ARTIFACTS / "sweep" / "winners"

    def on(self, checkpoint: Path, checkpoint_id: str) -> "WinnerEvaluator":
        """The same evaluation, fine-tuning from another supernet (the differentiable search's own)."""
        return WinnerEvaluator(self.spec, self.workdir, checkpoint, self.bundle, self.int8, checkpoint_id)

    def __call__(self, cand, estimate: float) -> dict:
        source = self.checkpoint_id or str(self.checkpoint.stat().st_mtime_ns)
        ident = json_digest([cand.key, scored_search_hash(self.spec),
                             self.int8, SWEEP_VERSION, source])[:16]
        out = self.root / ident
        cached = read_json(out / "winner.json")
        if cached and cached.get("identity") == ident:
            return cached
        from dnasgen.search.finetune import finetune_candidate
        ft = finetune_candidate(self.spec, self.checkpoint, cand, self.bundle, out, search_estimate=estimate)
        record = {"identity": ident, "finetuned_val": ft.val_accuracy, "float_test": ft.test_accuracy,
                  "supernet_test": ft.supernet_test_accuracy, "finetune_s": ft.seconds}
        record.update(self._int8(ft.checkpoint, out) if self.int8 else {"int8_test": None})
        write_record(out / "winner.json", record)
        return record

    def _int8(self, checkpoint: Path, out: Path) -> dict:
        from dnasgen.export.export import _int8_scores, export_model
        from dnasgen.export.parity import accuracy
        from dnasgen.export.quiet import quiet
        from dnasgen.export.reference import ReferenceInterpreter
        from dnasgen.nn import load_static
        net = load_static(checkpoint)
        res = export_model(net, self.spec, self.bundle, out)
        x, y = self.bundle.arrays("test", net.candidate.data)
        with quiet(out / "export.log"):
            scores = _int8_scores(ReferenceInterpreter(res.tflite_path.read_bytes()), x)
        return {"int8_test": accuracy(scores, y), "int8_val": res.int8_accuracy, "tflite_bytes": res.tflite_bytes}


def train_wall(checkpoint: Path) -> float:
    """Seconds of the supernet training that wrote checkpoint (its train log's epochs summed; 0 if none)."""
    import json
    from dnasgen.train.state import LOG_NAME
    log = Path(checkpoint).parent / LOG_NAME
    lines = log.read_text().splitlines() if log.is_file() else []
    return round(sum(json.loads(line).get("seconds", 0.0) for line in lines if line.strip()), 1)


def _walls(res, train_s: float) -> dict:
    """train_s (the supernet it scored on: shared training, or the differentiable warm-up) and search_s
    (the differentiable search's: its joint epochs and its selection)."""
    info = res.differentiable
    if info:
        return {"train_s": round(info["warmup_s"], 1), "search_s": round(info["search_s"] + info["selection"]["seconds"], 1)}
    return {"train_s": train_s, "search_s": round(res.elapsed_s, 1)}


def _row(sweep: Sweep, value: float, seed: int, res, record: dict, n_test: int, train_s: float) -> dict:
    c = res.chosen
    acc = record["int8_test"] if record.get("int8_test") is not None else record["float_test"]
    return {"key": sweep.key, "budget": value, "strategy": res.strategy, "seed": seed,
            "candidate": c.candidate.to_dict(), "data": c.candidate.data.label, "width": c.candidate.arch.width,
            "evaluations": res.evaluations, "supernet_val": c.accuracy, "ram_bytes": c.cost["ram_bytes"],
            "flash_bytes": c.cost["flash_bytes"], "latency_ms": c.cost["latency_ms"],
            "finetuned_val": record["finetuned_val"], "float_test": record["float_test"],
            "int8_test": record.get("int8_test"), "accuracy": acc, "n_test": n_test,
            "ci95": binomial_ci(acc, n_test), **_walls(res, train_s),
            **({"rescore": res.rescore} if res.rescore else {})}


def _differentiable(sv, workdir: Path, pricer: Pricer, state_dir: Path, evaluate):
    """(result, evaluator fine-tuning from its own supernet) of the differentiable search of one budget and seed."""
    from dnasgen.search.diffrun import SUPERNET, run_differentiable
    run_dir = state_dir / "differentiable"
    res, diff_scorer = run_differentiable(sv, workdir, pricer, show=False, run_dir=run_dir)
    return res, evaluate.on(run_dir / SUPERNET, diff_scorer.identity)


def _one_seed(spec, workdir: Path, sweep: Sweep, value: float, seed: int, scorer, evaluate,
              differentiable: bool = False) -> list[dict]:
    from dnasgen.search.runner import _search
    sv = with_budget(spec, sweep.key, value)
    sv = replace(sv, search=replace(sv.search, seed=seed))
    pricer = Pricer(sv)
    state_dir = Path(workdir) / ARTIFACTS / "sweep" / f"{sweep.key}={_label(value)}" / f"seed{seed}"
    rows, evals = [], None
    for strategy in STRATEGY_ORDER[:4 if differentiable else 3]:
        judge = evaluate
        if strategy == "differentiable":
            res, judge = _differentiable(sv, workdir, pricer, state_dir, evaluate)
        else:
            res = _search(sv, workdir, strategy, scorer, pricer, evals if strategy == "random" else None,
                          show=False, state_dir=state_dir)
        if strategy == "evolution":
            evals = res.evaluations
        record = judge(res.candidate, res.chosen.accuracy)
        n_test = len(evaluate.bundle.arrays("test", res.candidate.data)[1])
        rows.append(_row(sweep, value, seed, res, record, n_test, train_wall(evaluate.checkpoint)))
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    """Per (budget, strategy): mean, min and max over seeds, and the mean's binomial 95 % CI."""
    out = []
    for budget in sorted({r["budget"] for r in rows}):
        for strategy in STRATEGY_ORDER:
            group = [r for r in rows if r["budget"] == budget and r["strategy"] == strategy]
            if not group:
                continue
            accs = [r["accuracy"] for r in group]
            mean = sum(accs) / len(accs)
            out.append({"budget": budget, "strategy": strategy, "seeds": len(group), "mean": mean,
                        "min": min(accs), "max": max(accs), "ci95": binomial_ci(mean, group[0]["n_test"]),
                        "supernet_val": sum(r["supernet_val"] for r in group) / len(group),
                        "train_s": group[0]["train_s"],
                        "search_s": sum(r["search_s"] for r in group) / len(group)})
    return out


def sweep_markdown(spec, sweep: Sweep, rows: list[dict], summary: list[dict], metric: str) -> str:
    lines = [f"# Budget sweep: {spec.name}, {sweep.key}", "",
             f"Same supernet; per budget and seed, evolution (data-aware), hardware_aware (largest feasible "
             f"data configuration) and random at equal evaluations; each winner fine-tuned, accuracy = "
             f"**{metric}** on the held-out (test) split. ± is the 95 % binomial interval from the held-out "
             f"size: differences inside it are not real. Wall times: train s = the supernet the strategy "
             f"scored on (one training shared by evolution, hardware_aware and random; the differentiable "
             f"search's warm-up, shared by its budgets and seeds), search s = the search itself (for "
             f"differentiable: its joint search epochs); fine-tuning and export not included.", "",
             f"| {sweep.key} | strategy | seeds | mean acc | ± 95 % | min | max | supernet val | train s "
             "| search s |", "|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {_label(s['budget'])} | {s['strategy']} | {s['seeds']} | {s['mean']:.3f} | {s['ci95']:.3f} "
              f"| {s['min']:.3f} | {s['max']:.3f} | {s['supernet_val']:.3f} | {s['train_s']:g} "
              f"| {s['search_s']:.1f} |" for s in summary]
    lines += ["", "## Every run", "",
              f"| {sweep.key} | strategy | seed | data | width | evals | supernet val | fine-tuned val "
              "| float test | int8 test | RAM B | latency ms | search s |", "|" + "---|" * 13]
    for r in rows:
        int8 = "-" if r["int8_test"] is None else f"{r['int8_test']:.3f}"
        lines.append(f"| {_label(r['budget'])} | {r['strategy']} | {r['seed']} | {r['data']} | {r['width']:g} "
                     f"| {r['evaluations']} | {r['supernet_val']:.3f} | {r['finetuned_val']:.3f} "
                     f"| {r['float_test']:.3f} | {int8} | {r['ram_bytes']:,} | {r['latency_ms']:.2f} "
                     f"| {r['search_s']:.1f} |")
    lines += ["", "![sweep](sweep.png)", ""]
    return "\n".join(lines)


def plot_sweep(sweep: Sweep, summary: list[dict], path: Path, metric: str) -> Path:
    """Accuracy vs budget, a line per strategy: min-max over seeds shaded, 95 % CI as error bars."""
    from dnasgen.search.report import _pyplot, _save_figure
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for strategy, colour in zip(STRATEGY_ORDER, COLOURS):
        group = [s for s in summary if s["strategy"] == strategy]
        if not group:
            continue
        xs = [s["budget"] for s in group]
        ax.errorbar(xs, [s["mean"] for s in group], yerr=[s["ci95"] for s in group], color=colour,
                    marker="o", capsize=4, label=f"{strategy} (mean, ±95 % CI)")
        ax.fill_between(xs, [s["min"] for s in group], [s["max"] for s in group], color=colour, alpha=0.15)
    ax.set_xlabel(sweep.key)
    ax.set_ylabel(f"{metric} (held-out)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("accuracy vs budget (shaded: spread over seeds)")
    _save_figure(fig, path)
    plt.close(fig)
    return path


def write_sweep(spec, workdir: Path, sweep: Sweep, rows: list[dict], seeds: list[int], int8: bool) -> dict:
    from dnasgen.search.report import REPORT
    metric = "int8 accuracy" if int8 else "float accuracy"
    summary = summarise(rows)
    out = Path(workdir) / REPORT
    out.mkdir(parents=True, exist_ok=True)
    doc = {"version": SWEEP_VERSION, "spec": spec.name, "board": spec.board.id, "key": sweep.key,
           "values": list(sweep.values), "seeds": seeds, "int8": int8, "metric": metric,
           "rows": rows, "summary": summary}
    plot_sweep(sweep, summary, out / "sweep.png", metric)
    atomic_write_text(out / "sweep.md", sweep_markdown(spec, sweep, rows, summary, metric))
    write_record(out / "sweep.json", doc)
    return doc


def run_sweep(spec, workdir: Path, sweep_text: str, seeds: int = 3, *, int8: bool = True,
              scorer=None, checkpoint: Path | None = None, bundle=None, differentiable: bool = False) -> dict:
    """The sweep; returns the sweep.json document. Validates every value before running anything."""
    sweep = parse_sweep(spec, sweep_text)
    if seeds < 1:
        raise _issue(spec, "$.search.seed", f"--seeds {seeds}: need at least 1 search seed")
    check_budgets(spec, sweep)
    workdir = Path(workdir)
    if bundle is None:
        from dnasgen.data import open_dataset
        bundle = open_dataset(spec, cache_dir=data_cache(workdir))
    if checkpoint is None:
        from dnasgen.search.scoring import supernet_checkpoint
        checkpoint = supernet_checkpoint(spec, workdir, bundle)
    if scorer is None:
        from dnasgen.search.scoring import load_scorer
        scorer = load_scorer(spec, workdir, checkpoint)
    evaluate = WinnerEvaluator(spec, workdir, checkpoint, bundle, int8)
    seed_list = [spec.search.seed + i for i in range(seeds)]
    rows = [row for value in sweep.values for seed in seed_list
            for row in _one_seed(spec, workdir, sweep, value, seed, scorer, evaluate, differentiable)]
    return write_sweep(spec, workdir, sweep, rows, seed_list, int8)


def format_sweep(doc: dict) -> str:
    lines = [f"sweep of {doc['key']} over {', '.join(_label(v) for v in doc['values'])}, "
             f"{len(doc['seeds'])} seeds ({doc['metric']}, held-out):"]
    lines += [f"  {_label(s['budget']):>8} {s['strategy']:<15} {s['mean']:.3f} ± {s['ci95']:.3f} "
              f"(seeds {s['min']:.3f}-{s['max']:.3f}; search {s['search_s']:.0f} s)" for s in doc["summary"]]
    return "\n".join(lines) + "\nwrote report/sweep.md, sweep.json, sweep.png"
