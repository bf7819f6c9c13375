"""The cost model: MACs, params, flash, RAM (THE memory planner) and latency of a candidate.

Board-independent figures (graph, arena, flash, sensor-independent RAM) are cached per
(candidate, classes, head); latency (terms: dnasgen.cost.latency) depends only on the board's core and clock, budgets on
the board, the preprocessing code and buffer on the sensor's pixel format. Coefficients live in the
data files latency.yaml (calibrated on QEMU) and footprint.yaml (calibrated on
arm-none-eabi-size; formulas in dnasgen.cost.footprint) next to this module.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial

from dnasgen.candidate import Candidate
from dnasgen.cost.footprint import (code_flash_bytes, data_file, op_flash_bytes, patch_flash_bytes,
                                    preprocess_code_bytes,
                                    preprocess_planes, preprocess_ram_bytes, static_ram_bytes)
from dnasgen.cost.inplace import DEFAULT_MEMORY, check_mode, graph_window_ops
from dnasgen.cost.latency import op_cycles
from dnasgen.cost.memory import MemoryPlan, graph_schedule, plan_graph
from dnasgen.cost.patch import buffer, describe, patch_op, patch_plans
from dnasgen.cost.report import CostReport, OpCost, budget_violations
from dnasgen.errors import DnasgenError
from dnasgen.graph import Graph, build_graph


def latency_table() -> dict:
    """The latency coefficients per core (latency.yaml)."""
    return data_file("latency.yaml")


def core_coefficients(core: str) -> dict:
    cores = latency_table()["cores"]
    if core not in cores:
        raise DnasgenError(f"no latency coefficients for core {core!r}; "
                           f"dnasgen/cost/latency.yaml knows {sorted(cores)}")
    return cores[core]


@dataclass(frozen=True)
class GraphCost:
    """Board-independent costs of one candidate's graph."""
    graph: Graph
    plan: MemoryPlan
    macs: int
    params: int
    op_flash: tuple[int, ...]  # per op: weights, biases, requantisation arrays, descriptor, call
    code_flash_bytes: int      # kernels (once per distinct kind / depthwise size) + runtime + tables
    ram_overhead_bytes: int    # stack + static state + DSP scratch
    plans: tuple[MemoryPlan, ...] = ()   # export.memory patch: every plan, smallest arena first
    # The sensor-dependent parts (preprocessing code and buffer) are added per sensor format
    # (None: an unknown sensor, the largest figures).

    @property
    def model_flash_bytes(self) -> int:
        return sum(self.op_flash)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return self.graph.tensors[self.graph.input]

    @property
    def flash_bytes(self) -> int:
        """Flash for an unknown sensor (the largest preprocessing code)."""
        return self.flash_bytes_for(None)

    @property
    def ram_bytes(self) -> int:
        """RAM for an unknown sensor (the 3-plane preprocessing buffer)."""
        return self.ram_bytes_for(None)

    def flash_bytes_for(self, sensor_format: str | None) -> int:
        """Model data + code, the preprocessing code for that sensor format included."""
        return self.model_flash_bytes + self.code_flash_bytes + preprocess_code_bytes(
            sensor_format, self.input_shape[2])

    def ram_bytes_for(self, sensor_format: str | None, plan: MemoryPlan | None = None) -> int:
        """Arena (of `plan`, default the cheapest) + overheads + the preprocessing buffer for that
        sensor format."""
        res, _, channels = self.input_shape
        return ((plan or self.plan).arena_bytes + self.ram_overhead_bytes
                + preprocess_ram_bytes(res, preprocess_planes(sensor_format, channels)))

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted({op.kind for op in self.graph.ops}))


def graph_plans(graph: Graph, memory: str) -> tuple[MemoryPlan, ...]:
    """The plans a memory mode chooses from: one, or (patch) every patch stage and none."""
    if memory != "patch":
        return (plan_graph(graph, mode=memory),)
    sizes, schedule = graph_schedule(graph)
    return tuple(patch_plans(sizes, schedule, graph_window_ops(graph), (graph.output,)))


def graph_cost_of(graph: Graph, memory: str = DEFAULT_MEMORY) -> GraphCost:
    """Costs of an already-built graph (no caching) in a memory mode (dnasgen.cost.inplace)."""
    plans = graph_plans(graph, memory)
    return GraphCost(graph, plans[0], graph.macs, graph.params,
                     tuple(op_flash_bytes(op) for op in graph.ops), code_flash_bytes(graph),
                     static_ram_bytes(graph), plans)


@lru_cache(maxsize=1024)   # ~32 KB per entry (graph + plan)
def graph_cost(candidate: Candidate, num_classes: int, head_channels: int,
               memory: str = DEFAULT_MEMORY) -> GraphCost:
    """Cached board-independent costs of a candidate."""
    return graph_cost_of(build_graph(candidate, num_classes, head_channels), memory)


def latency_cycles(gc: GraphCost, core: str, plan: MemoryPlan | None = None) -> tuple[float, ...]:
    """Cycles per op of the graph as `plan` runs it: an op of a patch stage costs the sum of its
    patches' (the latency model's terms of each patch's geometry: the halo recomputation)."""
    coeffs = core_coefficients(core)
    cycles = [op_cycles(op, coeffs) for op in gc.graph.ops]
    stage = (plan or gc.plan).patch
    for k in range(stage.ops if stage else 0):
        cycles[k] = sum(op_cycles(patch_op(gc.graph.ops[k], w[k]), coeffs) for w in stage.windows)
    return tuple(cycles)


def choose_plan(gc: GraphCost, core: str, clock_mhz: float,
                max_latency_ms: float | None) -> tuple[MemoryPlan, tuple[float, ...]]:
    """The smallest-arena plan whose latency meets the budget (none does: the fastest)."""
    fastest = None
    for plan in gc.plans or (gc.plan,):
        cycles = latency_cycles(gc, core, plan)
        if max_latency_ms is None or sum(cycles) / (clock_mhz * 1000.0) <= max_latency_ms:
            return plan, cycles
        if fastest is None or sum(cycles) < sum(fastest[1]):
            fastest = (plan, cycles)
    return fastest


def _op_macs(gc: GraphCost, plan: MemoryPlan, k: int) -> int:
    op, stage = gc.graph.ops[k], plan.patch
    if stage is None or k >= stage.ops:
        return op.macs
    return sum(patch_op(op, w[k]).macs for w in stage.windows)


def op_rows(gc: GraphCost, plan: MemoryPlan, cycles: tuple[float, ...], clock_mhz: float) -> tuple[OpCost, ...]:
    """The per-op breakdown (for reports); a patch stage's ops: MACs and cycles of all patches,
    the offset of their patch buffer."""
    stage = plan.patch
    grid = f"{stage.n}x{stage.n}" if stage else ""
    rows = []
    for k, (op, fl, cyc) in enumerate(zip(gc.graph.ops, gc.op_flash, cycles)):
        patched = stage is not None and k < stage.ops
        offset = plan.offsets[buffer(op.output) if patched and k < stage.ops - 1 else op.output]
        rows.append(OpCost(op.name, op.kind, _op_macs(gc, plan, k), op.params, fl, gc.graph.tensor_bytes(op.output),
                           offset, cyc, cyc / (clock_mhz * 1000.0), op.output in plan.overlaps,
                           grid if patched else ""))
    return tuple(rows)


def estimate(candidate: Candidate, board, num_classes: int, head_channels: int,
             max_latency_ms: float | None = None, *, sensor_format: str | None = None,
             memory: str = DEFAULT_MEMORY) -> CostReport:
    """Price one candidate on a board; violations list every budget it exceeds.

    sensor_format (the spec's sensor pixel format) sizes the preprocessing code (flash) and
    buffer (RAM); None (unknown sensor) takes the largest of each. memory: the arena schedule
    (spec export.memory, dnasgen.cost.inplace.MEMORY_MODES).
    """
    gc = graph_cost(candidate, int(num_classes), int(head_channels), check_mode(memory))
    plan, cycles = choose_plan(gc, board.core, board.clock_mhz, max_latency_ms)
    latency_ms = sum(cycles) / (board.clock_mhz * 1000.0)
    ram = gc.ram_bytes_for(sensor_format, plan)
    flash = gc.flash_bytes_for(sensor_format) + patch_flash_bytes(plan.patch, gc.graph)
    violations = budget_violations(ram, board.ram_budget_bytes, flash, board.flash_budget_bytes,
                                   latency_ms, max_latency_ms)
    return CostReport(
        macs=gc.macs, params=gc.params, flash_bytes=flash, ram_bytes=ram,
        latency_ms=latency_ms, violations=tuple(violations), arena_bytes=plan.arena_bytes,
        model_flash_bytes=gc.model_flash_bytes,
        board_id=board.id, core=board.core, clock_mhz=board.clock_mhz,
        ram_budget_bytes=board.ram_budget_bytes, flash_budget_bytes=board.flash_budget_bytes,
        max_latency_ms=max_latency_ms, latency_calibrated=bool(core_coefficients(board.core)["calibrated"]),
        memory=memory, patch=describe(plan.patch, graph_window_ops(gc.graph)) if plan.patch else "",
        patch_grid=(plan.patch.n, plan.patch.ops) if plan.patch else None,
        breakdown=partial(op_rows, gc, plan, cycles, board.clock_mhz))


def estimate_spec(spec, candidate: Candidate) -> CostReport:
    """estimate() with the spec's board, classes, head channels, latency constraint, sensor and
    memory mode."""
    return estimate(candidate, spec.board, spec.num_classes, spec.space.head_channels,
                    spec.constraints.max_latency_ms, sensor_format=spec.sensor.pixel_format,
                    memory=spec.export.memory)
