"""Search engine on the real cost model with a cheap analytic scorer (a test of the algorithm).

The known-answer tests with the real trained supernet live in tests/integration.
"""
from __future__ import annotations

import copy
import json

import pytest

from dnasgen.errors import BudgetError
from dnasgen.search import run_search
from dnasgen.search.constraints import Pricer
from dnasgen.search.engine import Engine, SearchConfig
from dnasgen.spec import load_spec

BASE = {
    "name": "unit",
    "task": {"classes": ["a", "b"]},
    "dataset": {"source": "synthetic", "seed": 0},
    "sensor": {"width": 96, "height": 96, "pixel_format": "rgb888"},
    "data_options": {"resolutions": [24, 32, 48], "colors": ["grayscale", "rgb"]},
    "search_space": {"widths": [0.25, 0.35], "depths": [[1], [1, 2], [1, 2], [1, 2], [1], [1], [1]],
                     "kernels": [3, 5], "expands": [3, 6], "head_channels": 128},
    "board": {"id": "qemu-mps2-an386", "ram_kb": 256, "flash_kb": 1024},
    "search": {"population": 8, "generations": 3, "seed": 3},
}


def merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def make_spec(tmp_path, **over):
    path = tmp_path / "spec.yaml"
    path.write_text(json.dumps(merge(BASE, over)))    # JSON is YAML
    return load_spec(path)


class Analytic:
    """Accuracy grows with resolution, colour (if it matters) and capacity; counts its calls."""

    def __init__(self, colour_bonus=0.1, fail_after=None):
        self.colour_bonus, self.fail_after, self.calls = colour_bonus, fail_after, 0

    def score_many(self, cands):
        out = []
        for c in cands:
            if self.fail_after is not None and self.calls >= self.fail_after:
                raise KeyboardInterrupt
            self.calls += 1
            cap = sum(s.depth for s in c.arch.stages) + sum(sum(s.kernel) + sum(s.expand) for s in c.arch.stages) / 50
            out.append(round(0.5 + c.data.resolution / 200 + self.colour_bonus * (c.data.color == "rgb")
                             + 0.01 * cap + 0.1 * c.arch.width, 6))
        return out


def keys(result):
    return [(e.candidate.key, e.accuracy) for e in result.evaluated]


def test_search_is_deterministic_and_seeded(tmp_path):
    spec = make_spec(tmp_path)
    a = run_search(spec, tmp_path / "a", scorer=Analytic(), report=False, show=False)
    b = run_search(spec, tmp_path / "b", scorer=Analytic(), report=False, show=False)
    c = run_search(make_spec(tmp_path, search={"seed": 4}), tmp_path / "c", scorer=Analytic(),
                   report=False, show=False)
    assert keys(a) == keys(b) and a.candidate == b.candidate
    assert keys(a) != keys(c)
    cfg = SearchConfig(population=8, generations=3)
    assert a.evaluations == cfg.target_evaluations == 8 + 3 * 6   # every child is a new candidate


def test_resume_after_interruption_gives_identical_result(tmp_path):
    spec = make_spec(tmp_path)
    full = run_search(spec, tmp_path / "full", scorer=Analytic(), report=False, show=False)
    for stop in (5, 13):                      # mid-generation and a later generation
        work = tmp_path / f"cut{stop}"
        with pytest.raises(KeyboardInterrupt):
            run_search(spec, work, scorer=Analytic(fail_after=stop), report=False, show=False)
        state = json.loads((work / ".dnasgen" / "search_state_evolution.json").read_text())
        assert len(state["memo"]) == stop - stop % 4 and not state["done"]
        rest = Analytic()
        resumed = run_search(spec, work, scorer=rest, report=False, show=False)
        assert keys(resumed) == keys(full) and resumed.candidate == full.candidate
        assert rest.calls == full.evaluations - len(state["memo"])     # memo reused, nothing rescored


def test_every_candidate_is_priced_first_and_fits_every_budget(tmp_path):
    spec = make_spec(tmp_path, board={"ram_kb": 24, "reserve_ram_kb": 0}, constraints={"max_latency_ms": 120})
    pricer = Pricer(spec)
    cfg = SearchConfig(population=8, generations=3, seed=1)
    out = Engine(spec.space, pricer, Analytic(), cfg).run()
    assert pricer.priced > len(out.evaluated)            # infeasible ones were priced, never scored
    for e in out.evaluated:
        assert e.cost["violations"] == [] and e.cost["ram_bytes"] <= spec.board.ram_budget_bytes
        assert e.cost["latency_ms"] <= 120
    # the budget binds: the unconstrained best (48 px rgb, widest) does not fit
    assert not pricer.fits(spec.space.largest())


def test_impossible_budget_names_the_budget_and_closest_cost(tmp_path):
    spec = make_spec(tmp_path, board={"ram_kb": 4, "reserve_ram_kb": 0})
    with pytest.raises(BudgetError) as err:
        run_search(spec, tmp_path / "w", scorer=Analytic(), report=False, show=False)
    msg = str(err.value)
    assert "RAM" in msg and "4,096 B" in msg and "24px-grayscale" in msg
    smallest = Pricer(spec).cost(spec.space.smallest(spec.space.data_configs()[0]))
    assert f"{smallest['ram_bytes']:,} B" in msg


def test_strategies_share_evaluation_count_and_baseline_keeps_data(tmp_path):
    spec = make_spec(tmp_path, board={"ram_kb": 40, "reserve_ram_kb": 0})
    evo = run_search(spec, tmp_path / "w", "evolution", scorer=Analytic(), report=False, show=False)
    hw = run_search(spec, tmp_path / "w", "hardware_aware", scorer=Analytic(), report=False, show=False)
    rnd = run_search(spec, tmp_path / "w", "random", scorer=Analytic(), report=False, show=False)
    assert evo.evaluations == hw.evaluations == rnd.evaluations
    data = {e.candidate.data for e in hw.evaluated}
    assert len(data) == 1
    fixed = data.pop()                              # the largest data config whose smallest net fits
    pricer = Pricer(spec)
    assert pricer.fits(spec.space.smallest(fixed))
    bigger = [d for d in spec.space.data_configs() if (d.resolution, d.channels) > (fixed.resolution, fixed.channels)]
    assert all(not pricer.fits(spec.space.smallest(d)) for d in bigger)
    assert len({e.candidate.data for e in evo.evaluated}) > 1


def test_spec_fixed_data_and_colour_known_answer(tmp_path):
    spec = make_spec(tmp_path, search={"strategy": "hardware_aware",
                                       "fixed_data": {"resolution": 24, "color": "grayscale"}})
    hw = run_search(spec, tmp_path / "w", scorer=Analytic(), report=False, show=False)
    assert {e.candidate.data.label for e in hw.evaluated} == {"24px-grayscale"}
    evo = run_search(spec, tmp_path / "w", "evolution", scorer=Analytic(colour_bonus=0.3), report=False, show=False)
    assert evo.candidate.data.color == "rgb" and evo.chosen.accuracy > hw.chosen.accuracy


def test_zero_time_budget_is_a_clear_error(tmp_path):
    spec = make_spec(tmp_path, search={"time_budget_s": 1e-9})
    with pytest.raises(BudgetError, match="time budget"):
        run_search(spec, tmp_path / "w", scorer=Analytic(), report=False, show=False)


def test_report_files_and_result_round_trip(tmp_path):
    from dnasgen.search import ComparisonTable, SearchResult, compare
    spec = make_spec(tmp_path, board={"ram_kb": 40, "reserve_ram_kb": 0})
    work = tmp_path / "proj"
    table = compare(spec, work, scorer=Analytic(), show=False)
    report = work / "report"
    for name in ("pareto.png", "search.md", "search.json", "comparison.md", "comparison.json", "comparison.png"):
        assert (report / name).stat().st_size > 200, name
    assert (report / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    saved = SearchResult.load(work / ".dnasgen" / "search.json")
    evo = table.results["evolution"]
    assert saved.strategy == "evolution" and keys(saved) == keys(evo) and saved.candidate == evo.candidate
    doc = json.loads((report / "search.json").read_text())
    assert doc["version"] == 1 and doc["candidate"] == evo.candidate.to_dict()
    assert doc["evaluations"] == len(doc["evaluated"]) == 26 and doc["pareto"]
    md = (report / "search.md").read_text()
    assert "Best per data configuration" in md and evo.chosen.candidate.data.label in md
    rows = json.loads((report / "comparison.json").read_text())["rows"]
    assert [r["strategy"] for r in rows] == ["evolution", "hardware_aware", "random"]
    assert len({r["evaluations"] for r in rows}) == 1
    assert isinstance(table, ComparisonTable) and "| evolution | 26 |" in (report / "comparison.md").read_text()


@pytest.mark.parametrize("pixel_format", ["grayscale", "rgb565", "rgb888", "yuyv"])
def test_prices_are_the_sensor_aware_cost_model(tmp_path, pixel_format):
    from dnasgen import abi
    from dnasgen.cost import estimate, estimate_spec
    colors = ["grayscale"] if pixel_format == "grayscale" else ["grayscale", "rgb"]
    spec = make_spec(tmp_path, sensor={"pixel_format": pixel_format}, constraints={"max_latency_ms": 300},
                     data_options={"colors": colors})
    result = run_search(spec, tmp_path / "w", scorer=Analytic(), report=False, show=False)
    for e in result.evaluated:
        cost = estimate_spec(spec, e.candidate)
        assert (e.cost["ram_bytes"], e.cost["flash_bytes"]) == (cost.ram_bytes, cost.flash_bytes)
        assert e.cost["latency_ms"] == pytest.approx(cost.latency_ms, abs=1e-3)     # rounded in to_dict
    gray = spec.space.smallest(spec.space.data_configs()[0])
    assert gray.data.color == "grayscale"
    blind = estimate(gray, spec.board, spec.num_classes, spec.space.head_channels)   # no sensor: worst case
    priced = Pricer(spec).cost(gray)
    assert priced["flash_bytes"] < blind.flash_bytes                # one preprocessing routine, not the largest
    per_pixel = abi.PREPROCESS_ACC_BYTES
    planes = 1 if pixel_format in ("grayscale", "yuyv") else 3      # planes of the streaming preprocessor
    assert blind.ram_bytes - priced["ram_bytes"] == per_pixel * gray.data.resolution * (3 - planes)


def test_package_finetune_stays_the_function_after_the_submodule_is_imported():
    import importlib
    importlib.import_module("dnasgen.search.finetune")            # as the CLI and the pipeline do
    from dnasgen.search import finetune, finetune_candidate
    assert callable(finetune) and callable(finetune_candidate)


def test_finetune_lr_is_a_spec_field_defaulting_to_a_fifth_of_train_lr(tmp_path):
    from dnasgen.search.finetune import finetune_lr
    spec = make_spec(tmp_path, train={"lr": 0.08})
    assert spec.search.finetune_lr is None and finetune_lr(spec) == pytest.approx(0.016)
    assert finetune_lr(make_spec(tmp_path, train={"lr": 0.08}, search={"finetune_lr": 0.003})) == 0.003
