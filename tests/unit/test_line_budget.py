"""House rules, checked rather than remembered: every dnasgen module <= 400 lines, every function <= 50."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "dnasgen"
MAX_FILE, MAX_FUNCTION = 400, 50


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_fits_the_file_budget():
    assert len(_sources()) > 20
    long = {str(p.relative_to(PACKAGE)): n for p in _sources()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_FILE}
    assert not long, f"modules over {MAX_FILE} lines: {long}"


def test_every_function_fits_the_function_budget():
    long = {}
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                if (n := node.end_lineno - first + 1) > MAX_FUNCTION:
                    long[f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}"] = n
    assert not long, f"functions over {MAX_FUNCTION} lines: {long}"


def test_the_budget_check_can_fail(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION))
    tree = ast.parse(f"def f():\n{body}\n")
    (fn,) = tree.body
    assert fn.end_lineno - fn.lineno + 1 > MAX_FUNCTION
