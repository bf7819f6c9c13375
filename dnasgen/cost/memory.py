"""THE memory planner: one tensor arena, offsets for every activation tensor.

Used by the cost model (so the search's RAM figure is the firmware's arena) and by
codegen (with the tensors/ops it lowers from the .tflite).

Lifetimes over the op schedule (step i = the i-th op):
  * a tensor is live from the op that produces it to the last op that reads it;
  * a tensor no op produces (the graph input) is live from step 0;
  * a tensor no op reads (the graph output), or named in `keep`, is live to the end;
  * a tensor in `tensor_bytes` that the schedule never mentions is live for the whole run.
An op's inputs and its output are live together (no in-place reuse).

Placement is greedy like TFLM's GreedyMemoryPlanner: take the tensors in a fixed order,
put each at the lowest aligned offset where it overlaps no already-placed tensor whose
lifetime intersects its own. Three orderings are tried and the smallest arena is kept
(ties keep the earlier one): largest first (TFLM); longest-lived first, then largest
(places residual skip tensors before the short-lived expand/dw tensors around them, and
reaches the live-set lower bound on ~99 % of random MobileNetV2 candidates); first use,
then largest. An ordering that reaches the lower bound (the largest live set) ends the
search early. Deterministic: ties within an ordering are broken by tensor name.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from dnasgen.abi import ARENA_ALIGNMENT

Schedule = list[tuple[tuple[str, ...], str]]


def _align(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


@dataclass(frozen=True)
class MemoryPlan:
    offsets: dict[str, int]
    arena_bytes: int
    alignment: int = ARENA_ALIGNMENT
    sizes: dict[str, int] = field(default_factory=dict)          # bytes as given
    lifetimes: dict[str, tuple[int, int]] = field(default_factory=dict)  # first, last step
    strategy: str = "size"

    @property
    def steps(self) -> int:
        return 1 + max((last for _, last in self.lifetimes.values()), default=-1)

    def live_at(self, step: int) -> list[str]:
        """Tensors live during op `step`."""
        return sorted(n for n, (a, b) in self.lifetimes.items() if a <= step <= b)

    @property
    def peak_live_bytes(self) -> int:
        """Largest sum of (aligned) live tensor sizes over all steps: a lower bound of the arena."""
        aligned = {n: _align(b, self.alignment) for n, b in self.sizes.items()}
        return live_lower_bound(aligned, self.lifetimes)

    def to_dict(self) -> dict:
        return {"arena_bytes": self.arena_bytes, "alignment": self.alignment, "strategy": self.strategy,
                "tensors": {n: {"offset": self.offsets[n], "bytes": self.sizes[n],
                                "first": self.lifetimes[n][0], "last": self.lifetimes[n][1]}
                            for n in sorted(self.offsets)}}


def lifetimes(tensor_bytes: dict[str, int], schedule: Schedule,
              keep: tuple[str, ...] = ()) -> dict[str, tuple[int, int]]:
    """(first, last) step of every tensor, following the rules in the module docstring."""
    end = max(len(schedule) - 1, 0)
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for step, (inputs, output) in enumerate(schedule):
        for name in inputs:
            first.setdefault(name, 0)
            last[name] = step
        if output in first:
            raise ValueError(f"tensor {output!r} is written by op {step} after being used or written")
        first[output] = step
    unknown = (set(first) - set(tensor_bytes))
    if unknown:
        raise ValueError(f"schedule uses tensors without a size: {sorted(unknown)}")
    spans = {}
    for name in tensor_bytes:
        if name not in first:
            spans[name] = (0, end)
        elif name in keep or name not in last or last[name] < first[name]:
            spans[name] = (first[name], end)
        else:
            spans[name] = (first[name], last[name])
    return spans


def _place(order: list[str], sizes: dict[str, int], spans: dict[str, tuple[int, int]]) -> dict[str, int]:
    """Greedy first-fit of `order` (sizes already aligned): lowest offset free over the lifetime."""
    placed: list[tuple[int, int, int, int]] = []     # offset, end, first, last
    offsets = {}
    for name in order:
        size, (a, b) = sizes[name], spans[name]
        offset = 0
        for o, e in sorted([(o, e) for o, e, first, last in placed if first <= b and a <= last]):
            if o >= offset + size:
                break
            if e > offset:
                offset = e
        offsets[name] = offset
        placed.append((offset, offset + size, a, b))
    return offsets


def live_lower_bound(sizes: dict[str, int], spans: dict[str, tuple[int, int]]) -> int:
    """Largest sum of sizes live at one step: no arena can be smaller."""
    steps = 1 + max((b for _, b in spans.values()), default=-1)
    delta = [0] * (steps + 1)
    for name, (a, b) in spans.items():
        delta[a] += sizes[name]
        delta[b + 1] -= sizes[name]
    best = running = 0
    for d in delta:
        running += d
        best = max(best, running)
    return best


def step_live_bytes(graph, alignment: int = 16) -> list[int]:
    """Per op of a graph's schedule: the (aligned) bytes of the tensors live during it, lifetimes as
    plan_graph sees them (their max is the plan's peak_live_bytes)."""
    sizes, schedule = graph_schedule(graph)
    spans = lifetimes(sizes, schedule, (graph.output,))
    return [sum(_align(sizes[n], alignment) for n, (a, b) in spans.items() if a <= step <= b)
            for step in range(len(schedule))]


def _orders(sizes: dict[str, int], spans: dict[str, tuple[int, int]]) -> list[tuple[str, list[str]]]:
    names = sorted(sizes)
    return [("size", sorted(names, key=lambda n: (-sizes[n], spans[n][0], n))),
            ("duration", sorted(names, key=lambda n: (spans[n][0] - spans[n][1], -sizes[n], n))),
            ("first_use", sorted(names, key=lambda n: (spans[n][0], -sizes[n], n)))]


def plan_arena(tensor_bytes: dict[str, int], schedule: Schedule, alignment: int = ARENA_ALIGNMENT,
               keep: tuple[str, ...] = ()) -> MemoryPlan:
    """Offsets for all tensors in one arena; no two simultaneously-live tensors overlap.

    tensor_bytes: name -> bytes. schedule: ops in execution order as (input names, output name).
    keep: tensors that must stay live to the end even if read earlier (extra graph outputs).
    """
    if alignment < 1:
        raise ValueError("alignment must be >= 1")
    spans = lifetimes(tensor_bytes, schedule, tuple(keep))
    aligned = {n: _align(int(b), alignment) for n, b in tensor_bytes.items()}
    bound, best = live_lower_bound(aligned, spans), None
    for strategy, order in _orders(aligned, spans):
        offsets = _place(order, aligned, spans)
        arena = max((offsets[n] + aligned[n] for n in offsets), default=0)
        if best is None or arena < best[1]:
            best = (offsets, arena, strategy)
        if arena <= bound:       # optimal: later orderings cannot do better
            break
    offsets, arena, strategy = best
    return MemoryPlan(offsets, arena, alignment, {n: int(b) for n, b in tensor_bytes.items()},
                      spans, strategy)


def graph_schedule(graph) -> tuple[dict[str, int], Schedule]:
    """The activation tensors (int8: 1 byte per element) and op schedule of a graph."""
    sizes = {name: graph.tensor_bytes(name) for name in graph.tensors}
    return sizes, [(op.inputs, op.output) for op in graph.ops]


def plan_graph(graph, alignment: int = ARENA_ALIGNMENT) -> MemoryPlan:
    """The arena plan of a dnasgen.graph.Graph (input live from the start, output to the end)."""
    sizes, schedule = graph_schedule(graph)
    return plan_arena(sizes, schedule, alignment, keep=(graph.output,))


def mcunet_peak(graph) -> int:
    """The MCUNet analytic peak: max over ops of (main-path) input + output bytes, unaligned.

    The rule ignores the skip tensor of a residual block, which must stay live from the
    block input to its add while the expand/dw/project tensors come and go, so it
    under-estimates what a real arena needs (compare with plan_graph(graph).arena_bytes).
    """
    return max(graph.tensor_bytes(op.inputs[-1]) + graph.tensor_bytes(op.output)
               for op in graph.ops)
