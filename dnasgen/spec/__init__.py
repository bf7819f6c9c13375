"""The product spec: JSON Schema contract, located validation, typed model, starter.

Light on purpose (no torch / tensorflow): `dnasgen validate` must start fast.
"""
from dnasgen.errors import SpecError, SpecIssue
from dnasgen.spec.loader import build_spec, load_spec, spec_issue
from dnasgen.spec.model import Constraints, Dataset, Search, Sensor, Spec, Train
from dnasgen.spec.reference import reference_markdown
from dnasgen.spec.schema import schema_dict, schema_text
from dnasgen.spec.starter import starter_text, write_starter

__all__ = [
    "Constraints", "Dataset", "Search", "Sensor", "Spec", "SpecError", "SpecIssue", "Train",
    "build_spec", "load_spec", "reference_markdown", "schema_dict", "schema_text", "spec_issue",
    "starter_text", "write_starter",
]
