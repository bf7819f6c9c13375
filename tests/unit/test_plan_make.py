"""make_plan: floors per data config, fit fractions, picks, refusals, JSON, light imports."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dnasgen.boards import get_board
from dnasgen.candidate import DataConfig, SearchSpace
from dnasgen.cost import estimate_spec
from dnasgen.errors import BudgetError
from dnasgen.plan import (PLAN_VERSION, SearchPlan, default_plan_path, format_plan, make_plan, read_plan,
                          write_plan)
from dnasgen.spec.model import Constraints, Dataset, Search, Sensor, Spec

QUICKSTART = Path(__file__).resolve().parents[2] / "specs" / "quickstart.yaml"
QUICK_SPACE = SearchSpace(resolutions=(64, 96, 128), colors=("grayscale", "rgb"), widths=(0.35, 0.5, 0.75),
                          depths=((1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), (1, 2, 3), (1, 2, 3), (1,)),
                          kernels=(3, 5, 7), expands=(3, 4, 6))


def make_spec(space=QUICK_SPACE, board="arduino-nano-33-ble-sense", latency=None, output_dir="generated",
              **board_overrides):
    return Spec("quick", ("no", "yes"), Dataset("synthetic"), Sensor(), space,
                get_board(board, **board_overrides), Constraints(latency), search=Search(seed=3),
                output_dir=output_dir, raw={"name": "quick", "board": board})


@pytest.fixture(scope="module")
def quick_plan():
    return make_plan(make_spec(latency=800.0), samples=200)


def test_plan_figures(quick_plan):
    plan, spec = quick_plan, make_spec(latency=800.0)
    assert plan.version == PLAN_VERSION and plan.space_size == QUICK_SPACE.size()
    assert (plan.samples, plan.seed) == (200, 3)
    assert [d.data for d in plan.data_configs] == QUICK_SPACE.data_configs()
    for row in plan.data_configs:
        rep = estimate_spec(spec, QUICK_SPACE.smallest(row.data))
        assert (row.min_ram_bytes, row.min_flash_bytes, row.min_macs) == (rep.ram_bytes, rep.flash_bytes,
                                                                         rep.macs)
        assert row.input_bytes == row.data.resolution ** 2 * row.data.channels
        assert row.fits == rep.fits
    frac = plan.fit_fraction
    assert 0.0 <= frac["all"] <= min(frac["ram"], frac["flash"], frac["latency"]) <= 1.0
    assert 0.0 < frac["ram"] < 1.0                      # this space straddles the 256 KB budget
    cheap, big = plan.cheapest, plan.largest_feasible
    assert cheap.cost["fits"] and big.cost["fits"]
    assert cheap.cost["macs"] <= big.cost["macs"]
    assert cheap.cost == estimate_spec(spec, cheap.candidate).to_dict()
    assert QUICK_SPACE.contains(cheap.candidate) and QUICK_SPACE.contains(big.candidate)
    # the space's global smallest fits, so it is the cheapest
    assert cheap.candidate == QUICK_SPACE.smallest(DataConfig(64, "grayscale"))


def test_plan_is_deterministic_and_round_trips_json(quick_plan, tmp_path):
    assert make_plan(make_spec(latency=800.0), samples=200) == quick_plan
    assert SearchPlan.from_json(quick_plan.to_json()) == quick_plan
    path = write_plan(quick_plan, tmp_path / "a" / "plan.json")
    assert read_plan(path) == quick_plan
    assert json.loads(path.read_text())["version"] == PLAN_VERSION
    assert [p.name for p in path.parent.iterdir()] == ["plan.json"]   # no temp file left behind
    with pytest.raises(ValueError, match="version"):
        SearchPlan.from_dict({**quick_plan.to_dict(), "version": 99})


def test_default_plan_path_follows_workdir_convention(tmp_path):
    spec = make_spec(output_dir=str(tmp_path / "gen"))
    assert default_plan_path(spec) == tmp_path / "gen" / "quick" / ".dnasgen" / "plan.json"


def test_summary_mentions_floors_fractions_and_picks(quick_plan):
    text = format_plan(quick_plan)
    assert "64px-grayscale" in text and "128px-rgb" in text
    assert "cheapest:" in text and "largest feasible:" in text
    assert f"{quick_plan.space_size:,}" in text


def test_refusal_names_ram_budget_and_gap():
    space = SearchSpace(resolutions=(160,), colors=("grayscale",), widths=(0.35,),
                        depths=((1,), (1,), (1,), (1,), (1,), (1,), (1,)))
    spec = make_spec(space, board="nucleo-f412zg", reserve_ram_kb=200)
    floor = estimate_spec(spec, space.smallest())
    with pytest.raises(BudgetError) as err:
        make_plan(spec, samples=20)
    budget = spec.board.ram_budget_bytes
    msg = str(err.value)
    assert "ram: the smallest candidate needs" in msg and "160px-grayscale" in msg
    assert f"budget {budget / 1024:,.1f} KB (over by {(floor.ram_bytes - budget) / 1024:,.1f} KB)" in msg
    assert "flash" not in msg.split("\n", 1)[1]
    assert err.value.exit_code == 3


def test_refusal_says_when_the_input_alone_does_not_fit():
    space = SearchSpace(resolutions=(512,), colors=("rgb",), widths=(0.35,))
    with pytest.raises(BudgetError, match="the input tensor alone is 768.0 KB"):
        make_plan(make_spec(space, board="rpi-pico"), samples=5)


def test_refusal_on_latency_only():
    with pytest.raises(BudgetError, match=r"latency: the smallest candidate needs [\d,.]+ ms at 64px-grayscale, "
                                          r"budget 1.0 ms \(over by"):
        make_plan(make_spec(latency=1.0), samples=10)


def test_refusal_lists_every_budget_that_cannot_be_met():
    space = SearchSpace(resolutions=(224,), widths=(1.0,))
    with pytest.raises(BudgetError) as err:
        make_plan(make_spec(space, latency=50.0), samples=5)
    lines = str(err.value).splitlines()
    assert lines[0] == "nothing in the search space fits board arduino-nano-33-ble-sense:"
    assert [line.split(":")[0] for line in lines[1:]] == ["ram", "flash", "latency"]


def test_plan_and_estimate_import_no_torch_or_tensorflow(tmp_path):
    code = ("import sys, pathlib, dnasgen.cli; from dnasgen.plan import plan_spec;"
            "from dnasgen.cost import estimate_file; from dnasgen.spec import load_spec;"
            f"spec = {str(QUICKSTART)!r}; plan, path = plan_spec(spec, pathlib.Path(sys.argv[1]) / 'p.json');"
            "c = pathlib.Path(sys.argv[1]) / 'c.json'; c.write_text(plan.cheapest.candidate.to_json());"
            "estimate_file(spec, c);"
            "heavy = [m for m in ('torch', 'tensorflow', 'keras', 'ai_edge_litert', 'matplotlib')"
            " if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_summary_flags_data_configs_whose_input_alone_is_too_big():
    space = SearchSpace(resolutions=(64, 320), colors=("rgb",), widths=(0.35,),
                        depths=((1,), (1,), (1,), (1,), (1,), (1,), (1,)))
    plan = make_plan(make_spec(space, board="nucleo-f412zg"), samples=10)
    text = format_plan(plan)
    assert "320px-rgb" in text and "no: the input tensor alone exceeds the RAM budget" in text
    assert plan.feasible_data_configs == [DataConfig(64, "rgb")]
