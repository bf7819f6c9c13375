"""Sensor simulation and the synthetic dataset."""
from types import SimpleNamespace

import numpy as np
import pytest

from dnasgen.data.preprocess import center_crop, decode, frame_bytes
from dnasgen.data.sensor import luma, simulate, simulate_batch
from dnasgen.data.synthetic import class_hues, generate


def sensor(w, h, fmt):
    return SimpleNamespace(width=w, height=h, pixel_format=fmt)


IMG = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)


@pytest.mark.parametrize("fmt", ["rgb565", "rgb888", "grayscale", "yuyv"])
def test_simulate_frame_size(fmt):
    s = sensor(160, 120, fmt)
    frame = simulate(IMG, s)
    assert frame.dtype == np.uint8 and frame.shape == (frame_bytes(s),)


def test_square_image_lands_exactly_on_the_crop_window():
    s = sensor(100, 64, "rgb888")              # short side 64 == image: no resampling
    planes = center_crop(decode(simulate(IMG, s)[None], s, "rgb"))[0]
    assert (planes == IMG).all()
    full = decode(simulate(IMG, s)[None], s, "rgb")[0]
    assert (full[:, :18] == IMG[:, :1]).all()   # side bands replicate the edge column


def test_rgb565_truncates_and_yuyv_luma_matches_gray_sensor():
    s = sensor(64, 64, "rgb565")
    back = decode(simulate(IMG, s)[None], s, "rgb")[0].astype(int)
    assert 0 < np.abs(back - IMG).max() <= 7
    y = decode(simulate(IMG, sensor(64, 64, "yuyv"))[None], sensor(64, 64, "yuyv"), "grayscale")[0, ..., 0]
    assert (y == luma(IMG)).all()
    assert (simulate(IMG, sensor(64, 64, "grayscale")).reshape(64, 64) == y).all()


def test_yuyv_flat_colour_survives_chroma_subsampling():
    flat = np.full((32, 32, 3), (200, 40, 90), np.uint8)
    s = sensor(32, 32, "yuyv")
    back = decode(simulate(flat, s)[None], s, "rgb")[0].astype(int)
    assert np.abs(back - [200, 40, 90]).max() <= 2


def test_simulate_batch_rejects_non_rgb():
    from dnasgen.errors import DataError
    with pytest.raises(DataError):
        simulate_batch(np.zeros((2, 8, 8), np.uint8), sensor(8, 8, "rgb888"))


def test_class_hues_have_equal_luminance():
    hues = class_hues(5)
    lum = hues @ (np.array([77, 150, 29]) / 256)
    assert np.allclose(lum, 0.5) and hues.min() >= 0 and hues.max() <= 1
    assert np.ptp(hues, axis=0).max() > 0.3      # clearly different colours


def test_synthetic_is_deterministic_balanced_and_splits_differ():
    a, ya = generate(40, 48, 4, seed=3, split=0, color_decisive=True, object_size="large")
    b, yb = generate(40, 48, 4, seed=3, split=0, color_decisive=True, object_size="large")
    c, _ = generate(40, 48, 4, seed=3, split=1, color_decisive=True, object_size="large")
    assert a.shape == (40, 48, 48, 3) and a.dtype == np.uint8
    assert (a == b).all() and (ya == yb).all() and not (a == c).all()
    assert np.bincount(ya).tolist() == [10, 10, 10, 10]


def test_synthetic_colour_decisive_classes_differ_in_hue_not_luma():
    x, y = generate(400, 64, 2, seed=0, color_decisive=True, object_size="large")
    centre = x[:, 24:40, 24:40].reshape(len(x), -1, 3).astype(float)
    # the mean colour of each class differs in hue far more than in luminance
    m = np.stack([centre[y == k].mean((0, 1)) for k in (0, 1)])
    lum = m @ (np.array([77, 150, 29]) / 256)
    assert np.abs(m[0] - m[1]).max() > 25 and abs(lum[0] - lum[1]) < 6
