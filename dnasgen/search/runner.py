"""run_search / compare: the search stage over a spec, writing `.dnasgen/` artifacts and the report.

Workdir convention: `workdir` is the generated project `<output_dir>/<name>/`; the search state
and results live in `workdir/.dnasgen/`, the report in `workdir/report/`.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from dnasgen.candidate import DataConfig
from dnasgen.errors import BudgetError, DnasgenError
from dnasgen.io import json_digest
from dnasgen.search.constraints import (Pricer, budget_error, cost_model_identity, feasible_data_configs,
                                        largest_feasible_data, what_of)
from dnasgen.search.engine import STRATEGIES, Engine, SearchConfig
from dnasgen.search.pareto import choose
from dnasgen.search.result import ComparisonTable, SearchResult, versus, versus_line
from dnasgen.search.state import ARTIFACTS, scored_search_hash


def config_from_spec(spec, strategy: str) -> SearchConfig:
    s = spec.search
    return SearchConfig(strategy=strategy, population=s.population, generations=s.generations,
                        mutation_prob=s.mutation_prob, mutation_ratio=s.mutation_ratio,
                        parent_ratio=s.parent_ratio, time_budget_s=s.time_budget_s, seed=s.seed,
                        predictor=s.predictor, predictor_pool=s.predictor_pool, race_samples=s.race_samples,
                        race_keep=s.race_keep, race_recal=s.race_recal_samples)


def baseline_data(spec, pricer: Pricer) -> DataConfig:
    """hardware_aware's fixed data configuration: the spec's, or the largest feasible one."""
    fixed = spec.search.fixed_data
    if not fixed:
        return largest_feasible_data(spec, pricer)
    data = DataConfig(int(fixed["resolution"]), str(fixed["color"]))
    smallest = spec.space.smallest(data)
    if not pricer.fits(smallest):
        raise budget_error(what_of(spec) + f" with fixed data {data.label}", pricer, [smallest])
    return data


ALL_STRATEGIES = (*STRATEGIES, "differentiable")


def strategy_of(spec, strategy: str | None) -> str:
    """The strategy to run (the argument, else the spec's); DnasgenError for an unknown one."""
    strategy = strategy or spec.search.strategy
    if strategy not in ALL_STRATEGIES:
        raise DnasgenError(f"unknown search strategy {strategy!r}; choose one of {', '.join(ALL_STRATEGIES)}")
    return strategy


def _resolve(spec, strategy: str | None, pricer: Pricer, evaluations: int | None) -> SearchConfig:
    strategy = strategy_of(spec, strategy)
    cfg = config_from_spec(spec, strategy)
    if strategy == "hardware_aware":
        return replace(cfg, fixed_data=baseline_data(spec, pricer))
    feasible_data_configs(spec, pricer, spec.space.data_configs())
    return replace(cfg, evaluations=evaluations) if strategy == "random" else cfg


def fingerprint(spec, cfg: SearchConfig, scorer, pricer: Pricer) -> str:
    """Identity of a search: config, space, board + budgets, the memory mode the candidates are priced
    in, data/search sections, the scorer's supernet."""
    parts = [cfg.identity(), repr(spec.space), repr(spec.board), pricer.budgets.to_dict(), spec.export.memory,
             cost_model_identity(),
             scored_search_hash(spec),
             getattr(scorer, "identity", type(scorer).__name__)]
    return json_digest(parts)[:20]


@contextmanager
def _progress(label: str, total: int, show: bool):
    if not show:
        yield None
        return
    from dnasgen.progress import progress_bar
    with progress_bar(label, total, elapsed=True) as bar:
        yield lambda done, tot: bar.update(completed=done, total=tot)


def _search(spec, workdir: Path, strategy: str | None, scorer, pricer: Pricer,
            evaluations: int | None = None, show: bool = True, state_dir: Path | None = None) -> SearchResult:
    cfg = _resolve(spec, strategy, pricer, evaluations)
    state = Path(state_dir or Path(workdir) / ARTIFACTS) / f"search_state_{cfg.strategy}.json"
    with _progress(f"search ({cfg.strategy})", cfg.target_evaluations, show) as tick:
        engine = Engine(spec.space, pricer, scorer, cfg, state_path=state,
                        fingerprint=fingerprint(spec, cfg, scorer, pricer), on_scored=tick, what=what_of(spec))
        out = engine.run()
    if not out.evaluated:
        raise BudgetError(f"search ({cfg.strategy}) scored no candidate within the time budget "
                          f"of {cfg.time_budget_s} s; raise search.time_budget_s")
    from dnasgen.search.rescore import rescore
    result = SearchResult(cfg.strategy, spec.name, spec.board.id, pricer.budgets.to_dict(), cfg.identity(),
                          choose(out.evaluated), out.evaluated, out.elapsed_s, out.stop_reason, out.generations,
                          supernet=str(getattr(scorer, "identity", "")), predictor=out.predictor,
                          racing=out.racing)
    return rescore(spec, Path(workdir) / ARTIFACTS, result, scorer)


def _holdout(result: SearchResult, scorer) -> SearchResult:
    if hasattr(scorer, "holdout") and "chosen" not in result.holdout:
        result.holdout["chosen"] = scorer.holdout(result.candidate)
    return result


def _default_scorer(spec, workdir: Path, scorer):
    if scorer is not None:
        return scorer
    from dnasgen.search.scoring import load_scorer
    return load_scorer(spec, workdir)


BASELINE = "hardware_aware"


def runs_baseline(spec, strategy: str) -> bool:
    """search.compare_baseline: the hardware-aware baseline runs after any other strategy."""
    return bool(spec.search.compare_baseline) and strategy != BASELINE


def run_search(spec, workdir: Path, strategy: str | None = None, *, scorer=None,
               report: bool = True, show: bool = True) -> SearchResult:
    """Search the spec's joint space; writes .dnasgen/search.json (+ per strategy) and the report.

    With search.compare_baseline the hardware-aware baseline runs too (same scorer, budgets and
    evaluations) into .dnasgen/search_hardware_aware.json, and the report compares the two."""
    from dnasgen.search.report import write_report
    workdir, pricer = Path(workdir), Pricer(spec)
    if strategy_of(spec, strategy) == "differentiable":      # trains its own supernet; a baseline scores on it
        from dnasgen.search.diffrun import run_differentiable
        result, scorer = run_differentiable(spec, workdir, pricer, show=show)
        result = _holdout(result, scorer)
    else:
        scorer = _default_scorer(spec, workdir, scorer)
        result = _holdout(_search(spec, workdir, strategy, scorer, pricer, show=show), scorer)
    result.save(workdir / ARTIFACTS / f"search_{result.strategy}.json")
    baseline = None
    if runs_baseline(spec, result.strategy):
        baseline = _holdout(_search(spec, workdir, BASELINE, scorer, pricer, show=show), scorer)
        baseline.save(workdir / ARTIFACTS / f"search_{BASELINE}.json")
        result.baseline = baseline
    result.save(workdir / ARTIFACTS / "search.json")
    if report:
        write_report(spec, workdir, result, baseline)
    return result


def compare(spec, workdir: Path, *, scorer=None, report: bool = True, show: bool = True,
            differentiable: bool = False) -> ComparisonTable:
    """evolution (data-aware) vs hardware_aware vs random: same supernet, budgets and evaluation count;
    then (differentiable=True) the differentiable search, same budgets, its own jointly trained supernet.

    The data-aware evolution result is the search's product (.dnasgen/search.json)."""
    from dnasgen.search.report import write_comparison, write_report
    workdir = Path(workdir)
    scorer = _default_scorer(spec, workdir, scorer)
    pricer = Pricer(spec)
    results: dict[str, SearchResult] = {}
    for strategy in ("evolution", "hardware_aware", "random"):
        evals = results["evolution"].evaluations if strategy == "random" else None
        res = _holdout(_search(spec, workdir, strategy, scorer, pricer, evals, show), scorer)
        res.save(workdir / ARTIFACTS / f"search_{strategy}.json")
        results[strategy] = res
    if differentiable:
        from dnasgen.search.diffrun import run_differentiable
        res = _holdout(*run_differentiable(spec, workdir, pricer, show=show))
        res.save(workdir / ARTIFACTS / "search_differentiable.json")
        results["differentiable"] = res
    results["evolution"].save(workdir / ARTIFACTS / "search.json")
    table = ComparisonTable(results)
    if report:
        write_report(spec, workdir, results["evolution"], results[BASELINE])
        write_comparison(spec, workdir, table)
    return table


def load_result(workdir: Path, strategy: str | None = None) -> SearchResult:
    """The saved result of the last search (or of one strategy)."""
    name = f"search_{strategy}.json" if strategy else "search.json"
    path = Path(workdir) / ARTIFACTS / name
    if not path.exists():
        raise DnasgenError(f"no search result at {path}; run `dnasgen search` first")
    return SearchResult.load(path)


def project_of(spec, out: Path | None = None) -> Path:
    """<out or spec.output_dir>/<name>, resolved and guarded as `dnasgen build` does (a relative
    output dir is taken from the working directory): the generated project, the search's workdir."""
    from dnasgen.layout import spec_project
    return spec_project(spec, out)


def search_spec(spec_path: Path, strategy: str | None = None, compare_all: bool = False,
                out: Path | None = None, sweep: str | None = None, seeds: int = 3, int8: bool = True,
                differentiable: bool | None = None):
    """`dnasgen search`: load the spec, then run_search, compare or (with sweep) the budget sweep:
    a SearchResult, a ComparisonTable or the sweep.json document. differentiable: --compare (and
    --sweep) include the differentiable search."""
    from dnasgen.spec import load_spec
    if differentiable is not None and not compare_all:
        raise DnasgenError("--differentiable/--no-differentiable choose the strategies of --compare: "
                           "add --compare (one strategy alone: --strategy)")
    differentiable = differentiable is not False
    spec = load_spec(spec_path)
    if sweep is not None:
        if not compare_all:
            raise DnasgenError("--sweep runs the strategy comparison per budget: add --compare")
        from dnasgen.search.sweep import run_sweep
        return run_sweep(spec, project_of(spec, out), sweep, seeds, int8=int8, differentiable=differentiable)
    if compare_all:
        return compare(spec, project_of(spec, out), differentiable=differentiable)
    return run_search(spec, project_of(spec, out), strategy)


def format_search(result, workdir: Path | None = None) -> str:
    """The CLI's summary of a SearchResult or a ComparisonTable."""
    if isinstance(result, ComparisonTable):
        return result.markdown()
    if isinstance(result, dict):
        from dnasgen.search.sweep import format_sweep
        return format_sweep(result)
    c = result.chosen
    test = result.holdout.get("chosen")
    rows = versus(result, result.baseline)
    return (f"{result.strategy}: {result.evaluations} candidates scored in {result.elapsed_s:.1f} s "
            f"({result.stop_reason}); Pareto front {len(result.pareto)}\n"
            f"chosen {c.candidate.data.label} width {c.candidate.arch.width:g}: val acc {c.accuracy:.3f}"
            + (f", test acc {test:.3f}" if test is not None else "")
            + f"; RAM {c.cost['ram_bytes']:,} B, flash {c.cost['flash_bytes']:,} B, "
              f"latency {c.cost['latency_ms']:.1f} ms"
            + (f"\nvs baseline: {versus_line(rows)}" if rows else ""))
