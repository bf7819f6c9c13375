"""verify_project: build a generated project with real tools and check it.

1. `make host` + `make test`: the embedded vectors (raw frames -> preprocess -> invoke) must
   equal the LiteRT reference outputs captured at generation time;
2. `make qemu CORE=<core>` for each of `cores` (default m4; when arm-none-eabi-gcc and
   qemu-system-arm are installed): each core's build must print exactly the host's lines;
   instructions per inference are collected per core (and its runtime code size);
3. `make size BOARD=<board>`: flash / RAM from arm-none-eabi-size, compared with the board's
   budgets (violations are reported as a list, not raised).
A mismatch or a failed build raises BuildError. The report names the compilers and QEMU it
used (`tools`); the project's lock does not, so the generated files never depend on them.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dnasgen.errors import BuildError
from dnasgen.io import sha256_file
from dnasgen.layout import LOCK_NAME

QEMU_BOARD = "qemu-mps2-an386"
_SCORES = re.compile(r"^scores:( -?\d+)+ class: \d+$")
TOOLCHAIN = ("make", "gcc", "arm-none-eabi-gcc", "qemu-system-arm")


@dataclass
class VerifyReport:
    project: str
    board: str
    vectors: int = 0
    host_ok: bool = False
    qemu_ran: bool = False
    qemu_match: bool | None = None
    instructions: list[int] = field(default_factory=list)            # first core (m4 by default)
    core_instructions: dict[str, list[int]] = field(default_factory=dict)
    core_code_bytes: dict[str, int] = field(default_factory=dict)      # runtime code on each core
    flash_bytes: int | None = None
    ram_bytes: int | None = None
    code_bytes: int | None = None
    arena_bytes: int | None = None
    flash_budget: int | None = None
    ram_budget: int | None = None
    latency_ms: float | None = None
    violations: list[str] = field(default_factory=list)
    edited_files: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    tools: dict[str, str] = field(default_factory=dict)    # `--version` of the toolchain used

    @property
    def ok(self) -> bool:
        return self.host_ok and self.qemu_match is not False and not self.violations

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


def toolchain_versions() -> dict[str, str]:
    """First line of `<tool> --version` for each TOOLCHAIN program installed here."""
    versions = {}
    for tool in TOOLCHAIN:
        if shutil.which(tool):
            out = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False).stdout
            versions[tool] = out.splitlines()[0].strip() if out.strip() else "unknown"
    return versions


def toolchain_available() -> bool:
    return all(shutil.which(t) for t in ("arm-none-eabi-gcc", "arm-none-eabi-size", "qemu-system-arm"))


def run_make(project: Path, *targets: str, timeout: float = 900) -> str:
    """`make <targets>` in the project; BuildError with the output tail on failure."""
    cmd = ["make", "--no-print-directory", "-C", str(project), *targets]
    # Own process group: on timeout make's children (a hung qemu-system-arm) are killed too.
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise BuildError(f"`{' '.join(cmd)}` timed out after {timeout:.0f} s") from exc
    if proc.returncode != 0:
        tail = "\n".join((stdout + stderr).splitlines()[-25:])
        raise BuildError(f"`make {' '.join(targets)}` failed in {project} (exit {proc.returncode}):\n{tail}")
    return stdout


def score_lines(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if _SCORES.match(line.strip())]


def parse_size(output: str) -> dict[str, int]:
    """The `flash:` / `ram:` / `code:` / `arena:` lines printed by `make size`."""
    found = dict(re.findall(r"^(flash|ram|code|arena): (\d+) bytes", output, re.M))
    missing = {"flash", "ram", "code", "arena"} - set(found)
    if missing:
        raise BuildError(f"`make size` printed no {', '.join(sorted(missing))} figure:\n{output}")
    return {k: int(v) for k, v in found.items()}


def read_lock(project: Path) -> dict:
    path = Path(project) / LOCK_NAME
    if not path.is_file():
        raise BuildError(f"{project} is not a generated project (no {LOCK_NAME})")
    try:
        lock = json.loads(path.read_text())
    except ValueError as exc:
        raise BuildError(f"{path} is not valid JSON ({exc}); regenerate the project") from exc
    if not isinstance(lock, dict):
        raise BuildError(f"{path} is not a {LOCK_NAME} object; regenerate the project")
    return lock


def edited_files(project: Path, lock: dict) -> list[str]:
    out = []
    for rel, digest in sorted((lock.get("files") or {}).items()):
        p = Path(project) / rel
        if not p.is_file() or sha256_file(p) != digest:
            out.append(rel)
    return out


def _host(project: Path, report: VerifyReport) -> list[str]:
    run_make(project, "host")
    try:
        out = run_make(project, "test")
    except BuildError as exc:
        raise BuildError(f"host outputs differ from the LiteRT reference:\n{exc}") from exc
    lines = score_lines(out)
    if not lines or "test: ok" not in out:
        raise BuildError(f"`make test` reported no passing vectors:\n{out}")
    report.vectors, report.host_ok = len(lines), True
    return lines


def qemu_run(project: Path, core: str = "m4", *make_args: str, timeout: float = 900) -> tuple[str, list[int]]:
    """`make qemu CORE=<core>`: its output and the instructions per inference it printed."""
    out = run_make(project, "qemu", f"CORE={core}", *make_args, timeout=timeout)
    return out, [int(n) for n in re.findall(r"^instructions: (\d+)$", out, re.M)]


def _qemu(project: Path, report: VerifyReport, host_lines: list[str], core: str) -> None:
    out, instructions = qemu_run(project, core)
    lines = score_lines(out)
    report.qemu_ran = True
    report.core_instructions[core] = instructions
    if not report.instructions:
        report.instructions = instructions
    report.qemu_match = lines == host_lines and "test: ok" in out
    if not report.qemu_match:
        raise BuildError(f"{core} (QEMU) outputs differ from the host build:\n"
                         f"host: {host_lines}\nqemu: {lines}")
    from dnasgen.codegen.qemu import qemu_target
    report.core_code_bytes[core] = parse_size(run_make(project, "size", f"BOARD={qemu_target(core).board_id}"))["code"]


def _board(board, lock: dict):
    from dnasgen.boards import get_board
    if board is None:
        board = lock.get("board") or QEMU_BOARD
    if isinstance(board, str):
        try:
            board = get_board(board)
        except KeyError as exc:
            raise BuildError(f"unknown board {board!r}") from exc
    return board


def _budgets(board, given: bool, lock: dict) -> tuple[int, int]:
    """The board's budgets; for the lock's own board, the spec's (reserves applied) from the lock."""
    saved = lock.get("board_budgets") or {}
    if not given and board.id == lock.get("board") and saved:
        return int(saved["flash_bytes"]), int(saved["ram_bytes"])
    return board.flash_budget_bytes, board.ram_budget_bytes


def _size(project: Path, report: VerifyReport, board, budgets: tuple[int, int]) -> None:
    target = board.id if (Path(project) / "ld" / f"{board.id}.ld").is_file() else QEMU_BOARD
    if target != board.id:
        report.skipped.append(f"size for {board.id}: no linker script (not a Cortex-M board); measured "
                              f"on {QEMU_BOARD}")
    sizes = parse_size(run_make(project, "size", f"BOARD={target}"))
    report.flash_bytes, report.ram_bytes = sizes["flash"], sizes["ram"]
    report.code_bytes, report.arena_bytes = sizes["code"], sizes["arena"]
    report.flash_budget, report.ram_budget = budgets
    if report.flash_bytes > report.flash_budget:
        report.violations.append(f"flash {report.flash_bytes} B > budget {report.flash_budget} B "
                                 f"on {board.id}")
    if report.ram_bytes > report.ram_budget:
        report.violations.append(f"RAM {report.ram_bytes} B > budget {report.ram_budget} B on {board.id}")


def _board_core_counts(report: VerifyReport, board) -> list[int]:
    """Instructions of the run on the board's own core when one was made, else of the first core."""
    from dnasgen.codegen.qemu import qemu_target
    for core, counts in report.core_instructions.items():
        if qemu_target(core).core == board.core:
            return counts
    return report.instructions


def _check_cores(cores) -> tuple[str, ...]:
    from dnasgen.codegen.qemu import QEMU_CORES
    cores = tuple(cores)
    unknown = [c for c in cores if c not in QEMU_CORES]
    if unknown or not cores:
        raise BuildError(f"unknown QEMU core {', '.join(unknown) or '(none given)'}; one of: {', '.join(QEMU_CORES)}")
    return cores


def verify_project(project_dir, board=None, max_latency_ms: float | None = None, cores=("m4",)) -> VerifyReport:
    """Build and check a generated project (see module docstring); BuildError on any mismatch.

    cores: the QEMU cores to run the vectors on (dnasgen.codegen.qemu.QEMU_CORES); the latency
    figure comes from the first."""
    project, cores = Path(project_dir), _check_cores(cores)
    lock = read_lock(project)
    budgets = _budgets(_board(board, lock), board is not None, lock)
    board = _board(board, lock)
    report = VerifyReport(str(project), board.id, edited_files=edited_files(project, lock),
                          tools=toolchain_versions())
    host_lines = _host(project, report)
    if not toolchain_available():
        report.skipped.append("qemu and size: arm-none-eabi-gcc / qemu-system-arm not installed")
        return report
    for core in cores:
        _qemu(project, report, host_lines, core)
    report.instructions = _board_core_counts(report, board)
    _size(project, report, board, budgets)
    if report.instructions and board.is_cortex_m:
        from dnasgen.cost.latency import cycles_ms
        cpi = cycles_per_instruction(board.core)
        report.latency_ms = cycles_ms(max(report.instructions) * cpi, board.clock_mhz)
        if max_latency_ms is not None and report.latency_ms > max_latency_ms:
            report.violations.append(f"latency {report.latency_ms:.1f} ms (QEMU instructions x {cpi:g} cycles/"
                                     f"instruction at {board.clock_mhz:g} MHz) > limit {max_latency_ms:g} ms")
    return report


def cycles_per_instruction(core: str) -> float:
    """The cycles per QEMU-counted instruction assumed for a core (dnasgen/cost/latency.yaml; 1 if none)."""
    from dnasgen.cost import latency_table
    return float(latency_table()["cores"].get(core, {}).get("cycles_per_instruction", 1.0))


def format_report(report: VerifyReport) -> str:
    lines = [f"{report.project}: {'ok' if report.ok else 'FAILED'} (board {report.board})",
             f"  host: {report.vectors} vectors bit-exact with the LiteRT reference"]
    for core, counts in report.core_instructions.items():
        instr = ", ".join(f"{n:,}" for n in counts)
        code = report.core_code_bytes.get(core)
        lines.append(f"  qemu ({core}): outputs match; instructions per inference: {instr}"
                     + (f"; runtime code {code:,} B" if code is not None else ""))
    if report.qemu_match is False:
        lines.append("  qemu: outputs DIFFER")
    if report.flash_bytes is not None:
        lines.append(f"  flash {report.flash_bytes:,} / {report.flash_budget:,} B, RAM {report.ram_bytes:,} / "
                     f"{report.ram_budget:,} B (arena {report.arena_bytes:,} B, code {report.code_bytes:,} B)")
    if report.latency_ms is not None:
        lines.append(f"  latency ~{report.latency_ms:.1f} ms (QEMU instruction count x the core's cycles per "
                     "instruction, at the board clock)")
    lines += [f"  violation: {v}" for v in report.violations]
    lines += [f"  edited by hand: {f}" for f in report.edited_files]
    lines += [f"  skipped: {s}" for s in report.skipped]
    if report.tools:
        lines.append("  toolchain: " + "; ".join(report.tools.values()))
    return "\n".join(lines)
