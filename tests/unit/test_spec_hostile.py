"""Hostile specs are refused fast and located: alias bombs, NaN/inf in any number field."""
from __future__ import annotations

import json
import time

import pytest

from dnasgen.errors import SpecError
from dnasgen.spec import load_spec, schema_dict

BASE = {"name": "demo", "dataset": {"source": "synthetic"}, "board": {"id": "qemu-mps2-an386"}}
NAN = "__NAN__"


def _bomb(levels: int = 9, fan: int = 9) -> str:
    lines = ["name: bomb", "a: &a [" + ", ".join(['"lol"'] * fan) + "]"]
    names = "abcdefghijklmnop"
    for prev, cur in zip(names, names[1:levels]):
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * fan) + "]")
    return "\n".join(lines + ["dataset: {source: synthetic}", "board: qemu-mps2-an386"]) + "\n"


def test_alias_bomb_is_refused_fast_and_located(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb())
    start = time.perf_counter()
    with pytest.raises(SpecError) as info:
        load_spec(path, check_paths=False)
    elapsed = time.perf_counter() - start
    assert elapsed < 0.5, f"{elapsed:.2f} s"          # 9^9 values if expanded: minutes
    (issue,) = info.value.issues
    # 9^6 > 100,000 values: f is the first (smallest) value past the bound, at its definition
    assert (issue.line, issue.col, issue.path) == (7, 4, "$.f") and "alias" in issue.message


def test_shared_aliases_below_the_bound_still_load(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("name: demo\ndataset: {source: synthetic}\nboard: qemu-mps2-an386\n"
                    "search_space: {kernels: &k [3, 5], expands: *k}\n")
    space = load_spec(path).space
    assert space.kernels == (3, 5) and space.expands == (3, 5)


def _types(schema: dict) -> set[str]:
    types = schema.get("type", [])
    return {types} if isinstance(types, str) else set(types)


def _number_fields(schema: dict, path: tuple = ()):
    """(key path, is an array of numbers) for every number / integer field of the spec schema."""
    defs = schema.get("$defs", {})
    for key, sub in schema.get("properties", {}).items():
        if "$ref" in sub:
            sub = {**defs[sub["$ref"].rsplit("/", 1)[-1]], **sub}
        types, items = _types(sub), _types(sub.get("items", {}))
        if {"number", "integer"} & types:
            yield path + (key,), False
        elif "array" in types and {"number", "integer"} & items:
            yield path + (key,), True
        yield from _number_fields({**sub, "$defs": defs}, path + (key,))


def _all_number_fields():
    schema = schema_dict()
    out = list(_number_fields(schema))
    defs = schema["$defs"]
    out += [(("board",) + p, a) for p, a in _number_fields({**defs["board_map"], "$defs": defs})]
    out += [(("dataset",) + p, a) for p, a in _number_fields({**defs["synthetic"], "$defs": defs})]
    return out


FIELDS = _all_number_fields()


def test_the_walk_finds_the_number_fields():
    keys = {".".join(p) for p, _ in FIELDS}
    assert {"train.lr", "board.ram_kb", "search.fixed_data.resolution", "search_space.widths",
            "constraints.max_latency_ms", "dataset.image_size"} <= keys, sorted(keys)
    assert len(FIELDS) >= 30


@pytest.mark.parametrize("literal", [".nan", ".inf", "-.inf"])
@pytest.mark.parametrize("field,array", FIELDS, ids=[".".join(p) for p, _ in FIELDS])
def test_non_finite_number_is_a_located_error(tmp_path, field, array, literal):
    data = json.loads(json.dumps(BASE))
    node = data
    for key in field[:-1]:
        node = node.setdefault(key, {})
    node[field[-1]] = [NAN] if array else NAN
    text = json.dumps(data, indent=1).replace(f'"{NAN}"', literal)      # JSON is YAML
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        load_spec(path, check_paths=False)
    want = "$." + ".".join(field) + ("[0]" if array else "")
    line = next(i for i, row in enumerate(text.splitlines(), 1) if literal in row)
    found = [i for i in info.value.issues if i.path == want and "not a finite number" in i.message]
    assert found and found[0].line == line, info.value
