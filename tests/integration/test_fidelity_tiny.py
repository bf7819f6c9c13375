"""`dnasgen fidelity` on the tiny synthetic spec: the reported tau is the tau of the reported pairs,
the candidates are stratified, the report files exist, and a rerun resumes without training."""
from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dnasgen.cli import app

pytest.importorskip("torch")
TINY = Path(__file__).parent.parent / "pipeline_tiny.yaml"
ARGS = ["--candidates", "4", "--epochs", "3", "--seeds", "2", "--paper-steps", "4"]


def naive_tau_b(a, b):
    """Kendall tau-b by counting pairs (independent of dnasgen.fidelity.stats)."""
    conc = disc = tie_a = tie_b = 0
    for i in range(len(a)):
        for j in range(i + 1, len(a)):
            da, db = a[i] - a[j], b[i] - b[j]
            tie_a += da == 0
            tie_b += db == 0
            conc += da * db > 0
            disc += da * db < 0
    pairs = len(a) * (len(a) - 1) / 2
    denom = math.sqrt((pairs - tie_a) * (pairs - tie_b))
    return None if denom == 0 else (conc - disc) / denom


def same(x, y):
    return (x is None and y is None) or (x is not None and y is not None and abs(x - y) < 1e-9)


def test_fidelity_reports_tau_of_its_pairs_and_resumes(tmp_path, monkeypatch):
    shutil.copy(TINY, tmp_path / "tiny.yaml")
    cmd = ["fidelity", str(tmp_path / "tiny.yaml"), *ARGS, "--out", str(tmp_path / "out")]
    res = CliRunner().invoke(app, cmd)
    assert res.exit_code == 0, res.output
    project = tmp_path / "out" / "tiny"
    for name in ("fidelity.md", "fidelity.json", "fidelity.png"):
        assert (project / "report" / name).stat().st_size > 0, name
    result = json.loads((project / "report" / "fidelity.json").read_text())
    cands, stats = result["candidates"], result["stats"]
    assert result["n"] == 4 and result["computed"] == 4 * (1 + 2 + 1)
    # stratified: every feasible data configuration once, small and large architectures both present
    assert sorted(c["data"] for c in cands) == ["24px-grayscale", "24px-rgb", "32px-grayscale", "32px-rgb"]
    expands = {c["candidate"]["arch"]["stages"][1]["expand"][0] for c in cands}
    assert expands == {2, 3}
    for c in cands:
        assert len(c["standalone_val"]) == 2 and c["n_val"] == 64     # ALL held-out images
        assert c["standalone_val_mean"] == pytest.approx(sum(c["standalone_val"]) / 2)
    fit, val = [c["fitness"] for c in cands], [c["standalone_val_mean"] for c in cands]
    assert same(stats["kendall_tau"], naive_tau_b(fit, val))
    assert same(stats["noise_ceiling"], naive_tau_b([c["standalone_val"][0] for c in cands],
                                                    [c["standalone_val"][1] for c in cands]))
    assert same(stats["paper_kendall_tau"], naive_tau_b([c["paper"] for c in cands], val))
    printed = [tuple(map(float, m)) for m in re.findall(r"fitness (\S+)  stand-alone (\S+)", res.output)]
    assert len(printed) == 4
    assert same(stats["kendall_tau"], naive_tau_b([p[0] for p in printed], [p[1] for p in printed]))
    assert f"{stats['kendall_tau']:.3f}" in res.output if stats["kendall_tau"] is not None else "n/a" in res.output

    # rerun: everything from the cache, nothing trained (the supernet neither)
    supernet = project / ".dnasgen" / "supernet.pt"
    mtime = supernet.stat().st_mtime_ns

    def boom(*a, **k):
        raise AssertionError("a rerun must not train")
    monkeypatch.setattr("dnasgen.search.standalone.train_standalone", boom)
    monkeypatch.setattr("dnasgen.fidelity.measure._paper_score", boom)
    again = CliRunner().invoke(app, cmd)
    assert again.exit_code == 0, again.output
    assert "0 measurements computed, 16 from the cache" in again.output
    rerun = json.loads((project / "report" / "fidelity.json").read_text())
    assert rerun["stats"] == stats and supernet.stat().st_mtime_ns == mtime


def test_fidelity_rejects_one_seed(tmp_path):
    shutil.copy(TINY, tmp_path / "tiny.yaml")
    res = CliRunner().invoke(app, ["fidelity", str(tmp_path / "tiny.yaml"), "--seeds", "1"])
    assert res.exit_code == 2 and not (tmp_path / "out").exists()
