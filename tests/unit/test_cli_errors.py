"""The CLI's error contract: a clean one-line message and an exit code, never a traceback."""
from pathlib import Path

from typer.testing import CliRunner

from dnasgen.cli import app

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "specs" / "quickstart.yaml"
runner = CliRunner()


def test_unwritable_output_is_a_clean_error(tmp_path):
    res = runner.invoke(app, ["plan", str(QUICKSTART), "--out", str(tmp_path)])   # --out is a directory
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit)
    assert res.output.strip() == f"error: {tmp_path}: Is a directory"
    assert "Traceback" not in res.output


def test_init_with_a_name_too_long_is_a_clean_error(tmp_path):
    path = tmp_path / ("a" * 300 + ".yaml")
    res = runner.invoke(app, ["init", str(path)])
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit)
    assert res.output.startswith("error: ") and "File name too long" in res.output


def test_build_with_an_unknown_stage_writes_nothing(tmp_path):
    out = tmp_path / "out"
    res = runner.invoke(app, ["build", str(QUICKSTART), "--until", "bogus", "--out", str(out)])
    assert res.exit_code == 7 and "--until bogus: no such stage" in res.output
    assert not out.exists()
