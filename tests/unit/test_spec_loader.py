"""load_spec: typed result, defaults, positions, error classes with exact locations, paths, boards."""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from dnasgen.boards import get_board
from dnasgen.candidate import SearchSpace
from dnasgen.errors import SpecError
from dnasgen.spec import Constraints, Search, Sensor, Train, load_spec, schema_dict, spec_issue

MINIMAL = "name: demo\ndataset:\n  source: synthetic\nboard: qemu-mps2-an386\n"


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def issues_of(path: Path, **kw) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_spec(path, **kw)
    return [str(i) for i in info.value.issues]


def test_minimal_spec_gets_the_documented_defaults(tmp_path):
    spec = load_spec(write(tmp_path, MINIMAL))
    assert spec.name == "demo" and spec.classes == ("negative", "positive")
    assert spec.space == SearchSpace(num_classes=2)          # full MobileNetV2, 96 px rgb
    assert spec.space.depths == ((1,), (2,), (3,), (4,), (3,), (3,), (1,))
    assert (spec.space.kernels, spec.space.expands, spec.space.widths) == ((3,), (6,), (1.0,))
    assert spec.space.head_channels == 1280
    # schema defaults and dataclass defaults agree
    assert (spec.sensor, spec.train, spec.search, spec.constraints) == (Sensor(), Train(), Search(), Constraints())
    assert spec.board == get_board("qemu-mps2-an386") and spec.output_dir == "generated"
    assert spec.dataset.options == {"seed": 0, "image_size": 128, "color_decisive": False,
                                    "object_size": "mixed", "samples": {"train": 2000, "val": 500, "test": 500}}


@pytest.mark.parametrize("section,cls", [("train", Train), ("search", Search), ("sensor", Sensor),
                                         ("constraints", Constraints)])
def test_schema_sections_match_the_model_fields(section, cls):
    assert set(schema_dict()["properties"][section]["properties"]) == {f.name for f in fields(cls)}


def test_json_round_trip_of_the_defaults(tmp_path):
    spec = load_spec(write(tmp_path, MINIMAL))
    again = load_spec(write(tmp_path, json.dumps(spec.raw, indent=1), "spec.json"))
    assert again == spec and again.raw == spec.raw
    assert json.loads(json.dumps(spec.raw)) == spec.raw


def test_integral_floats_become_ints(tmp_path):
    spec = load_spec(write(tmp_path, MINIMAL + "train:\n  epochs: 3.0\nsearch_space:\n  kernels: [3.0, 5]\n"))
    assert spec.train.epochs == 3 and type(spec.train.epochs) is int
    assert spec.space.kernels == (3, 5) and all(type(k) is int for k in spec.space.kernels)


@pytest.mark.parametrize("body,expect", [
    ("name: [demo\n", "spec.yaml:2:1: $: malformed YAML"),
    (MINIMAL + "sensor: {width: wide}\n", "spec.yaml:5:17: $.sensor.width: expected integer, got string 'wide'"),
    (MINIMAL + "trian: {}\n", "spec.yaml:5:1: $.trian: unknown key 'trian' (did you mean 'train'?)"),
    (MINIMAL + "train: {epochs: 0}\n", "spec.yaml:5:17: $.train.epochs: 0 is out of range: must be >= 1"),
    (MINIMAL.replace("qemu-mps2-an386", "stm32f7"), "spec.yaml:4:8: $.board: unknown board 'stm32f7'"),
    (MINIMAL + "data_options: {resolutions: [96, 128]}\n",
     "spec.yaml:5:34: $.data_options.resolutions[1]: resolution 128 is larger than the 160x120 sensor"),
    (MINIMAL + "search_space: {kernels: []}\n",
     "spec.yaml:5:25: $.search_space.kernels: must not be empty: give at least one choice"),
    (MINIMAL + "name: again\n", "spec.yaml:5:1: $.name: duplicate key 'name' (first defined at line 1)"),
    (MINIMAL + "sensor: {pixel_format: grayscale}\n",
     "spec.yaml:5:24: $.data_options.colors[0]: a grayscale sensor cannot provide rgb"),
    (MINIMAL + "search_space:\n  depths: [[1], [2]]\n",
     "spec.yaml:6:11: $.search_space.depths: must have exactly 7 entries (one per MobileNetV2 stage), got 2"),
    ("name: demo\ndataset:\n  source: image_folder\nboard: rpi-pico\n",
     "spec.yaml:3:3: $.dataset.path: missing required key 'path'"),
    (MINIMAL + "search: {strategy: hardware_aware, fixed_data: {resolution: 96, color: grayscale}}\n",
     "spec.yaml:5:72: $.search.fixed_data.color: 'grayscale' is not among data_options.colors ['rgb']"),
    (MINIMAL + "search: {fixed_data: {resolution: 96, color: rgb}}\n",
     "spec.yaml:5:22: $.search.fixed_data: fixed_data is only used by strategy hardware_aware, but the strategy "
     "is 'evolution'; set search.strategy: hardware_aware or remove fixed_data"),
    (MINIMAL + "search: {eval_samples: 100, race_samples: 100}\n",
     "spec.yaml:5:43: $.search.race_samples: race_samples 100 must be below search.eval_samples 100"),
])
def test_each_error_class_is_located(tmp_path, monkeypatch, body, expect):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, body)
    found = issues_of(Path("spec.yaml"))
    assert any(line.startswith(expect) for line in found), found


def test_unknown_board_lists_the_catalogue(tmp_path):
    (line,) = issues_of(write(tmp_path, MINIMAL.replace("qemu-mps2-an386", "nano33")))
    assert "known boards: arduino-nano-33-ble-sense, esp32-s3" in line and "stm32h743" in line


def test_all_errors_reported_at_once_sorted(tmp_path):
    text = "name: Bad\ndataset:\n  source: synthetic\n  sead: 1\nboard: nope\ntrain: {epochs: -1, lr: 0}\n"
    found = issues_of(write(tmp_path, text))
    paths = [line.split(": ")[1] for line in found]
    assert paths == ["$.name", "$.dataset.sead", "$.board", "$.train.epochs", "$.train.lr"]


def test_dataset_path_is_resolved_relative_to_the_spec(tmp_path, monkeypatch):
    (tmp_path / "specs" / "images" / "cat").mkdir(parents=True)
    spec_file = write(tmp_path / "specs", "name: demo\ndataset:\n  source: image_folder\n  path: images\n"
                      "board: rpi-pico\n")
    monkeypatch.chdir("/")
    spec = load_spec(spec_file)
    assert spec.dataset.path == str((tmp_path / "specs" / "images").resolve())
    assert spec.raw["dataset"]["path"] == "images"
    assert spec.dataset.options["val_ratio"] == 0.15 and spec.dataset.options["max_per_class"] is None


WAKE = ("name: people\ntask: {classes: [no_person, person]}\ndataset:\n  source: wake_vision\n"
        "  format: parquet\n  path: missing_dir\nboard: stm32f746-disco\n")


def test_missing_wake_vision_dir_is_an_error_only_with_check_paths(tmp_path):
    path = write(tmp_path, WAKE)
    (line,) = issues_of(path)
    assert line.startswith(f"{path}:6:9: $.dataset.path: dataset directory ") and "does not exist" in line
    spec = load_spec(path, check_paths=False)
    (warning,) = spec.warnings
    assert (warning.line, warning.col, warning.path) == (6, 9, "$.dataset.path")
    (tmp_path / "missing_dir").mkdir()
    assert load_spec(path).warnings == ()


def test_missing_image_folder_is_an_error_even_without_check_paths(tmp_path):
    path = write(tmp_path, "name: demo\ndataset:\n  source: image_folder\n  path: nope\nboard: rpi-pico\n")
    for check in (True, False):
        (line,) = issues_of(path, check_paths=check)
        assert line.startswith(f"{path}:4:9: $.dataset.path: ")


def test_board_forms(tmp_path):
    by_id = load_spec(write(tmp_path, MINIMAL)).board
    over = load_spec(write(tmp_path, MINIMAL.replace(
        "board: qemu-mps2-an386", "board: {id: qemu-mps2-an386, ram_kb: 256, reserve_ram_kb: 32}"))).board
    assert by_id.ram_kb == 4096 and over.ram_kb == 256 and over.ram_budget_bytes == 224 * 1024
    assert over.core == by_id.core == "cortex-m4" and over.id == "qemu-mps2-an386"
    custom = load_spec(write(tmp_path, MINIMAL.replace(
        "board: qemu-mps2-an386",
        "board: {name: My board, core: cortex-m7, clock_mhz: 300, ram_kb: 128, flash_kb: 512}"))).board
    assert (custom.id, custom.name, custom.core, custom.clock_mhz, custom.ram_kb, custom.flash_kb) == \
        ("custom", "My board", "cortex-m7", 300, 128, 512)


def test_positions_locate_and_spec_issue(tmp_path):
    path = write(tmp_path, MINIMAL + "task:\n  classes: [cat, dog, bird]\n")
    spec = load_spec(path)
    assert spec.num_classes == 3 and spec.space.num_classes == 3
    assert spec.locate("$.task.classes[2]") == (6, 23)
    assert spec.locate("$.dataset.source") == (3, 11)
    assert spec.locate("$.train.epochs") == (1, 1)            # not in the file: nearest ancestor, the root
    assert spec.locate("$.dataset.path") == (3, 3)            # parent mapping
    issue = spec_issue(spec, "$.task.classes[2]", "class folder 'bird' is empty")
    assert str(issue) == f"{path}:6:23: $.task.classes[2]: class folder 'bird' is empty"


def test_missing_file_and_directory_are_spec_errors(tmp_path):
    assert issues_of(tmp_path / "nope.yaml") == [f"{tmp_path / 'nope.yaml'}:1:1: $: spec file not found"]
    assert "is a directory" in issues_of(tmp_path)[0]
    too_long = tmp_path / ("a" * 300 + ".yaml")          # any other OSError: still a located SpecError
    assert issues_of(too_long) == [f"{too_long}:1:1: $: cannot read spec file: File name too long"]


def test_import_is_light():
    code = ("import sys, dnasgen.spec, dnasgen.cli; heavy = [m for m in ('torch', 'tensorflow', 'keras') "
            "if m in sys.modules]; assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
