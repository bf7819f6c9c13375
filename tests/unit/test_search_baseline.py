"""search.compare_baseline: the hardware-aware baseline on the same scorer, search.md and the build summary's
binding-budget and "data-aware chose X vs hardware-aware Y" lines, their numbers read back from the JSON files."""
from __future__ import annotations

import json
from types import SimpleNamespace

from rich.console import Console

from dnasgen.cost.report import format_binding, tightest_budget
from dnasgen.io import atomic_write_json
from dnasgen.pipeline.stages import Context
from dnasgen.pipeline.summary import collect, render
from dnasgen.search import run_search
from dnasgen.search.result import versus_line

from tests.unit.test_search_engine import Analytic, make_spec

BOARD = {"ram_kb": 40, "reserve_ram_kb": 0}      # 48 px networks hardly fit: the baseline's data is pinned


class Identified(Analytic):
    identity = "0123abcd+code:feed"                  # as the build's scorer: checkpoint digest + code


def _search(tmp_path, **search):
    spec = make_spec(tmp_path, board=BOARD, search={"compare_baseline": True, **search})
    project = tmp_path / "proj"
    result = run_search(spec, project, scorer=Identified(), show=False)
    return spec, project, result


def _saved(project, name: str) -> dict:
    return json.loads((project / ".dnasgen" / name).read_text())


def _summary(spec, project, result) -> dict:
    atomic_write_json(project / ".dnasgen" / "candidate.json", result.candidate.to_dict())
    ctx = Context(spec=spec, root=project.parent, project=project,
                  artifacts={"search": {"path": ".dnasgen/search.json"},
                             "candidate": {"path": ".dnasgen/candidate.json"}})
    return collect(ctx, SimpleNamespace(seconds=1.0, stages=[]))


def test_baseline_runs_on_the_same_scorer_at_the_same_evaluations(tmp_path):
    spec, project, result = _search(tmp_path)
    evo, hw = _saved(project, "search.json"), _saved(project, "search_hardware_aware.json")
    assert (evo["strategy"], hw["strategy"]) == ("evolution", "hardware_aware")
    assert evo["evaluations"] == hw["evaluations"] == result.evaluations
    assert evo["supernet"] == hw["supernet"] == Identified.identity and evo["budgets"] == hw["budgets"]
    assert len({json.dumps(e["candidate"]["data"]) for e in hw["evaluated"]}) == 1
    md = (project / "report" / "search.md").read_text()
    assert "## Data-aware vs hardware-aware" in md and "| hardware_aware |" in md
    assert f"(val acc {evo['chosen']['accuracy']:.3f}) vs hardware-aware" in md
    assert f"(val acc {hw['chosen']['accuracy']:.3f}); {evo['evaluations']} candidates each" in md


def test_without_the_flag_no_baseline_runs(tmp_path):
    spec = make_spec(tmp_path, board=BOARD)
    project = tmp_path / "proj"
    run_search(spec, project, scorer=Identified(), show=False)
    assert not (project / ".dnasgen" / "search_hardware_aware.json").exists()
    md = (project / "report" / "search.md").read_text()
    assert "hardware-aware" not in md and "- binding budget (cost model): " in md


def test_summary_rows_equal_the_search_json_values(tmp_path):
    spec, project, result = _search(tmp_path)
    summary = _summary(spec, project, result)
    evo, hw = _saved(project, "search.json"), _saved(project, "search_hardware_aware.json")
    ours, base = summary["comparison"]
    for row, doc in ((ours, evo), (base, hw)):
        chosen = doc["chosen"]
        assert row["strategy"] == doc["strategy"] and row["evaluations"] == doc["evaluations"]
        assert row["val_accuracy"] == chosen["accuracy"] and row["width"] == chosen["candidate"]["arch"]["width"]
        data = chosen["candidate"]["data"]
        assert row["data_config"] == f"{data['resolution']}px-{data['color']}"
        assert (row["ram_bytes"], row["latency_ms"]) == (chosen["cost"]["ram_bytes"], chosen["cost"]["latency_ms"])
    binding = summary["budget"]["binding"]        # no verify ran: the estimate, which is search.json's cost
    assert binding == tightest_budget(evo["chosen"]["cost"], evo["budgets"])
    assert binding["limit"] == evo["budgets"][binding["key"]]
    console = Console(record=True, width=400)
    render(summary, console)
    text = console.export_text()
    assert f"binding budget {format_binding(binding)}" in text
    assert f"vs baseline   {versus_line(summary['comparison'])}" in text
    assert (f"data-aware chose {ours['data_config']} width {ours['width']:g} (val acc {evo['chosen']['accuracy']:.3f})"
            f" vs hardware-aware {base['data_config']} width {base['width']:g} "
            f"(val acc {hw['chosen']['accuracy']:.3f})") in text


def test_a_baseline_of_other_budgets_or_supernet_is_not_compared(tmp_path):
    spec, project, result = _search(tmp_path)
    path = project / ".dnasgen" / "search_hardware_aware.json"
    doc = json.loads(path.read_text())
    path.write_text(json.dumps({**doc, "budgets": {**doc["budgets"], "ram_bytes": 1}}))
    assert _summary(spec, project, result)["comparison"] is None
    path.write_text(json.dumps({**doc, "supernet": "other+code:feed"}))
    assert _summary(spec, project, result)["comparison"] is None
    path.write_text(json.dumps({**doc, "supernet": "0123abcd"}))      # `search --compare`: digest only
    assert _summary(spec, project, result)["comparison"] is not None
    path.unlink()
    summary = _summary(spec, project, result)
    assert summary["comparison"] is None and summary["budget"]["binding"] is not None


def test_binding_budget_wording():
    limits = {"ram_bytes": 24 * 1024, "flash_bytes": 384 * 1024, "latency_ms": 150.0}
    tight = tightest_budget({"ram_bytes": 22 * 1024, "flash_bytes": 100 * 1024, "latency_ms": 100.0}, limits)
    assert tight["key"] == "ram_bytes" and tight["binds"]
    assert format_binding(tight) == "RAM 22.0 kB of 24.0 kB (92%) binds"
    loose = tightest_budget({"ram_bytes": 2048, "flash_bytes": 1024, "latency_ms": 30.0}, {**limits, "latency_ms": None})
    assert loose["key"] == "ram_bytes" and not loose["binds"]
    assert format_binding(loose) == "RAM 2.0 kB of 24.0 kB (8%), the tightest: no budget binds"


def test_search_prints_the_baseline_line_when_it_ran(tmp_path):
    from dnasgen.search.runner import format_search
    spec, project, result = _search(tmp_path)
    hw = _saved(project, "search_hardware_aware.json")
    text = format_search(result)
    line = next(t for t in text.splitlines() if t.startswith("vs baseline: "))
    assert line.startswith(f"vs baseline: data-aware chose {result.candidate.data.label} ")
    assert f"(val acc {hw['chosen']['accuracy']:.3f}); {result.evaluations} candidates each" in line
    alone = run_search(make_spec(tmp_path, board=BOARD), tmp_path / "alone", scorer=Identified(), show=False)
    assert "vs baseline" not in format_search(alone)
