"""Test vectors of a generated project: raw sensor frames + the LiteRT reference outputs.

The expected outputs are computed through THE Python preprocessing reference
(dnasgen.data.preprocess) and the reference interpreter (LiteRT BUILTIN_REF), so the
firmware's `make test` checks preprocessing and inference together, bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dnasgen.errors import CodegenError


@dataclass(frozen=True)
class TestVectors:
    __test__ = False               # not a pytest class

    frames: tuple                  # raw sensor frames, 1-D uint8 each
    expected: tuple                # int8 model outputs, one per frame

    def __len__(self) -> int:
        return len(self.frames)


def reference_interpreter(tflite_bytes: bytes):
    from dnasgen.export.reference import ReferenceInterpreter
    return ReferenceInterpreter(tflite_bytes)


def input_quant(tflite_bytes: bytes) -> tuple[float, int]:
    from dnasgen.codegen.tflite import read_model
    model = read_model(tflite_bytes)
    t = model.tensors[model.inputs[0]]
    return t.scale, t.zero_point


def quantize_input(u8: np.ndarray, tflite_bytes: bytes) -> np.ndarray:
    """Preprocessed uint8 (r, r, C) -> model int8 input through the 256-entry table."""
    from dnasgen.data.preprocess import quantize_table
    table = quantize_table(*input_quant(tflite_bytes))
    return table[np.asarray(u8, np.uint8)]


def random_frames(sensor, count: int, seed: int = 0) -> list[np.ndarray]:
    """Deterministic random raw frames for `sensor` (smooth content, so scores vary)."""
    from dnasgen.data.preprocess import frame_bytes
    rng = np.random.default_rng(seed)
    n = frame_bytes(sensor)
    frames = []
    for _ in range(count):
        ramp = (np.arange(n) * rng.integers(1, 7) // max(sensor.width, 1)) % 256
        noise = rng.integers(0, 256, n)
        frames.append(((ramp + noise * rng.integers(0, 2)) % 256).astype(np.uint8))
    return frames


def make_vectors(tflite_bytes: bytes, sensor, data, frames) -> TestVectors:
    """Expected outputs of `frames` through the Python preprocessing and the LiteRT reference."""
    from dnasgen.data.preprocess import frame_bytes
    frames = [np.ascontiguousarray(f, np.uint8).reshape(-1) for f in frames]
    bad = [i for i, f in enumerate(frames) if f.size != frame_bytes(sensor)]
    if bad:
        raise CodegenError(f"test frames {bad} are not {sensor.width}x{sensor.height} {sensor.pixel_format} "
                           f"frames ({frame_bytes(sensor)} bytes)")
    ref = reference_interpreter(tflite_bytes)
    expected = [ref.run(x).astype(np.int8) for x in frame_inputs(frames, tflite_bytes, sensor, data)]
    return TestVectors(tuple(frames), tuple(expected))


def frame_inputs(frames, tflite_bytes: bytes, sensor, data) -> list[np.ndarray]:
    """The model's int8 input tensor of each raw frame (the Python preprocessing reference)."""
    from dnasgen.data.preprocess import preprocess_frame
    return [quantize_input(preprocess_frame(np.asarray(f, np.uint8), sensor, data), tflite_bytes).astype(np.int8)
            for f in frames]


def as_vectors(vectors, tflite_bytes: bytes, sensor, data, default_count: int = 2) -> TestVectors:
    """Accept TestVectors, a list of raw frames, or None (deterministic random frames)."""
    if isinstance(vectors, TestVectors):
        return vectors
    frames = random_frames(sensor, default_count) if vectors is None or len(vectors) == 0 else list(vectors)
    return make_vectors(tflite_bytes, sensor, data, frames)
