"""One progress bar for every long step (dataset build, training, search, fine-tuning, int8 eval).

Bars are transient (under `dnasgen build` the pipeline's stage table stays the one display) and
drawn only on a terminal: in CI logs and pipes they print nothing, the stages' own summary lines
say what happened. rich is imported lazily.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator


class Bar:
    """Handle on one task of a rich Progress."""

    def __init__(self, progress, task):
        self._progress, self._task = progress, task

    def advance(self, n: int = 1) -> None:
        self._progress.advance(self._task, n)

    def update(self, **fields) -> None:
        """completed=, total=, description=, info= (the optional info column)."""
        self._progress.update(self._task, **fields)


@contextmanager
def progress_bar(description: str, total: int | None = None, *, completed: int = 0,
                 info: bool = False, elapsed: bool = False, enabled: bool = True) -> Iterator[Bar]:
    """A transient rich bar; `info` adds a free-text column, `elapsed` shows time spent, not ETA."""
    from rich import get_console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)
    console = get_console()
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn()]
    if info:
        columns.append(TextColumn("{task.fields[info]}"))
    columns.append(TimeElapsedColumn() if elapsed else TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True,
                  disable=not (enabled and console.is_terminal)) as prog:
        yield Bar(prog, prog.add_task(description, total=total, completed=completed, info=""))
