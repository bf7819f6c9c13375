"""dnasgen: data-aware neural architecture search for TinyML, from a YAML spec to int8 firmware.

The Python API (dnasgen.build, dnasgen.load_spec, dnasgen.search_plan, ...) lives in dnasgen.api and
is re-exported lazily here, so `import dnasgen` loads neither torch nor tensorflow.
"""
__version__ = "0.1.0"

_API = ("load_spec", "validate", "search_plan", "estimate", "build", "summary",
        "generate_from_lock", "verify_project")


def __getattr__(name: str):
    if name in _API:
        from dnasgen import api
        return getattr(api, name)
    raise AttributeError(f"module 'dnasgen' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
