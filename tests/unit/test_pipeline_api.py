"""The Python API and --candidate: light imports, budget checks before any training, clean errors."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import dnasgen
from dnasgen.cli import app
from dnasgen.errors import BudgetError, BuildError, SpecError
from dnasgen.pipeline.cache import load_manifest

TINY = Path(__file__).parent.parent / "pipeline_tiny.yaml"
BIG = {"data": {"resolution": 32, "color": "rgb"},
       "arch": {"width": 0.25, "stages": [{"depth": 1, "kernel": [3], "expand": [1]}]
                + [{"depth": 1, "kernel": [3], "expand": [3]}] * 6}}


def test_import_dnasgen_loads_no_heavy_library():
    code = ("import sys, dnasgen; dnasgen.build; dnasgen.search_plan; dnasgen.load_spec('%s');"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('torch', 'tensorflow', 'ai_edge_litert', 'matplotlib')))" % TINY)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_api_plan_and_estimate_without_training():
    spec = dnasgen.load_spec(TINY)
    plan = dnasgen.search_plan(spec, samples=50)
    assert plan.space_size == 256 and len(plan.feasible_data_configs) == 4
    cost = dnasgen.estimate(spec, BIG)
    assert cost.fits and cost.macs > 0 and cost.ram_bytes <= spec.board.ram_budget_bytes
    assert set(dnasgen.api.__all__) <= set(dir(dnasgen))


def test_api_names_do_not_shadow_subpackages():
    import dnasgen.plan  # noqa: F401  (the subpackage is an attribute of dnasgen once imported)
    import dnasgen.verify  # noqa: F401
    assert callable(dnasgen.search_plan) and callable(dnasgen.verify_project)


def tight_spec(tmp_path: Path, reserve: int) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(TINY.read_text().replace("reserve_ram_kb: 32", f"reserve_ram_kb: {reserve}"))
    return path


def test_given_candidate_over_budget_fails_before_training(tmp_path):
    """9 KB of RAM: the plan still finds 24 px candidates, the given 32 px RGB one needs 10 KB."""
    spec, cand = tight_spec(tmp_path, 247), tmp_path / "cand.json"
    cand.write_text(json.dumps(BIG))
    with pytest.raises(BudgetError, match="does not fit"):
        dnasgen.build(spec, out=tmp_path / "out", candidate=cand, quiet=True)
    work = tmp_path / "out" / "tiny" / ".dnasgen"
    assert load_manifest(work, "plan") is not None and load_manifest(work, "train") is None
    result = CliRunner().invoke(app, ["build", str(spec), "--out", str(tmp_path / "out"),
                                      "--candidate", str(cand)])
    assert result.exit_code == 3 and "Traceback" not in result.output


def test_given_candidate_replaces_search_and_runs_first(tmp_path):
    cand = tmp_path / "cand.json"
    cand.write_text(json.dumps(BIG))
    result = dnasgen.build(TINY, out=tmp_path / "out", candidate=cand, until="search", quiet=True)
    assert [r.name for r in result.stages] == ["plan", "candidate"]     # before any training
    written = json.loads((result.project / ".dnasgen" / "candidate.json").read_text())
    assert written == BIG and result.summary["data"] == "32px-rgb"


def test_candidate_outside_the_space_is_a_located_error(tmp_path):
    cand = tmp_path / "cand.json"
    cand.write_text(json.dumps({**BIG, "data": {"resolution": 40, "color": "rgb"}}))
    with pytest.raises(SpecError, match="outside the spec's search space"):
        dnasgen.build(TINY, out=tmp_path / "out", candidate=cand, quiet=True)
    assert not (tmp_path / "out").exists()


def test_from_lock_without_a_project_is_a_clean_error(tmp_path):
    result = CliRunner().invoke(app, ["generate", "--from-lock", str(tmp_path / "dnasgen.lock.json")])
    assert result.exit_code == 7 and "dnasgen.lock.json" in result.output
    assert "Traceback" not in result.output
    with pytest.raises(BuildError, match="missing or not valid JSON"):
        dnasgen.generate_from_lock(tmp_path)


def test_summary_of_a_project_that_was_never_built(tmp_path):
    with pytest.raises(BuildError, match="no build summary"):
        dnasgen.summary(tmp_path)


def test_api_candidate_dict_is_checked_like_a_candidate_file():
    with pytest.raises(SpecError, match=r"<candidate>:1:1: \$: not a candidate: malformed candidate: "
                                        r"missing field 'arch'"):
        dnasgen.estimate(TINY, {"data": BIG["data"]})
    with pytest.raises(SpecError, match="outside the spec's search space: resolution 40"):
        dnasgen.estimate(TINY, {**BIG, "data": {"resolution": 40, "color": "rgb"}})
    assert dnasgen.estimate(TINY, BIG).macs > 0


@pytest.mark.parametrize("inputs", [{"version": 1}, {"version": 1, "spec": {"name": "x"}, "frames": []},
                                    {"version": 1, "spec": [], "frames": None}])
def test_from_lock_with_a_malformed_inputs_file_is_a_clean_error(tmp_path, inputs):
    (tmp_path / "dnasgen.lock.json").write_text("{}")
    (tmp_path / "dnasgen.inputs.json").write_text(json.dumps(inputs))
    with pytest.raises(BuildError, match=r"dnasgen.inputs.json: malformed \("):
        dnasgen.generate_from_lock(tmp_path)
