"""`dnasgen init`: a commented starter spec that validates as written."""
from __future__ import annotations

import os
import tempfile
from importlib import resources
from pathlib import Path

from dnasgen.errors import DnasgenError


def starter_text() -> str:
    """The commented starter spec (package data dnasgen/spec/starter.yaml)."""
    return resources.files("dnasgen.spec").joinpath("starter.yaml").read_text(encoding="utf-8")


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temp file in the same folder + os.replace (never a half-written file)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_starter(path: str | Path, force: bool = False) -> Path:
    """Write the starter spec to `path`; refuse to overwrite an existing file unless force."""
    path = Path(path)
    if path.is_dir():
        raise DnasgenError(f"{path} is a directory; give a file name, e.g. {path / 'spec.yaml'}")
    if path.exists() and not force:
        raise DnasgenError(f"{path} already exists; use --force to overwrite it")
    if not path.parent.is_dir():
        raise DnasgenError(f"folder {path.parent} does not exist")
    atomic_write_text(path, starter_text())
    return path
