"""The cost model: MACs, params, flash, RAM (THE memory planner) and latency of a candidate.

Board-independent figures (graph, arena, flash, sensor-independent RAM) are cached per
(candidate, classes, head); latency (terms: dnasgen.cost.latency) depends only on the board's core and clock, budgets on
the board, the preprocessing code and buffer on the sensor's pixel format. Coefficients live in the
data files latency.yaml (calibrated on QEMU) and footprint.yaml (calibrated on
arm-none-eabi-size; formulas in dnasgen.cost.footprint) next to this module.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache, partial

from dnasgen.candidate import Candidate
from dnasgen.cost.footprint import (code_flash_bytes, data_file, op_flash_bytes, patch_flash_bytes,
                                    preprocess_code_bytes,
                                    preprocess_planes, preprocess_ram_bytes, static_ram_bytes)
from dnasgen.cost.inplace import DEFAULT_MEMORY, check_mode, graph_window_ops
from dnasgen.cost.latency import cycles_ms, op_cycles
from dnasgen.cost.memory import MemoryPlan, graph_schedule, plan_graph
from dnasgen.cost.patch import PatchStage, best_plan, buffer, describe, patch_op, patch_stage, stage_grids
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
    grids: tuple[tuple[int, int], ...] = ()  # export.memory patch: the (n, ops) stages to choose from
    memo: dict = field(default_factory=dict, compare=False, repr=False)  # cycles / plans by core and budget
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


def graph_cost_of(graph: Graph, memory: str = DEFAULT_MEMORY) -> GraphCost:
    """Costs of an already-built graph (no caching) in a memory mode (dnasgen.cost.inplace); patch:
    the in-place plan and the patch stages, planned when a budget chooses (choose_plan)."""
    plan = plan_graph(graph, mode="inplace" if memory == "patch" else memory)
    grids = stage_grids(graph_window_ops(graph), (graph.output,)) if memory == "patch" else ()
    return GraphCost(graph, plan, graph.macs, graph.params,
                     tuple(op_flash_bytes(op) for op in graph.ops), code_flash_bytes(graph),
                     static_ram_bytes(graph), tuple(grids))


@lru_cache(maxsize=1024)   # ~32 KB per entry (graph + plan)
def graph_cost(candidate: Candidate, num_classes: int, head_channels: int,
               memory: str = DEFAULT_MEMORY) -> GraphCost:
    """Cached board-independent costs of a candidate."""
    return graph_cost_of(build_graph(candidate, num_classes, head_channels), memory)


def _stage_cycles(gc: GraphCost, core: str, stage: PatchStage) -> tuple[float, ...]:
    """Cycles of each patched op over all patches (the latency model's terms of each patch's
    geometry: the halo recomputation), one evaluation per distinct geometry."""
    key = (core, stage.n, stage.ops)
    if key not in gc.memo:
        coeffs = core_coefficients(core)
        gc.memo[key] = tuple(_op_patch_cycles(op, k, stage, coeffs) for k, op in enumerate(gc.graph.ops[:stage.ops]))
    return gc.memo[key]


def _op_patch_cycles(op, k: int, stage: PatchStage, coeffs: dict) -> float:
    return sum(n * op_cycles(patch_op(op, w), coeffs) for w, n in stage.window_counts(k))


_CYCLES: dict[int, tuple[dict, dict]] = {}     # id(core coefficients) -> (them, {op geometry: cycles})


def op_geometry(op) -> tuple:
    """What an op's latency terms depend on (dnasgen.cost.latency.op_terms): kind, shapes, kernel,
    stride, padding; not its name or tensors."""
    return op.kind, op.in_shape, op.out_shape, op.kernel, op.stride, op.pad


def graph_cycles(graph: Graph, core: str) -> tuple[float, ...]:
    """Cycles of each op of the graph run layer by layer on a core (the latency model's terms).
    Memoised per op geometry and coefficient table (the same floats as op_cycles; a search's
    candidates share most layers; a reloaded table starts a new memo)."""
    coeffs = core_coefficients(core)
    memo = _CYCLES.setdefault(id(coeffs), (coeffs, {}))[1]      # coeffs held: its id stays unique
    out = []
    for op in graph.ops:
        geometry = op_geometry(op)
        if geometry not in memo:
            memo[geometry] = op_cycles(op, coeffs)
        out.append(memo[geometry])
    return tuple(out)


def latency_cycles(gc: GraphCost, core: str, stage: PatchStage | None = None) -> tuple[float, ...]:
    """Cycles per op of the graph, run layer by layer or with a patch stage."""
    if core not in gc.memo:
        gc.memo[core] = graph_cycles(gc.graph, core)
    cycles = gc.memo[core]
    return cycles if stage is None else _stage_cycles(gc, core, stage) + cycles[stage.ops:]


def _stage(gc: GraphCost, grid: tuple[int, int]) -> PatchStage:
    key = ("stage", grid)
    if key not in gc.memo:
        gc.memo[key] = patch_stage(graph_window_ops(gc.graph), grid[1], grid[0])
    return gc.memo[key]


def choose_plan(gc: GraphCost, core: str, clock_mhz: float,
                max_latency_ms: float | None) -> tuple[MemoryPlan, tuple[float, ...]]:
    """The smallest-arena plan among the in-place one and the patch stages whose latency meets the
    budget (dnasgen.cost.patch.best_plan); without stages, the graph's plan. A patch stage never
    makes an op faster (every latency term grows with the patches, coefficients are >= 0), so
    over the budget without patches means no patches."""
    def fits(stage):
        return max_latency_ms is None or cycles_ms(sum(latency_cycles(gc, core, stage)), clock_mhz) <= max_latency_ms
    if not gc.grids or not fits(None):
        return gc.plan, latency_cycles(gc, core)
    key = ("plan", core, clock_mhz, max_latency_ms)
    if key not in gc.memo:
        sizes, schedule = graph_schedule(gc.graph)
        gc.memo[key] = best_plan(sizes, schedule, graph_window_ops(gc.graph), (gc.graph.output,), base=gc.plan,
                                 admit=fits, stage_of=lambda grid: _stage(gc, grid))
    plan = gc.memo[key]
    return plan, latency_cycles(gc, core, plan.patch)


def _op_macs(gc: GraphCost, plan: MemoryPlan, k: int) -> int:
    op, stage = gc.graph.ops[k], plan.patch
    if stage is None or k >= stage.ops:
        return op.macs
    return sum(n * patch_op(op, w).macs for w, n in stage.window_counts(k))


def op_rows(gc: GraphCost, plan: MemoryPlan, cycles: tuple[float, ...], clock_mhz: float) -> tuple[OpCost, ...]:
    """The per-op breakdown (for reports); a patch stage's ops: MACs and cycles of all patches,
    the bytes and offset of their patch buffer (the last one: of the split tensor)."""
    stage = plan.patch
    grid = f"{stage.n}x{stage.n}" if stage else ""
    rows = []
    for k, (op, fl, cyc) in enumerate(zip(gc.graph.ops, gc.op_flash, cycles)):
        patched = stage is not None and k < stage.ops
        tensor = buffer(op.output) if patched and k < stage.ops - 1 else op.output
        rows.append(OpCost(op.name, op.kind, _op_macs(gc, plan, k), op.params, fl, plan.sizes[tensor],
                           plan.offsets[tensor], cyc, cycles_ms(cyc, clock_mhz), op.output in plan.overlaps,
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
    latency_ms = cycles_ms(sum(cycles), board.clock_mhz)
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
