"""verify's process and file handling: make / host-app failures and timeouts and a damaged lock are
BuildErrors; a make timeout leaves no child of make running."""
from __future__ import annotations

import os
import shutil
import time

import pytest

from dnasgen.errors import BuildError
from dnasgen.verify.project import run_make

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_timeout_kills_the_whole_make_tree(tmp_path):
    # A recipe whose child outlives make's own kill (like a hung qemu-system-arm in `make qemu`).
    (tmp_path / "Makefile").write_text("hang:\n\tsleep 60 & echo $$! > child.pid; wait\n")
    with pytest.raises(BuildError, match="timed out after 1 s"):
        run_make(tmp_path, "hang", timeout=1)
    deadline = time.monotonic() + 5
    pid = int((tmp_path / "child.pid").read_text())
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), "the recipe's child survived the timeout"


def test_failure_carries_the_output_tail(tmp_path):
    (tmp_path / "Makefile").write_text("ok:\n\t@echo fine\nbad:\n\t@echo compiler says no; exit 3\n")
    assert run_make(tmp_path, "ok").strip() == "fine"
    with pytest.raises(BuildError, match=r"(?s)exit 2\).*compiler says no"):
        run_make(tmp_path, "bad")


def test_host_app_timeout_is_a_build_error(tmp_path):
    from dnasgen.verify import harness
    app = tmp_path / harness.HOST_APP
    app.parent.mkdir(parents=True)
    app.write_text("#!/bin/sh\nexec sleep 30\n")
    app.chmod(0o755)
    with pytest.raises(BuildError, match="timed out after 1 s"):
        harness._app(tmp_path, "--tensor", "batch.bin", timeout=1)


@pytest.mark.parametrize("text", ['{"files": {"main.c": "ab', "[1, 2]"], ids=["truncated", "not-an-object"])
def test_damaged_lock_is_a_build_error(tmp_path, text):
    from dnasgen.verify import verify_project
    from dnasgen.verify.project import LOCK_NAME
    (tmp_path / LOCK_NAME).write_text(text)
    with pytest.raises(BuildError, match="regenerate the project"):
        verify_project(tmp_path)
