"""dnasgen: data-aware neural architecture search for TinyML, from a YAML spec to int8 firmware.

The Python API (dnasgen.build, dnasgen.load_spec, dnasgen.search_plan, ...) lives in dnasgen.api and
is re-exported lazily here, so `import dnasgen` loads neither torch nor tensorflow.
"""
import os

from dnasgen.lazy import lazy_exports

# Before any dnasgen module imports torch (OpenMP reads this once, at start-up): idle OpenMP threads
# sleep instead of spinning. Spinning threads on busy cores stall every op (2-core box, two other
# busy processes, 2 torch threads: ~12 img/s spinning vs ~480 passive); results are unchanged, since the
# thread count (dnasgen.train.runtime) still fixes the reduction order. A value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

_API = ("load_spec", "validate", "search_plan", "estimate", "build", "summary",
        "generate_from_lock", "compile_model", "verify_project", "measure_fidelity")

__getattr__ = lazy_exports(__name__, dict.fromkeys(_API, "dnasgen.api"))


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
