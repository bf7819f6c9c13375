"""Sensor simulation: what the camera would deliver for a source image.

This is the camera, not the firmware: float maths and PIL resampling are fine here.
Geometry: the image is scaled (PIL bilinear, antialiased) so that its short side equals the
frame's short side S = min(width, height), and placed so that the image's centre square lands
exactly on the frame's centre crop window (preprocess.crop_box). Frame pixels beyond the image
repeat its edge pixels. A square source image is therefore exactly what the preprocessing crop
sees; the side bands of a 4:3 frame carry edge-replicated content.
Encoding: rgb565 truncates (R>>3, G>>2, B>>3; little-endian 16-bit words), rgb888 as is,
grayscale = (77 R + 150 G + 29 B + 128) >> 8, yuyv = Y0 U Y1 V with Y by the same luma formula and
U, V (full-range BT.601 / JFIF) from the mean colour of each horizontal pixel pair.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from dnasgen.data.preprocess import GRAY_COEFFS, crop_box, frame_bytes
from dnasgen.errors import DataError

RESAMPLE = Image.BILINEAR


def luma(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 -> (...) uint8 with the integer BT.601 luma formula."""
    cr, cg, cb = GRAY_COEFFS
    p = rgb.astype(np.int32)
    return ((cr * p[..., 0] + cg * p[..., 1] + cb * p[..., 2] + 128) >> 8).astype(np.uint8)


def _chroma(rgb_pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = rgb_pairs.astype(np.float32).mean(axis=-2)          # (..., 3) mean of each pixel pair
    r, g, b = m[..., 0], m[..., 1], m[..., 2]
    u = 128.0 - 0.168736 * r - 0.331264 * g + 0.5 * b
    v = 128.0 + 0.5 * r - 0.418688 * g - 0.081312 * b
    return tuple(np.clip(np.floor(c + 0.5), 0, 255).astype(np.uint8) for c in (u, v))


def encode(rgb: np.ndarray, pixel_format: str) -> np.ndarray:
    """RGB frames (N, H, W, 3) uint8 -> raw frames (N, bytes) uint8 in the pixel format."""
    n = rgb.shape[0]
    if pixel_format == "rgb888":
        return np.ascontiguousarray(rgb, dtype=np.uint8).reshape(n, -1)
    if pixel_format == "grayscale":
        return luma(rgb).reshape(n, -1)
    if pixel_format == "rgb565":
        p = rgb.astype(np.uint16)
        v = ((p[..., 0] >> 3) << 11) | ((p[..., 1] >> 2) << 5) | (p[..., 2] >> 3)
        return np.ascontiguousarray(v, dtype="<u2").view(np.uint8).reshape(n, -1)
    if pixel_format == "yuyv":
        h, w = rgb.shape[1:3]
        pairs = rgb.reshape(n, h, w // 2, 2, 3)
        y = luma(pairs)                                     # (N, H, W/2, 2)
        u, v = _chroma(pairs)
        return np.stack([y[..., 0], u, y[..., 1], v], axis=-1).reshape(n, -1)
    raise DataError(f"unknown pixel format {pixel_format!r}")


def _placement(sensor, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Row/column source indices (edge-clamped) placing an image of (h, w) on the frame."""
    h, w = size
    left, top, side = crop_box(sensor.width, sensor.height)
    short = min(h, w)
    oy, ox = top - (h - short) // 2, left - (w - short) // 2
    rows = np.clip(np.arange(sensor.height) - oy, 0, h - 1)
    cols = np.clip(np.arange(sensor.width) - ox, 0, w - 1)
    return rows, cols


def scaled_size(height: int, width: int, sensor) -> tuple[int, int]:
    """(h, w) of an image scaled so its short side equals the frame's short side."""
    side = min(sensor.width, sensor.height)
    short = min(height, width)
    return max(1, round(height * side / short)), max(1, round(width * side / short))


def resize(image: np.ndarray, size: tuple[int, int], box=None, flip: bool = False) -> np.ndarray:
    """PIL resize of an RGB uint8 image to (h, w), optionally from a crop box, optionally mirrored."""
    pil = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8))
    pil = pil.resize((size[1], size[0]), RESAMPLE, box=box)
    if flip:
        pil = pil.transpose(Image.FLIP_LEFT_RIGHT)
    return np.asarray(pil)


def place(scaled: np.ndarray, sensor) -> np.ndarray:
    """Scaled RGB images (N, h, w, 3) -> RGB frames (N, H, W, 3) with edge replication."""
    rows, cols = _placement(sensor, scaled.shape[1:3])
    return scaled[:, rows][:, :, cols]


def simulate_batch(images: np.ndarray, sensor) -> np.ndarray:
    """Same-size RGB images (N, h, w, 3) -> raw frames (N, frame_bytes) uint8."""
    images = np.asarray(images, dtype=np.uint8)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise DataError(f"simulate expects RGB uint8 images (N, H, W, 3), got shape {images.shape}")
    size = scaled_size(images.shape[1], images.shape[2], sensor)
    if size != images.shape[1:3]:
        images = np.stack([resize(im, size) for im in images])
    frames = encode(place(images, sensor), sensor.pixel_format)
    assert frames.shape[1] == frame_bytes(sensor)
    return frames


def simulate(image_rgb_u8: np.ndarray, sensor) -> np.ndarray:
    """One RGB image (H, W, 3) -> the raw frame (1-D uint8) the sensor would deliver."""
    return simulate_batch(np.asarray(image_rgb_u8)[None], sensor)[0]
