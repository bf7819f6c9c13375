"""open_dataset(spec) -> DataBundle: cached source images, preprocessed arrays, augmented batches.

Cache layout (default <output_dir>/<name>/.dnasgen/cache, or $DNASGEN_CACHE, or cache_dir):
  source-<key>/{train,val,test}_{x,y}.npy  decoded RGB source images (N, s, s, 3) + labels
  arrays-<key>/<split>_<r>_<color>.npy     sensor-simulated + preprocessed model inputs (N, r, r, C)
Keys hash the dataset section, classes, source size, sensor and code versions, so any change
rebuilds; arrays are memory-mapped. Writes are atomic (dnasgen.io: temp file / temp dir, then os.replace).
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np

from dnasgen.data import folder, synthetic, wake_vision
from dnasgen.data.augment import augmented_frames
from dnasgen.data.images import log, progress, spec_error
from dnasgen.data.preprocess import preprocess_frames
from dnasgen.data.sensor import simulate_batch
from dnasgen.errors import DataError
from dnasgen.io import atomic_dir, atomic_path, json_digest

SPLITS = ("train", "val", "test")
SOURCE_VERSION = 2        # bump when decoding/generation changes
ARRAYS_VERSION = 1        # bump when sensor simulation or preprocessing changes
_BLOCK = 256


def _hash(obj) -> str:
    return json_digest(obj)[:16]


def source_size(spec) -> int:
    """Side of the cached square source images: image_size for synthetic, else the sensor's short side
    (capped at 256)."""
    if spec.dataset.source == "synthetic":
        return int(spec.dataset.options.get("image_size", 128))
    return min(256, min(spec.sensor.width, spec.sensor.height))


def default_cache_dir(spec) -> Path:
    env = os.environ.get("DNASGEN_CACHE")
    from dnasgen.layout import spec_workdir
    return Path(env) if env else spec_workdir(spec) / "cache"


def _synthetic(spec, size: int) -> dict:
    opts = spec.dataset.options
    if not 2 <= spec.num_classes <= synthetic.MAX_CLASSES:
        raise spec_error(spec, "$.task.classes", f"the synthetic dataset supports 2..{synthetic.MAX_CLASSES} "
                         f"classes, got {spec.num_classes}")
    counts = {"train": 2000, "val": 500, "test": 500, **(opts.get("samples") or {})}
    out = {}
    for i, split in enumerate(SPLITS):
        x, y = synthetic.generate(counts[split], size, spec.num_classes, int(opts.get("seed", 0)), i,
                                  bool(opts.get("color_decisive", False)), opts.get("object_size", "mixed"))
        out[split] = (x, y, 0)
    return out


def _load_source(spec, size: int, scan=None) -> dict:
    kind = spec.dataset.source
    if kind == "synthetic":
        return _synthetic(spec, size)
    if kind == "image_folder":
        return folder.load(spec, size, scan)
    if kind == "wake_vision":
        return wake_vision.load(spec, size)
    raise spec_error(spec, "$.dataset.source", f"unknown dataset source {kind!r}")


def _save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, array)


def _build_source(spec, directory: Path, size: int, scan) -> None:
    data = _load_source(spec, size, scan)
    for split, (x, _, _) in data.items():
        if len(x) == 0:
            raise DataError(f"dataset split {split!r} has no readable images")
    meta = {"classes": list(spec.classes), "size": size, "version": SOURCE_VERSION,
            "counts": {s: len(d[1]) for s, d in data.items()}, "skipped": {s: d[2] for s, d in data.items()}}
    try:
        with atomic_dir(directory, overwrite=False) as tmp:
            for split, (x, y, _) in data.items():
                np.save(tmp / f"{split}_x.npy", x)
                np.save(tmp / f"{split}_y.npy", y)
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    except OSError:
        if not (directory / "meta.json").exists():   # not a concurrent builder's finished copy
            raise



def batches_per_epoch(n: int, batch_size: int) -> int:
    """Training batches per epoch of n images: the last incomplete batch is dropped (one batch at least)."""
    return max(1, n // batch_size)

class DataBundle:
    """Decoded source images of one spec, plus everything derived from them through the sensor."""

    def __init__(self, spec, cache_dir: Path, source_dir: Path):
        self.spec, self.sensor, self.cache_dir = spec, spec.sensor, cache_dir
        self.classes = tuple(spec.classes)
        self.source_dir = source_dir
        self.meta = json.loads((source_dir / "meta.json").read_text())
        self._src = {s: (np.load(source_dir / f"{s}_x.npy", mmap_mode="r"), np.load(source_dir / f"{s}_y.npy"))
                     for s in SPLITS}
        sensor = dataclasses.asdict(self.sensor) if dataclasses.is_dataclass(self.sensor) else vars(self.sensor)
        self.arrays_dir = cache_dir / f"arrays-{_hash([source_dir.name, sensor, ARRAYS_VERSION])}"

    def __len__(self) -> int:
        return len(self._src["train"][1])

    def source(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """Decoded RGB source images (memory-mapped, (N, s, s, 3)) and labels of a split."""
        if split not in self._src:
            raise DataError(f"unknown split {split!r} (train, val, test)")
        return self._src[split]

    def arrays(self, split: str, data, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Preprocessed model inputs (N, r, r, C) uint8 (memory-mapped, cached) and int64 labels."""
        x_src, y = self.source(split)
        path = self.arrays_dir / f"{split}_{data.resolution}_{data.color}.npy"
        if not path.exists():
            self.arrays_dir.mkdir(parents=True, exist_ok=True)
            out = np.empty((len(y), data.resolution, data.resolution, data.channels), np.uint8)
            with progress(f"preprocessing {split} {data.resolution}px {data.color}", len(y)) as advance:
                for i in range(0, len(y), _BLOCK):
                    frames = simulate_batch(x_src[i:i + _BLOCK], self.sensor)
                    out[i:i + _BLOCK] = preprocess_frames(frames, self.sensor, data)
                    advance(len(frames))
            _save_npy(path, out)
        x = np.load(path, mmap_mode="r")
        return (x, y) if limit is None else (x[:limit], y[:limit])

    def frames(self, split: str, limit: int | None = None) -> tuple[list[np.ndarray], np.ndarray]:
        """Raw sensor frames (1-D uint8 each) of the first `limit` images, for firmware test vectors."""
        x_src, y = self.source(split)
        n = len(y) if limit is None else min(limit, len(y))
        frames = simulate_batch(x_src[:n], self.sensor) if n else np.zeros((0, 0), np.uint8)
        return [f.copy() for f in frames], np.asarray(y[:n])

    def train_batches(self, data, batch_size: int, seed: int, epoch: int, shard: tuple[int, int] = (0, 1),
                      area_min: float | None = None):
        """One epoch of augmented training batches (X uint8 NHWC, y int64), deterministic from seed+epoch.

        Random square crop (area_min, default train.crop_area_min, to 100 % of the area) and horizontal
        flip of the SOURCE image, then sensor simulation and the integer preprocessing. The last
        incomplete batch is dropped (unless the split is smaller than one batch). shard=(rank, world) gives rank its 1/world part of every batch.
        """
        for frames, y in self.train_frames(batch_size, seed, epoch, shard, area_min):
            yield preprocess_frames(frames, self.sensor, data), y

    def train_frames(self, batch_size: int, seed: int, epoch: int, shard: tuple[int, int] = (0, 1),
                     area_min: float | None = None):
        """train_batches before the preprocessing: (raw augmented sensor frames, y) per batch. The same
        images for every data configuration, so one batch can be preprocessed into several."""
        x_src, y = self.source("train")
        rng = np.random.default_rng([seed, epoch])
        order = rng.permutation(len(y))
        n_batches = batches_per_epoch(len(y), batch_size)
        rank, world = shard
        area_min = self.spec.train.crop_area_min if area_min is None else area_min
        for b in range(n_batches):
            idx = np.sort(order[b * batch_size:(b + 1) * batch_size])[rank::world]
            batch_rng = np.random.default_rng([seed, epoch, b])
            yield augmented_frames(x_src, idx, self.sensor, batch_rng, area_min), y[idx]


def open_dataset(spec, cache_dir: str | Path | None = None) -> DataBundle:
    """Decode (or reuse from the cache) the spec's dataset; see DataBundle."""
    cache = Path(cache_dir) if cache_dir else default_cache_dir(spec)
    size = source_size(spec)
    scan = folder.scan(spec) if spec.dataset.source == "image_folder" else None
    ds = {"source": spec.dataset.source, "path": spec.dataset.path, "options": spec.dataset.options}
    key = _hash([ds, list(spec.classes), size, SOURCE_VERSION, folder.fingerprint(scan) if scan else None])
    source_dir = cache / f"source-{key}"
    if not (source_dir / "meta.json").exists():
        log.info("building the dataset cache in %s", source_dir)
        _build_source(spec, source_dir, size, scan)
    return DataBundle(spec, cache, source_dir)
