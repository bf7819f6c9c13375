"""What several test folders share: where the foreign int8 models live. They are not part of the
project: ../shared/models beside the checkout (SOURCE.md there), or DNASGEN_MODELS (e.g. from a git
worktree). Tests that need one skip where it is absent."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

FOREIGN_MODELS = Path(os.environ.get("DNASGEN_MODELS", Path(__file__).resolve().parents[2] / "shared" / "models"))


@pytest.fixture(scope="session")
def foreign_model():
    """name -> the path of a foreign model file; skips the test where it is absent."""
    def path_of(name: str) -> Path:
        path = FOREIGN_MODELS / name
        if not path.is_file():
            pytest.skip(f"{path} absent: the foreign models live outside the project (DNASGEN_MODELS)")
        return path
    return path_of
