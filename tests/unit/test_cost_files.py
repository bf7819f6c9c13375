"""Candidate files for `dnasgen estimate`: every problem is a located SpecError."""
import json

import pytest

from dnasgen.candidate import SearchSpace
from dnasgen.cost import read_candidate
from dnasgen.errors import SpecError

SPACE = SearchSpace(resolutions=(96,), colors=("rgb",), widths=(0.35,))


def test_reads_a_candidate_and_a_plan_pick(tmp_path):
    cand = SPACE.largest()
    f = tmp_path / "c.json"
    f.write_text(cand.to_json(indent=2))
    assert read_candidate(f, SPACE) == cand
    f.write_text(json.dumps({"candidate": cand.to_dict(), "cost": {}}))
    assert read_candidate(f, SPACE) == cand


def test_missing_file(tmp_path):
    with pytest.raises(SpecError, match=r"nope.json:1:1: \$: candidate file not found"):
        read_candidate(tmp_path / "nope.json")


def test_bad_json_is_located(tmp_path):
    f = tmp_path / "c.json"
    f.write_text('{\n  "data": {"resolution": 96,,}\n}')
    with pytest.raises(SpecError) as err:
        read_candidate(f)
    issue = err.value.issues[0]
    assert (issue.line, issue.col) == (2, 29) and "invalid JSON" in issue.message
    assert err.value.exit_code == 2


def test_not_a_candidate(tmp_path):
    f = tmp_path / "c.json"
    f.write_text('{"data": {"resolution": 96, "color": "rgb"}}')
    with pytest.raises(SpecError, match="not a candidate: malformed candidate"):
        read_candidate(f)
    f.write_text("[1, 2]")
    with pytest.raises(SpecError, match="not a candidate"):
        read_candidate(f)


def test_outside_the_space_lists_every_reason(tmp_path):
    other = SearchSpace(resolutions=(128,), colors=("grayscale",), widths=(0.35,))
    f = tmp_path / "c.json"
    f.write_text(other.largest().to_json())
    with pytest.raises(SpecError) as err:
        read_candidate(f, SPACE)
    messages = [i.message for i in err.value.issues]
    assert messages == ["outside the spec's search space: resolution 128 not in [96]",
                        "outside the spec's search space: color 'grayscale' not in ['rgb']"]
