"""THE integer preprocessing reference: raw sensor frame -> model input (uint8, r x r x C).

Used to preprocess every training/validation image, and mirrored byte for byte by the
generated C firmware. All arithmetic is integer; every step is specified here exactly.

Notation: the sensor delivers a frame of W x H pixels (row-major, top row first).
`>>` is a right shift of a NON-NEGATIVE integer (we never shift negative values),
`//` floor division of non-negative integers, clamp(v, lo, hi) = min(max(v, lo), hi).

Step 1 - decode the raw frame into planes (`decode`):
  rgb565    2 bytes/pixel, little-endian: v = b[2p] | b[2p+1] << 8, bits RRRRRGGGGGGBBBBB.
            r5 = v >> 11, g6 = (v >> 5) & 63, b5 = v & 31;
            R = (r5 << 3) | (r5 >> 2), G = (g6 << 2) | (g6 >> 4), B = (b5 << 3) | (b5 >> 2).
            -> 3 planes R, G, B.
  rgb888    3 bytes/pixel R, G, B. -> 3 planes.
  grayscale 1 byte/pixel (luma). -> 1 plane, whatever the model colour.
  yuyv      4 bytes per pixel pair (W must be even): Y0 U Y1 V; both pixels share U and V.
            Model colour grayscale: -> 1 plane: Y (the chroma bytes are ignored).
            Model colour rgb: full-range BT.601 (JFIF) integer conversion per pixel, d = U - 128, e = V - 128:
              R = clamp(256*Y + 359*e          + 128, 0, 65535) >> 8
              G = clamp(256*Y -  88*d - 183*e  + 128, 0, 65535) >> 8
              B = clamp(256*Y + 454*d          + 128, 0, 65535) >> 8
            (signed int32 sums; clamping BEFORE the shift makes the shift non-negative; the result equals
            clamp(floor((256*Y + ... + 128) / 256), 0, 255)). -> 3 planes.
Step 2 - centre crop to a square of side S = min(W, H):
  left = (W - S) // 2, top = (H - S) // 2 (on an odd difference the extra pixel is dropped on the
  right / bottom side). The crop is columns [left, left+S), rows [top, top+S).
Step 3 - area (box) resize of each plane from S x S to r x r (r = model resolution), separable,
  with exact integer overlap weights. In units of 1/(S*r) of the crop: source pixel j spans
  [j*r, (j+1)*r), output pixel i spans [i*S, (i+1)*S); the weight
      w[i][j] = max(0, min((i+1)*S, (j+1)*r) - max(i*S, j*r))
  is the integer length of their overlap; for every i, sum_j w[i][j] = S. Then
      h[y][i]   = sum_j w[i][j] * crop[y][j]           (horizontal pass, exact, no rounding)
      acc[k][i] = sum_y w[k][y] * h[y][i]              (vertical pass, exact)
      out[k][i] = (acc[k][i] + (S*S >> 1)) // (S*S)      (round half up; S*S >> 1 = floor(S*S/2))
  Only taps with w > 0 matter: output i reads source j in [i*S // r, ((i+1)*S - 1) // r].
  Range: h <= 255*S, acc <= 255*S*S, so uint32/int32 suffices for S <= 2900 (640x480 -> S = 480:
  acc <= 58,752,000). Works for upscaling (S < r) as well. Reducing S and r by their gcd gives
  identical results (a C mirror may do so).
Step 4 - colour conversion on the r x r planes, AFTER the resize:
  3 planes, model grayscale:  gray = (77*R + 150*G + 29*B + 128) >> 8
  1 plane,  model rgb:        R = G = B = the plane (replicated)
  otherwise unchanged. Output is HWC (interleaved R, G, B for rgb).
Step 5 (on the MCU, table from `quantize_table`): int8 input q = table[u8].
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from dnasgen.errors import DataError

PIXEL_FORMATS = ("rgb565", "rgb888", "grayscale", "yuyv")
BYTES_PER_PIXEL = {"rgb565": 2, "rgb888": 3, "grayscale": 1, "yuyv": 2}
GRAY_COEFFS = (77, 150, 29)       # (77 R + 150 G + 29 B + 128) >> 8  (BT.601 luma, 8-bit fixed point)
YUV_COEFFS = (359, 88, 183, 454)  # 256 * (1.402, 0.344136, 0.714136, 1.772), rounded
_CHUNK = 64                       # frames per vectorised block (keeps temporaries in cache)


def frame_bytes(sensor) -> int:
    """Size in bytes of one raw frame from this sensor."""
    return sensor.width * sensor.height * BYTES_PER_PIXEL[sensor.pixel_format]


def _check_frames(frames: np.ndarray, sensor) -> np.ndarray:
    if sensor.pixel_format not in PIXEL_FORMATS:
        raise DataError(f"unknown pixel format {sensor.pixel_format!r} (known: {', '.join(PIXEL_FORMATS)})")
    if sensor.pixel_format == "yuyv" and sensor.width % 2:
        raise DataError(f"yuyv frames need an even width, got {sensor.width}")
    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    want = frame_bytes(sensor)
    if frames.ndim != 2 or frames.shape[1] != want:
        raise DataError(f"raw {sensor.pixel_format} frame of {sensor.width}x{sensor.height} must have "
                        f"{want} bytes, got array of shape {frames.shape}")
    return frames


def _expand565_table() -> np.ndarray:
    v = np.arange(65536, dtype=np.uint32)
    r5, g6, b5 = v >> 11, (v >> 5) & 63, v & 31
    return np.stack([(r5 << 3) | (r5 >> 2), (g6 << 2) | (g6 >> 4), (b5 << 3) | (b5 >> 2)], -1).astype(np.uint8)


RGB565_TABLE = _expand565_table()   # (65536, 3): RGB565 value -> R, G, B by bit replication
_RGB565_PACKED = (RGB565_TABLE.astype("<u4") * np.array([1, 1 << 8, 1 << 16], "<u4")).sum(1).astype("<u4")


def expand565(v: np.ndarray) -> np.ndarray:
    """uint16 RGB565 values -> uint8 (..., 3) by bit replication (a packed 32-bit table: fast gather)."""
    return _RGB565_PACKED[v].view(np.uint8).reshape(*v.shape, 4)[..., :3]


def _yuv_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    cr, cgu, cgv, cb = YUV_COEFFS
    y32 = y.astype(np.int32) * 256 + 128
    d = u.astype(np.int32) - 128
    e = v.astype(np.int32) - 128
    chans = (y32 + cr * e, y32 - cgu * d - cgv * e, y32 + cb * d)
    return np.stack([np.clip(c, 0, 65535) >> 8 for c in chans], -1).astype(np.uint8)


def decode(frames: np.ndarray, sensor, color: str) -> np.ndarray:
    """Step 1 for a batch: raw frames (N, bytes) -> planes (N, H, W, 1 or 3) uint8."""
    frames = _check_frames(frames, sensor)
    n, w, h, fmt = frames.shape[0], sensor.width, sensor.height, sensor.pixel_format
    if fmt == "rgb888":
        return frames.reshape(n, h, w, 3)
    if fmt == "grayscale":
        return frames.reshape(n, h, w, 1)
    if fmt == "rgb565":
        return expand565(frames.view("<u2").reshape(n, h, w))
    quads = frames.reshape(n, h, w // 2, 4)
    luma = quads[..., [0, 2]].reshape(n, h, w)
    if color == "grayscale":
        return luma[..., None]
    u = np.repeat(quads[..., 1], 2, axis=-1)
    v = np.repeat(quads[..., 3], 2, axis=-1)
    return _yuv_to_rgb(luma, u, v)


def crop_box(width: int, height: int) -> tuple[int, int, int]:
    """Step 2: (left, top, side) of the centre square crop."""
    side = min(width, height)
    return (width - side) // 2, (height - side) // 2, side


def center_crop(planes: np.ndarray) -> np.ndarray:
    """Step 2 for a batch (N, H, W, C)."""
    left, top, side = crop_box(planes.shape[2], planes.shape[1])
    return planes[:, top:top + side, left:left + side]


def area_weights(src: int, dst: int) -> np.ndarray:
    """Step 3 weights: int64 (dst, src) overlap lengths in units of 1/(src*dst); rows sum to src."""
    i = np.arange(dst, dtype=np.int64)[:, None]
    j = np.arange(src, dtype=np.int64)[None, :]
    hi = np.minimum((i + 1) * src, (j + 1) * dst)
    lo = np.maximum(i * src, j * dst)
    return np.maximum(hi - lo, 0)


def area_taps(src: int, dst: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Banded step-3 weights reduced by g = gcd(src, dst): (dst, K) source indices, (dst, K) weights
    (w[i][j] / g; zero-padded), and S' = src / g (each row of weights sums to S')."""
    g = math.gcd(src, dst)
    w = area_weights(src, dst) // g
    first = (np.arange(dst) * src) // dst
    k = int((w > 0).sum(1).max())
    cand = first[:, None] + np.arange(k)[None, :]
    idx = np.minimum(cand, src - 1)
    wts = np.take_along_axis(w, idx, axis=1)
    wts[cand >= src] = 0
    return idx, wts, src // g


def area_resize(planes: np.ndarray, size: int) -> np.ndarray:
    """Step 3 for a batch of square planes (N, S, S, C) uint8 -> (N, size, size, C) uint8.

    Exact integer arithmetic on the gcd-reduced banded weights (no BLAS: predictable speed on a
    busy machine); sums stay below 255*S'*S' (int32 up to S' = 2900, int64 beyond).
    """
    src = planes.shape[1]
    if planes.shape[2] != src:
        raise ValueError(f"area_resize needs square planes, got {planes.shape}")
    idx, wts, s_red = area_taps(src, size)
    acc_t = np.int32 if s_red <= 2900 else np.int64
    wts = wts.astype(acc_t)
    x = planes.astype(acc_t)
    h = sum(x[:, :, idx[:, k], :] * wts[None, None, :, k, None] for k in range(idx.shape[1]))
    acc = sum(h[:, idx[:, k], :, :] * wts[None, :, k, None, None] for k in range(idx.shape[1]))
    return ((acc + ((s_red * s_red) >> 1)) // (s_red * s_red)).astype(np.uint8)


def to_color(planes: np.ndarray, color: str) -> np.ndarray:
    """Step 4 for a batch (N, r, r, 1|3) -> (N, r, r, 1 if grayscale else 3)."""
    if color == "grayscale" and planes.shape[-1] == 3:
        cr, cg, cb = GRAY_COEFFS
        p = planes.astype(np.int32)
        return ((cr * p[..., 0] + cg * p[..., 1] + cb * p[..., 2] + 128) >> 8).astype(np.uint8)[..., None]
    if color == "rgb" and planes.shape[-1] == 1:
        return np.repeat(planes, 3, axis=-1)
    return planes


class _Window(NamedTuple):
    width: int
    height: int
    pixel_format: str


def _decode_cropped(frames: np.ndarray, sensor, color: str) -> np.ndarray:
    """Steps 1+2 fused for speed: slice the crop window out of the raw bytes, then decode it.

    Identical to center_crop(decode(...)): decoding is per pixel (per pixel pair for yuyv,
    whose window is widened to whole pairs, then trimmed after decoding).
    """
    frames = _check_frames(frames, sensor)
    left, top, side = crop_box(sensor.width, sensor.height)
    n, bpp, fmt = frames.shape[0], BYTES_PER_PIXEL[sensor.pixel_format], sensor.pixel_format
    rows = frames.reshape(n, sensor.height, sensor.width * bpp)[:, top:top + side]
    if fmt == "yuyv":
        lo, hi = left // 2, (left + side + 1) // 2
        pairs = rows[:, :, lo * 4:hi * 4].reshape(n, -1)
        planes = decode(pairs, _Window(2 * (hi - lo), side, fmt), color)
        return planes[:, :, left - 2 * lo:left - 2 * lo + side]
    window = rows[:, :, left * bpp:(left + side) * bpp].reshape(n, -1)
    return decode(window, _Window(side, side, fmt), color)


def preprocess_frames(frames: np.ndarray, sensor, data) -> np.ndarray:
    """Steps 1-4 for a batch of raw frames (N, bytes) -> (N, r, r, C) uint8 (vectorised, in chunks)."""
    frames = _check_frames(frames, sensor)
    out = np.empty((frames.shape[0], data.resolution, data.resolution, data.channels), np.uint8)
    for i in range(0, frames.shape[0], _CHUNK):
        planes = _decode_cropped(frames[i:i + _CHUNK], sensor, data.color)
        out[i:i + _CHUNK] = to_color(area_resize(planes, data.resolution), data.color)
    return out


def preprocess_frame(frame: np.ndarray, sensor, data) -> np.ndarray:
    """THE reference for one raw sensor frame (1-D uint8 bytes) -> (r, r, C) uint8."""
    return preprocess_frames(np.asarray(frame, dtype=np.uint8).reshape(1, -1), sensor, data)[0]


def quantize_table(scale: float, zero_point: int) -> np.ndarray:
    """256-entry u8 -> int8 model input table: clamp(round_half_away((u8-128)/128/scale) + zp, -128, 127).

    Computed in float64 from the given scale (float32 in the .tflite, widened exactly).
    """
    v = (np.arange(256, dtype=np.float64) - 128.0) / 128.0 / float(scale)
    q = np.sign(v) * np.floor(np.abs(v) + 0.5) + int(zero_point)
    return np.clip(q, -128, 127).astype(np.int8)


def normalize(u8: np.ndarray) -> np.ndarray:
    """Model float input convention: (u8 - 128) / 128 as float32."""
    return (np.asarray(u8, dtype=np.float32) - 128.0) / 128.0
