"""One progress display across all stages.

On a terminal: a live table of the stages (pending / running / cached / done, elapsed) with
the overall position; the stage packages' own rich progress bars (training epochs, search
generations, with their step counts and ETAs) render nested underneath it in the same live
display (rich nests Live displays on one console). Elsewhere (CI logs, pipes): one plain line
per stage event.
"""
from __future__ import annotations

import contextlib

from rich import get_console
from rich.console import Console
from rich.table import Column
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

_FIXED_WIDTH = 34    # spinner, name, bar, elapsed and gaps: the status note gets the rest, never them
_STYLE = {"pending": "dim", "running": "bold yellow", "cached": "cyan", "done": "green",
          "failed": "bold red"}


BRIEF = {"validate": ("spec",), "plan": ("space_size", "feasible_data_configs"),
         "train": ("epoch", "val_largest", "val_smallest"), "search": ("data", "supernet_accuracy"),
         "candidate": ("data",), "finetune": ("float_val_accuracy", "float_accuracy"),
         "export": ("int8_accuracy", "tflite_bytes"), "generate": ("arena_bytes", "tflm_arena_bytes", "model_data_bytes"),
         "verify": ("note",)}


def _brief(name: str, info: dict | None) -> str:
    """A short human note from a stage's figures."""
    parts = []
    for key in BRIEF.get(name, ()):
        value = (info or {}).get(key)
        if value is None:
            continue
        if isinstance(value, float):
            value = f"{value:.3f}"
        elif isinstance(value, list):
            value = len(value) if len(value) > 2 else ", ".join(map(str, value))
        parts.append(f"{key} {value}")
    return "  ".join(parts)


class BuildDisplay:
    """Stage-level progress; use as a context manager around the build."""

    def __init__(self, stage_names: list[str], console: Console | None = None, quiet: bool = False):
        self.console = console or get_console()   # the console the stages' own bars use: one display
        self.names = list(stage_names)
        self.quiet = quiet
        self.live = self.console.is_terminal and not quiet
        self._progress: Progress | None = None
        self._tasks: dict[str, int] = {}
        self._overall = None
        self._done = 0
        self._state: dict[str, str] = {}

    def __enter__(self) -> "BuildDisplay":
        if self.live:
            self._progress = Progress(
                SpinnerColumn(), TextColumn("{task.description}", table_column=Column(width=9)),
                BarColumn(bar_width=12), TimeElapsedColumn(),
                TextColumn("{task.fields[status]}", table_column=Column(
                    no_wrap=True, overflow="ellipsis", max_width=max(10, self.console.width - _FIXED_WIDTH))),
                console=self.console)
            self._overall = self._progress.add_task("build", total=len(self.names), status="")
            for name in self.names:
                self._tasks[name] = self._progress.add_task(name, total=1, status="[dim]pending",
                                                            start=False)
            self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            for name, task in self._tasks.items():
                if self._state.get(name, "pending") == "pending" and exc[0] is None:
                    self._progress.update(task, status="[dim]not run (--until)")
            self._progress.stop()

    def _set(self, name: str, state: str, note: str = "", complete: bool = False) -> None:
        self._state[name] = state
        if self._progress is None:
            if not self.quiet:
                self.console.print(f"[{_STYLE[state]}]{state:>8}[/] {name:<10} {note}", highlight=False)
            return
        task = self._tasks.get(name)
        if task is None:
            return
        if state == "running" or complete:     # a task never started never counts as finished
            self._progress.start_task(task)
        self._progress.update(task, status=f"[{_STYLE[state]}]{state}[/] {note}",
                              completed=1 if complete else 0)
        if complete:
            self._progress.stop_task(task)
            self._done += 1
            self._progress.update(self._overall, completed=self._done,
                                  status=f"stage {min(self._done + 1, len(self.names))}/{len(self.names)}")

    @contextlib.contextmanager
    def running(self, name: str, title: str = "", reason: str = "", log: str | None = None):
        self._set(name, "running", f"{title} ({reason})" if reason else title)
        try:
            yield
        except BaseException as exc:
            state = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            self._set(name, "failed", f"{state}; native log: {log}" if log else state)
            raise

    def done(self, name: str, seconds: float, info: dict | None = None) -> None:
        self._set(name, "done", f"{seconds:.1f} s  {_brief(name, info)}".rstrip(), complete=True)

    def cached(self, name: str, info: dict | None = None) -> None:
        self._set(name, "cached", _brief(name, info), complete=True)

