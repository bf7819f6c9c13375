"""The Python API: the same jobs as the CLI, as functions returning objects.

    import dnasgen
    spec = dnasgen.load_spec("specs/quickstart.yaml")     # SpecError lists every problem
    plan = dnasgen.search_plan(spec)                      # SearchPlan (no torch)
    result = dnasgen.build(spec, out="generated")         # BuildResult: project, stages, summary
    print(result.summary["accuracy"], result.project)
    dnasgen.generate_from_lock(result.lock)               # CI path: regenerate, byte-identical
    dnasgen.compile_model("model.tflite", board="qemu-mps2-an386", out="generated")  # any int8 model
    report = dnasgen.verify_project(result.project)       # host + QEMU, bit-exact, sizes

Each function accepts a spec path or a loaded Spec. Heavy libraries load only in the
functions that need them (build, generate_from_lock, verify_project), so `import dnasgen` is instant.
"""
from __future__ import annotations

from pathlib import Path

# names chosen not to clash with the subpackages dnasgen.plan / dnasgen.verify
__all__ = ["load_spec", "validate", "search_plan", "estimate", "build", "summary",
           "generate_from_lock", "compile_model", "verify_project", "measure_fidelity"]


def load_spec(spec):
    """A validated Spec from a YAML path (a Spec is returned as is)."""
    from dnasgen.spec import Spec
    from dnasgen.spec import load_spec as _load
    return spec if isinstance(spec, Spec) else _load(Path(spec))


validate = load_spec


def _candidate(candidate, spec):
    """A Candidate object as given; a dict or JSON file checked like `--candidate` (SpecError)."""
    from dnasgen.candidate import Candidate
    from dnasgen.cost.files import parse_candidate, read_candidate
    if isinstance(candidate, Candidate):
        return candidate
    if isinstance(candidate, dict):
        return parse_candidate(candidate, "<candidate>", spec.space)
    return read_candidate(Path(candidate), spec.space)


def search_plan(spec, samples: int | None = None):
    """The SearchPlan of a spec (space size, what fits the board); BudgetError if nothing fits."""
    from dnasgen.plan import DEFAULT_SAMPLES, make_plan
    return make_plan(load_spec(spec), samples=samples or DEFAULT_SAMPLES)


def estimate(spec, candidate):
    """CostReport (MACs, params, flash, RAM, latency, violations) of a candidate on the spec's board.

    candidate: a Candidate, its dict, or a JSON file."""
    from dnasgen.cost import estimate_spec
    spec = load_spec(spec)
    return estimate_spec(spec, _candidate(candidate, spec))


def build(spec, out=None, until: str | None = None, force: bool = False, candidate=None,
          quiet: bool = False, show_summary: bool = False):
    """Spec -> verified firmware project (cached, resumable). Returns a BuildResult.

    out: output root (the project goes to <out>/<name>/); until: last stage to run
    (plan, train, search, finetune, export, generate, verify); force: overwrite hand-edited
    generated files; candidate: build this Candidate (object, dict or JSON file) instead of
    searching; quiet: no progress display; show_summary: print the final summary."""
    from dnasgen.pipeline import build as _build
    spec = load_spec(spec)
    given = _candidate(candidate, spec) if candidate is not None else None
    result = _build(spec, out=None if out is None else Path(out), until=until, force=force,
                    candidate=given, quiet=quiet)
    if show_summary:
        from dnasgen.pipeline.summary import render
        render(result.summary)
    return result


def summary(project) -> dict:
    """The summary of the last build of a project (from .dnasgen/summary.json)."""
    from dnasgen.errors import BuildError
    from dnasgen.io import read_json
    from dnasgen.layout import WORK_NAME
    data = read_json(Path(project) / WORK_NAME / "summary.json")
    if data is None:
        raise BuildError(f"{project}: no build summary (run dnasgen build first)")
    return data


def generate_from_lock(lock, out=None):
    """Regenerate a project from its dnasgen.lock.json and stored model.tflite (no training)."""
    from dnasgen.pipeline.fromlock import generate_from_lock as _regen
    return _regen(Path(lock), None if out is None else Path(out))


def compile_model(tflite, board: str, name: str | None = None, out=None, vectors: int = 20,
                  runtimes=None, memory: str | None = None):
    """A full-int8 .tflite (path or bytes) made anywhere -> <out>/<name>/ firmware project (no
    preprocessing stage; random int8 test vectors with LiteRT BUILTIN_REF outputs). CodegenError
    lists every unsupported op and tensor type before anything is written. runtimes=["tflm"]:
    also a TFLM project in tflm/, with TFLM's arena measured by the tflite-micro package.
    memory: "layer" / "inplace" (default) / "patch" (the smallest arena)."""
    from dnasgen.codegen.compile import compile_model as _compile
    return _compile(tflite, board, name, None if out is None else Path(out), vectors, runtimes=runtimes,
                    memory=memory)


def verify_project(project, board: str | None = None):
    """Build the generated project for host and Cortex-M, run the vectors, check the budgets."""
    from dnasgen.verify import verify_project
    return verify_project(Path(project), board=board)


def measure_fidelity(spec, out=None, candidates: int = 12, epochs: int | None = None, seeds: int = 2,
                     paper_steps: int = 100) -> dict:
    """`dnasgen fidelity`: the search's fitness vs stand-alone training of stratified candidates.

    Returns the dict written to <out>/<name>/report/fidelity.json (stats: kendall_tau, spearman_rho,
    noise_ceiling, top_k_overlap, paper_kendall_tau; candidates: the per-candidate pairs)."""
    from dnasgen.fidelity import run_fidelity
    from dnasgen.search.runner import project_of
    spec = load_spec(spec)
    return run_fidelity(spec, project_of(spec, None if out is None else Path(out)), candidates, epochs,
                        seeds, paper_steps)
