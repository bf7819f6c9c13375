"""load_spec: YAML text -> validated, defaults-filled, typed Spec; every problem at once.

Pipeline: ruamel round-trip parse (positions, duplicate keys) -> JSON Schema
(types, ranges, unknown keys with did-you-mean, unknown board) -> defaults ->
cross-field checks -> typed Spec. Any problem raises SpecError with all issues,
sorted by position, each printed as `file:line:col: $.path: message`.
"""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from dnasgen.boards import Board, get_board
from dnasgen.candidate import SearchSpace
from dnasgen.errors import SpecError, SpecIssue
from dnasgen.spec.checks import cross_checks
from dnasgen.spec.model import Constraints, Dataset, Export, Search, Sensor, Spec, Train
from dnasgen.spec.schema import KEY, PARENT, normalise, schema_dict, schema_issues
from dnasgen.spec.yamlio import Parsed, locate_in, parent, parse_yaml


def load_spec(path: str | Path, check_paths: bool = True) -> Spec:
    """Load and validate a spec file. Raises SpecError listing every problem found.

    check_paths=True (default, what training uses): a dataset directory that does not
    exist is an error. check_paths=False (validate/plan, which never read data): a missing
    Wake Vision directory is only a warning (Spec.warnings); image_folder still errors.
    """
    path = Path(path)
    name = str(path)
    text = _read(path, name)
    parsed = parse_yaml(text)
    issues = [SpecIssue(name, *pos, jp, msg) for jp, pos, msg in parsed.issues]
    if parsed.data is None and issues:
        raise SpecError(issues)
    if not isinstance(parsed.data, dict):
        got = "an empty file" if parsed.data is None else f"a {type(parsed.data).__name__}"
        raise SpecError(issues + [SpecIssue(name, 1, 1, "$", f"a spec must be a mapping, got {got}")])
    found = schema_issues(parsed.data)
    issues += [SpecIssue(name, *_where(parsed, jp, anchor), jp, msg) for jp, anchor, msg in found]
    data = normalise(parsed.data, schema_dict())
    bad = {jp for jp, _, _ in found} | {jp for jp, _, _ in parsed.issues}
    errors, warnings = cross_checks(data, path.resolve().parent, check_paths, bad)
    issues += [SpecIssue(name, *_cross_where(parsed, found), found[0], found[1]) for found in errors]
    if issues:
        raise SpecError(sorted(set(issues), key=lambda i: (i.line, i.col, i.path, i.message)))
    spec = build_spec(data, path)
    return _with(spec, parsed, [SpecIssue(name, *_cross_where(parsed, w), w[0], w[1]) for w in warnings])


def _read(path: Path, name: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([SpecIssue(name, 1, 1, "$", "spec file not found")]) from None
    except IsADirectoryError:
        raise SpecError([SpecIssue(name, 1, 1, "$", "is a directory, not a spec file")]) from None
    except UnicodeDecodeError as exc:
        raise SpecError([SpecIssue(name, 1, 1, "$", f"not UTF-8 text: {exc.reason}")]) from None
    except OSError as exc:          # permission denied, name too long, ...
        raise SpecError([SpecIssue(name, 1, 1, "$", f"cannot read spec file: {exc.strerror}")]) from None


def _where(parsed: Parsed, json_path: str, anchor: str) -> tuple[int, int]:
    if anchor == KEY and json_path in parsed.keys:
        return parsed.keys[json_path]
    if anchor == PARENT:
        return locate_in(parsed.values, parent(json_path) or "$")
    return locate_in(parsed.values, json_path)


def _cross_where(parsed: Parsed, found: tuple) -> tuple[int, int]:
    """A cross-check issue sits at its path; for a default value, at the value that caused it."""
    json_path = found[0]
    if json_path not in parsed.values and len(found) > 2:
        json_path = found[2]
    return locate_in(parsed.values, json_path)


def _with(spec: Spec, parsed: Parsed, warnings: list[SpecIssue]) -> Spec:
    from dataclasses import replace
    return replace(spec, positions=dict(parsed.values), warnings=tuple(warnings))


def _pick(cls, values: dict):
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})


def build_board(value: str | dict) -> Board:
    """Catalogue id, id + overrides, or a fully custom board."""
    if isinstance(value, str):
        return get_board(value)
    overrides = {k: v for k, v in value.items() if k != "id"}
    if "id" in value:
        return get_board(value["id"], **overrides)
    overrides.setdefault("name", "custom board")
    return Board(id="custom", **overrides)


def _absolute(base: Path, path: str | None) -> str | None:
    return None if path is None else str((base / path).resolve())


def build_spec(data: dict, source_path: Path | None = None) -> Spec:
    """Typed Spec from a validated, defaults-filled dict (dataset path and train.init made absolute)."""
    ds = data["dataset"]
    base = source_path.resolve().parent if source_path else Path.cwd()
    ds_path = _absolute(base, ds.get("path"))
    train = {**data["train"], "init": _absolute(base, data["train"].get("init"))}
    opts, space = data["data_options"], data["search_space"]
    return Spec(
        name=data["name"],
        classes=tuple(data["task"]["classes"]),
        dataset=Dataset(ds["source"], ds_path, {k: v for k, v in ds.items() if k not in ("source", "path")}),
        sensor=_pick(Sensor, data["sensor"]),
        space=SearchSpace(
            resolutions=tuple(opts["resolutions"]), colors=tuple(opts["colors"]),
            widths=tuple(float(w) for w in space["widths"]),
            depths=tuple(tuple(d) for d in space["depths"]),
            kernels=tuple(space["kernels"]), expands=tuple(space["expands"]),
            head_channels=space["head_channels"], num_classes=len(data["task"]["classes"])),
        board=build_board(data["board"]),
        constraints=_pick(Constraints, data["constraints"]),
        train=_pick(Train, train),
        search=_pick(Search, data["search"]),
        export=_pick(Export, data["export"]),
        output_dir=data["output"]["dir"],
        runtimes=tuple((data.get("codegen") or {}).get("runtimes") or Spec.runtimes),
        raw=data,
        source_path=str(source_path) if source_path else None,
    )


def spec_issue(spec: Spec, json_path: str, message: str) -> SpecIssue:
    """A located issue for a later stage (e.g. an empty class folder at $.task.classes[2])."""
    line, col = spec.locate(json_path)
    return SpecIssue(spec.source_path or "<spec>", line, col, json_path, message)
