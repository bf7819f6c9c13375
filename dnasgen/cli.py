"""Thin typer CLI: each command parses its arguments, calls ONE library function, formats.

Heavy libraries (torch, tensorflow) are imported only inside the stages that need
them, so validate/plan/estimate start fast. Any DnasgenError becomes a clean
message on stderr and its exit code; never a traceback.
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import List, Optional

import typer

from dnasgen.errors import DnasgenError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="dnasgen: data-aware NAS for TinyML, from a YAML spec to int8 firmware.")


def clean_errors(func):
    """Turn library errors into a message + exit code (fastapi-cli style)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except DnasgenError as exc:
            typer.echo(f"error: {exc}" if "\n" not in str(exc) else f"error:\n{exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except OSError as exc:      # unwritable --out, a name too long, disk full: no traceback either
            where = exc.filename2 or exc.filename
            text = f"{where}: {exc.strerror}" if where and exc.strerror else str(exc)
            typer.echo(f"error: {text}", err=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            typer.echo("interrupted: finished stages are kept; run the same command to resume", err=True)
            raise typer.Exit(130) from None
    return wrapper


SpecArg = typer.Argument(..., exists=False, help="Path to the product spec (YAML).")


@app.command()
@clean_errors
def validate(spec: Path = SpecArg) -> None:
    """Check a spec; report every problem as file:line:col: path: message (exit code 2)."""
    from dnasgen.spec import load_spec
    loaded = load_spec(spec, check_paths=False)   # a Wake Vision dir missing here is a warning
    for warning in loaded.warnings:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(f"{spec}: ok ({loaded.name}, board {loaded.board.id})")


@app.command()
@clean_errors
def schema() -> None:
    """Print the spec's JSON Schema (for editor integration)."""
    from dnasgen.spec import schema_text
    typer.echo(schema_text())


@app.command()
@clean_errors
def init(path: Path = typer.Argument(Path("spec.yaml"), help="Where to write the starter spec."),
         force: bool = typer.Option(False, help="Overwrite an existing file.")) -> None:
    """Write a commented starter spec that validates as written."""
    from dnasgen.spec import write_starter
    write_starter(path, force=force)
    typer.echo(f"wrote {path}")


@app.command()
@clean_errors
def boards() -> None:
    """List the board catalogue with budgets."""
    from dnasgen.boards import format_boards
    typer.echo(format_boards())


@app.command()
@clean_errors
def plan(spec: Path = SpecArg,
         out: Optional[Path] = typer.Option(None, help="Where to write plan.json "
                                             "(default <output_dir>/<name>/.dnasgen/plan.json)."),
         json_out: bool = typer.Option(False, "--json", help="Print the plan as JSON.")) -> None:
    """Compile the spec into a SearchPlan: space size, floors per data config, what fits."""
    from dnasgen.plan import format_plan, plan_spec
    result, path = plan_spec(spec, out)
    typer.echo(result.to_json() if json_out else f"{format_plan(result)}\nwrote {path}")


@app.command()
@clean_errors
def estimate(spec: Path = SpecArg,
             candidate: Path = typer.Option(..., "--candidate", help="Candidate JSON file."),
             json_out: bool = typer.Option(False, "--json", help="Print the costs as JSON."),
             per_op: bool = typer.Option(False, "--per-op", help="Add the per-op breakdown."),
             check: bool = typer.Option(False, help="Exit with code 3 when a budget is exceeded.")) -> None:
    """Price one candidate on the spec's board and list the violated budgets."""
    import json
    from dnasgen.cost import estimate_file, format_report
    report = estimate_file(spec, candidate)
    typer.echo(json.dumps(report.to_dict(), indent=2) if json_out else format_report(report, per_op))
    if check and not report.fits:
        raise typer.Exit(3)


@app.command()
@clean_errors
def train(spec: Path = SpecArg,
          out: Optional[Path] = typer.Option(None, "--out", help="Output root (default: output.dir)."),
          threads: Optional[int] = typer.Option(None, help="Torch threads per process (default: "
                                                "$DNASGEN_THREADS, else the available cores split over the "
                                                "processes). Multi-process: torchrun -m dnasgen.cli train.")) -> None:
    """Train the weight-sharing supernet (resumes from its last epoch checkpoint)."""
    from dnasgen.train import format_train, train_spec
    typer.echo(format_train(train_spec(spec, out, threads)))


@app.command()
@clean_errors
def search(spec: Path = SpecArg,
           strategy: Optional[str] = typer.Option(None, help="evolution (data-aware, default), "
                                                  "hardware_aware (data config fixed), random or differentiable "
                                                  "(single-shot, trains its own supernet)."),
           compare: bool = typer.Option(False, "--compare", help="Run evolution, hardware_aware and random "
                                        "with equal budgets and evaluation counts, then differentiable (same "
                                        "budgets, own supernet); write the comparison table and plot."),
           differentiable: Optional[bool] = typer.Option(None, "--differentiable/--no-differentiable",
                                                         help="--compare / --sweep: include the differentiable "
                                                         "search (default: include)."),
           sweep: Optional[str] = typer.Option(None, "--sweep", metavar="KEY=V1,V2,...",
                                               help="With --compare: repeat it per value of one budget "
                                               "(board.ram_kb, board.flash_kb, constraints.max_latency_ms), "
                                               "fine-tune + int8-evaluate every winner; report/sweep.*"),
           seeds: int = typer.Option(3, "--seeds", help="--sweep: search seeds per budget."),
           int8: bool = typer.Option(True, "--int8/--no-int8", help="--sweep: export each winner to int8 "
                                     "and evaluate that (else the fine-tuned float net)."),
           out: Optional[Path] = typer.Option(None, "--out", help="Output root (default: output.dir).")) -> None:
    """Search (data config, architecture) under RAM + flash + latency; report in <name>/report/."""
    from dnasgen.search.runner import format_search, search_spec
    typer.echo(format_search(search_spec(spec, strategy, compare, out, sweep, seeds, int8, differentiable)))


@app.command()
@clean_errors
def finetune(spec: Path = SpecArg,
             out: Optional[Path] = typer.Option(None, "--out", help="Output root (default: output.dir).")) -> None:
    """Fine-tune the searched candidate (distilled from the supernet); report its test accuracy."""
    from dnasgen.search.finetune import finetune_spec, format_finetune
    typer.echo(format_finetune(finetune_spec(spec, out)))


@app.command()
@clean_errors
def fidelity(spec: Path = SpecArg,
             candidates: int = typer.Option(12, min=2, help="Candidates, stratified over the feasible data "
                                            "configurations and small/large architectures."),
             epochs: Optional[int] = typer.Option(None, min=1, help="Stand-alone training epochs "
                                                  "(default: train.epochs)."),
             seeds: int = typer.Option(2, min=2, help="Stand-alone seeds per candidate (mean = ground truth; "
                                       "seed 0 vs 1 gives the noise ceiling)."),
             paper_steps: int = typer.Option(100, min=0, help="The seed paper's scoring: fine-tune steps from "
                                             "the supernet before evaluating (0: skip)."),
             out: Optional[Path] = typer.Option(None, "--out", help="Output root (default: output.dir).")) -> None:
    """Does the search's fitness rank candidates as stand-alone training does? Kendall tau, noise
    ceiling, report/fidelity.{md,json,png}; resumable (per-candidate results cached)."""
    from dnasgen.fidelity import fidelity_spec, format_fidelity
    typer.echo(format_fidelity(fidelity_spec(spec, candidates, epochs, seeds, paper_steps, out)))


@app.command()
@clean_errors
def export(spec: Path = SpecArg,
           out: Optional[Path] = typer.Option(None, "--out", help="Output root (default: output.dir)."),
           checkpoint: Optional[Path] = typer.Option(None, help="Static checkpoint (default: "
                                                     "OUT/<name>/.dnasgen/finetuned.pt).")) -> None:
    """Fine-tuned subnet -> full-int8 .tflite; torch/Keras parity and float vs int8 accuracy."""
    from dnasgen.export import export_spec, format_export
    typer.echo(format_export(export_spec(spec, out, checkpoint)))


@app.command()
@clean_errors
def generate(spec: Optional[Path] = typer.Argument(None, help="Path to the product spec (YAML)."),
             out: Optional[Path] = typer.Option(None, "--out", help="Output root (default: output.dir)."),
             tflite: Optional[Path] = typer.Option(None, help="int8 model (default OUT/<name>/.dnasgen/model.tflite)."),
             candidate: Optional[Path] = typer.Option(None, help="Candidate JSON (default: the exported one)."),
             from_lock: Optional[Path] = typer.Option(None, "--from-lock", help="Regenerate from a project's "
                                                      "dnasgen.lock.json + model.tflite (no spec, data or training)."),
             force: bool = typer.Option(False, help="With --from-lock: overwrite hand-edited files.")) -> None:
    """int8 .tflite -> interpreter-free C project in OUT/<name>/ (Makefile: host, test, qemu, size)."""
    from dnasgen.codegen.stage import format_generate, generate_spec
    if from_lock is not None:
        from dnasgen.pipeline.fromlock import generate_from_lock
        typer.echo(format_generate(generate_from_lock(from_lock, out, force)))
        return
    if spec is None:
        raise typer.BadParameter("give a SPEC, or --from-lock LOCK")
    typer.echo(format_generate(generate_spec(spec, out, tflite, candidate)))


@app.command(name="compile")
@clean_errors
def compile_(model: Path = typer.Argument(..., help="A full-int8 .tflite (made anywhere)."),
             board: str = typer.Option(..., "--board", help="Board id (see `dnasgen boards`)."),
             name: Optional[str] = typer.Option(None, "--name", help="Project name (default: the file's stem)."),
             out: Path = typer.Option(Path("."), "--out", help="Output root; the project goes to OUT/<name>/."),
             vectors: int = typer.Option(20, help="Random int8 test vectors (LiteRT BUILTIN_REF outputs)."),
             runtime: List[str] = typer.Option([], "--runtime",
                                               help="Also `tflm`: a TFLM project in tflm/ and TFLM's arena."),
             memory: Optional[str] = typer.Option(None, "--memory", help="Arena schedule: layer, inplace "
                                                  "(default) or patch (the smallest arena).")) -> None:
    """Any supported int8 .tflite -> the interpreter-free C project (no preprocessing; app --tensor)."""
    from dnasgen.codegen.compile import compile_model
    from dnasgen.codegen.stage import format_generate
    typer.echo(format_generate(compile_model(model, board, name, out, vectors, runtimes=runtime or None,
                                             memory=memory)))


@app.command()
@clean_errors
def verify(project: Path = typer.Argument(..., help="A generated project folder."),
           board: Optional[str] = typer.Option(None, help="Board id for the size check (default: the spec's)."),
           core: List[str] = typer.Option(["m4"], "--core", help="QEMU core(s) to run the vectors on: "
                                          "m0plus, m3, m4, m7, m33, m55 (repeat the option)."),
           json_out: bool = typer.Option(False, "--json", help="Print the report as JSON.")) -> None:
    """Build host + Cortex-M cores (QEMU), check bit-exact outputs, measure flash/RAM vs the board."""
    import json
    from dnasgen.verify import format_report, verify_project
    report = verify_project(project, board, cores=core)
    typer.echo(json.dumps(report.to_dict(), indent=2) if json_out else format_report(report))
    if report.violations:
        raise typer.Exit(3)


@app.command()
@clean_errors
def build(spec: Path = SpecArg,
          out: Optional[Path] = typer.Option(None, "--out", help="Output root; the project goes to "
                                             "OUT/<name>/ (default: the spec's output.dir)."),
          until: Optional[str] = typer.Option(None, help="Stop after this stage: validate, plan, "
                                              "train, search, finetune, export, generate, verify."),
          force: bool = typer.Option(False, help="Overwrite hand-edited generated files."),
          candidate: Optional[Path] = typer.Option(None, help="Candidate JSON: skip the search "
                                                   "and build this architecture.")) -> None:
    """Spec to verified firmware: every stage cached under OUT/<name>/.dnasgen, resumable."""
    from dnasgen.pipeline import build as run_build
    from dnasgen.pipeline.summary import render
    render(run_build(spec, out=out, until=until, force=force, candidate=candidate).summary)


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
