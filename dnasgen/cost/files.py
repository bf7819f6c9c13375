"""Reading a candidate file for `dnasgen estimate`: every problem is a clean located error."""
from __future__ import annotations

import json
from pathlib import Path

from dnasgen.candidate import Candidate, SearchSpace
from dnasgen.cost.model import estimate_spec
from dnasgen.cost.report import CostReport
from dnasgen.errors import SpecError, SpecIssue


def _fail(path: str | Path, message: str, line: int = 1, col: int = 1, where: str = "$") -> SpecError:
    return SpecError([SpecIssue(str(path), line, col, where, message)])


def read_candidate(path: Path, space: SearchSpace | None = None) -> Candidate:
    """A Candidate from a JSON file; SpecError (file:line:col) when missing, malformed or outside space."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise _fail(path, "candidate file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(path, f"cannot read candidate file: {exc}") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(path, f"invalid JSON: {exc.msg}", exc.lineno, exc.colno) from None
    return parse_candidate(obj, path, space)


def parse_candidate(obj, source: str | Path = "<candidate>", space: SearchSpace | None = None) -> Candidate:
    """A Candidate from its dict (or a {"candidate": ..., "cost": ...} pick); SpecError naming
    `source` when it is malformed or outside `space`."""
    if isinstance(obj, dict) and "candidate" in obj and "data" not in obj:
        obj = obj["candidate"]           # accept a {"candidate": ..., "cost": ...} pick as well
    try:
        cand = Candidate.from_dict(obj)
    except (ValueError, TypeError, AttributeError) as exc:
        raise _fail(source, f"not a candidate: {exc}") from None
    problems = space.violations(cand) if space is not None else []
    if problems:
        raise SpecError([SpecIssue(str(source), 1, 1, "$", f"outside the spec's search space: {p}")
                         for p in problems])
    return cand


def estimate_file(spec_path: Path, candidate_path: Path) -> CostReport:
    """Load a spec and a candidate file, price the candidate on the spec's board."""
    from dnasgen.spec import load_spec
    spec = load_spec(spec_path, check_paths=False)
    return estimate_spec(spec, read_candidate(candidate_path, spec.space))
