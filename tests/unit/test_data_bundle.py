"""open_dataset on real spec files: synthetic, image_folder fixtures (incl. bad input), wake_vision parquet."""
import io
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dnasgen.candidate import DataConfig
from dnasgen.data import open_dataset
from dnasgen.data.preprocess import preprocess_frame
from dnasgen.errors import DataError, SpecError
from dnasgen.spec import load_spec

QUICKSTART = Path(__file__).resolve().parents[2] / "specs" / "quickstart.yaml"


def write_spec(tmp_path, classes, dataset_yaml, sensor="{width: 64, height: 48, pixel_format: rgb565}"):
    text = QUICKSTART.read_text()
    head, rest = text.split("task:", 1)
    tail = rest[rest.index("sensor:"):]
    tail = tail[tail.index("\ndata_options:"):]
    body = (f"{head}task:\n  classes: {classes}\n\ndataset:\n{dataset_yaml}\n\nsensor: {sensor}\n{tail}")
    path = tmp_path / "spec.yaml"
    path.write_text(body)
    return load_spec(path)


def synthetic_spec(tmp_path, n=48):
    ds = f"  source: synthetic\n  image_size: 40\n  object_size: large\n  samples: {{train: {n}, val: 16, test: 8}}"
    return write_spec(tmp_path, "[a, b]", ds)


def test_synthetic_bundle_arrays_frames_batches(tmp_path):
    spec = synthetic_spec(tmp_path)
    b = open_dataset(spec, tmp_path / "cache")
    assert b.classes == ("a", "b") and len(b) == 48
    x, y = b.arrays("val", DataConfig(24, "grayscale"))
    assert x.shape == (16, 24, 24, 1) and x.dtype == np.uint8 and y.dtype == np.int64
    frames, fy = b.frames("val", 3)
    for f, want in zip(frames, x[:3]):           # arrays == reference applied to the raw frames
        assert (preprocess_frame(f, spec.sensor, DataConfig(24, "grayscale")) == want).all()
    assert (fy == y[:3]).all()
    x2, _ = open_dataset(spec, tmp_path / "cache").arrays("val", DataConfig(24, "grayscale"), limit=5)
    assert isinstance(x2, np.memmap) and (x2 == x[:5]).all()     # served from the cache
    batches = list(b.train_batches(DataConfig(24, "rgb"), 16, seed=1, epoch=0))
    again = list(b.train_batches(DataConfig(24, "rgb"), 16, seed=1, epoch=0))
    other = list(b.train_batches(DataConfig(24, "rgb"), 16, seed=1, epoch=1))
    assert len(batches) == 3 and batches[0][0].shape == (16, 24, 24, 3)
    assert all((p[0] == q[0]).all() and (p[1] == q[1]).all() for p, q in zip(batches, again))
    assert not (batches[0][0] == other[0][0]).all()
    assert sorted(np.concatenate([yb for _, yb in batches]).tolist()) == sorted(b.source("train")[1].tolist())


def _jpeg(rng, size=(30, 20)):
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def make_folder(root: Path, classes=("cat", "dog"), n=10, corrupt=True):
    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(n):
            _jpeg(rng).save(root / c / f"{i}.{'jpg' if i % 2 else 'png'}")
    if corrupt:
        (root / classes[0] / "broken.jpg").write_bytes(b"\xff\xd8not a jpeg")
    return root


def folder_spec(tmp_path, root, classes="[cat, dog]"):
    return write_spec(tmp_path, classes, f"  source: image_folder\n  path: {root}\n  val_ratio: 0.2\n"
                                         f"  test_ratio: 0.2\n  seed: 1")


def test_image_folder_split_and_corrupt_file_skipped(tmp_path, caplog):
    root = make_folder(tmp_path / "imgs")
    spec = folder_spec(tmp_path, root)
    with caplog.at_level(logging.WARNING, logger="dnasgen.data"):
        b = open_dataset(spec, tmp_path / "cache")
    assert "skipped 1 unreadable" in caplog.text
    sizes = {s: len(b.source(s)[1]) for s in ("train", "val", "test")}
    assert sum(sizes.values()) == 20 and sizes["val"] == 4 and sizes["test"] >= 3
    assert b.source("train")[0].shape[1:] == (48, 48, 3)       # sensor short side
    assert np.bincount(b.source("val")[1]).tolist() == [2, 2]   # stratified


def test_image_folder_errors_are_located(tmp_path):
    root = make_folder(tmp_path / "imgs", corrupt=False)
    with pytest.raises(SpecError, match=r"spec.yaml:\d+:\d+: \$.task.classes: .*missing folders \['bird'\]"):
        open_dataset(folder_spec(tmp_path, root, "[cat, dog, bird]"), tmp_path / "c")
    (root / "bird").mkdir()
    with pytest.raises(SpecError, match=r"\$.task.classes\[2\]: class folder .*bird has no images"):
        open_dataset(folder_spec(tmp_path, root, "[cat, dog, bird]"), tmp_path / "c")
    missing = folder_spec(tmp_path, root)
    object.__setattr__(missing.dataset, "path", str(tmp_path / "nowhere"))
    with pytest.raises(SpecError, match=r"\$.dataset.path: image folder .*nowhere.* does not exist"):
        open_dataset(missing, tmp_path / "c")


def test_image_folder_with_split_folders(tmp_path):
    root = tmp_path / "split"
    make_folder(root / "train", n=6, corrupt=False)
    make_folder(root / "val", n=2, corrupt=False)
    b = open_dataset(folder_spec(tmp_path, root), tmp_path / "cache")
    assert len(b.source("val")[1]) == 4                          # given val folder used as is
    assert len(b.source("train")[1]) + len(b.source("test")[1]) == 12   # test carved from train


def write_parquet(path: Path, n: int, struct: bool):
    import pyarrow as pa
    import pyarrow.parquet as pq
    rng = np.random.default_rng(n)
    blobs = []
    for _ in range(n):
        buf = io.BytesIO()
        _jpeg(rng, (24, 24)).save(buf, format="JPEG")
        blobs.append(buf.getvalue())
    blobs[0] = b"corrupt"
    image = (pa.array([{"bytes": b, "path": None} for b in blobs]) if struct else pa.array(blobs, pa.binary()))
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"image": image, "person": pa.array([i % 2 for i in range(n)], pa.int64())}), path)


def test_wake_vision_parquet(tmp_path):
    root = tmp_path / "wv"
    write_parquet(root / "data" / "train_quality-00000-of-00001.parquet", 12, struct=True)
    write_parquet(root / "data" / "validation-00000-of-00001.parquet", 6, struct=False)
    write_parquet(root / "data" / "test-00000-of-00001.parquet", 6, struct=True)
    ds = f"  source: wake_vision\n  format: parquet\n  path: {root}\n  max_samples: {{train: 10, val: 6, test: 6}}"
    b = open_dataset(write_spec(tmp_path, "[no_person, person]", ds), tmp_path / "cache")
    assert [len(b.source(s)[1]) for s in ("train", "val", "test")] == [9, 5, 5]   # first image corrupt
    assert b.source("train")[1].tolist() == [1, 0, 1, 0, 1, 0, 1, 0, 1]
    with pytest.raises(SpecError, match=r"\$.task.classes: wake_vision has"):
        open_dataset(write_spec(tmp_path, "[a, b, c]", ds), tmp_path / "cache")


def test_wake_vision_tfds_missing_is_a_clear_data_error(tmp_path):
    pytest.importorskip("pyarrow")
    ds = f"  source: wake_vision\n  format: tfds\n  path: {tmp_path}"
    spec = write_spec(tmp_path, "[no_person, person]", ds)
    try:
        import tensorflow_datasets  # noqa: F401
        pytest.skip("tensorflow-datasets is installed here")
    except ImportError:
        pass
    with pytest.raises(DataError, match="tensorflow-datasets.*Harvard-Edge/Wake-Vision"):
        open_dataset(spec, tmp_path / "cache")


@pytest.mark.parametrize("area_min", [1.0, 0.4])
def test_crop_boxes_keep_at_least_area_min(area_min):
    from dnasgen.data.augment import crop_boxes
    boxes, flips = crop_boxes(4000, 96, np.random.default_rng(0), area_min)
    side = boxes[:, 2] - boxes[:, 0]
    area = (side / 96) ** 2
    assert np.allclose(boxes[:, 3] - boxes[:, 1], side) and (boxes[:, :2] >= 0).all() and (boxes[:, 2:] <= 96).all()
    assert area.min() >= area_min - 1e-9 and abs(area.mean() - (1 + area_min) / 2) < 0.01   # uniform over [min, 1]
    assert 0.45 < flips.mean() < 0.55


def test_train_crop_area_min_reaches_the_training_batches(tmp_path):
    spec = synthetic_spec(tmp_path)
    text = (tmp_path / "spec.yaml").read_text().replace("\ntrain:\n", "\ntrain:\n  crop_area_min: 0.3\n")
    (tmp_path / "wide.yaml").write_text(text)
    wide = load_spec(tmp_path / "wide.yaml")
    assert wide.train.crop_area_min == 0.3 and spec.train.crop_area_min == 0.85
    data = DataConfig(24, "rgb")
    a = next(open_dataset(spec, tmp_path / "cache").train_batches(data, 16, seed=1, epoch=0))
    b = next(open_dataset(wide, tmp_path / "cache").train_batches(data, 16, seed=1, epoch=0))
    assert (a[1] == b[1]).all() and not (a[0] == b[0]).all()   # same images and labels, other crops
