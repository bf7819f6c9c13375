"""`dnasgen search --compare --sweep KEY=V1,V2`: a row per budget x strategy x seed, the report files,
and the bad-input errors (exit 2 for the spec, 3 for a budget where nothing fits, nothing written)."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dnasgen.cli import app
from dnasgen.search.sweep import binomial_ci, parse_sweep
from dnasgen.spec import load_spec

TINY = Path(__file__).parent.parent / "pipeline_tiny.yaml"
STRATEGIES = {"evolution", "hardware_aware", "random"}


def _sweep(tmp_path, *args):
    shutil.copy(TINY, tmp_path / "tiny.yaml")
    return CliRunner().invoke(app, ["search", str(tmp_path / "tiny.yaml"), "--compare", *args,
                                    "--out", str(tmp_path / "out")])


def test_parse_sweep_and_ci():
    spec = load_spec(TINY)
    sweep = parse_sweep(spec, "board.ram_kb=40, 64,256")
    assert (sweep.key, sweep.values) == ("board.ram_kb", (40.0, 64.0, 256.0))
    assert math.isclose(binomial_ci(0.5, 100), 1.96 * 0.05)
    assert binomial_ci(1.0, 50) == 0.0


@pytest.mark.parametrize("arg, code, words", [
    ("board.name=1,2", 2, ["board.name", "not a budget"]),
    ("train.epochs=1,2", 2, ["train.epochs", "not a budget"]),
    ("board.ram_kb=64,lots", 2, ["board.ram_kb", "'lots'", "not a number"]),
    ("board.ram_kb=64,-3", 2, ["board.ram_kb=-3", "positive"]),
    ("board.ram_kb", 2, ["KEY=V1,V2"]),
    ("board.ram_kb=256,33", 3, ["board.ram_kb=33", "no candidate fits"]),
    ("board.ram_kb=256,20", 2, ["board.ram_kb=20", "leaves no ram", "board.reserve_ram_kb 32"]),
    ("board.reserve_flash_kb=0,4096", 2, ["board.reserve_flash_kb=4096", "leaves no flash"]),
    ("constraints.max_latency_ms=1000,0.01", 3, ["constraints.max_latency_ms=0.01", "latency"]),
])
def test_bad_sweeps_fail_cleanly_and_write_nothing(tmp_path, arg, code, words):
    res = _sweep(tmp_path, "--sweep", arg)
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output and isinstance(res.exception, SystemExit)
    for word in words:
        assert word in res.output, (word, res.output)
    assert not (tmp_path / "out").exists()          # nothing half-written: checked before any work


@pytest.mark.parametrize("args", [["--sweep", "board.ram_kb=64"], ["--no-differentiable"],
                                  ["--differentiable"]])
def test_compare_options_need_compare(tmp_path, args):
    shutil.copy(TINY, tmp_path / "tiny.yaml")
    res = CliRunner().invoke(app, ["search", str(tmp_path / "tiny.yaml"), *args,
                                   "--out", str(tmp_path / "out")])
    assert res.exit_code == 1 and "--compare" in res.output, res.output
    assert "Traceback" not in res.output and not (tmp_path / "out").exists()


def test_sweep_rows_per_budget_strategy_seed(tmp_path):
    pytest.importorskip("torch")
    res = _sweep(tmp_path, "--sweep", "board.ram_kb=40,256", "--seeds", "3", "--no-int8", "--no-differentiable")
    assert res.exit_code == 0, res.output
    report = tmp_path / "out" / "tiny" / "report"
    doc = json.loads((report / "sweep.json").read_text())
    got = sorted((r["budget"], r["strategy"], r["seed"]) for r in doc["rows"])
    assert got == sorted((b, s, seed) for b in (40.0, 256.0) for s in STRATEGIES for seed in (0, 1, 2))
    budget_bytes = {40.0: (40 - 32) * 1024, 256.0: (256 - 32) * 1024}
    for r in doc["rows"]:
        assert r["ram_bytes"] <= budget_bytes[r["budget"]]          # each winner fits its own budget
        assert r["int8_test"] is None and 0.0 <= r["accuracy"] <= 1.0 and r["n_test"] == 64
        assert math.isclose(r["ci95"], binomial_ci(r["accuracy"], 64))
    by_seed = {}
    for r in doc["rows"]:                                             # equal evaluations per budget and seed
        by_seed.setdefault((r["budget"], r["seed"]), set()).add(r["evaluations"])
    assert all(len(v) == 1 for v in by_seed.values()), by_seed
    assert len(doc["summary"]) == 6 and {s["seeds"] for s in doc["summary"]} == {3}
    md = (report / "sweep.md").read_text()
    assert md.count("| 40 | ") == 3 + 9 and (report / "sweep.png").stat().st_size > 1000
    assert "board.ram_kb over 40, 256, 3 seeds" in res.output


def test_sweep_int8_by_default(tmp_path):
    pytest.importorskip("tensorflow")
    res = _sweep(tmp_path, "--sweep", "board.ram_kb=40,256", "--seeds", "1", "--no-differentiable")
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "out" / "tiny" / "report" / "sweep.json").read_text())
    assert len(doc["rows"]) == 6 and doc["metric"] == "int8 accuracy"
    for r in doc["rows"]:
        assert r["int8_test"] is not None and r["accuracy"] == r["int8_test"]
        assert abs(r["int8_test"] - r["float_test"]) <= 0.15     # int8 tracks its float net


def test_sweep_includes_the_differentiable_search(tmp_path):
    pytest.importorskip("torch")
    res = _sweep(tmp_path, "--sweep", "board.ram_kb=40,256", "--seeds", "1", "--no-int8")
    assert res.exit_code == 0, res.output
    project = tmp_path / "out" / "tiny"
    doc = json.loads((project / "report" / "sweep.json").read_text())
    got = sorted((r["budget"], r["strategy"]) for r in doc["rows"])
    assert got == sorted((b, s) for b in (40.0, 256.0) for s in STRATEGIES | {"differentiable"})
    budget_bytes = {40.0: (40 - 32) * 1024, 256.0: (256 - 32) * 1024}
    diff = [r for r in doc["rows"] if r["strategy"] == "differentiable"]
    for r in diff:                                   # one argmax, within its budget, its own walls
        assert r["evaluations"] == 1 and r["ram_bytes"] <= budget_bytes[r["budget"]]
        assert r["train_s"] > 0 and r["search_s"] > 0
        run = project / ".dnasgen" / "sweep" / f"board.ram_kb={r['budget']:g}" / "seed0" / "differentiable"
        assert (run / "supernet.pt").is_file()       # fine-tuned from its own jointly trained supernet
    assert len({r["train_s"] for r in diff}) == 1     # one warm-up shared by both budgets
    evo = {r["train_s"] for r in doc["rows"] if r["strategy"] != "differentiable"}
    assert len(evo) == 1 and evo.pop() > 0            # one supernet training shared by the other three
    md = (project / "report" / "sweep.md").read_text()
    assert md.count("| differentiable |") == 2 + 2 and "search s" in md
    assert "differentiable" in res.output


def test_search_with_predictor_records_its_rank_correlation(tmp_path):
    pytest.importorskip("torch")
    text = TINY.read_text().replace("search:\n", "search:\n  predictor: true\n  predictor_pool: 300\n")
    (tmp_path / "tiny.yaml").write_text(text)
    res = CliRunner().invoke(app, ["search", str(tmp_path / "tiny.yaml"), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    report = tmp_path / "out" / "tiny" / "report"
    stats = json.loads((report / "search.json").read_text())["predictor"]
    assert stats["pool"] == 300 and stats["screened_scored"] == 2 * 3 and stats["considered"] > 20 * 6
    assert all(k in stats for k in ("spearman_prospective", "spearman_holdout"))
    md = (report / "search.md").read_text()
    assert f"predictor: {stats['considered']:,} candidates ranked" in md and "Spearman" in md
