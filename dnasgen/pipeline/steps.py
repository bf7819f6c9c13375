"""Stage functions: each calls its stage package's ONE library function and names the artifacts.

Heavy packages (torch, tensorflow) are imported inside the functions, never at module top.
"""
from __future__ import annotations

from pathlib import Path

from dnasgen.io import atomic_write_json, read_json, sha256_file
from dnasgen.pipeline.cache import code_fingerprint
from dnasgen.pipeline.stages import CODE, Context, StageResult


def run_plan(ctx: Context) -> StageResult:
    """SearchPlan: refuses (BudgetError) before any training when nothing fits the board."""
    from dnasgen.plan import make_plan, write_plan
    plan = make_plan(ctx.spec)
    path = write_plan(plan, ctx.work_path("plan.json"))
    return StageResult({"plan": path}, {
        "space_size": plan.space_size, "fit_fraction": plan.fit_fraction["all"],
        "feasible_data_configs": [d.label for d in plan.feasible_data_configs]})


def _train_info(ctx: Context) -> dict:
    """Figures from the last line of the training log (epoch, loss, largest/smallest accuracy)."""
    import json
    from dnasgen.train import LOG_NAME
    path = ctx.work_path(LOG_NAME)
    lines = path.read_text().splitlines() if path.is_file() else []
    try:
        last = json.loads(lines[-1]) if lines else {}
    except ValueError:
        last = {}
    return {k: last[k] for k in ("epoch", "loss", "val_largest", "val_smallest") if k in last}


def run_train(ctx: Context) -> StageResult:
    """Train (or resume from its epoch checkpoints) the weight-sharing supernet."""
    from dnasgen.train import train_supernet
    path = train_supernet(ctx.spec, ctx.work, bundle=ctx.bundle)   # resumes from its checkpoint
    return StageResult({"supernet": path}, _train_info(ctx))


def train_key(ctx: Context) -> str | None:
    """The train.init checkpoint's content (its path is in the train section already)."""
    from dnasgen.train.state import init_digest
    return init_digest(ctx.spec)


def _write_candidate(ctx: Context, cand) -> object:
    return atomic_write_json(ctx.work_path("candidate.json"), cand.to_dict())


def run_search(ctx: Context) -> StageResult:
    """Evolutionary, constraint-first search over (data configuration, architecture)."""
    from dnasgen.nn import load_supernet
    from dnasgen.search.runner import BASELINE, runs_baseline
    from dnasgen.search.runner import run_search as search
    from dnasgen.search.scoring import SupernetScorer
    path = ctx.artifact("supernet")
    # the search's resumable state is keyed by the scorer identity: add the code (cost model
    # coefficients included), so a recalibrated cost model never resumes a stale finished search
    identity = f"{sha256_file(path)}+code:{code_fingerprint(CODE['search'])[:16]}"
    scorer = SupernetScorer(load_supernet(path).eval(), ctx.bundle, ctx.spec, identity=identity)
    result = search(ctx.spec, ctx.project, scorer=scorer)
    outputs = {"search": ctx.work_path("search.json"), "candidate": _write_candidate(ctx, result.candidate)}
    if runs_baseline(ctx.spec, result.strategy):       # search.compare_baseline: the baseline's result
        outputs[f"search_{BASELINE}"] = ctx.work_path(f"search_{BASELINE}.json")
    outputs.update(_report_files(ctx))
    return StageResult(outputs, {
        "supernet_accuracy": result.chosen.accuracy, "evaluations": result.evaluations,
        "strategy": result.strategy, "data": result.candidate.data.label,
        "holdout_accuracy": result.holdout.get("chosen")})


def run_diff_search(ctx: Context) -> StageResult:
    """search.strategy differentiable: warm-up + joint weight/architecture training under the budgets
    (no separate supernet training); its supernet is the artifact fine-tuning starts from."""
    from dnasgen.search.diffrun import supernet_path
    from dnasgen.search.runner import run_search as search
    result = search(ctx.spec, ctx.project, "differentiable")
    outputs = {"supernet": supernet_path(ctx.project), "search": ctx.work_path("search.json"),
               "candidate": _write_candidate(ctx, result.candidate)}
    outputs.update(_report_files(ctx))
    return StageResult(outputs, {
        "supernet_accuracy": result.chosen.accuracy, "evaluations": result.evaluations,
        "strategy": result.strategy, "data": result.candidate.data.label,
        "holdout_accuracy": result.holdout.get("chosen"), "repaired": result.differentiable.get("repaired")})


REPORT_FILES = ("pareto.png", "search.md", "search.json")


def _report_files(ctx: Context) -> dict:
    """The search report (report/ in the project) is an output of the search stage too."""
    paths = {f"report/{name}": ctx.path("report", name) for name in REPORT_FILES}
    return {key: path for key, path in paths.items() if path.is_file()}


def candidate_key(ctx: Context) -> str:
    return ctx.candidate.to_json()


def run_candidate(ctx: Context) -> StageResult:
    """--candidate: a known architecture (for new data); must lie in the space and fit the board."""
    from dnasgen.cost import estimate_spec
    from dnasgen.errors import BudgetError, BuildError
    cand = ctx.candidate
    problems = ctx.spec.space.violations(cand)
    if problems:
        raise BuildError("the given candidate is outside the spec's search space: " + "; ".join(problems))
    cost = estimate_spec(ctx.spec, cand)
    if not cost.fits:
        raise BudgetError(f"the given candidate does not fit {ctx.spec.board.id}: "
                          + "; ".join(cost.violations))
    return StageResult({"candidate": _write_candidate(ctx, cand)}, {"data": cand.data.label})


def run_finetune(ctx: Context) -> StageResult:
    """Extract the chosen subnet, fine-tune it (distilled from the supernet), test accuracy."""
    from dnasgen.candidate import Candidate
    from dnasgen.search.finetune import finetune_candidate
    cand = Candidate.from_dict(read_json(ctx.artifact("candidate")))
    estimate = (ctx.infos.get("search") or {}).get("supernet_accuracy")
    result = finetune_candidate(ctx.spec, ctx.artifact("supernet"), cand, ctx.bundle, ctx.work,
                                search_estimate=estimate)
    return StageResult({"finetuned": result.checkpoint, "finetune": result.json_path}, {
        "float_accuracy": result.test_accuracy, "float_val_accuracy": result.val_accuracy,
        "supernet_test_accuracy": result.supernet_test_accuracy, "epochs": result.epochs})


def run_export(ctx: Context) -> StageResult:
    """Static subnet -> Keras (parity-checked) -> full-int8 TFLite."""
    from dnasgen.export import export_model
    from dnasgen.nn import load_static
    result = export_model(load_static(ctx.artifact("finetuned")), ctx.spec, ctx.bundle, ctx.work)
    return StageResult({"tflite": result.tflite_path, "export": result.json_path}, {
        "int8_accuracy": result.int8_accuracy, "float_accuracy": result.float_accuracy,
        "int8_agreement": result.int8_agreement, "parity_max_abs_diff": result.parity_max_abs_diff,
        "tflite_bytes": result.tflite_bytes})


def lock_metrics(ctx: Context, cand) -> dict:
    """Accuracy and cost figures recorded in the project's lock (deterministic given the inputs)."""
    from dnasgen.cost import estimate_spec
    cost = estimate_spec(ctx.spec, cand).to_dict()
    search, finetune = ctx.infos.get("search") or {}, ctx.infos.get("finetune") or {}
    export = ctx.infos.get("export") or {}
    return {
        "supernet_val_accuracy": search.get("supernet_accuracy"),
        "float_test_accuracy": finetune.get("float_accuracy"),
        "float_val_accuracy": export.get("float_accuracy"),
        "int8_val_accuracy": export.get("int8_accuracy"),
        "int8_agreement": export.get("int8_agreement"),
        "estimate": {k: cost[k] for k in ("macs", "params", "ram_bytes", "flash_bytes", "latency_ms")},
    }


def run_generate(ctx: Context) -> StageResult:
    """The firmware project from the int8 model (files + dnasgen.lock.json + test frames).

    Every generated file is an output, so a deleted or (with --force) edited one is regenerated."""
    from dnasgen.candidate import Candidate
    from dnasgen.pipeline.fromlock import LOCK_NAME
    from dnasgen.pipeline.guard import owned_files
    cand = Candidate.from_dict(read_json(ctx.artifact("candidate")))
    tools = (read_json(ctx.artifact("export")) or {}).get("tools")   # recorded when the model was made
    write_project(ctx, ctx.artifact("tflite").read_bytes(), cand, tools)
    lock = read_json(ctx.path(LOCK_NAME))
    owned = {f"project:{rel}": ctx.path(rel) for rel in owned_files(ctx.project)}
    return StageResult({**owned, "lock": ctx.path(LOCK_NAME)}, {
        "files": len(lock.get("files", {})), "arena_bytes": lock["model"]["arena_bytes"],
        "model_data_bytes": lock["model"]["model_data_bytes"],
        "tflm_arena_bytes": (lock["model"].get("tflm") or {}).get("arena_bytes")})


def write_project(ctx: Context, tflite_bytes: bytes, cand, tools: dict | None) -> Path:
    """Firmware files, lock (with `lock_metrics`) and dnasgen.inputs.json: what build's generate stage
    and `dnasgen generate SPEC` both write."""
    from dnasgen.codegen.stage import VECTOR_FRAMES
    from dnasgen.pipeline.fromlock import generate_with_inputs
    frames, labels = ctx.bundle.frames("test", VECTOR_FRAMES)
    return generate_with_inputs(tflite_bytes, ctx.spec, cand, ctx.project, frames, labels,
                                lock_metrics(ctx, cand), tools)


def run_verify(ctx: Context) -> StageResult:
    """Build host + Cortex-M, run the vectors (bit-exact), measure sizes against the budget."""
    from dnasgen.errors import BuildError
    from dnasgen.verify import format_report, verify_project
    report = verify_project(ctx.project, max_latency_ms=ctx.spec.constraints.max_latency_ms)
    path = atomic_write_json(ctx.work_path("verify.json"), report.to_dict())
    if not report.ok:
        raise BuildError("verification failed:\n" + format_report(report))
    return StageResult({"verify": path}, {
        "ok": report.ok, "vectors": report.vectors, "qemu_match": report.qemu_match,
        "ram_bytes": report.ram_bytes, "flash_bytes": report.flash_bytes,
        "latency_ms": report.latency_ms, "instructions": max(report.instructions, default=None),
        "note": _verify_note(report)})


def _verify_note(report) -> str:
    where = "host and QEMU Cortex-M4" if report.qemu_match else "host"
    note = f"{report.vectors} test vectors bit-exact with the LiteRT reference on {where}"
    if report.instructions:
        note += f"; {max(report.instructions):,} instructions per inference"
    return "; ".join([note, *report.skipped])
