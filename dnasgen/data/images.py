"""Shared helpers of the real-image sources: decode, centre crop, resize; located errors; progress."""
from __future__ import annotations

import io
import logging
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from dnasgen.errors import SpecError, SpecIssue

log = logging.getLogger("dnasgen.data")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
_DECODE_ERRORS = (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError, SyntaxError)


def spec_error(spec, json_path: str, message: str) -> SpecError:
    """A SpecError located at json_path in the spec file (line 1 if the spec has no positions)."""
    try:
        from dnasgen.spec import spec_issue
        issue = spec_issue(spec, json_path, message)
    except Exception:  # noqa: BLE001 - a spec built in code has no file positions
        issue = SpecIssue(getattr(spec, "source_path", None) or "<spec>", 1, 1, json_path, message)
    return SpecError([issue])


def square_rgb(pil: Image.Image, size: int) -> np.ndarray:
    """Any PIL image -> RGB, centre-cropped to a square, resized to size x size (uint8)."""
    pil = pil.convert("RGB")
    w, h = pil.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    pil = pil.resize((size, size), Image.BILINEAR, box=(left, top, left + side, top + side))
    return np.asarray(pil, dtype=np.uint8)


def decode_image(source: str | Path | bytes | np.ndarray, size: int) -> np.ndarray | None:
    """Decode a file path, encoded bytes or a decoded array to (size, size, 3); None if unreadable/corrupt."""
    try:
        if isinstance(source, np.ndarray):
            return square_rgb(Image.fromarray(source.squeeze()), size)
        fp = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
        with Image.open(fp) as pil:
            pil.load()
            return square_rgb(pil, size)
    except _DECODE_ERRORS as exc:
        log.debug("unreadable image %s: %s", source if not isinstance(source, bytes) else "<bytes>", exc)
        return None


@contextmanager
def progress(description: str, total: int | None):
    """A progress bar (dnasgen.progress); yields advance(n)."""
    from dnasgen.progress import progress_bar
    with progress_bar(description, total) as bar:
        yield bar.advance


def decode_all(items, size: int, description: str, total: int | None = None):
    """Decode (source, label) items; skip unreadable ones with a logged count.

    Returns (X uint8 (N, size, size, 3), y int64 (N,), skipped count).
    """
    images, labels, skipped = [], [], 0
    with progress(description, total) as advance:
        for source, label in items:
            img = decode_image(source, size)
            advance()
            if img is None:
                skipped += 1
                continue
            images.append(img)
            labels.append(label)
    if skipped:
        log.warning("%s: skipped %d unreadable image(s)", description, skipped)
    x = np.stack(images) if images else np.zeros((0, size, size, 3), np.uint8)
    return x, np.asarray(labels, dtype=np.int64), skipped
