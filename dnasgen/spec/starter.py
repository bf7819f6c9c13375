"""`dnasgen init`: a commented starter spec that validates as written."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from dnasgen.errors import DnasgenError
from dnasgen.io import atomic_write_text


def starter_text() -> str:
    """The commented starter spec (package data dnasgen/spec/starter.yaml)."""
    return resources.files("dnasgen.spec").joinpath("starter.yaml").read_text(encoding="utf-8")


def write_starter(path: str | Path, force: bool = False) -> Path:
    """Write the starter spec to `path`; refuse to overwrite an existing file unless force."""
    path = Path(path)
    if path.is_dir():
        raise DnasgenError(f"{path} is a directory; give a file name, e.g. {path / 'spec.yaml'}")
    if path.exists() and not force:
        raise DnasgenError(f"{path} already exists; use --force to overwrite it")
    if not path.parent.is_dir():
        what = "is a file, not a folder" if path.parent.exists() else "does not exist"
        raise DnasgenError(f"folder {path.parent} {what}")
    atomic_write_text(path, starter_text())
    return path
