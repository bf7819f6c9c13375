"""The cost model: MACs, params, flash, RAM (THE memory planner) and latency of a candidate.

Board-independent figures (graph, arena, flash) are cached per (candidate, classes, head);
latency depends only on the board's core and clock, budgets on the board. Coefficients
live in the data files latency.yaml and footprint.yaml next to this module (estimates
until calibrated on QEMU / arm-none-eabi-size by the firmware engineer).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial
from importlib import resources

from dnasgen.candidate import Candidate
from dnasgen.cost.memory import MemoryPlan, plan_graph
from dnasgen.cost.report import CostReport, OpCost, budget_violations
from dnasgen.errors import DnasgenError
from dnasgen.graph import Graph, Op, build_graph


@lru_cache(maxsize=None)
def _data_file(name: str) -> dict:
    from ruamel.yaml import YAML
    text = resources.files("dnasgen.cost").joinpath(name).read_text()
    return YAML(typ="safe").load(text)


def footprint_table() -> dict:
    """The flash/RAM footprint coefficients (footprint.yaml)."""
    return _data_file("footprint.yaml")


def latency_table() -> dict:
    """The latency coefficients per core (latency.yaml)."""
    return _data_file("latency.yaml")


def core_coefficients(core: str) -> dict:
    cores = latency_table()["cores"]
    if core not in cores:
        raise DnasgenError(f"no latency coefficients for core {core!r}; "
                           f"dnasgen/cost/latency.yaml knows {sorted(cores)}")
    return cores[core]


def _padded(nbytes: int, alignment: int) -> int:
    return -(-nbytes // alignment) * alignment if nbytes else 0


def op_flash_bytes(op: Op) -> int:
    """Constant data one op puts in flash: weights, biases, requantisation data, descriptor."""
    fl = footprint_table()["flash"]
    align = fl["array_alignment"]
    requant = fl["requant_bytes_per_tensor"].get(op.kind, 0)
    if op.kind in ("conv", "dwconv"):
        requant += fl["requant_bytes_per_channel"] * op.out_shape[2]
    return (_padded(op.weights * fl["weight_bytes"], align) + _padded(op.biases * fl["bias_bytes"], align)
            + _padded(requant, align) + fl["op_descriptor_bytes"])


def op_cycles(op: Op, coeffs: dict) -> float:
    """Estimated cycles of one op on a core (see latency.yaml for the formula)."""
    kind = coeffs["kinds"][op.kind]
    shape = op.in_shape if op.kind == "mean" else op.out_shape
    elements = shape[0] * shape[1] * shape[2]
    return coeffs["overhead_cycles"] + kind["cycles_per_mac"] * op.macs + kind["cycles_per_element"] * elements


@dataclass(frozen=True)
class GraphCost:
    """Board-independent costs of one candidate's graph."""
    graph: Graph
    plan: MemoryPlan
    macs: int
    params: int
    op_flash: tuple[int, ...]  # per op: weights, biases, requantisation data, descriptor
    code_flash_bytes: int      # kernels (once per distinct kind) + runtime
    ram_overhead_bytes: int    # stack + runtime state

    @property
    def model_flash_bytes(self) -> int:
        return sum(self.op_flash)

    @property
    def flash_bytes(self) -> int:
        return self.model_flash_bytes + self.code_flash_bytes

    @property
    def ram_bytes(self) -> int:
        return self.plan.arena_bytes + self.ram_overhead_bytes

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted({op.kind for op in self.graph.ops}))


def graph_cost_of(graph: Graph) -> GraphCost:
    """Costs of an already-built graph (no caching)."""
    table = footprint_table()
    code = sum(table["flash"]["kernel_code_bytes"][k] for k in {op.kind for op in graph.ops})
    ram = table["ram"]
    return GraphCost(graph, plan_graph(graph), graph.macs, graph.params,
                     tuple(op_flash_bytes(op) for op in graph.ops),
                     code + table["flash"]["runtime_code_bytes"],
                     ram["stack_bytes"] + ram["runtime_bytes"])


@lru_cache(maxsize=1024)   # ~32 KB per entry (graph + plan)
def graph_cost(candidate: Candidate, num_classes: int, head_channels: int) -> GraphCost:
    """Cached board-independent costs of a candidate."""
    return graph_cost_of(build_graph(candidate, num_classes, head_channels))


def latency_cycles(gc: GraphCost, core: str) -> tuple[float, ...]:
    coeffs = core_coefficients(core)
    return tuple(op_cycles(op, coeffs) for op in gc.graph.ops)


def op_rows(gc: GraphCost, cycles: tuple[float, ...], clock_mhz: float) -> tuple[OpCost, ...]:
    """The per-op breakdown (for reports)."""
    return tuple(OpCost(op.name, op.kind, op.macs, op.params, fl, gc.graph.tensor_bytes(op.output),
                        gc.plan.offsets[op.output], cyc, cyc / (clock_mhz * 1000.0))
                 for op, fl, cyc in zip(gc.graph.ops, gc.op_flash, cycles))


def estimate(candidate: Candidate, board, num_classes: int, head_channels: int,
             max_latency_ms: float | None = None) -> CostReport:
    """Price one candidate on a board; violations list every budget it exceeds."""
    gc = graph_cost(candidate, int(num_classes), int(head_channels))
    cycles = latency_cycles(gc, board.core)
    latency_ms = sum(cycles) / (board.clock_mhz * 1000.0)
    violations = budget_violations(gc.ram_bytes, board.ram_budget_bytes, gc.flash_bytes,
                                   board.flash_budget_bytes, latency_ms, max_latency_ms)
    return CostReport(
        macs=gc.macs, params=gc.params, flash_bytes=gc.flash_bytes, ram_bytes=gc.ram_bytes,
        latency_ms=latency_ms, fits=not violations, violations=tuple(violations),
        arena_bytes=gc.plan.arena_bytes, ram_overhead_bytes=gc.ram_overhead_bytes,
        model_flash_bytes=gc.model_flash_bytes, code_flash_bytes=gc.code_flash_bytes,
        board_id=board.id, core=board.core, clock_mhz=board.clock_mhz,
        ram_budget_bytes=board.ram_budget_bytes, flash_budget_bytes=board.flash_budget_bytes,
        max_latency_ms=max_latency_ms, latency_calibrated=bool(core_coefficients(board.core)["calibrated"]),
        breakdown=partial(op_rows, gc, cycles, board.clock_mhz))


def estimate_spec(spec, candidate: Candidate) -> CostReport:
    """estimate() with the spec's board, classes, head channels and latency constraint."""
    return estimate(candidate, spec.board, spec.num_classes, spec.space.head_channels,
                    spec.constraints.max_latency_ms)
