"""Run the differentiable search (dnasgen.search.differentiable) as a stage: warm-up, search, result.

Layout under `<project>/.dnasgen/diff/`: `warmup/` (the warm-up: ordinary sandwich-rule supernet
training for search.diff_warmup_epochs, resumable at epoch boundaries like training), `search_state.pt`
(weights, logits, optimisers, RNGs, strengths and log after every search epoch: an interrupted search
resumes at its last epoch boundary; a finished one is reused), `search_log.jsonl` and `supernet.pt`
(the jointly trained supernet: fine-tuning extracts the chosen subnet from it).

The result is the argmax architecture, priced by the exact cost model; when it misses a budget the
engine's `repair` shrinks it until it fits, and search.json / search.md say so and by how much.
With search.diff_select: N, the result is chosen from the learned distribution instead: N draws
(temperature 1, a generator of their own) plus the (repaired) argmax, priced exactly, the feasible
ones scored by the search's own supernet (the evolution's fitness), the best kept; the argmax keeps
ties. The draws do not enter the search state, so changing N re-selects without re-training.
Impossible budgets raise BudgetError before any training.
"""
from __future__ import annotations

import dataclasses
import json
import pickle
import random
from pathlib import Path

from dnasgen.errors import DnasgenError
from dnasgen.io import json_digest, sha256_file
from dnasgen.search.constraints import Pricer, budget_error, cost_model_identity, feasible_data_configs, what_of
from dnasgen.search.pareto import COST_OBJECTIVES, Evaluated
from dnasgen.search.result import SearchResult
from dnasgen.search.state import ARTIFACTS, data_cache

STRATEGY = "differentiable"
DIR = "diff"
STATE_NAME = "search_state.pt"
LOG = "search_log.jsonl"
SUPERNET = "supernet.pt"
STATE_VERSION = 2
SELECT_SEED = 7919           # the selection's draws: a generator apart from the training's


def diff_dir(workdir: Path) -> Path:
    return Path(workdir) / ARTIFACTS / DIR


def supernet_path(workdir: Path) -> Path:
    """The differentiable search's jointly trained supernet (what fine-tuning starts from)."""
    return diff_dir(workdir) / SUPERNET


def training_identity(spec) -> dict:
    """The settings the search state depends on (the selection after it is not one of them)."""
    s = spec.search
    return {"strategy": STRATEGY, "warmup_epochs": s.diff_warmup_epochs, "epochs": s.diff_epochs,
            "temperature": [s.diff_temperature_start, s.diff_temperature_end], "arch_lr": s.diff_arch_lr,
            "penalty_ramp": s.diff_penalty_ramp, "samples": s.diff_samples, "estimator": s.diff_estimator,
            "train": s.diff_train, "time_budget_s": s.time_budget_s, "seed": s.seed}


def config_identity(spec) -> dict:
    return {**training_identity(spec), "select": spec.search.diff_select}


def warmup_spec(spec):
    """The spec whose ordinary supernet training is the warm-up (train.epochs = diff_warmup_epochs)."""
    return dataclasses.replace(spec, train=dataclasses.replace(spec.train, epochs=spec.search.diff_warmup_epochs))


def _warm_up(spec, workdir: Path, bundle) -> tuple[Path, float, float]:
    """(checkpoint, last epoch's mean loss, seconds) of the warm-up training (resumed / reused)."""
    from dnasgen.train import LOG_NAME, train_supernet
    ckpt = train_supernet(warmup_spec(spec), diff_dir(workdir) / "warmup", bundle=bundle)
    records = [json.loads(line) for line in (ckpt.parent / LOG_NAME).read_text().splitlines() if line]
    return ckpt, float(records[-1]["loss"]), sum(r.get("seconds", 0.0) for r in records)


def _fingerprint(spec, pricer: Pricer, warm: Path) -> str:
    return json_digest([training_identity(spec), repr(spec.space), repr(spec.board), pricer.budgets.to_dict(),
                        spec.export.memory, cost_model_identity(), spec.section_hash("task", "dataset", "sensor", "train"),
                        sha256_file(warm)])[:20]


def _load_state(path: Path, fingerprint: str) -> dict | None:
    import torch
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError):   # truncated / unreadable: start afresh
        return None
    ok = isinstance(state, dict) and state.get("version") == STATE_VERSION and state.get("fingerprint") == fingerprint
    return state if ok else None


def _trainer(spec, workdir: Path, pricer: Pricer, bundle, run_dir: Path):
    """(trainer, warm-up seconds, state path, fingerprint, saved state or None)."""
    import torch

    from dnasgen.data.bundle import batches_per_epoch
    from dnasgen.nn import load_supernet
    from dnasgen.search.diffcost import tables_for_spec
    from dnasgen.search.differentiable import DiffTrainer
    from dnasgen.train.runtime import setup_runtime
    rt = setup_runtime(None)
    if rt.distributed:
        raise DnasgenError("the differentiable search runs in one process; launch it without torchrun")
    warm, warm_loss, warm_s = _warm_up(spec, workdir, bundle)
    torch.manual_seed(spec.train.seed)
    supernet = load_supernet(warm).to(rt.device)
    n_train = len(bundle.arrays("train", spec.space.data_configs()[0])[1])
    trainer = DiffTrainer(spec, supernet, bundle, pricer, tables_for_spec(spec), rt.device,
                          batches_per_epoch(n_train, spec.train.batch_size), warm_loss)
    fingerprint = _fingerprint(spec, pricer, warm)
    path = Path(run_dir) / STATE_NAME
    return trainer, warm_s, path, fingerprint, _load_state(path, fingerprint)


def _out_of_time(log: dict, budget: float | None) -> bool:
    """search.time_budget_s over the joint search epochs (the warm-up excluded, as the evolution's
    budget excludes supernet training), checked at epoch boundaries after the first epoch."""
    return budget is not None and bool(log["history"]) and log["seconds"] >= budget


def _search_epochs(trainer, path: Path, fingerprint: str, saved: dict | None, show: bool,
                   budget: float | None = None) -> dict:
    """Run (or resume) the search epochs until diff_epochs or the time budget; returns the final
    state's log and timing (log["stop_reason"]: "complete" or "time_budget")."""
    from dnasgen.nn.checkpoint import atomic_torch_save
    from dnasgen.progress import progress_bar
    log = {"history": [], "initial_violation": None, "seconds": 0.0}
    if saved is not None:
        trainer.restore(saved["trainer"])
        log = saved["log"]
    else:
        log["initial_violation"] = trainer.set_strengths()
    done = len(log["history"])
    with progress_bar("differentiable search", trainer.total, completed=done * trainer.steps_per_epoch,
                      info=True, enabled=show) as bar:
        for epoch in range(done, trainer.epochs):
            if _out_of_time(log, budget):
                break
            record = trainer.run_epoch(epoch, bar)
            log["history"].append(record)
            log["seconds"] += record["seconds"]
            atomic_torch_save({"version": STATE_VERSION, "fingerprint": fingerprint,
                               "trainer": trainer.state(), "log": log}, path)
            with open(path.parent / LOG, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
    log["stop_reason"] = "complete" if len(log["history"]) >= trainer.epochs else "time_budget"
    return log


def _choose(spec, trainer, pricer: Pricer) -> tuple:
    """(chosen candidate, argmax candidate, repair record): the argmax, repaired when it misses a budget."""
    from dnasgen.search.constraints import repair
    from dnasgen.search.diffcost import decode
    argmax = decode(spec.space, trainer.arch.argmax())
    cost = pricer.cost(argmax)
    if not cost["violations"]:
        return argmax, argmax, {"repaired": False}
    chosen = repair(spec.space, argmax, pricer, random.Random(spec.search.seed))
    if chosen is None:
        raise budget_error(what_of(spec) + " (repairing the differentiable search's argmax)", pricer, [argmax])
    after = pricer.cost(chosen)
    return chosen, argmax, {"repaired": True, "violations": list(cost["violations"]),
                            "overshoot": round(pricer.budgets.overshoot(cost), 4),
                            "before": {k: cost[k] for k in COST_OBJECTIVES}, "after": {k: after[k] for k in COST_OBJECTIVES}}


def _draws(spec, arch, n: int) -> list:
    """n architectures drawn from the learned distribution (Gumbel-max at temperature 1, seeded by
    search.seed), in draw order."""
    import torch

    from dnasgen.search.diffcost import decode
    gen = torch.Generator().manual_seed(spec.search.seed + SELECT_SEED)
    return [decode(spec.space, arch.sample(gen, 1.0)[0]) for _ in range(n)]


def _select(spec, arch, pricer: Pricer, scorer, chosen) -> tuple:
    """(candidate, its supernet score, selection record): the best-scored feasible one of chosen
    (the repaired argmax) and search.diff_select draws; without draws, chosen itself."""
    import time
    n = spec.search.diff_select
    t0 = time.perf_counter()
    pool = list(dict.fromkeys([chosen] + _draws(spec, arch, n)))       # distinct, the argmax first
    feasible = [c for c in pool if pricer.fits(c)]
    scores = scorer.score_many(feasible)
    k = max(range(len(feasible)), key=lambda i: (scores[i], -i))
    record = {"draws": n, "distinct": len(pool), "feasible": len(feasible), "argmax_score": float(scores[0]),
              "chosen_score": float(scores[k]), "chosen_is_argmax": k == 0,
              "seconds": round(time.perf_counter() - t0, 3)}
    return feasible[k], float(scores[k]), record


def run_differentiable(spec, workdir: Path, pricer: Pricer | None = None, show: bool = True,
                       run_dir: Path | None = None):
    """The differentiable search of a spec: (SearchResult, scorer over its trained supernet).

    The warm-up lives in diff_dir(workdir)/warmup (it depends on the train section only, so every
    budget and search seed of a sweep shares it); the search state, log and jointly trained supernet
    in run_dir (default diff_dir(workdir))."""
    from dnasgen.data import open_dataset
    from dnasgen.nn import save_supernet
    from dnasgen.search.scoring import SupernetScorer
    workdir, pricer = Path(workdir), pricer or Pricer(spec)
    feasible_data_configs(spec, pricer, spec.space.data_configs())        # BudgetError before training
    bundle = open_dataset(spec, cache_dir=data_cache(workdir))
    run_dir = Path(run_dir or diff_dir(workdir))
    run_dir.mkdir(parents=True, exist_ok=True)
    trainer, warm_s, path, fingerprint, saved = _trainer(spec, workdir, pricer, bundle, run_dir)
    log = _search_epochs(trainer, path, fingerprint, saved, show, spec.search.time_budget_s)
    ckpt = save_supernet(trainer.supernet, run_dir / SUPERNET)
    scorer = SupernetScorer(trainer.supernet.eval(), bundle, spec, identity=sha256_file(ckpt))
    chosen, argmax, repaired = _choose(spec, trainer, pricer)
    chosen, accuracy, selection = _select(spec, trainer.arch, pricer, scorer, chosen)
    info = {"warmup_epochs": spec.search.diff_warmup_epochs, "epochs": spec.search.diff_epochs,
            "epochs_run": len(log["history"]), "time_budget_s": spec.search.time_budget_s,
            "warmup_loss": trainer.warm_loss, "warmup_s": round(warm_s, 3), "search_s": round(log["seconds"], 3),
            "initial_violation": log["initial_violation"], "strengths": trainer.strengths,
            "argmax": argmax.to_dict(), **repaired, "selection": selection, "probabilities": trainer.arch.summary(),
            "history": log["history"]}
    best = Evaluated(chosen, float(accuracy), pricer.cost(chosen))
    result = SearchResult(STRATEGY, spec.name, spec.board.id, pricer.budgets.to_dict(), config_identity(spec),
                          best, [best], warm_s + log["seconds"] + selection["seconds"], log["stop_reason"], len(log["history"]),
                          supernet=scorer.identity, differentiable=info)
    return result, scorer
