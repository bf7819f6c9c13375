"""`export_model`: fine-tuned static torch subnet -> model.tflite (full int8) + export.json.

Every export runs the parity checks: torch vs Keras float logits (<= 1e-4, else
ExportError) and float vs int8 accuracy on the validation split, where the int8 model
is fed exactly what the firmware feeds it: the preprocessed uint8 image through
quantize_table (equal to the converter's own input quantization, tested).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from dnasgen.candidate import Candidate
from dnasgen.errors import ExportError
from dnasgen.graph import build_graph
from dnasgen.io import atomic_write_bytes, atomic_write_json, sha256_bytes

EXPORT_VERSION = 1
PARITY_SAMPLES = 16
MODEL_FILE, REPORT_FILE = "model.tflite", "export.json"
LOG_FILE = "export.log"          # TensorFlow's native logs and warnings (kept off the terminal)


@dataclass(frozen=True)
class ExportResult:
    tflite_path: Path
    json_path: Path
    candidate: Candidate
    sha256: str
    tflite_bytes: int
    ops: list = field(default_factory=list)
    input_quant: tuple = (0.0, 0)
    output_quant: tuple = (0.0, 0)
    parity_max_abs_diff: float = 0.0
    parity_samples: int = 0
    float_accuracy: float = float("nan")
    int8_accuracy: float = float("nan")
    int8_agreement: float = float("nan")   # fraction of samples where float and int8 pick the same class
    int8_logit_error: float = float("nan")  # RMS(dequantised int8 - float logits) / float logit range
    eval_samples: int = 0
    calibration_samples: int = 0

    def to_dict(self) -> dict:
        out = asdict(self)
        out.update(version=EXPORT_VERSION, tflite_path=self.tflite_path.name,
                   json_path=self.json_path.name, candidate=self.candidate.to_dict(),
                   input_quant=list(self.input_quant), output_quant=list(self.output_quant))
        return out


# The packages whose versions determine model.tflite (torch trained it, Keras + TensorFlow
# converted it) and the expected test-vector outputs (the LiteRT reference). Recorded in
# export.json and in the generated project's lock; the C compiler and QEMU are not among them.
MODEL_TOOLS = ("torch", "keras", "tensorflow", "tensorflow-cpu", "ai-edge-litert")


def model_tool_versions() -> dict[str, str]:
    """{package: version} of the MODEL_TOOLS installed here (the ones absent are left out)."""
    from importlib.metadata import PackageNotFoundError, version
    out = {}
    for pkg in MODEL_TOOLS:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            continue
    return out


def _tool_versions() -> dict:
    from dnasgen import __version__
    return {**model_tool_versions(), "dnasgen": __version__}


def _int8_scores(ref, x_u8: np.ndarray) -> np.ndarray:
    from dnasgen.data.preprocess import quantize_table
    from dnasgen.progress import progress_bar
    table = quantize_table(*ref.input_quant)
    scores = []
    with progress_bar("int8 reference eval", len(x_u8)) as bar:
        for x in x_u8:
            scores.append(ref.run(table[x]))
            bar.advance()
    return np.stack(scores)


def export_model(static_net, spec, bundle, out_dir: Path) -> ExportResult:
    """Static subnet -> Keras (parity-checked) -> full-int8 .tflite + export.json in out_dir.

    TensorFlow's logs and warnings go to out_dir/export.log, not to the terminal."""
    from dnasgen.export.quiet import quiet
    with quiet(Path(out_dir) / LOG_FILE):
        return _export(static_net, spec, bundle, Path(out_dir))


def _export(static_net, spec, bundle, out_dir: Path) -> ExportResult:
    from dnasgen.export.convert import to_int8_tflite
    from dnasgen.export.keras_model import build_keras
    from dnasgen.export.parity import accuracy, check_float_parity, keras_logits, logit_error
    from dnasgen.export.reference import ReferenceInterpreter
    cand = static_net.candidate
    if static_net.num_classes != spec.num_classes or static_net.head_channels != spec.space.head_channels:
        raise ExportError(f"the network has {static_net.num_classes} classes / head {static_net.head_channels}, "
                          f"the spec {spec.num_classes} / {spec.space.head_channels}")
    graph = build_graph(cand, spec.num_classes, spec.space.head_channels)
    keras_model = build_keras(graph, static_net.folded())
    x_val, y_val = bundle.arrays("val", cand.data, limit=spec.search.eval_samples)
    if len(x_val) == 0:
        raise ExportError("the validation split is empty: no parity check or accuracy possible")
    diff = check_float_parity(static_net, keras_model, graph, x_val[:PARITY_SAMPLES])
    x_cal, _ = bundle.arrays("train", cand.data, limit=spec.search.calibration_samples)
    blob = to_int8_tflite(keras_model, x_cal)
    ref = ReferenceInterpreter(blob)
    float_scores, int8_scores = keras_logits(keras_model, x_val), _int8_scores(ref, x_val)
    result = ExportResult(
        out_dir / MODEL_FILE, out_dir / REPORT_FILE, cand, sha256_bytes(blob), len(blob),
        ref.op_names(), ref.input_quant, ref.output_quant, diff, min(len(x_val), PARITY_SAMPLES),
        accuracy(float_scores, y_val), accuracy(int8_scores, y_val),
        float(np.mean(float_scores.argmax(1) == int8_scores.argmax(1))),
        logit_error(float_scores, int8_scores, ref.output_quant), len(x_val), len(x_cal))
    report = dict(result.to_dict(), classes=list(spec.classes), num_classes=spec.num_classes,
                  head_channels=spec.space.head_channels, tools=_tool_versions())
    atomic_write_bytes(result.tflite_path, blob)          # the report is written last: the commit point
    atomic_write_json(result.json_path, report)
    return result
