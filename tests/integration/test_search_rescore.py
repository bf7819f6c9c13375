"""search.rescore_top: the search's top, one per data configuration first, trained stand-alone and
the choice re-made by validation accuracy; cached (a rerun trains nothing), reported in search.md."""
from __future__ import annotations

import json
import random
from pathlib import Path

from typer.testing import CliRunner

from dnasgen.cli import app
from dnasgen.search.pareto import Evaluated
from dnasgen.search.rescore import picks
from dnasgen.search.runner import load_result
from dnasgen.spec import load_spec

TINY = Path(__file__).parent.parent / "pipeline_tiny.yaml"


def test_picks_take_the_best_of_each_data_configuration_first():
    space = load_spec(TINY).space
    rng = random.Random(0)
    by_data = {d.label: [space.sample(rng, d) for _ in range(3)] for d in space.data_configs()}
    labels = list(by_data)
    # every candidate of labels[0] scores above every other one
    scored = [Evaluated(c, 0.9 - 0.01 * j - 0.1 * i, {}) for i, lbl in enumerate(labels)
              for j, c in enumerate(by_data[lbl])]
    top = picks(scored, 3)
    assert [e.candidate.data.label for e in top] == labels[:3]
    assert [e.accuracy for e in top] == [0.9, 0.8, 0.7]
    assert len(labels) == 4
    more = picks(scored, 6)                            # one per configuration, then the next best overall
    assert [round(e.accuracy, 2) for e in more] == [0.9, 0.89, 0.88, 0.8, 0.7, 0.6]
    one_config = [e for e in scored if e.candidate.data.label == labels[1]]
    assert picks(one_config, 2) == one_config[:2]      # hardware-aware: its best architectures


def test_rescore_remakes_the_choice_by_standalone_validation(tmp_path, monkeypatch):
    text = TINY.read_text().replace("search:\n", "search:\n  rescore_top: 3\n  rescore_epochs: 1\n")
    (tmp_path / "tiny.yaml").write_text(text)
    cmd = ["search", str(tmp_path / "tiny.yaml"), "--out", str(tmp_path / "out")]
    res = CliRunner().invoke(app, cmd)
    assert res.exit_code == 0, res.output
    work = next((tmp_path / "out").iterdir())
    result = load_result(work)
    rec = result.rescore
    rows = rec["candidates"]
    assert rec["top"] == 3 and rec["epochs"] == 1 and len(rows) == 3 and rec["trained"] == 3
    assert [r["supernet"] for r in rows] == sorted((r["supernet"] for r in rows), reverse=True)
    configs = {e.candidate.data.label for e in result.evaluated}
    assert len({r["label"].split()[0] for r in rows}) == min(3, len(configs))
    best = max(range(3), key=lambda i: (rows[i]["val"], -i))
    assert rec["chosen"] == rows[best]["candidate"] == result.candidate.key
    assert result.chosen.accuracy == rows[best]["supernet"]
    records = [json.loads(p.read_text()) for p in (work / ".dnasgen" / "fidelity").glob("standalone-*.json")]
    assert sorted(r["val"] for r in records) == sorted(r["val"] for r in rows)
    assert "re-scored: the top 3" in (work / "report" / "search.md").read_text()

    def boom(*a, **k):
        raise AssertionError("a rerun must not train")
    monkeypatch.setattr("dnasgen.search.standalone.train_standalone", boom)
    again = CliRunner().invoke(app, cmd)
    assert again.exit_code == 0, again.output
    redo = load_result(work).rescore
    assert redo["trained"] == 0 and redo["chosen"] == rec["chosen"] and redo["candidates"] == rows
    assert redo["seconds"] == rec["seconds"] == round(sum(r["seconds"] for r in rows), 3) > 0   # the training's
