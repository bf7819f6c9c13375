"""Training augmentation on the source image, BEFORE the sensor simulation."""
from __future__ import annotations

import numpy as np

from dnasgen.data.sensor import encode, place, resize, scaled_size

FLIP_PROB = 0.5


def crop_boxes(n: int, size: int, rng, area_min: float) -> tuple[np.ndarray, np.ndarray]:
    """n random square crop boxes (x0, y0, x1, y1) in source pixels (floats), each keeping a uniform
    share in [area_min, 1] of the source area, and flip flags."""
    side = np.sqrt(rng.uniform(area_min, 1.0, n)) * size
    x0 = rng.uniform(0, 1, n) * (size - side)
    y0 = rng.uniform(0, 1, n) * (size - side)
    flips = rng.random(n) < FLIP_PROB
    return np.stack([x0, y0, x0 + side, y0 + side], 1), flips


def augmented_frames(images: np.ndarray, idx: np.ndarray, sensor, rng, area_min: float) -> np.ndarray:
    """Raw sensor frames (len(idx), bytes) of randomly cropped (train.crop_area_min) + flipped source images."""
    size = images.shape[1]
    boxes, flips = crop_boxes(len(idx), size, rng, area_min)
    target = scaled_size(1, 1, sensor)
    views = np.stack([resize(images[i], target, box=tuple(b), flip=f) for i, b, f in zip(idx, boxes, flips)])
    return encode(place(views, sensor), sensor.pixel_format)
