"""Starter spec, shipped specs, `dnasgen schema/init/validate`, and the generated README reference."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from dnasgen.boards import board_ids
from dnasgen.cli import app
from dnasgen.errors import DnasgenError
from dnasgen.spec import load_spec, reference_markdown, schema_dict, schema_text, starter_text, write_starter
from dnasgen.spec.reference import END, START

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs").glob("*.yaml"))


def test_schema_is_valid_draft_2020_12_and_closed():
    schema = schema_dict()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$defs"]["board_id"]["enum"] == board_ids()
    assert json.loads(schema_text()) == schema

    def closed(node, where="$"):
        if isinstance(node, dict):
            if "properties" in node and node.get("type") in ("object", ["object", "null"]):
                assert node.get("additionalProperties") is False or node.get("unevaluatedProperties") is False, where
            for key, value in node.items():
                closed(value, f"{where}/{key}")
    closed(schema)


def test_cli_schema_prints_the_schema():
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0 and json.loads(result.output) == schema_dict()


def test_specs_schema_copy_is_up_to_date():
    assert json.loads((ROOT / "specs" / "dnasgen.schema.json").read_text()) == schema_dict(), \
        "run: dnasgen schema > specs/dnasgen.schema.json"


def test_readme_spec_reference_is_up_to_date():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.count(START) == readme.count(END) == 1
    start, end = readme.index(START), readme.index(END) + len(END) + 1
    assert readme[start:end] == reference_markdown(), "regenerate with dnasgen.spec.reference_markdown()"
    for key in schema_dict()["properties"]["train"]["properties"]:
        assert f"`train.{key}`" in readme


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_shipped_specs_validate(path):
    spec = load_spec(path, check_paths=False)
    assert spec.space.size() > 1 and spec.board.ram_budget_bytes > 0
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output


def test_quickstart_is_small_and_colour_decisive():
    spec = load_spec(ROOT / "specs" / "quickstart.yaml")            # check_paths=True: synthetic needs none
    assert spec.dataset.source == "synthetic" and spec.dataset.options["color_decisive"] is True
    assert spec.board.id == "qemu-mps2-an386" and spec.board.ram_kb == 64 and spec.board.flash_kb == 512
    assert spec.sensor.pixel_format == "rgb565" and max(spec.space.resolutions) <= 48
    assert set(spec.space.colors) == {"grayscale", "rgb"}


def test_quickstart_budgets_bind():
    """make demo's budgets bind: the largest 48 px RGB network does not fit, every data configuration's
    smallest does, and the plan's largest feasible network uses most of the RAM and latency budgets."""
    from dnasgen.candidate import DataConfig
    from dnasgen.cost import estimate_spec
    from dnasgen.cost.report import tightest_budget
    from dnasgen.plan import make_plan
    spec = load_spec(ROOT / "specs" / "quickstart.yaml")
    assert not estimate_spec(spec, spec.space.largest(DataConfig(48, "rgb"))).fits
    assert all(estimate_spec(spec, spec.space.smallest(d)).fits for d in spec.space.data_configs())
    plan = make_plan(spec)
    limits = {"ram_bytes": spec.board.ram_budget_bytes, "flash_bytes": spec.board.flash_budget_bytes,
              "latency_ms": spec.constraints.max_latency_ms}
    assert tightest_budget(plan.largest_feasible.cost, limits)["binds"]
    assert plan.fit_fraction["all"] < 0.8
    # in place (the default) more networks fit the RAM than layer by layer (87.0 vs 69.4 % of the space),
    # and more fit every budget (70.8 vs 60.8 %: at 110 ms latency binds the largest feasible ones, 48 px RGB)
    import dataclasses
    from dnasgen.spec.model import Export
    layer = make_plan(dataclasses.replace(spec, export=Export("layer")))
    assert plan.fit_fraction["ram"] > layer.fit_fraction["ram"] + 0.1
    assert plan.fit_fraction["all"] > layer.fit_fraction["all"] + 0.05
    assert spec.search.compare_baseline     # the demo's summary shows the hardware-aware choice beside the search's


def test_person_specs_match_their_boards_and_sensors():
    nano = load_spec(ROOT / "specs" / "person_detection_nano33.yaml", check_paths=False)
    f746 = load_spec(ROOT / "specs" / "person_detection_f746.yaml", check_paths=False)
    assert (nano.board.id, nano.sensor.width, nano.sensor.height, nano.sensor.pixel_format) == \
        ("arduino-nano-33-ble-sense", 324, 244, "grayscale")
    assert nano.space.colors == ("grayscale",) and nano.dataset.source == "wake_vision"
    assert (f746.board.id, f746.sensor.pixel_format) == ("stm32f746-disco", "rgb565")
    assert [w.path for w in nano.warnings] == ["$.dataset.path"]   # the data is not on this machine


def test_starter_validates_as_written(tmp_path):
    path = write_starter(tmp_path / "spec.yaml")
    assert path.read_text(encoding="utf-8") == starter_text() and "# " in starter_text()
    spec = load_spec(path)
    assert spec.name == "my-first-model" and spec.board.id == "arduino-nano-33-ble-sense"
    assert [p.name for p in tmp_path.iterdir()] == ["spec.yaml"]     # no temp file left behind


def test_write_starter_refuses_to_overwrite_without_force(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("mine\n")
    with pytest.raises(DnasgenError, match="already exists"):
        write_starter(path)
    assert path.read_text() == "mine\n"
    write_starter(path, force=True)
    assert path.read_text(encoding="utf-8") == starter_text()
    with pytest.raises(DnasgenError, match="does not exist"):
        write_starter(tmp_path / "no" / "spec.yaml")
    with pytest.raises(DnasgenError, match=f"folder {path} is a file, not a folder"):
        write_starter(path / "spec.yaml")


def test_cli_init(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    first = runner.invoke(app, ["init"])
    assert first.exit_code == 0 and (tmp_path / "spec.yaml").is_file()
    (tmp_path / "spec.yaml").write_text("edited\n")
    second = runner.invoke(app, ["init"])
    assert second.exit_code == 1 and "already exists" in second.output and "Traceback" not in second.output
    assert (tmp_path / "spec.yaml").read_text() == "edited\n"
    assert runner.invoke(app, ["init", "--force"]).exit_code == 0
    assert runner.invoke(app, ["validate", "spec.yaml"]).exit_code == 0
