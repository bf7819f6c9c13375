"""Codegen: a full-int8 .tflite -> interpreter-free C project (kernels, model, preprocessing, Makefile).

Names resolve lazily so importing the package stays cheap.
"""
from __future__ import annotations

from dnasgen.lazy import lazy_exports

_NAMES = {
    "generate_project": "dnasgen.codegen.project",
    "plan_program": "dnasgen.codegen.project",
    "LOCK_NAME": "dnasgen.codegen.project",
    "lower": "dnasgen.codegen.lowering",
    "Program": "dnasgen.codegen.lowering",
    "SUPPORTED_OPS": "dnasgen.codegen.lowering",
    "read_model": "dnasgen.codegen.tflite",
    "TestVectors": "dnasgen.codegen.vectors",
    "make_vectors": "dnasgen.codegen.vectors",
    "random_frames": "dnasgen.codegen.vectors",
    "template_root": "dnasgen.codegen.render",
}

__all__ = sorted(_NAMES)

__getattr__ = lazy_exports(__name__, _NAMES)
