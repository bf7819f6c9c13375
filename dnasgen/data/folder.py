"""`image_folder` source: DIR/<class>/*.{jpg,jpeg,png,bmp} or DIR/{train,val,test}/<class>/."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from dnasgen.data.images import IMAGE_SUFFIXES, decode_all, spec_error

SPLITS = ("train", "val", "test")


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _class_files(spec, root: Path, where: str) -> list[list[Path]]:
    """Per class of spec.classes, its image files under root; located errors on any mismatch."""
    found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    missing = [c for c in spec.classes if c not in found]
    extra = [c for c in found if c not in spec.classes]
    if missing or extra:
        raise spec_error(spec, "$.task.classes",
                         f"classes do not match the folders of {where}: missing folders {missing}, "
                         f"folders not in task.classes {extra}")
    files = []
    for i, name in enumerate(spec.classes):
        imgs = _images_in(root / name)
        if not imgs:
            raise spec_error(spec, f"$.task.classes[{i}]",
                             f"class folder {root / name} has no images ({', '.join(IMAGE_SUFFIXES)})")
        files.append(imgs)
    return files


def _split_class(files: list[Path], opts: dict, rng) -> dict[str, list[Path]]:
    order = rng.permutation(len(files))
    picked = [files[i] for i in order]
    n = len(picked)
    n_test = int(round(n * opts.get("test_ratio", 0.15)))
    n_val = int(round(n * opts.get("val_ratio", 0.15)))
    n_val = min(n_val, max(0, n - n_test - 1))
    return {"test": picked[:n_test], "val": picked[n_test:n_test + n_val], "train": picked[n_test + n_val:]}


def _cap(files: list[Path], opts: dict) -> list[Path]:
    cap = opts.get("max_per_class")
    return files if cap is None else files[:cap]


def scan(spec) -> dict[str, list[tuple[Path, int]]]:
    """Split -> [(file, label)], stratified; existing split folders are used as given."""
    opts = dict(spec.dataset.options)
    root = Path(spec.dataset.path or "")
    if not spec.dataset.path or not root.is_dir():
        raise spec_error(spec, "$.dataset.path", f"image folder {str(root)!r} does not exist")
    rng = np.random.default_rng(opts.get("seed", 0))
    given = [s for s in SPLITS if (root / s).is_dir()]
    if "train" in given:
        splits = {s: _class_files(spec, root / s, f"{root / s}") for s in given}
        carve = {"val": opts.get("val_ratio", 0.15), "test": opts.get("test_ratio", 0.15)}
        pieces = [_split_class(_cap(f, opts), {f"{s}_ratio": carve[s] if s not in given else 0 for s in carve},
                               rng) for f in splits["train"]]
        out = {s: [[(p, k) for p in piece[s]] for k, piece in enumerate(pieces)] for s in SPLITS}
        for s in given:
            if s != "train":
                out[s] = [[(p, k) for p in _cap(f, opts)] for k, f in enumerate(splits[s])]
    else:
        pieces = [_split_class(_cap(f, opts), opts, rng) for f in _class_files(spec, root, str(root))]
        out = {s: [[(p, k) for p in piece[s]] for k, piece in enumerate(pieces)] for s in SPLITS}
    return {s: [item for per_class in out[s] for item in per_class] for s in SPLITS}


def fingerprint(items: dict[str, list[tuple[Path, int]]]) -> str:
    """Cheap content key of a scan: paths, sizes and modification times."""
    h = hashlib.sha256()
    for split in SPLITS:
        for path, label in items[split]:
            st = path.stat()
            h.update(f"{split}|{path}|{label}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def load(spec, size: int, items=None) -> dict[str, tuple[np.ndarray, np.ndarray, int]]:
    """Split -> (X uint8 (N, size, size, 3), y int64, skipped)."""
    items = items or scan(spec)
    return {s: decode_all(items[s], size, f"decoding {s} images", len(items[s])) for s in SPLITS}
