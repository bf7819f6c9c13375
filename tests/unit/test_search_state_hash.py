"""The scored searches' cache key ignores search.diff_* (read by the differentiable search only): setting
them keeps the evolution's saved state and the sweep's fine-tuned winners; any other search field counts."""
from __future__ import annotations

from pathlib import Path

from dnasgen.search.state import scored_search_hash
from dnasgen.spec import load_spec

TINY = Path(__file__).parent.parent / "pipeline_tiny.yaml"


def _spec(tmp_path, extra: str):
    path = tmp_path / f"s{abs(hash(extra))}.yaml"
    path.write_text(TINY.read_text().replace("search:\n", f"search:\n{extra}"))
    return load_spec(path)


def test_diff_fields_leave_the_scored_search_hash_alone(tmp_path):
    base = load_spec(TINY)
    with_diff = _spec(tmp_path, "  diff_warmup_epochs: 7\n  diff_epochs: 9\n")
    other = _spec(tmp_path, "  mutation_prob: 0.3\n")
    assert scored_search_hash(with_diff) == scored_search_hash(base)
    assert base.section_hash("task", "dataset", "sensor", "search", "train") == scored_search_hash(base)
    assert with_diff.section_hash("search") != base.section_hash("search")       # the full hash does see them
    assert scored_search_hash(other) != scored_search_hash(base)
