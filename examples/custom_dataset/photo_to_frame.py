"""Turn a photo into a raw camera frame for the generated firmware's `app --frame`.

    .venv/bin/python examples/custom_dataset/photo_to_frame.py SPEC PHOTO OUT.raw

The frame is what the spec's sensor would deliver (size and pixel format, e.g. RGB565
little-endian), made with the same sensor simulation that produced the training data.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

import dnasgen
from dnasgen.data.sensor import simulate


def main(spec_path: str, photo: str, out: str) -> None:
    spec = dnasgen.load_spec(spec_path)
    rgb = np.asarray(Image.open(photo).convert("RGB"), dtype=np.uint8)
    frame = simulate(rgb, spec.sensor)
    Path(out).write_bytes(frame.tobytes())
    s = spec.sensor
    print(f"wrote {out}: {s.width}x{s.height} {s.pixel_format}, {frame.size} bytes")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
