"""`wake_vision` source: TFDS (`wake_vision`) or a directory of the Hugging Face parquet shards.

Hugging Face layout (Harvard-Edge/Wake-Vision): parquet files whose name (or a parent folder)
contains the split name (train_quality, train_large, validation, test), with columns `image`
(a struct with `bytes`, or raw bytes) and `person` (0/1). Labels map to task.classes by name
(`person` / anything else) when a class is called "person", else positionally (0 -> classes[0]).
"""
from __future__ import annotations

from itertools import islice
from pathlib import Path

import numpy as np

from dnasgen.data.images import decode_all, spec_error
from dnasgen.errors import DataError

SPLITS = ("train", "val", "test")
DEFAULT_SPLITS = {"train": "train_quality", "val": "validation", "test": "test"}
DEFAULT_MAX = {"train": 20000, "val": 2000, "test": 2000}
HOW_TO_GET = ("Get the data: either `pip install tensorflow-datasets` and prepare it with "
              "`tfds build wake_vision --data_dir DIR` (dataset.format: tfds, dataset.path: DIR), or download the "
              "parquet shards of the Hugging Face dataset Harvard-Edge/Wake-Vision into DIR "
              "(dataset.format: parquet, dataset.path: DIR).")


def _label_map(spec) -> np.ndarray:
    """person value (0/1) -> class index."""
    if len(spec.classes) != 2:
        raise spec_error(spec, "$.task.classes",
                         f"wake_vision has 2 labels (person / no person); task.classes has {len(spec.classes)}")
    if "person" in spec.classes:
        p = spec.classes.index("person")
        return np.array([1 - p, p], np.int64)
    return np.array([0, 1], np.int64)


def _image_bytes(value) -> bytes | None:
    if isinstance(value, dict):
        value = value.get("bytes")
    return bytes(value) if value is not None else None


def shards(root: Path, split_name: str) -> list[Path]:
    """Parquet files of one Wake Vision split (file name or a parent folder names the split)."""
    found = []
    for path in sorted(root.rglob("*.parquet")):
        parts = [path.stem] + [p.name for p in path.relative_to(root).parents if p.name]
        if any(split_name in part.replace("-", "_") for part in parts):
            found.append(path)
    return found


def _parquet_items(root: Path, split_name: str, limit: int | None, labels: np.ndarray):
    import pyarrow.parquet as pq
    files = shards(root, split_name)
    if not files:
        raise DataError(f"no parquet shard for Wake Vision split {split_name!r} under {root} "
                        f"(expected files like {split_name}-00000-of-00010.parquet). {HOW_TO_GET}")
    count = 0
    for path in files:
        table = pq.ParquetFile(path)
        missing = {"image", "person"} - set(table.schema_arrow.names)
        if missing:
            raise DataError(f"{path}: parquet shard lacks column(s) {sorted(missing)} (needs image, person)")
        for batch in table.iter_batches(batch_size=256, columns=["image", "person"]):
            for img, person in zip(batch.column("image").to_pylist(), batch.column("person").to_pylist()):
                if limit is not None and count >= limit:
                    return
                count += 1
                yield _image_bytes(img) or b"", int(labels[int(person)])


def _tfds_items(root: Path | None, split_name: str, limit: int | None, labels: np.ndarray):
    try:
        import tensorflow_datasets as tfds
    except ImportError as exc:
        raise DataError(f"wake_vision with format: tfds needs the `tensorflow-datasets` package, which is not "
                        f"installed. {HOW_TO_GET}") from exc
    try:
        ds = tfds.load("wake_vision", split=split_name, data_dir=str(root) if root else None, download=False)
    except Exception as exc:  # noqa: BLE001 - tfds raises several types for missing data
        raise DataError(f"TFDS could not open wake_vision/{split_name} in {root}: {exc}. {HOW_TO_GET}") from exc
    for ex in islice(tfds.as_numpy(ds), limit):
        yield ex["image"], int(labels[int(ex["person"])])


def load(spec, size: int) -> dict[str, tuple[np.ndarray, np.ndarray, int]]:
    """Split -> (X uint8 (N, size, size, 3), y int64, skipped)."""
    opts = dict(spec.dataset.options)
    fmt = opts.get("format", "tfds")
    root = Path(spec.dataset.path) if spec.dataset.path else None
    if fmt == "parquet" and (root is None or not root.is_dir()):
        raise spec_error(spec, "$.dataset.path", f"Wake Vision parquet directory {str(root)!r} does not exist. "
                         f"{HOW_TO_GET}")
    labels = _label_map(spec)
    names = {**DEFAULT_SPLITS, **(opts.get("splits") or {})}
    caps = {**DEFAULT_MAX, **(opts.get("max_samples") or {})}
    reader = _parquet_items if fmt == "parquet" else _tfds_items
    return {s: decode_all(reader(root, names[s], caps[s], labels), size, f"decoding Wake Vision {names[s]}",
                          caps[s]) for s in SPLITS}
