"""`dnasgen plan` and `dnasgen estimate` end to end through the CLI (real spec files)."""
import json
import re
from pathlib import Path

from typer.testing import CliRunner

from dnasgen.cli import app
from dnasgen.cost import REPORT_KEYS
from dnasgen.plan import SearchPlan

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "specs" / "quickstart.yaml"
runner = CliRunner()


def small_board_spec(tmp_path, ram_kb):
    """The quickstart with ram_kb RAM and a 32 KB application reserve."""
    text = re.sub(r"^  ram_kb: \d+", f"  ram_kb: {ram_kb}", QUICKSTART.read_text(), count=1, flags=re.M)
    text = re.sub(r"^  reserve_ram_kb: \d+", "  reserve_ram_kb: 32", text, count=1, flags=re.M)
    path = tmp_path / "spec.yaml"
    path.write_text(text.replace("dir: generated", f"dir: {tmp_path / 'gen'}"))
    return path


def test_plan_writes_versioned_json_and_prints_summary(tmp_path):
    out = tmp_path / "plan.json"
    res = runner.invoke(app, ["plan", str(QUICKSTART), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "plan for quickstart on qemu-mps2-an386" in res.output and f"wrote {out}" in res.output
    plan = SearchPlan.from_json(out.read_text())
    assert plan.spec_name == "quickstart" and plan.version == 1
    res = runner.invoke(app, ["plan", str(QUICKSTART), "--out", str(out), "--json"])
    assert SearchPlan.from_json(res.output) == plan


def test_plan_default_path_is_the_workdir(tmp_path):
    spec = small_board_spec(tmp_path, 256)
    res = runner.invoke(app, ["plan", str(spec)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "gen" / "quickstart" / ".dnasgen" / "plan.json").is_file()


def test_plan_refuses_cleanly_when_nothing_fits(tmp_path):
    spec = small_board_spec(tmp_path, 40)          # 40 KB - 32 KB reserve = 8 KB for the model
    res = runner.invoke(app, ["plan", str(spec)])
    assert res.exit_code == 3
    assert "ram: the smallest candidate needs" in res.output and "budget 8.0 KB (over by" in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "gen").exists()


def test_estimate_json_and_text(tmp_path):
    out = tmp_path / "plan.json"
    runner.invoke(app, ["plan", str(QUICKSTART), "--out", str(out)])
    cand = tmp_path / "c.json"
    cand.write_text(json.dumps(json.loads(out.read_text())["largest_feasible"]["candidate"]))
    res = runner.invoke(app, ["estimate", str(QUICKSTART), "--candidate", str(cand), "--json"])
    assert res.exit_code == 0, res.output
    costs = json.loads(res.output)
    assert tuple(costs) == REPORT_KEYS and costs["fits"] is True and costs["violations"] == []
    res = runner.invoke(app, ["estimate", str(QUICKSTART), "--candidate", str(cand), "--per-op"])
    assert "board qemu-mps2-an386" in res.output and "classifier" in res.output


def test_estimate_reports_violations_and_check_exit_code(tmp_path):
    spec = small_board_spec(tmp_path, 48)           # 16 KB for the model
    cand = tmp_path / "c.json"
    cand.write_text(json.dumps({"data": {"resolution": 48, "color": "rgb"}, "arch": {"width": 0.35, "stages": [
        {"depth": 1, "kernel": [5], "expand": [1]}] + [{"depth": 1, "kernel": [5], "expand": [6]}] * 6}}))
    res = runner.invoke(app, ["estimate", str(spec), "--candidate", str(cand), "--json"])
    assert res.exit_code == 0
    costs = json.loads(res.output)
    assert not costs["fits"] and costs["violations"][0].startswith("ram: ")
    res = runner.invoke(app, ["estimate", str(spec), "--candidate", str(cand), "--check"])
    assert res.exit_code == 3 and "fits: NO" in res.output


def test_estimate_candidate_errors_are_clean(tmp_path):
    missing = runner.invoke(app, ["estimate", str(QUICKSTART), "--candidate", str(tmp_path / "x.json")])
    assert missing.exit_code == 2 and "candidate file not found" in missing.output
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    res = runner.invoke(app, ["estimate", str(QUICKSTART), "--candidate", str(bad)])
    assert res.exit_code == 2 and f"{bad}:1:2: $: invalid JSON" in res.output
    outside = tmp_path / "out.json"
    outside.write_text(json.dumps({"data": {"resolution": 96, "color": "rgb"}, "arch": {"width": 1.0, "stages": [
        {"depth": 1, "kernel": [3], "expand": [1]}] + [{"depth": 1, "kernel": [3], "expand": [6]}] * 6}}))
    res = runner.invoke(app, ["estimate", str(QUICKSTART), "--candidate", str(outside)])
    assert res.exit_code == 2 and "resolution 96 not in [32, 40, 48]" in res.output
    assert "width 1.0 not in [0.25, 0.35]" in res.output and "Traceback" not in res.output


MOBILENET_SPEC = """name: mobilenet
task: {classes: [a, b]}
dataset: {source: synthetic}
data_options: {resolutions: [96], colors: [rgb]}
search_space: {widths: [0.35], depths: [[1], [2], [3], [4], [3], [3], [1]], kernels: [3], expands: [6],
               head_channels: 1280}
board: {id: stm32h743}
"""


def test_estimate_per_op_shows_the_memory_mode_and_in_place_ops(tmp_path):
    cand = tmp_path / "c.json"
    cand.write_text(json.dumps({"data": {"resolution": 96, "color": "rgb"}, "arch": {"width": 0.35, "stages": [
        {"depth": d, "kernel": [3] * d, "expand": [1 if i == 0 else 6] * d}
        for i, d in enumerate((1, 2, 3, 4, 3, 3, 1))]}}))
    arenas = {}
    for memory in ("inplace", "layer"):
        spec = tmp_path / f"{memory}.yaml"         # MobileNetV2-0.35@96's space, head 1280, 2 classes
        spec.write_text(MOBILENET_SPEC + f"export:\n  memory: {memory}\n")
        res = runner.invoke(app, ["estimate", str(spec), "--candidate", str(cand), "--per-op"])
        assert res.exit_code == 0, res.output
        rows = {line.split()[0]: line for line in res.output.splitlines() if line.startswith("  s")}
        in_place = sorted(name for name, line in rows.items() if line.endswith("yes"))
        arenas[memory] = int(res.output.split("(arena ")[1].split(" B")[0].replace(",", ""))
        assert f"[{memory}]" in res.output
        assert in_place == (["s1b0.dw", "s1b0.expand"] if memory == "inplace" else [])
    assert arenas == {"inplace": 111_760, "layer": 138_240}      # MobileNetV2-0.35@96 (TFLM: 204,628)
