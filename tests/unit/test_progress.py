"""The shared progress bar: drawn on a terminal, silent in logs and pipes."""
import io

import pytest
from rich.console import Console

import dnasgen.progress as progress


@pytest.mark.parametrize("terminal", [False, True])
def test_bar_draws_only_on_a_terminal(monkeypatch, terminal):
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=terminal, width=80)
    monkeypatch.setattr("rich.get_console", lambda: console)
    with progress.progress_bar("work", 3, info=True) as bar:
        for _ in range(3):
            bar.advance()
        bar.update(info="loss 0.5")
    out = buf.getvalue()
    assert ("work" in out) is terminal
    assert out.strip() == "" if not terminal else "3/3" in out


def test_disabled_bar_still_counts(monkeypatch):
    console = Console(file=io.StringIO(), force_terminal=True)
    monkeypatch.setattr("rich.get_console", lambda: console)
    with progress.progress_bar("work", 5, enabled=False) as bar:
        bar.advance(2)
        assert bar._progress.tasks[0].completed == 2
