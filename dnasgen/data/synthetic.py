"""The built-in procedural dataset: deterministic from a seed, vectorised numpy, RGB uint8.

Every image holds one TARGET object on a cluttered, shaded background (gradient, noise, strokes).
- color_decisive: true  -> the class is the target's hue. All class hues have the SAME luminance
  (colours built orthogonally to the luma vector), and the target's brightness jitter is drawn
  independently of the class, so a grayscale model sees no class signal: colour decides. The
  target is always a disc; distractors are crosses/triangles in random class hues.
- color_decisive: false -> the class is the target's shape (disc, cross, triangle, ring, square,
  bar, hexagon, diamond); its hue is random (luminance as in the colour task, clear of the
  background): colour is irrelevant.
- object_size: large (radius 20-32 % of the image), small (5-9 %: needs resolution) or mixed.
"""
from __future__ import annotations

import numpy as np

SHAPES = ("disc", "cross", "triangle", "ring", "square", "bar", "hexagon", "diamond")   # most distinct first
MAX_CLASSES = len(SHAPES)
SIZES = {"large": (0.20, 0.32), "small": (0.05, 0.09)}
TARGET_LUMA = 0.5
_CHUNK = 256
_LUMA = np.array([77, 150, 29], np.float64) / 256.0


def _hue_basis() -> tuple[np.ndarray, np.ndarray]:
    """Two orthonormal RGB directions with zero luma (moving along them keeps luminance)."""
    e1 = np.array([_LUMA[1], -_LUMA[0], 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(_LUMA, e1)
    return e1, e2 / np.linalg.norm(e2)


def class_hues(k: int, luma: float = TARGET_LUMA) -> np.ndarray:
    """(k, 3) colours in [0, 1] of equal luminance and equally spaced hue, as saturated as fits."""
    e1, e2 = _hue_basis()
    ang = 2 * np.pi * np.arange(k) / k + 0.3
    dirs = np.cos(ang)[:, None] * e1 + np.sin(ang)[:, None] * e2
    room = np.where(dirs > 0, (1 - luma) / np.maximum(dirs, 1e-9), luma / np.maximum(-dirs, 1e-9))
    amp = 0.95 * room.min()
    return luma + amp * dirs


def _shape_distance(shape: str, u: np.ndarray, v: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Approximate signed distance (pixels) to the shape's edge; u, v rotated coords, r radius."""
    au, av = np.abs(u), np.abs(v)
    if shape == "disc":
        return np.hypot(u, v) - r
    if shape == "square":
        return np.maximum(au, av) - 0.8 * r
    if shape == "diamond":
        return (au + av) / np.sqrt(2) - 0.7 * r
    if shape == "triangle":
        normals = [(0.0, -1.0), (0.866, 0.5), (-0.866, 0.5)]
        return np.max([u * a + v * b for a, b in normals], axis=0) - 0.5 * r
    if shape == "hexagon":
        return np.max([np.abs(u * np.cos(t) + v * np.sin(t)) for t in (0, np.pi / 3, 2 * np.pi / 3)],
                      axis=0) - 0.85 * r
    if shape == "cross":
        return np.minimum(np.maximum(au - r, av - 0.3 * r), np.maximum(au - 0.3 * r, av - r))
    if shape == "ring":
        return np.abs(np.hypot(u, v) - 0.75 * r) - 0.25 * r
    if shape == "stroke":                     # clutter only, never a class
        return np.maximum(au - r, av - 0.08 * r)
    return np.maximum(au - r, av - 0.3 * r)   # bar


def _draw(img, shapes, colors, cy, cx, rad, ang) -> None:
    """Alpha-composite one antialiased object per image (arrays of length N) in place.

    Work is limited to a square patch around each object (all patches of one call share a side).
    """
    n, size = img.shape[0], img.shape[1]
    side = min(size, int(2.4 * rad.max()) + 4)
    oy = np.clip(np.floor(cy - side / 2), 0, size - side).astype(np.int64)
    ox = np.clip(np.floor(cx - side / 2), 0, size - side).astype(np.int64)
    rows = oy[:, None] + np.arange(side)                      # (N, P)
    cols = ox[:, None] + np.arange(side)
    dy = (rows + 0.5 - cy[:, None]).astype(np.float32)[:, :, None]
    dx = (cols + 0.5 - cx[:, None]).astype(np.float32)[:, None, :]
    c = np.cos(ang).astype(np.float32)[:, None, None]
    s = np.sin(ang).astype(np.float32)[:, None, None]
    u, v = c * dx + s * dy, c * dy - s * dx
    r = rad.astype(np.float32)[:, None, None]
    dist = np.empty_like(u)
    for name in set(shapes):
        sel = np.fromiter((sh == name for sh in shapes), bool, n)
        dist[sel] = _shape_distance(name, u[sel], v[sel], r[sel])
    alpha = np.clip(0.5 - dist, 0.0, 1.0)[..., None]
    idx = (np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :])
    patch = img[idx]
    img[idx] = patch + alpha * (colors.astype(np.float32)[:, None, None, :] - patch)


def _background(rng, n: int, size: int) -> np.ndarray:
    """Low-saturation gradients, dark or light (clear of the target luminance), plus noise."""
    dark = rng.random(n) < 0.5
    base = np.where(dark, rng.uniform(0.08, 0.28, n), rng.uniform(0.72, 0.92, n)).astype(np.float32)
    tint = rng.uniform(-0.06, 0.06, (n, 1, 1, 3)).astype(np.float32)
    ang = rng.uniform(0, 2 * np.pi, n).astype(np.float32)
    pos = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
    ramp = np.cos(ang)[:, None, None] * pos[None, None, :] + np.sin(ang)[:, None, None] * pos[None, :, None]
    img = base[:, None, None, None] + tint + 0.12 * ramp[..., None]
    return img + rng.standard_normal(img.shape, dtype=np.float32) * np.float32(0.025)


def _clutter(rng, img, count: int) -> None:
    """Thin strokes of random colour (never a class shape)."""
    n, size = img.shape[0], img.shape[1]
    for _ in range(count):
        cy, cx = rng.uniform(0, size, n), rng.uniform(0, size, n)
        rad = rng.uniform(0.05, 0.15, n) * size
        _draw(img, ["stroke"] * n, rng.uniform(0.0, 1.0, (n, 3)), cy, cx, rad, rng.uniform(0, np.pi, n))


def _place(rng, n: int, size: int, lo: float, hi: float):
    rad = rng.uniform(lo, hi, n) * size
    cy = rng.uniform(rad, size - rad)
    cx = rng.uniform(rad, size - rad)
    return cy, cx, rad


def _sizes(rng, n: int, object_size: str) -> tuple[np.ndarray, np.ndarray]:
    if object_size == "mixed":
        small = rng.random(n) < 0.5
    else:
        small = np.full(n, object_size == "small")
    lo = np.where(small, SIZES["small"][0], SIZES["large"][0])
    hi = np.where(small, SIZES["small"][1], SIZES["large"][1])
    return lo, hi


def _render_chunk(rng, labels, size, num_classes, color_decisive, object_size) -> np.ndarray:
    n = len(labels)
    img = _background(rng, n, size)
    _clutter(rng, img, count=2)
    lo, hi = _sizes(rng, n, object_size)
    if color_decisive:
        hues = class_hues(num_classes)
        for _ in range(int(rng.integers(1, 3))):      # distractors: other shapes, class hues
            cy, cx, rad = _place(rng, n, size, lo * 0.8, hi * 0.8)
            shapes = [SHAPES[i] for i in rng.integers(1, 3, n)]
            cols = hues[rng.integers(0, num_classes, n)] * rng.uniform(0.85, 1.15, (n, 1))
            _draw(img, shapes, cols, cy, cx, rad, rng.uniform(0, np.pi, n))
        shapes = ["disc"] * n
        cols = hues[labels] * rng.uniform(0.85, 1.15, (n, 1))
    else:
        shapes = [SHAPES[k] for k in labels]
        cols = class_hues(12)[rng.integers(0, 12, n)] * rng.uniform(0.85, 1.15, (n, 1))
    cy, cx, rad = _place(rng, n, size, lo, hi)
    _draw(img, shapes, cols, cy, cx, rad, rng.uniform(0, 2 * np.pi, n))
    return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)


def generate(n: int, size: int, num_classes: int, seed: int, split: int = 0,
             color_decisive: bool = False, object_size: str = "mixed") -> tuple[np.ndarray, np.ndarray]:
    """n images (n, size, size, 3) uint8 and balanced int64 labels; deterministic from (seed, split)."""
    if not 2 <= num_classes <= MAX_CLASSES:
        raise ValueError(f"the synthetic dataset supports 2..{MAX_CLASSES} classes, got {num_classes}")
    rng = np.random.default_rng([seed, split])
    labels = rng.permutation(np.arange(n) % num_classes).astype(np.int64)
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(0, n, _CHUNK):
        out[i:i + _CHUNK] = _render_chunk(rng, labels[i:i + _CHUNK], size, num_classes,
                                          color_decisive, object_size)
    return out, labels
