"""The malformed-spec corpus: every file gives located errors, exit code 2, no traceback, no writes.

Each tests/unit/spec_corpus/*.yaml starts with `# expect: L:C $.path [L:C $.path ...]`: the
issues (line:col and JSON path) that must be among those reported for it.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dnasgen.cli import app
from dnasgen.spec import SpecError, load_spec

CORPUS = sorted((Path(__file__).parent / "spec_corpus").glob("*.yaml"))
LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<path>\$\S*): (?P<msg>.+)$")


def expected(path: Path) -> list[tuple[int, int, str]]:
    header = path.read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("# expect: "), f"{path.name}: first line must be '# expect: L:C $.path ...'"
    parts = header.removeprefix("# expect: ").split()
    out = []
    for where, json_path in zip(parts[::2], parts[1::2]):
        line, col = where.split(":")
        out.append((int(line), int(col), json_path))
    assert out, path.name
    return out


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_corpus_is_big_enough():
    assert len(CORPUS) >= 50


@pytest.mark.parametrize("case", CORPUS, ids=[p.stem for p in CORPUS])
def test_corpus_case_is_located(case: Path):
    with pytest.raises(SpecError) as info:
        load_spec(case, check_paths=False)
    issues = info.value.issues
    got = {(i.line, i.col, i.path) for i in issues}
    for want in expected(case):
        assert want in got, f"{case.name}: expected {want}, got:\n{info.value}"
    text = case.read_text(encoding="utf-8").splitlines()
    for issue in issues:
        assert issue.file == str(case) and issue.message
        assert 1 <= issue.line <= len(text) + 1 and issue.col >= 1
        assert LINE.match(str(issue)), str(issue)
    assert [(i.line, i.col) for i in issues] == sorted((i.line, i.col) for i in issues)


@pytest.mark.parametrize("case", CORPUS, ids=[p.stem for p in CORPUS])
def test_corpus_case_cli_exit_2_no_traceback_nothing_written(case: Path, tmp_path, monkeypatch):
    spec = tmp_path / "spec.yaml"
    shutil.copy(case, spec)
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    result = CliRunner().invoke(app, ["validate", "spec.yaml"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    for line, col, json_path in expected(case):
        assert f"spec.yaml:{line}:{col}: {json_path}: " in result.output, result.output
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name", ["yaml_unclosed_flow", "many_errors", "board_unknown", "image_folder_missing_dir"])
def test_corpus_subprocess(name: str, tmp_path):
    """The installed entry point, as a user runs it: stderr only, exit code 2, nothing written."""
    shutil.copy(Path(__file__).parent / "spec_corpus" / f"{name}.yaml", tmp_path / "spec.yaml")
    before = snapshot(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "dnasgen.cli", "validate", "spec.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error:")
    lines = [LINE.match(row.removeprefix("error: ")) for row in proc.stderr.splitlines() if row != "error:"]
    assert lines and all(lines), proc.stderr
    assert {(int(m["line"]), int(m["col"]), m["path"]) for m in lines} >= set(expected(tmp_path / "spec.yaml"))
    assert snapshot(tmp_path) == before


def test_mutated_specs_never_crash(tmp_path):
    """Random edits of the quickstart spec: the loader answers with a spec or located SpecIssues, never a crash."""
    import random
    base = (Path(__file__).resolve().parents[2] / "specs" / "quickstart.yaml").read_text(encoding="utf-8")
    tokens = ["", " ", "\n", ":", "- ", "[", "]", "{", "}", "'", '"', "*a", "&a ", "<<: *a", "!!int ", "~", ".nan",
              "1e999", "-1", "yes", "\t", "#", "? ", "2020-01-01", "[]", "{}", "|", "!foo "]
    rng = random.Random(7)
    path = tmp_path / "spec.yaml"
    outcomes = {"ok": 0, "error": 0}
    for _ in range(300):
        text = base
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(text))
            text = (text[:pos] + rng.choice(tokens) + text[pos:]) if rng.random() < 0.6 \
                else text[:pos] + text[pos + rng.randint(1, 8):]
        path.write_text(text, encoding="utf-8")
        try:
            load_spec(path)
            outcomes["ok"] += 1
        except SpecError as exc:
            outcomes["error"] += 1
            assert exc.issues and all(i.line >= 1 and i.col >= 1 and i.path.startswith("$") for i in exc.issues)
    assert outcomes["ok"] > 0 and outcomes["error"] > 100, outcomes
