"""The spec's JSON Schema (package data): loading, defaults, and located, readable errors.

`schema_dict()` is the contract (board ids are injected from the catalogue so editors
can complete them). `schema_issues()` turns jsonschema errors into (path, anchor,
message) triples with friendly wording and did-you-mean hints; `normalise()` fills
the schema `default`s and turns integral floats into ints where integers are meant.
"""
from __future__ import annotations

import copy
import difflib
import json
from functools import lru_cache
from importlib import resources

from dnasgen.spec.yamlio import join

# Raw issue anchors: where in the file a problem is shown.
VALUE, KEY, PARENT = "value", "key", "parent"


@lru_cache(maxsize=1)
def _schema_cached() -> str:
    from dnasgen.boards import board_ids
    schema = json.loads(resources.files("dnasgen.spec").joinpath("schema.json").read_text())
    schema["$defs"]["board_id"]["enum"] = board_ids()
    return json.dumps(schema)


def schema_dict() -> dict:
    """The spec JSON Schema (draft 2020-12) with the board catalogue ids filled in."""
    return json.loads(_schema_cached())


def schema_text() -> str:
    """The schema as readable JSON, for `dnasgen schema > dnasgen.schema.json`."""
    return compact_json(schema_dict()) + "\n"


def compact_json(obj, level: int = 0, lead: int = 0, width: int = 150) -> str:
    """JSON indented by 2, with any value that fits the line width kept on one line."""
    flat = json.dumps(obj)
    if len(flat) + lead + 2 * level <= width or not isinstance(obj, (dict, list)) or not obj:
        return flat
    pad = "  " * (level + 1)
    if isinstance(obj, dict):
        items = [f"{pad}{json.dumps(k)}: {compact_json(v, level + 1, len(k) + 4, width)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * level + "}"
    items = [pad + compact_json(v, level + 1, 0, width) for v in obj]
    return "[\n" + ",\n".join(items) + "\n" + "  " * level + "]"


@lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator
    return Draft202012Validator(schema_dict())


def resolve(schema: dict, root: dict | None = None) -> dict:
    """Inline a local `$ref` (keeping sibling keywords such as `default`)."""
    if not isinstance(schema, dict) or "$ref" not in schema:
        return schema if isinstance(schema, dict) else {}
    root = root or schema_dict()
    target = root
    for part in schema["$ref"].removeprefix("#/").split("/"):
        target = target[part]
    merged = {**resolve(target, root), **{k: v for k, v in schema.items() if k != "$ref"}}
    return merged


def properties(schema: dict, instance, root: dict | None = None) -> dict | None:
    """Properties that apply to `instance`, following allOf and if/then/else.

    None when a conditional branch could not be decided because the discriminator is
    itself invalid (then unknown-key reports would only be noise).
    """
    root = root or schema_dict()
    schema = resolve(schema, root)
    props = dict(schema.get("properties", {}))
    branches = list(schema.get("allOf", []))
    if "if" in schema:
        branches.append({k: schema[k] for k in ("if", "then", "else") if k in schema})
    matched_any, has_if = False, False
    for branch in branches:
        if "if" not in branch:
            props.update(properties(branch, instance, root) or {})
            continue
        has_if = True
        taken = branch.get("then") if _validator().evolve(schema=branch["if"]).is_valid(instance) \
            else branch.get("else")
        if taken is not None:
            matched_any = True
            props.update(properties(taken, instance, root) or {})
    if has_if and not matched_any and schema.get("unevaluatedProperties") is False:
        return None
    return props


def normalise(instance, schema: dict, root: dict | None = None):
    """A copy of `instance` with schema defaults filled in and integral floats made ints."""
    root = root or schema_dict()
    schema = resolve(schema, root)
    if isinstance(instance, dict):
        out = dict(instance)
        for key, sub in (properties(schema, instance, root) or {}).items():
            sub = resolve(sub, root)
            if key not in out and "default" in sub:
                out[key] = copy.deepcopy(sub["default"])
            if key in out:
                out[key] = normalise(out[key], sub, root)
        return out
    if isinstance(instance, list):
        return [normalise(item, schema.get("items", {}), root) for item in instance]
    if isinstance(instance, float) and not isinstance(instance, bool) and instance.is_integer() \
            and _means_int(schema):
        return int(instance)
    return instance


def _means_int(schema: dict) -> bool:
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    return "integer" in types or all(isinstance(v, int) for v in schema.get("enum", [None]))


def did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _json_type(value) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string",
            list: "array", dict: "object"}.get(type(value), type(value).__name__)


def _render_path(parts) -> str:
    path = "$"
    for part in parts:
        path = join(path, part)
    return path


def schema_issues(data) -> list[tuple[str, str, str]]:
    """Every schema violation as (json path, anchor, message); anchor is VALUE, KEY or PARENT."""
    out: list[tuple[str, str, str]] = []
    typed: set[str] = set()
    errors = sorted(_validator().iter_errors(data), key=lambda e: len(list(e.schema_path)))
    for err in errors:
        path = _render_path(err.absolute_path)
        if err.validator == "type":
            if path in typed:      # e.g. board's if/else repeating the outer type error
                continue
            typed.add(path)
        out.extend(_convert(err, path))
    return list(dict.fromkeys(out))


def _convert(err, path: str) -> list[tuple[str, str, str]]:
    kind, inst, val = err.validator, err.instance, err.validator_value
    if kind == "required":
        missing = [k for k in val if isinstance(inst, dict) and k not in inst]
        hint = (" (a custom board needs ram_kb, flash_kb, core and clock_mhz; or give a catalogue id)"
                if path.endswith("board") else "")
        return [(join(path, k), PARENT, f"missing required key {k!r}{hint}") for k in missing]
    if kind in ("additionalProperties", "unevaluatedProperties"):
        return _unknown_keys(err, path)
    return [(path, VALUE, _message(err, path))]


def _unknown_keys(err, path: str) -> list[tuple[str, str, str]]:
    inst = err.instance
    allowed = properties(err.schema, inst)
    if allowed is None or not isinstance(inst, dict):
        return []
    elsewhere = _other_branch_keys(err.schema, inst)
    out = []
    for key in inst:
        if key in allowed:
            continue
        if key in elsewhere:
            msg = f"{key!r} is not an option of {elsewhere[key]}"
        else:
            hint = did_you_mean(key, allowed)
            msg = f"unknown key {key!r}{hint}" + ("" if hint else f"; allowed keys: {', '.join(allowed)}")
        out.append((join(path, key), KEY, msg))
    return out


def _other_branch_keys(schema: dict, instance: dict) -> dict[str, str]:
    """dataset options that belong to another source: key -> "source 'x'" text."""
    found: dict[str, str] = {}
    source = instance.get("source")
    for branch in schema.get("allOf", []):
        const = branch.get("if", {}).get("properties", {}).get("source", {}).get("const")
        if const and const != source:
            for key in resolve(branch["then"]).get("properties", {}):
                found.setdefault(key, f"source {source!r} (it belongs to {const!r})")
    return found


def _message(err, path: str) -> str:
    kind, inst, val, sch = err.validator, err.instance, err.validator_value, err.schema
    if kind == "type":
        want = " or ".join([val] if isinstance(val, str) else val)
        return f"expected {want}, got {_json_type(inst)} {inst!r}"
    if kind == "enum":
        if path.endswith(".board") or path.endswith(".board.id"):
            return f"unknown board {inst!r}{did_you_mean(inst, val)}; known boards: {', '.join(val)}"
        hint = did_you_mean(inst, val) if isinstance(inst, str) else ""
        return f"{inst!r} is not one of {', '.join(str(v) for v in val)}{hint}"
    bounds = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
    if kind in bounds:
        return f"{inst!r} is out of range: must be {bounds[kind]} {val}"
    if kind in ("minItems", "maxItems"):
        return _count_message(kind, inst, val, sch)
    if kind == "uniqueItems":
        dups = sorted({repr(x) for x in inst if inst.count(x) > 1})
        return f"duplicate entries: {', '.join(dups)}"
    if kind == "minLength":
        return "must not be empty" if val == 1 else f"must be at least {val} characters"
    if kind == "maxLength":
        return f"too long: at most {val} characters"
    if kind == "pattern":
        return f"{inst!r} does not match {val} (lowercase letters, digits, '-' and '_')"
    return err.message


def _count_message(kind: str, inst: list, val: int, sch: dict) -> str:
    if sch.get("minItems") == sch.get("maxItems"):
        what = " (one per MobileNetV2 stage)" if path_is_depths(sch) else ""
        return f"must have exactly {val} entries{what}, got {len(inst)}"
    if kind == "minItems":
        if val == 1:
            return "must not be empty: give at least one choice"
        return f"needs at least {val} entries, got {len(inst)}"
    return f"has {len(inst)} entries; at most {val} allowed"


def path_is_depths(sch: dict) -> bool:
    return sch.get("minItems") == 7 and "items" in sch and sch["items"].get("type") == "array"
