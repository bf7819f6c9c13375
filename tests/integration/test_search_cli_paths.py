"""Standalone `dnasgen search` / `dnasgen finetune` keep every artifact inside the project.

The spec lives in one folder, the command runs from another and --out names a third: the supernet,
the dataset cache, the search state and the fine-tuned net must land in <out>/<name>/.dnasgen/
and the report in <out>/<name>/report/; nothing is written next to the spec or in the working
directory. A relative output dir resolves as `dnasgen build` resolves it, to the same project and
the same dataset cache.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dnasgen.cli import app

pytest.importorskip("torch")
TINY = Path(__file__).parent.parent / "pipeline_tiny.yaml"


def snapshot(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_size for p in sorted(root.rglob("*")) if p.is_file()}


def test_search_and_finetune_write_only_inside_the_project(tmp_path, monkeypatch):
    (tmp_path / "specs").mkdir()
    (tmp_path / "cwd").mkdir()
    shutil.copy(TINY, tmp_path / "specs" / "tiny.yaml")
    before = snapshot(tmp_path)
    monkeypatch.chdir(tmp_path / "cwd")          # a default location would land here
    for command in ("search", "finetune"):
        res = CliRunner().invoke(app, [command, "../specs/tiny.yaml", "--out", "../out"])
        assert res.exit_code == 0, res.output
    after = snapshot(tmp_path)
    new = sorted(set(after) - set(before))
    assert {k: after[k] for k in before} == before                     # spec untouched
    assert not list((tmp_path / "cwd").iterdir())
    outside = [p for p in new if not p.startswith(("out/tiny/.dnasgen/", "out/tiny/report/"))]
    assert outside == [], outside
    work = tmp_path / "out" / "tiny" / ".dnasgen"
    for name in ("supernet.pt", "search.json", "search_state_evolution.json", "finetuned.pt", "finetune.json"):
        assert (work / name).is_file(), name
    assert any(p.startswith("out/tiny/.dnasgen/data/") for p in new)    # the dataset cache
    assert not (work / "cache").exists()                                  # one cache, the pipeline's
    for name in ("pareto.png", "search.md", "search.json"):
        assert (tmp_path / "out" / "tiny" / "report" / name).is_file()
    assert str((work / "finetuned.pt").resolve()) in res.output         # the resolved project path


def test_relative_output_dir_resolves_like_the_pipeline(tmp_path, monkeypatch):
    from dnasgen.pipeline.build import prepare
    from dnasgen.search.runner import project_of
    from dnasgen.search.state import data_cache
    from dnasgen.spec import load_spec
    (tmp_path / "specs").mkdir()
    (tmp_path / "cwd").mkdir()
    shutil.copy(TINY, tmp_path / "specs" / "tiny.yaml")
    spec = load_spec(tmp_path / "specs" / "tiny.yaml")
    assert spec.output_dir == "generated"                                 # relative
    monkeypatch.chdir(tmp_path / "cwd")
    ctx = prepare(spec, None, None)                                       # what `dnasgen build` uses
    assert project_of(spec) == ctx.project == (tmp_path / "cwd" / "generated" / "tiny").resolve()
    assert project_of(spec, Path("../o")) == (tmp_path / "o" / "tiny").resolve()
    assert data_cache(project_of(spec)) == ctx.work_path("data")          # the same dataset cache
