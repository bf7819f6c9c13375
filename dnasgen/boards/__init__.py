"""Board catalogue (a data file) and the Board type."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

CORTEX_M_CORES = ("cortex-m0plus", "cortex-m4", "cortex-m7")


@dataclass(frozen=True)
class Board:
    id: str
    name: str
    core: str
    clock_mhz: float
    ram_kb: float
    flash_kb: float
    reserve_ram_kb: float = 0.0
    reserve_flash_kb: float = 0.0
    mcu: str = ""
    flash_origin: int | None = None
    ram_origin: int | None = None
    source: str = ""

    @property
    def ram_budget_bytes(self) -> int:
        """Bytes the model may use for its tensor arena (RAM minus the application reserve)."""
        return int((self.ram_kb - self.reserve_ram_kb) * 1024)

    @property
    def flash_budget_bytes(self) -> int:
        return int((self.flash_kb - self.reserve_flash_kb) * 1024)

    @property
    def is_cortex_m(self) -> bool:
        return self.core in CORTEX_M_CORES


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict]:
    """Raw catalogue entries keyed by board id."""
    from ruamel.yaml import YAML
    text = resources.files("dnasgen.boards").joinpath("catalogue.yaml").read_text()
    return {k: dict(v) for k, v in YAML(typ="safe").load(text).items()}


def board_ids() -> list[str]:
    return sorted(catalogue())


def get_board(board_id: str, **overrides) -> Board:
    """A catalogue board, optionally with overridden fields (e.g. reserve_ram_kb)."""
    entry = dict(catalogue()[board_id])
    entry.update({k: v for k, v in overrides.items() if v is not None})
    return Board(id=board_id, **entry)


def format_boards() -> str:
    """A plain-text table of the catalogue (id, core, clock, RAM, flash)."""
    rows = [("id", "core", "MHz", "RAM KB", "flash KB", "MCU")]
    for bid in board_ids():
        b = get_board(bid)
        rows.append((b.id, b.core, f"{b.clock_mhz:g}", f"{b.ram_kb:g}", f"{b.flash_kb:g}", b.mcu))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)
