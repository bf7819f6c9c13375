"""The integer preprocessing reference: hand-computed values per pixel format, odd sizes, rounding."""
from types import SimpleNamespace

import numpy as np
import pytest

from dnasgen.candidate import DataConfig
from dnasgen.data.preprocess import (area_resize, area_weights, crop_box, decode, normalize, preprocess_frame,
                                     preprocess_frames, quantize_table, to_color)
from dnasgen.errors import DataError


def sensor(w, h, fmt):
    return SimpleNamespace(width=w, height=h, pixel_format=fmt)


def brute_resize(planes, r):
    s = planes.shape[1]
    w = area_weights(s, r)
    acc = np.einsum("ky,nyxc,ix->nkic", w, planes.astype(np.int64), w)
    return (acc + (s * s) // 2) // (s * s)


def test_rgb565_bit_replication_little_endian():
    # 0xF800 pure red, 0x07E0 pure green, 0x001F pure blue, 0x8410 = r5 16, g6 32, b5 16
    words = np.array([0xF800, 0x07E0, 0x001F, 0x8410], "<u2").view(np.uint8)
    out = decode(words[None], sensor(4, 1, "rgb565"), "rgb")[0, 0]
    assert out.tolist() == [[255, 0, 0], [0, 255, 0], [0, 0, 255], [132, 130, 132]]


def test_yuyv_gray_takes_y_and_rgb_uses_bt601_integer():
    frame = np.array([[10, 128, 200, 128, 100, 90, 50, 240]], np.uint8)   # Y0 U Y1 V, Y0 U Y1 V
    s = sensor(4, 1, "yuyv")
    assert decode(frame, s, "grayscale")[0, 0, :, 0].tolist() == [10, 200, 100, 50]
    rgb = decode(frame, s, "rgb")[0, 0].astype(int).tolist()
    assert rgb[0] == [10, 10, 10] and rgb[1] == [200, 200, 200]        # U = V = 128: gray
    d, e = 90 - 128, 240 - 128                                          # hand-computed, clamp before >> 8
    r = min(max(256 * 100 + 359 * e + 128, 0), 65535) >> 8
    g = min(max(256 * 100 - 88 * d - 183 * e + 128, 0), 65535) >> 8
    b = min(max(256 * 100 + 454 * d + 128, 0), 65535) >> 8
    assert rgb[2] == [r, g, b] == [255, 33, 33]   # G: (25600 + 3344 - 20496 + 128) >> 8


def test_gray_formula_and_replication():
    rgb = np.array([[[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [10, 20, 30]]]], np.uint8)
    gray = to_color(rgb, "grayscale")[0, 0, :, 0].tolist()
    assert gray == [77, 149, 29, 255, (77 * 10 + 150 * 20 + 29 * 30 + 128) >> 8]
    g = np.array([[[[7], [9]]]], np.uint8)
    assert to_color(g, "rgb").tolist() == [[[[7, 7, 7], [9, 9, 9]]]]


def test_crop_box_extra_pixel_goes_right_and_bottom():
    assert crop_box(160, 120) == (20, 0, 120)
    assert crop_box(75, 80) == (0, 2, 75)
    assert crop_box(8, 5) == (1, 0, 5)   # 3 extra columns: 1 left, 2 right


def test_area_weights_rows_sum_to_source():
    for s, r in [(5, 2), (120, 75), (3, 7), (480, 32)]:
        w = area_weights(s, r)
        assert (w.sum(1) == s).all() and (w.sum(0) == r).all()
    assert area_weights(5, 2).tolist() == [[2, 2, 1, 0, 0], [0, 0, 1, 2, 2]]


def test_rounding_half_up():
    # 2x2 -> 1x1: (1 + 2 + 2 + 2) / 4 = 1.75 -> 2; (1 + 1 + 2 + 2) / 4 = 1.5 -> 2 (half up); 1.25 -> 1
    for vals, want in [([1, 2, 2, 2], 2), ([1, 1, 2, 2], 2), ([1, 1, 1, 2], 1), ([254, 255, 255, 255], 255)]:
        planes = np.array(vals, np.uint8).reshape(1, 2, 2, 1)
        assert area_resize(planes, 1)[0, 0, 0, 0] == want
    # 5 -> 2: weights 2,2,1 over S=5 units, 2-D divisor 25
    planes = np.arange(25, dtype=np.uint8).reshape(1, 5, 5, 1)
    assert area_resize(planes, 2)[..., 0].tolist() == brute_resize(planes, 2)[..., 0].tolist() == [[[5, 7], [17, 19]]]  # e.g. (5*4*5 + 5*4) / 25 = 4.8 -> 5


@pytest.mark.parametrize("s,r", [(120, 75), (75, 32), (120, 48), (96, 96), (3, 7), (480, 32), (257, 13)])
def test_area_resize_matches_dense_integer_formula(s, r):
    planes = np.random.default_rng(s * r).integers(0, 256, (2, s, s, 3), dtype=np.uint8)
    assert (area_resize(planes, r) == brute_resize(planes, r)).all()


def test_constant_image_stays_constant_and_extremes_hold():
    for v in (0, 1, 127, 254, 255):
        planes = np.full((1, 75, 75, 1), v, np.uint8)
        assert (area_resize(planes, 32) == v).all()


@pytest.mark.parametrize("fmt,bpp", [("rgb565", 2), ("rgb888", 3), ("grayscale", 1), ("yuyv", 2)])
@pytest.mark.parametrize("color", ["rgb", "grayscale"])
def test_preprocess_frame_pipeline_order(fmt, bpp, color):
    s = sensor(76, 75, fmt)
    frames = np.random.default_rng(1).integers(0, 256, (3, 76 * 75 * bpp), dtype=np.uint8)
    out = preprocess_frames(frames, s, DataConfig(32, color))
    planes = decode(frames, s, color)[:, 0:75, 0:75]          # crop: left (76-75)//2 = 0, top 0
    want = to_color(brute_resize(planes, 32).astype(np.uint8), color)
    assert out.shape == (3, 32, 32, 3 if color == "rgb" else 1)
    assert (out == want).all()
    assert (preprocess_frame(frames[1], s, DataConfig(32, color)) == out[1]).all()


def test_bad_frame_size_and_format_raise_data_error():
    with pytest.raises(DataError, match="38400 bytes"):
        preprocess_frame(np.zeros(100, np.uint8), sensor(160, 120, "rgb565"), DataConfig(32, "rgb"))
    with pytest.raises(DataError, match="even width"):
        preprocess_frame(np.zeros(150, np.uint8), sensor(75, 1, "yuyv"), DataConfig(32, "rgb"))


def test_quantize_table_and_normalize():
    t = quantize_table(1 / 128, 0)
    assert t.dtype == np.int8 and t[128] == 0 and t[0] == -128 and t[255] == 127
    t = quantize_table(0.0078125 * 2, -1)            # x/scale = (u-128)/2: halves round away from zero
    assert t[129] == 1 - 1 and t[127] == -1 - 1 and t[131] == 2 - 1 and t[125] == -2 - 1
    assert normalize(np.array([0, 128, 255], np.uint8)).tolist() == [-1.0, 0.0, 127 / 128]
