"""QEMU targets of the generated project: one emulated machine per Cortex-M core (`make qemu CORE=`).

Memory maps read from QEMU 7.2 (`info mtree` of each machine):
- mps2-an385 / an386 / an500 (Cortex-M3 / M4 / M7, 25 MHz): 4 MB SSRAM1 at 0x0 (code), 4 MB
  SSRAM2/3 at 0x20000000 (data). The Cortex-M0+ build (ARMv6-M code) runs on the an385's M3:
  QEMU has no M0+ MPS2 image, and ARMv6-M code is a subset of ARMv7-M.
- mps2-an505 (Cortex-M33, SSE-200, 20 MHz): boots Secure with VTOR 0x10000000; 4 MB SSRAM1 at
  0x10000000 (Secure alias of 0x0), 4 MB SSRAM2/3 at 0x38000000 (Secure alias of 0x28000000).
- mps3-an547 (Cortex-M55, SSE-300, 32 MHz): boots Secure with VTOR 0x10000000; 512 KB ITCM at
  0x10000000 (vectors + code), 2 MB SRAM at 0x11000000 (read-only data: weights), 4 MB ISRAM at
  0x31000000 (data).
Under `-icount shift=0` one instruction is 1 ns of virtual time and SysTick counts the machine's
core clock, so one tick is 1000 / MHz instructions: 40 (25 MHz), 50 (20 MHz), 31.25 (32 MHz, as
the fraction 125 / 4).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

ICOUNT_SHIFT = 0
M4_BOARD_ID = "qemu-mps2-an386"       # the catalogue board behind `make qemu` (CORE=m4)
_MB = 1024 * 1024


@dataclass(frozen=True)
class QemuTarget:
    core_key: str            # CORE=<core_key>
    board_id: str            # build/<board_id>/, ld/<board_id>.ld
    machine: str             # qemu-system-arm -M
    core: str                # gcc -mcpu core
    clock_mhz: int
    flash: tuple[int, int]   # origin, bytes (vectors + code, + read-only data unless rodata)
    ram: tuple[int, int]
    rodata: tuple[int, int] | None = None

    @property
    def name(self) -> str:
        return f"QEMU {self.machine} ({self.core}, emulated)"


_SSRAM = ((0x0, 4 * _MB), (0x20000000, 4 * _MB))
QEMU_TARGETS = (
    QemuTarget("m0plus", "qemu-mps2-an385-m0plus", "mps2-an385", "cortex-m0plus", 25, *_SSRAM),
    QemuTarget("m3", "qemu-mps2-an385", "mps2-an385", "cortex-m3", 25, *_SSRAM),
    QemuTarget("m4", M4_BOARD_ID, "mps2-an386", "cortex-m4", 25, *_SSRAM),
    QemuTarget("m7", "qemu-mps2-an500", "mps2-an500", "cortex-m7", 25, *_SSRAM),
    QemuTarget("m33", "qemu-mps2-an505", "mps2-an505", "cortex-m33", 20, (0x10000000, 4 * _MB),
               (0x38000000, 4 * _MB)),
    QemuTarget("m55", "qemu-mps3-an547", "mps3-an547", "cortex-m55", 32, (0x10000000, 512 * 1024),
               (0x31000000, 4 * _MB), (0x11000000, 2 * _MB)),
)
QEMU_CORES = tuple(t.core_key for t in QEMU_TARGETS)


def qemu_target(core_key: str) -> QemuTarget:
    for t in QEMU_TARGETS:
        if t.core_key == core_key:
            return t
    raise KeyError(core_key)


def instr_per_tick(clock_mhz: float) -> Fraction:
    """Instructions per SysTick tick under -icount shift=ICOUNT_SHIFT (1000 / MHz / 2^shift)."""
    return Fraction(1000) / Fraction(clock_mhz).limit_denominator(1000) / 2 ** ICOUNT_SHIFT
