"""One source for the project layout names: dnasgen.layout; no module spells them again."""
import ast
from pathlib import Path

import pytest

from dnasgen import layout
from dnasgen.errors import BuildError

PACKAGE = Path(__file__).resolve().parents[2] / "dnasgen"
NAMES = {layout.LOCK_NAME, layout.INPUTS_NAME, layout.WORK_NAME}


def test_layout_names_are_spelled_only_in_layout():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "layout.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in NAMES:
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.value!r}")
    assert not found, found


def test_project_dir_is_guarded(tmp_path):
    assert layout.project_dir(tmp_path, "demo") == (tmp_path / "demo").resolve()
    for bad in ("", ".", "..", "a/b", "a\\b"):
        with pytest.raises(BuildError, match="plain folder name"):
            layout.project_dir(tmp_path, bad)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "link").symlink_to(tmp_path)
    with pytest.raises(BuildError, match="outside the output root"):
        layout.inside(tmp_path / "out", tmp_path / "out" / "link" / "x")
