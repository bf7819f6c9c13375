"""Shared helpers of the codegen / firmware tests (specs and models built in the test process)."""
from __future__ import annotations

from dnasgen.boards import get_board
from dnasgen.candidate import SearchSpace
from dnasgen.spec.model import Dataset, Sensor, Spec


def make_spec(sensor: Sensor, name: str = "fw-test", classes=("a", "b", "c"),
              board: str = "arduino-nano-33-ble-sense") -> Spec:
    """A programmatic spec: what codegen reads is the name, classes, sensor and board."""
    raw = {"name": name, "task": {"classes": list(classes)},
           "sensor": {"width": sensor.width, "height": sensor.height, "pixel_format": sensor.pixel_format},
           "board": {"id": board}}
    return Spec(name, tuple(classes), Dataset("synthetic"), sensor, SearchSpace(), get_board(board), raw=raw)


def mobilenet_v2_035_96():
    """The peer benchmark model's candidate: MobileNetV2-0.35 at 96x96 RGB (Keras' layout)."""
    return SearchSpace(resolutions=(96,), colors=("rgb",), widths=(0.35,)).largest()
