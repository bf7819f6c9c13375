"""YAML layer of the spec loader: ruamel round-trip parse, positions, duplicate keys.

Turns spec text into plain Python data (dict/list/str/int/float/bool/None) plus the
1-based (line, col) of every value and every mapping key, keyed by JSON path
(`$.search_space.depths[2]`). Problems found at this level (malformed YAML,
duplicate or non-string keys) come back as located raw issues, never exceptions.
"""
from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import dataclass, field

Pos = tuple[int, int]
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_LAST_SEGMENT = re.compile(r"""(\.[A-Za-z_][A-Za-z0-9_-]*|\[\d+\]|\['(?:[^'\\]|\\.)*'\]|\["(?:[^"\\]|\\.)*"\])$""")


def join(path: str, key: str | int) -> str:
    """Child JSON path: `$.a` + 'b' -> `$.a.b`; + 3 -> `$.a[3]`; odd keys are quoted."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _IDENT.match(key):
        return f"{path}.{key}"
    return f"{path}[{key!r}]"


def parent(path: str) -> str | None:
    """The JSON path one level up (None for the root `$`)."""
    if path == "$":
        return None
    stripped = _LAST_SEGMENT.sub("", path)
    return stripped if stripped != path else "$"


def locate_in(positions: dict[str, Pos], path: str) -> Pos:
    """Position of `path`, or of its nearest ancestor that is in the file (1, 1 at worst)."""
    cur: str | None = path
    while cur is not None:
        if cur in positions:
            return positions[cur]
        cur = parent(cur)
    return (1, 1)


@dataclass
class Parsed:
    """Plain data plus where each value / key sits in the file."""
    data: object = None
    values: dict[str, Pos] = field(default_factory=dict)
    keys: dict[str, Pos] = field(default_factory=dict)
    issues: list[tuple[str, Pos, str]] = field(default_factory=list)   # (json path, pos, message)


def _yaml():
    from ruamel.yaml import YAML
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = True   # reported below, with both locations, instead of aborting
    return yaml


def _compose_and_construct(text: str):
    """One round-trip parse: the node tree (for duplicate keys) and the constructed data."""
    yaml = _yaml()
    constructor, parser = yaml.get_constructor_parser(text)
    try:
        node = constructor.composer.get_single_node()
        return node, (constructor.construct_document(node) if node is not None else None)
    finally:
        parser.dispose()


def parse_yaml(text: str) -> Parsed:
    """Parse spec text; YAML syntax errors become one located issue at `$`."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    out = Parsed()
    try:
        node, raw = _compose_and_construct(text)
    except MarkedYAMLError as exc:
        out.issues.append(("$", *_marked(exc)))
        return out
    except (YAMLError, ValueError, TypeError, RecursionError) as exc:   # reader errors, `!!int 0.5`...
        out.issues.append(("$", (1, 1), f"malformed YAML: {type(exc).__name__}: {exc}"))
        return out
    if node is not None and _too_big(node, "$", out):
        return out
    if node is not None:
        _find_duplicates(node, "$", out, set())
    root = (raw.lc.line + 1, raw.lc.col + 1) if getattr(getattr(raw, "lc", None), "line", None) is not None \
        else (1, 1)
    out.data = _plain(raw, "$", root, out)
    return out


def _marked(exc) -> tuple[Pos, str]:
    mark, ctx = exc.problem_mark or exc.context_mark, exc.context_mark
    pos = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    where = (f" (started at line {ctx.line + 1}, column {ctx.column + 1})"
             if exc.context and ctx and mark and ctx.line != mark.line else "")
    what = " ".join(str(p) for p in (f"{exc.context}{where}" if exc.context else "", exc.problem) if p)
    return pos, f"malformed YAML: {what}"


MAX_NODES = 100_000     # a spec has a few hundred values; aliases must not expand past this ("billion laughs")


def _sizes(node, memo: dict[int, int], stack: frozenset = frozenset()) -> int:
    """Nodes in `node` with every alias expanded, memoised per node (linear in the file, not the expansion)."""
    from ruamel.yaml.nodes import MappingNode, SequenceNode
    key = id(node)
    if key in memo:
        return memo[key]
    if key in stack:                # recursive alias: reported by _plain
        return 1
    children = ([n for pair in node.value for n in pair] if isinstance(node, MappingNode)
                else node.value if isinstance(node, SequenceNode) else [])
    total = 1
    for child in children:
        total = min(total + _sizes(child, memo, stack | {key}), MAX_NODES + 1)
    memo[key] = total
    return total


def _too_big(root, path: str, out: Parsed) -> bool:
    """Refuse a document whose aliases expand past MAX_NODES, located at the smallest value that does."""
    from ruamel.yaml.nodes import MappingNode, SequenceNode
    memo: dict[int, int] = {}
    if _sizes(root, memo) <= MAX_NODES:
        return False
    node = root
    while True:
        pairs = ([(join(path, str(k.value)), v) for k, v in node.value] if isinstance(node, MappingNode)
                 else [(join(path, i), v) for i, v in enumerate(node.value)] if isinstance(node, SequenceNode)
                 else [])
        big = next(((p, v) for p, v in pairs if memo.get(id(v), 0) > MAX_NODES), None)
        if big is None:
            break
        path, node = big
    pos = (node.start_mark.line + 1, node.start_mark.column + 1)
    out.issues.append((path, pos, f"aliases expand this value to more than {MAX_NODES:,} values "
                                  "(an alias bomb?); a spec needs a few hundred"))
    return True


def _find_duplicates(node, path: str, out: Parsed, stack: set[int]) -> None:
    """Walk the composed node tree; report every repeated mapping key at its later position."""
    from ruamel.yaml.nodes import MappingNode, SequenceNode
    if id(node) in stack:       # recursive alias: reported by _plain
        return
    stack = stack | {id(node)}
    if isinstance(node, MappingNode):
        seen: dict[str, Pos] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            pos = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in seen and key != "<<":
                out.issues.append((join(path, key), pos,
                                   f"duplicate key {key!r} (first defined at line {seen[key][0]}); "
                                   "the first value would be used"))
            seen.setdefault(key, pos)
            _find_duplicates(value_node, join(path, key), out, stack)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            _find_duplicates(item, join(path, i), out, stack)


def _lc(container, kind: str, key) -> Pos | None:
    try:
        line, col = getattr(container.lc, kind)(key)
    except (AttributeError, KeyError, IndexError, TypeError):
        return None
    return (line + 1, col + 1)


def _plain(value, path: str, pos: Pos, out: Parsed, stack: frozenset = frozenset()):
    """Round-trip objects -> plain JSON-like data, recording positions on the way."""
    out.values[path] = pos
    if isinstance(value, float) and not math.isfinite(value):
        out.issues.append((path, pos, f"{value} is not a finite number (NaN and infinity are not allowed)"))
    if not isinstance(value, (dict, list)):
        return _scalar(value)
    if id(value) in stack:
        out.issues.append((path, pos, "recursive alias: a value cannot contain itself"))
        return None
    stack = stack | {id(value)}
    if isinstance(value, list):
        return [_plain(item, join(path, i), _lc(value, "item", i) or pos, out, stack)
                for i, item in enumerate(value)]
    result = {}
    for key, item in value.items():
        kpos = _lc(value, "key", key) or pos
        if not isinstance(key, str):
            out.issues.append((join(path, str(key)), kpos, f"keys must be strings, got {type(key).__name__} {key!r}"))
            continue
        child = join(path, key)
        out.keys[child] = kpos
        result[key] = _plain(item, child, _lc(value, "value", key) or kpos, out, stack)
    return result


def _scalar(value):
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)     # NaN/inf: refused by _plain, located
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()    # timestamps are not a spec type: leave a string for the schema to judge
    if hasattr(value, "value"):     # TaggedScalar (!!str 5, custom tags)
        return str(value.value)
    return str(value)
