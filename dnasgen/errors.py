"""Error tree. The CLI turns any DnasgenError into a clean message and its exit code."""
from __future__ import annotations

from dataclasses import dataclass


class DnasgenError(Exception):
    """Base of all expected failures: printed without a traceback."""
    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class SpecIssue:
    """One located problem in a spec file."""
    file: str
    line: int        # 1-based
    col: int         # 1-based
    path: str        # JSON path, e.g. "$.search_space.widths[2]"
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.path}: {self.message}"


class SpecError(DnasgenError):
    """The spec is malformed or inconsistent. Carries ALL issues found."""
    exit_code = 2

    def __init__(self, issues: list[SpecIssue]):
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class BudgetError(DnasgenError):
    """Nothing (or not the given candidate) fits the board's budgets."""
    exit_code = 3


class DataError(DnasgenError):
    """A dataset is missing, empty or unreadable."""
    exit_code = 4


class ExportError(DnasgenError):
    """Conversion to int8 TFLite failed or a parity check failed."""
    exit_code = 5


class CodegenError(DnasgenError):
    """The model cannot be lowered to C (unsupported op, float tensors...)."""
    exit_code = 6


class BuildError(DnasgenError):
    """A build / verify step failed (compiler, emulator, mismatch, budget)."""
    exit_code = 7
