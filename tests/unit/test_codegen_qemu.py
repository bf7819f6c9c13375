"""QEMU targets per core: SysTick scale, memory maps, build flags and linker scripts."""
from __future__ import annotations

from fractions import Fraction

from dnasgen.codegen.context import CPU_FLAGS, link_boards
from dnasgen.codegen.qemu import QEMU_CORES, instr_per_tick, qemu_target
from dnasgen.codegen.cgen import BANNER
from dnasgen.codegen.render import Renderer, template_root


def test_tick_scale_per_machine_clock():
    assert instr_per_tick(25) == 40 and instr_per_tick(20) == 50
    assert instr_per_tick(32) == Fraction(125, 4)


def test_every_core_has_a_link_target_with_its_own_map():
    boards = {b.id: b for b in link_boards()}
    assert QEMU_CORES == ("m0plus", "m3", "m4", "m7", "m33", "m55")
    for core in QEMU_CORES:
        t = qemu_target(core)
        b = boards[t.board_id]
        assert b.machine == t.machine and b.core == t.core and b.core in CPU_FLAGS
    m4, m33, m55 = (boards[qemu_target(c).board_id] for c in ("m4", "m33", "m55"))
    assert (m4.flash_origin, m4.ram_origin, m4.instr_per_tick, m4.tick_div) == ("0x0", "0x20000000", 40, 1)
    assert (m33.flash_origin, m33.ram_origin, m33.instr_per_tick) == ("0x10000000", "0x38000000", 50)
    assert (m55.flash_origin, m55.rodata_origin, m55.ram_origin) == ("0x10000000", "0x11000000", "0x31000000")
    assert (m55.instr_per_tick, m55.tick_div) == (125, 4)
    assert "-mcpu=cortex-m0plus" in boards["qemu-mps2-an385-m0plus"].cpu_flags
    assert "-mfloat-abi=soft" in boards["qemu-mps2-an385"].cpu_flags
    assert boards["nucleo-f412zg"].machine == "" and boards["nucleo-f412zg"].instr_per_tick == 1


def _linker_script(tmp_path, board) -> str:
    Renderer(template_root(), tmp_path).render("board.ld.jinja", "x.ld", {"banner": BANNER, "board": board})
    return (tmp_path / "x.ld").read_text()


def test_the_m55_keeps_read_only_data_out_of_its_itcm(tmp_path):
    boards = {b.id: b for b in link_boards()}
    m55 = _linker_script(tmp_path, boards["qemu-mps3-an547"])
    assert "RODATA (r)  : ORIGIN = 0x11000000, LENGTH = 2097152" in m55
    assert ".rodata : { *(.rodata*) . = ALIGN(4); } > RODATA" in m55
    m4 = _linker_script(tmp_path, boards["qemu-mps2-an386"])
    assert "RODATA" not in m4 and ".text : { *(.text*) *(.rodata*) . = ALIGN(4); } > FLASH" in m4
