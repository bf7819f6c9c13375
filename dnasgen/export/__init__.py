"""Export: static subnet -> Keras -> full-int8 TFLite, the LiteRT reference, parity checks.

Names are resolved lazily so `import dnasgen.export` does not load TensorFlow; it does set
TensorFlow's environment (quiet native logs, no oneDNN) so that it holds when TF is first imported.
"""
from __future__ import annotations

from dnasgen.lazy import lazy_exports

from dnasgen.export.quiet import tf_environment

tf_environment()

_NAMES = {
    "build_keras": "dnasgen.export.keras_model",
    "keras_weights": "dnasgen.export.keras_model",
    "to_int8_tflite": "dnasgen.export.convert",
    "check_ops": "dnasgen.export.convert",
    "EXPECTED_OPS": "dnasgen.export.convert",
    "ReferenceInterpreter": "dnasgen.export.reference",
    "random_static_weights": "dnasgen.export.testmodels",
    "structured_images": "dnasgen.export.testmodels",
    "make_test_model": "dnasgen.export.testmodels",
    "export_model": "dnasgen.export.export",
    "ExportResult": "dnasgen.export.export",
    "MODEL_TOOLS": "dnasgen.export.export",
    "model_tool_versions": "dnasgen.export.export",
    "export_spec": "dnasgen.export.stage",
    "format_export": "dnasgen.export.stage",
    "quiet": "dnasgen.export.quiet",
}

__all__ = sorted(_NAMES)

__getattr__ = lazy_exports(__name__, _NAMES)
