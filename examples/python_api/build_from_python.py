"""The Python API: the same pipeline as `dnasgen build`, driven from a script or a notebook.

    .venv/bin/python examples/python_api/build_from_python.py [--out DIR] [--quick]

It loads the quickstart spec, looks at the search plan before any training, changes the spec
in code (a tighter RAM budget), builds the firmware project, reads the summary, and then
regenerates the project from its lock, as CI does. `--quick` stops after the search.
"""
from __future__ import annotations

import argparse
import copy
from pathlib import Path

import dnasgen
from dnasgen.spec import build_spec

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "generated" / "api-example")
    parser.add_argument("--quick", action="store_true", help="stop after the search")
    args = parser.parse_args()

    # 1. load + validate (SpecError lists every problem as file:line:col: $.path: message)
    spec = dnasgen.load_spec(ROOT / "specs" / "quickstart.yaml")

    # 2. the plan: what fits the board, before a single training step (no torch imported)
    plan = dnasgen.search_plan(spec)
    print(f"{plan.space_size:,} candidates; feasible data configs:",
          ", ".join(d.label for d in plan.feasible_data_configs))

    # 3. derive a variant in code: the spec's validated dict, 32 KB more RAM kept for the app.
    #    Only `board` changes, so a rebuild re-runs search onward and reuses the supernet.
    raw = copy.deepcopy(spec.raw)
    raw["board"]["reserve_ram_kb"] += 32
    tight = build_spec(raw, Path(spec.source_path))

    # 4. price one candidate by hand: the cheapest feasible one the plan found
    cost = dnasgen.estimate(tight, plan.cheapest.candidate)
    print(f"cheapest: {cost.ram_bytes:,} B RAM, {cost.flash_bytes:,} B flash, "
          f"{cost.latency_ms:.1f} ms; violations: {list(cost.violations) or 'none'}")

    # 5. build: cached per stage under <out>/quickstart/.dnasgen, resumable after Ctrl-C
    result = dnasgen.build(tight, out=args.out, until="search" if args.quick else None,
                           show_summary=True)
    print({r.name: r.status for r in result.stages})
    summary = result.summary
    print("chosen:", summary.get("data"), "| accuracy:", summary["accuracy"])
    if args.quick:
        return

    # 6. the CI path: regenerate the firmware from the lock (no training), byte-identical
    project = dnasgen.generate_from_lock(result.lock)
    print("regenerated", project)


if __name__ == "__main__":
    main()
