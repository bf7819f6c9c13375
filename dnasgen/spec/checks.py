"""Cross-field checks: rules the JSON Schema cannot express.

Each check reads the defaults-filled data defensively (a section with schema errors
is simply skipped) and returns (json path, message) pairs; the loader locates them.
Path rule for the dataset (see README "Spec reference"): a dataset `path` that does
not exist is an error for `image_folder` (the images can only come from there) and,
with `check_paths=True` (the default; what training uses), for `wake_vision` too.
With `check_paths=False` (validate / plan never read data) a missing Wake Vision
directory is only a warning, because TFDS can provide the data on the training host.
"""
from __future__ import annotations

from pathlib import Path

from dnasgen.boards import catalogue

# (json path, message[, where to show it when the path is a default, not written in the file])
Found = list[tuple]


def _get(data, *keys, kind=None):
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data if kind is None or isinstance(data, kind) else None


def _ints(values) -> list[tuple[int, int]]:
    if not isinstance(values, list):
        return []
    return [(i, v) for i, v in enumerate(values) if isinstance(v, int) and not isinstance(v, bool)]


def check_sensor_data(data: dict) -> Found:
    """Resolutions the sensor can deliver (centre crop of min(w, h)); colours it can deliver."""
    out: Found = []
    width, height = _get(data, "sensor", "width", kind=int), _get(data, "sensor", "height", kind=int)
    if width and height:
        side = min(width, height)
        for i, res in _ints(_get(data, "data_options", "resolutions")):
            if res > side:
                out.append((f"$.data_options.resolutions[{i}]",
                            f"resolution {res} is larger than the {width}x{height} sensor can provide "
                            f"(centre crop is {side}x{side}); use at most {side}", "$.sensor"))
    if _get(data, "sensor", "pixel_format") == "grayscale":
        colors = _get(data, "data_options", "colors", kind=list) or []
        for i, color in enumerate(colors):
            if color == "rgb":
                out.append((f"$.data_options.colors[{i}]",
                            "a grayscale sensor cannot provide rgb; use colors: [grayscale]",
                            "$.sensor.pixel_format"))
    return out


def check_search(data: dict) -> Found:
    """hardware_aware's fixed data configuration: only with that strategy, and one of the data options."""
    fixed = _get(data, "search", "fixed_data", kind=dict)
    if not fixed:
        return []
    strategy = _get(data, "search", "strategy")
    if strategy != "hardware_aware":
        return [("$.search.fixed_data", f"fixed_data is only used by strategy hardware_aware, but the strategy "
                 f"is {strategy!r}; set search.strategy: hardware_aware or remove fixed_data")]
    out: Found = []
    resolutions = _get(data, "data_options", "resolutions", kind=list) or []
    colors = _get(data, "data_options", "colors", kind=list) or []
    if "resolution" in fixed and fixed["resolution"] not in resolutions:
        out.append(("$.search.fixed_data.resolution",
                    f"{fixed['resolution']!r} is not among data_options.resolutions {resolutions}"))
    if "color" in fixed and fixed["color"] not in colors:
        out.append(("$.search.fixed_data.color",
                    f"{fixed['color']!r} is not among data_options.colors {colors}"))
    return out


def check_board(data: dict) -> Found:
    """Reserves must leave room for the model."""
    board = _get(data, "board")
    if isinstance(board, str):
        return []
    entry = dict(catalogue().get(_get(board, "id", kind=str) or "", {}))
    entry.update(board if isinstance(board, dict) else {})
    out: Found = []
    for kind in ("ram", "flash"):
        total, reserve = entry.get(f"{kind}_kb"), entry.get(f"reserve_{kind}_kb")
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (total, reserve))
        if numbers and reserve >= total:
            out.append((f"$.board.reserve_{kind}_kb",
                        f"reserve_{kind}_kb {reserve:g} leaves no {kind.upper() if kind == 'ram' else kind} "
                        f"for the model (the board has {total:g} KB)"))
    return out


def check_task(data: dict) -> Found:
    classes = _get(data, "task", "classes", kind=list)
    if _get(data, "dataset", "source") == "wake_vision" and classes is not None and len(classes) != 2:
        return [("$.task.classes",
                 f"wake_vision has two classes (no person, person); got {len(classes)}")]
    return []


def check_dataset(data: dict, base_dir: Path, check_paths: bool) -> tuple[Found, Found]:
    """(errors, warnings) about the dataset path; see the module docstring for the rule."""
    source = _get(data, "dataset", "source")
    path = _get(data, "dataset", "path", kind=str)
    fmt = _get(data, "dataset", "format")
    if source == "wake_vision" and fmt == "parquet" and path is None:
        return [("$.dataset.path", "wake_vision with format: parquet needs `path` "
                 "(the directory of the parquet shards)")], []
    if source not in ("image_folder", "wake_vision") or path is None:
        return [], []
    resolved = (base_dir / path).resolve()
    if resolved.is_dir():
        return [], []
    what = "does not exist" if not resolved.exists() else "is not a directory"
    msg = f"dataset directory {str(resolved)!r} {what}"
    if source == "image_folder" or check_paths:
        return [("$.dataset.path", msg)], []
    later = ("TFDS can download into it when training" if fmt == "tfds"
             else "training will need the parquet shards there")
    return [], [("$.dataset.path", f"{msg} ({later})")]


def check_train_init(data: dict, base_dir: Path, check_paths: bool) -> tuple[Found, Found]:
    """train.init must name a file: an error for training, a warning for validate/plan (which
    never read it: the base project may still be training)."""
    path = _get(data, "train", "init", kind=str)
    if path is None or (base_dir / path).resolve().is_file():
        return [], []
    found = [("$.train.init", f"supernet checkpoint {str((base_dir / path).resolve())!r} does not exist")]
    return (found, []) if check_paths else ([], found)


# Each check with the sections it reads: it is skipped when one of them already has a schema error.
def check_racing(data: dict) -> Found:
    """Racing scores a part of the validation subset: race_samples below eval_samples."""
    race, full = _get(data, "search", "race_samples"), _get(data, "search", "eval_samples")
    if isinstance(race, int) and isinstance(full, int) and 0 < full <= race:
        return [("$.search.race_samples", f"race_samples {race} must be below search.eval_samples {full} (the race "
                 f"stage scores a part of the validation subset); lower it or set 0 to turn racing off")]
    return []


CHECKS = ((check_sensor_data, ("$.sensor", "$.data_options")),
          (check_search, ("$.search", "$.data_options")),
          (check_racing, ("$.search",)),
          (check_board, ("$.board",)),
          (check_task, ("$.task", "$.dataset")))


def _touches(bad: set[str], prefixes: tuple[str, ...]) -> bool:
    return any(b == p or b.startswith((p + ".", p + "[")) for b in bad for p in prefixes)


def cross_checks(data: dict, base_dir: Path, check_paths: bool,
                 bad: set[str] = frozenset()) -> tuple[Found, Found]:
    """All cross-field (errors, warnings); `bad`: JSON paths that already have schema errors."""
    errors = [f for check, reads in CHECKS if not _touches(bad, reads) for f in check(data)]
    warnings = []
    for check, reads in ((check_dataset, "$.dataset"), (check_train_init, "$.train")):
        if not _touches(bad, (reads,)):
            found, warned = check(data, base_dir, check_paths)
            errors, warnings = errors + found, warnings + warned
    return errors, warnings
