"""dnasgen: data-aware neural architecture search for TinyML, from a YAML spec to int8 firmware.

The Python API (dnasgen.build, dnasgen.load_spec, dnasgen.search_plan, ...) lives in dnasgen.api and
is re-exported lazily here, so `import dnasgen` loads neither torch nor tensorflow.
"""
from dnasgen.lazy import lazy_exports

__version__ = "0.1.0"

_API = ("load_spec", "validate", "search_plan", "estimate", "build", "summary",
        "generate_from_lock", "compile_model", "verify_project", "measure_fidelity")

__getattr__ = lazy_exports(__name__, dict.fromkeys(_API, "dnasgen.api"))


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
