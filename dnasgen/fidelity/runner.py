"""`dnasgen fidelity SPEC`: does the search's fitness rank candidates as stand-alone training does?

Uses the project's trained supernet (the train stage's checkpoint: trained, resumed or reused),
samples stratified candidates, measures each (dnasgen.fidelity.measure, cached per candidate),
computes the rank statistics and writes report/fidelity.{json,md,png}.
"""
from __future__ import annotations

from pathlib import Path

from dnasgen.fidelity import measure
from dnasgen.fidelity.report import summary_lines, write_fidelity
from dnasgen.fidelity.sample import sample_candidates
from dnasgen.fidelity.stats import default_k, kendall_tau, spearman_rho, top_k_overlap
from dnasgen.progress import progress_bar
from dnasgen.search.state import ARTIFACTS

PAPER_STEPS = 100       # the seed paper's proxy: fine-tune steps from the supernet


def _one(cache, scorer, spec, cand, epochs: int, seeds: int, paper_steps: int, bar) -> dict:
    bar.update(info=f"{cand.data.label} w{cand.arch.width:g}")
    fit = measure.fitness(cache, scorer, cand, spec)
    bar.advance()
    runs = []
    for seed in range(seeds):
        runs.append(measure.standalone(cache, spec, scorer.bundle, cand, epochs, seed))
        bar.advance()
    pap = measure.paper(cache, scorer, cand, spec, paper_steps) if paper_steps > 0 else None
    if pap is not None:
        bar.advance()
    val, test = [r["val"] for r in runs], [r["test"] for r in runs]
    return {"data": cand.data.label, "width": cand.arch.width, "candidate": cand.to_dict(),
            "fitness": fit["accuracy"], "standalone_val": val, "standalone_test": test,
            "standalone_val_mean": sum(val) / len(val), "standalone_test_mean": sum(test) / len(test),
            "paper": pap["accuracy"] if pap else None, "paper_steps_done": pap["steps"] if pap else None,
            "seconds": {"fitness": fit["seconds"], "standalone": [r["seconds"] for r in runs],
                        "paper": pap["seconds"] if pap else None},
            "n_val": runs[0]["n_val"], "n_test": runs[0]["n_test"]}


def _stats(cands: list[dict], paper: bool) -> dict:
    fit = [c["fitness"] for c in cands]
    val, test = [c["standalone_val_mean"] for c in cands], [c["standalone_test_mean"] for c in cands]
    k = default_k(len(cands))
    out = {"kendall_tau": kendall_tau(fit, val), "spearman_rho": spearman_rho(fit, val),
           "kendall_tau_test": kendall_tau(fit, test),
           "noise_ceiling": kendall_tau([c["standalone_val"][0] for c in cands],
                                        [c["standalone_val"][1] for c in cands]),
           "top_k": k, "top_k_overlap": top_k_overlap(fit, val, k)}
    if paper:
        pap = [c["paper"] for c in cands]
        out.update(paper_kendall_tau=kendall_tau(pap, val), paper_spearman_rho=spearman_rho(pap, val))
    return {key: None if value != value else value for key, value in out.items()}     # nan: undefined


def _seconds(cands: list[dict]) -> dict:
    n = len(cands)
    out = {"fitness": sum(c["seconds"]["fitness"] for c in cands) / n,
           "standalone_per_seed": sum(sum(c["seconds"]["standalone"]) / len(c["seconds"]["standalone"])
                                      for c in cands) / n}
    if cands[0]["seconds"]["paper"] is not None:
        out["paper"] = sum(c["seconds"]["paper"] for c in cands) / n
    return out


def run_fidelity(spec, project: Path, candidates: int = 12, epochs: int | None = None, seeds: int = 2,
                 paper_steps: int = PAPER_STEPS, scorer=None) -> dict:
    """Measure the ranking fidelity of the spec's supernet; writes report/fidelity.*; the result dict."""
    from dnasgen.search.scoring import load_scorer
    project = Path(project)
    epochs = spec.train.epochs if epochs is None else int(epochs)
    scorer = scorer or load_scorer(spec, project)
    cache = measure.Cache(project / ARTIFACTS, spec, scorer.identity)
    cands = sample_candidates(spec, candidates, seed=spec.search.seed)
    per = 1 + seeds + (1 if paper_steps > 0 else 0)
    with progress_bar("fidelity", len(cands) * per, info=True, elapsed=True) as bar:
        rows = [_one(cache, scorer, spec, c, epochs, seeds, paper_steps, bar) for c in cands]
    result = {"spec": spec.name, "n": len(rows), "epochs": epochs, "seeds": seeds, "paper_steps": paper_steps,
              "supernet": scorer.identity, "eval_samples": spec.search.eval_samples,
              "stats": _stats(rows, paper_steps > 0), "seconds_per_candidate": _seconds(rows),
              "computed": cache.computed, "candidates": rows}
    result["files"] = {k: str(v) for k, v in write_fidelity(project, result).items()}
    return result


def fidelity_spec(spec_path: Path, candidates: int = 12, epochs: int | None = None, seeds: int = 2,
                  paper_steps: int = PAPER_STEPS, out: Path | None = None) -> dict:
    """`dnasgen fidelity`: load the spec, then run_fidelity in its project (<out>/<name>)."""
    from dnasgen.search.runner import project_of
    from dnasgen.spec import load_spec
    spec = load_spec(spec_path)
    return run_fidelity(spec, project_of(spec, out), candidates, epochs, seeds, paper_steps)


def format_fidelity(result: dict) -> str:
    """The CLI's summary: the per-candidate pairs (fitness, stand-alone mean), the statistics, the files."""
    pairs = [f"  {i:2d} {c['data']:>15} w{c['width']:<5g} fitness {c['fitness']:.4f}  "
             f"stand-alone {c['standalone_val_mean']:.4f}" for i, c in enumerate(result["candidates"])]
    cached = result["n"] * (1 + result["seeds"] + (result["paper_steps"] > 0)) - result["computed"]
    return "\n".join(["candidate pairs (fitness, stand-alone val mean):", *pairs, *summary_lines(result),
                      f"{result['computed']} measurements computed, {cached} from the cache",
                      f"wrote {result['files']['md']}, {result['files']['json']}, {result['files']['png']}"])
