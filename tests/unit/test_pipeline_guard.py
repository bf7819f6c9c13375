"""Nothing is written outside --out; bad specs write nothing; hand edits are refused by name."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dnasgen.cli import app
from dnasgen.errors import BuildError, SpecError
from dnasgen.pipeline import build
from dnasgen.io import atomic_write_bytes, sha256_file
from dnasgen.pipeline.guard import BuildLock, check_hand_edits, edited_files, inside, project_dir
from dnasgen.pipeline.stages import Stage, StageResult
from dnasgen.spec import load_spec

TINY = Path(__file__).parent.parent / "pipeline_tiny.yaml"


def tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else []


def spec_file(tmp_path: Path, **replace: str) -> Path:
    text = TINY.read_text()
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


def one_stage(calls: list) -> list[Stage]:
    def run(ctx):
        calls.append(ctx.project)
        return StageResult({"note": atomic_write_bytes(ctx.work_path("note.txt"), b"hi")})
    return [Stage("note", ("board",), (), run)]


@pytest.mark.parametrize("name", ["../evil", "/tmp/evil", "a/../../evil", "..", "Evil"])
def test_schema_rejects_path_tricks_in_name_and_writes_nothing(tmp_path, name):
    spec = spec_file(tmp_path, **{"name: tiny": f"name: {json.dumps(name)}"})
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["build", str(spec), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "$.name" in result.output and "Traceback" not in result.output
    assert not out.exists() and tree(tmp_path) == ["spec.yaml"]


@pytest.mark.parametrize("name", ["../evil", "../../evil", "/tmp/evil-abs", "..", ".", "a/b", ""])
def test_pipeline_guard_rejects_names_the_schema_would_stop(tmp_path, name):
    """Belt and braces: a Spec built in Python (no schema) with a path trick still writes nothing."""
    spec = dataclasses.replace(load_spec(TINY), name=name)
    calls: list = []
    with pytest.raises(BuildError):
        build(spec, out=tmp_path / "out", quiet=True, stages=one_stage(calls))
    assert calls == [] and tree(tmp_path) == []
    assert not Path("/tmp/evil-abs").exists()


def test_symlinked_project_pointing_outside_is_refused(tmp_path):
    outside, out = tmp_path / "outside", tmp_path / "out"
    outside.mkdir()
    out.mkdir()
    (out / "tiny").symlink_to(outside)
    with pytest.raises(BuildError, match="outside the output root"):
        build(TINY, out=out, quiet=True, stages=one_stage([]))
    assert tree(outside) == []


def test_inside_accepts_paths_under_root(tmp_path):
    assert inside(tmp_path, tmp_path / "a" / "b") == (tmp_path / "a" / "b").resolve()
    with pytest.raises(BuildError):
        inside(tmp_path / "a", tmp_path / "a" / ".." / "b")
    assert project_dir(tmp_path, "tiny") == (tmp_path / "tiny").resolve()


def test_build_writes_only_under_out(tmp_path):
    calls: list = []
    out = tmp_path / "out"
    result = build(TINY, out=out, quiet=True, stages=one_stage(calls))
    assert calls == [(out / "tiny").resolve()] and result.project == (out / "tiny").resolve()
    assert tree(tmp_path) == ["out", *[f"out/{p}" for p in tree(out)]]
    assert (out / "tiny" / ".dnasgen" / "note.txt").read_text() == "hi"
    assert (out / "tiny" / ".dnasgen" / ".gitignore").read_text().endswith("*\n")


def test_bad_candidate_file_writes_nothing(tmp_path):
    cand = tmp_path / "cand.json"
    cand.write_text('{"data": {"resolution": 24, "color": "rgb"}, "arch": ')
    with pytest.raises(SpecError, match="invalid JSON"):
        build(TINY, out=tmp_path / "out", candidate=cand, quiet=True, stages=one_stage([]))
    assert not (tmp_path / "out").exists()


def write_lock(project: Path, files: dict[str, bytes]) -> None:
    hashes = {}
    for rel, data in files.items():
        atomic_write_bytes(project / rel, data)
        hashes[rel] = sha256_file(project / rel)
    (project / "dnasgen.lock.json").write_text(json.dumps({"files": hashes}))


def test_hand_edits_are_named_and_refused_unless_forced(tmp_path):
    project = tmp_path / "out" / "tiny"
    write_lock(project, {"src/model.c": b"// generated\n", "Makefile": b"all:\n", "README.md": b"x"})
    (project / "src" / "model.c").write_text("// generated\n// my tweak\n")
    (project / "README.md").unlink()            # deleted files are simply regenerated
    assert edited_files(project) == ["src/model.c"]
    with pytest.raises(BuildError, match="src/model.c") as err:
        build(TINY, out=tmp_path / "out", quiet=True, stages=one_stage([]))
    assert "--force" in str(err.value) and "Makefile" not in str(err.value)
    assert check_hand_edits(project, force=True) == ["src/model.c"]
    build(TINY, out=tmp_path / "out", quiet=True, force=True, stages=one_stage([]))


def test_cli_names_edited_files_without_traceback(tmp_path):
    project = tmp_path / "out" / "tiny"
    write_lock(project, {"main.c": b"int main(void){return 0;}\n"})
    (project / "main.c").write_text("int main(void){return 1;}\n")
    result = CliRunner().invoke(app, ["build", str(TINY), "--out", str(tmp_path / "out"),
                                      "--until", "validate"])
    assert result.exit_code == 7 and "main.c" in result.output
    assert "Traceback" not in result.output


def test_second_build_of_same_project_is_locked_out(tmp_path):
    project = project_dir(tmp_path, "tiny")
    with BuildLock(project / ".dnasgen"):
        with pytest.raises(BuildError, match="another dnasgen build"):
            build(TINY, out=tmp_path, quiet=True, stages=one_stage([]))
