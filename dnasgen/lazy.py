"""Lazy re-exports: a package names what it offers, the submodule loads on first use (PEP 562).

Keeps `import dnasgen`, `import dnasgen.export`, ... free of torch and tensorflow.
"""
from __future__ import annotations

import importlib
from typing import Callable


def lazy_exports(package: str, names: dict[str, str]) -> Callable[[str], object]:
    """A module-level __getattr__ resolving each name in `names` from the module it maps to."""
    def __getattr__(name: str):
        if name in names:
            return getattr(importlib.import_module(names[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    return __getattr__
