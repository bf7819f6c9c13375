"""THE memory planner: one tensor arena, offsets for every activation tensor.

Used by the cost model (so the search's RAM figure is the firmware's arena) and by
codegen (with the tensors/ops it lowers from the .tflite).

Lifetimes over the op schedule (step i = the i-th op):
  * a tensor is live from the op that produces it to the last op that reads it;
  * a tensor no op produces (the graph input) is live from step 0;
  * a tensor no op reads (the graph output), or named in `keep`, is live to the end;
  * a tensor in `tensor_bytes` that the schedule never mentions is live for the whole run.
An op's inputs and its output are live together. In-place ops (`overlaps`, see
dnasgen.cost.inplace) put their output `delta` bytes before their input; such chains of
tensors (expand output -> depthwise output ...) are placed as one unit with fixed relative
offsets, and only the pairs the rules made safe share bytes.

Placement is greedy like TFLM's GreedyMemoryPlanner: take the tensors in a fixed order,
put each at the lowest aligned offset where it overlaps no already-placed tensor whose
lifetime intersects its own. Four orderings are tried and the smallest arena is kept
(ties keep the earlier one): largest first (TFLM); longest-lived first, then largest
(places residual skip tensors before the short-lived expand/dw tensors around them, and
reaches the live-set lower bound on ~99 % of random MobileNetV2 candidates); first use,
then largest; largest first, ties latest-ending first (helps the in-place chains of small
models). An ordering that reaches the lower bound (the largest live set) ends the search early. Deterministic: ties within an ordering are broken by tensor name.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from dnasgen.abi import ARENA_ALIGNMENT
from dnasgen.cost.inplace import DEFAULT_MEMORY, check_mode, graph_window_ops, overlaps

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
    overlaps: dict[str, tuple[str, int]] = field(default_factory=dict)  # in-place output -> (input, delta)
    bound: int | None = None     # arena lower bound of the memory mode (None: this plan's own live sets)
    patch: object = None         # dnasgen.cost.patch.PatchStage: the first ops run patch by patch

    @property
    def steps(self) -> int:
        return 1 + max((last for _, last in self.lifetimes.values()), default=-1)

    def live_at(self, step: int) -> list[str]:
        """Tensors live during op `step`."""
        return sorted(n for n, (a, b) in self.lifetimes.items() if a <= step <= b)

    @property
    def peak_live_bytes(self) -> int:
        """Largest sum of (aligned) live tensor sizes over all steps (in place: every pair the mode
        allows counted as the bytes it spans together): a lower bound of the arena."""
        if self.bound is not None:
            return self.bound
        aligned = {n: _align(b, self.alignment) for n, b in self.sizes.items()}
        return live_lower_bound(aligned, self.lifetimes, _units(aligned, self.overlaps))

    def shares_bytes(self, a: str, b: str) -> bool:
        """a and b are an in-place pair: they may overlap by design."""
        return self.overlaps.get(a, (None,))[0] == b or self.overlaps.get(b, (None,))[0] == a

    def to_dict(self) -> dict:
        return {"arena_bytes": self.arena_bytes, "alignment": self.alignment, "strategy": self.strategy,
                "tensors": {n: {"offset": self.offsets[n], "bytes": self.sizes[n],
                                "first": self.lifetimes[n][0], "last": self.lifetimes[n][1]}
                            for n in sorted(self.offsets)},
                "in_place": {out: src for out, (src, _) in sorted(self.overlaps.items())}}


def lifetimes(tensor_bytes: dict[str, int], schedule: Schedule, keep: tuple[str, ...] = (),
              hold: dict[str, tuple[int, int]] | None = None) -> dict[str, tuple[int, int]]:
    """(first, last) step of every tensor, following the rules in the module docstring; a tensor
    in `hold` is live over its (first, last) steps too (the patch stage's input and output)."""
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
    for name, (a, b) in (hold or {}).items():
        spans[name] = (min(a, spans[name][0]), max(b, spans[name][1]))
    return spans


Unit = tuple[tuple[str, int], ...]      # members (name, offset relative to the unit's base)


def _units(sizes: dict[str, int], overlaps: dict[str, tuple[str, int]]) -> list[Unit]:
    """Tensors grouped into in-place chains (the last output first, at relative offset 0)."""
    inputs = {src for src, _ in overlaps.values()}
    units = []
    for name in sorted(sizes):
        if name in inputs:
            continue                    # placed with the op that overwrites it
        members, rel = [(name, 0)], 0
        while name in overlaps:
            name, delta = overlaps[name]
            rel += delta
            members.append((name, rel))
        units.append(tuple(members))
    return units


def _base(unit: Unit, sizes, spans, placed) -> int:
    """Lowest base >= 0 where no member overlaps a placed tensor whose lifetime meets its own."""
    forbidden = []
    for name, rel in unit:
        a, b = spans[name]
        size = sizes[name]
        forbidden += [(o - rel - size, e - rel) for o, e, first, last in placed if first <= b and a <= last]
    base = 0
    for lo, hi in sorted(forbidden):
        if base <= lo:
            break
        if base < hi:
            base = hi
    return base


def _place(order: list[Unit], sizes: dict[str, int], spans: dict[str, tuple[int, int]]) -> dict[str, int]:
    """Greedy first-fit of the units in `order` (sizes already aligned)."""
    placed: list[tuple[int, int, int, int]] = []     # offset, end, first, last
    offsets = {}
    for unit in order:
        base = _base(unit, sizes, spans, placed)
        for name, rel in unit:
            offsets[name] = base + rel
            placed.append((base + rel, base + rel + sizes[name], *spans[name]))
    return offsets


def _measure(intervals: list[tuple[int, int]]) -> int:
    total, reach = 0, None
    for lo, hi in sorted(intervals):
        if reach is None or lo >= reach:
            total, reach = total + hi - lo, hi
        elif hi > reach:
            total, reach = total + hi - reach, hi
    return total


def live_lower_bound(sizes: dict[str, int], spans: dict[str, tuple[int, int]],
                     units: list[Unit] | None = None) -> int:
    """Largest number of bytes live at one step: no arena can be smaller (units: in-place
    chains, whose live members count as the union of their fixed intervals)."""
    return max(live_steps(sizes, spans, units), default=0)


def live_steps(sizes: dict[str, int], spans: dict[str, tuple[int, int]],
               units: list[Unit] | None = None) -> list[int]:
    """The bytes live at each step (as live_lower_bound counts them)."""
    steps = 1 + max((b for _, b in spans.values()), default=-1)
    delta = [0] * (steps + 1)
    for unit in units if units is not None else [((n, 0),) for n in sizes]:
        if len(unit) == 1:
            name = unit[0][0]
            delta[spans[name][0]] += sizes[name]
            delta[spans[name][1] + 1] -= sizes[name]
            continue
        for step in range(min(spans[n][0] for n, _ in unit), max(spans[n][1] for n, _ in unit) + 1):
            live = _measure([(r, r + sizes[n]) for n, r in unit if spans[n][0] <= step <= spans[n][1]])
            delta[step] += live
            delta[step + 1] -= live
    out, running = [], 0
    for d in delta[:-1]:
        running += d
        out.append(running)
    return out


def inplace_step_bounds(tensor_bytes: dict[str, int], schedule: Schedule, window_ops, keep: tuple[str, ...] = (),
                        alignment: int = ARENA_ALIGNMENT) -> list[int]:
    """Per step, the bytes live with every in-place pair sharing: no in-place plan of the schedule
    (nor a patched one, after its split) has less live there."""
    spans = lifetimes(tensor_bytes, schedule, tuple(keep))
    aligned = {n: _align(int(b), alignment) for n, b in tensor_bytes.items()}
    return live_steps(aligned, spans, _units(aligned, overlaps(list(window_ops), tuple(keep), alignment)))


def step_live_bytes(graph, alignment: int = ARENA_ALIGNMENT, mode: str = DEFAULT_MEMORY) -> list[int]:
    """Per op of a graph's schedule: the (aligned) bytes live during it, lifetimes as plan_graph
    sees them; in place, every eligible pair counts as the bytes it spans together,
    max(out, delta + in). Their max is plan_graph(graph, mode=mode).peak_live_bytes."""
    sizes, schedule = graph_schedule(graph)
    spans = lifetimes(sizes, schedule, (graph.output,))
    aligned = {n: _align(b, alignment) for n, b in sizes.items()}
    live = [sum(aligned[n] for n, (a, b) in spans.items() if a <= step <= b) for step in range(len(schedule))]
    if check_mode(mode) != "layer":      # patch: its in-place part (the search's smooth surrogate)
        steps = {output: step for step, (_, output) in enumerate(schedule)}
        for out, (src, delta) in overlaps(graph_window_ops(graph), (graph.output,), alignment).items():
            live[steps[out]] -= aligned[out] + aligned[src] - max(aligned[out], delta + aligned[src])
    return live


def _orders(units: list[Unit], sizes: dict[str, int],
            spans: dict[str, tuple[int, int]]) -> list[tuple[str, list[Unit]]]:
    def key(unit):            # extent, first step, last step, name
        return (max(r + sizes[n] for n, r in unit), min(spans[n][0] for n, _ in unit),
                max(spans[n][1] for n, _ in unit), unit[0][0])
    keys = {u: key(u) for u in units}
    return [("size", sorted(units, key=lambda u: (-keys[u][0], keys[u][1], keys[u][3]))),
            ("duration", sorted(units, key=lambda u: (keys[u][1] - keys[u][2], -keys[u][0], keys[u][3]))),
            ("first_use", sorted(units, key=lambda u: (keys[u][1], -keys[u][0], keys[u][3]))),
            # largest first, ties latest-ending first (the in-place chains of small models)
            ("size_last", sorted(units, key=lambda u: (-keys[u][0], -keys[u][2], keys[u][3])))]


REPAIR_ROUNDS = 8


def _repair(best, sizes, spans, bound):
    """In-place chains pin their members' offsets, which greedy orders often place badly: the units
    that reach the arena's top go first (after those moved in earlier rounds), then place again."""
    order, first = best[3], []
    for _ in range(REPAIR_ROUNDS):
        offsets = _place(order, sizes, spans)
        top = max(offsets[n] + sizes[n] for n in offsets)
        if top < best[1]:
            best = (offsets, top, "repaired", order)
        high = [u for u in order if u not in first and max(offsets[n] + sizes[n] for n, _ in u) == top]
        if top <= bound or not high:
            break
        first += high
        order = first + [u for u in order if u not in first]
    return best


def _check_overlaps(overlaps: dict[str, tuple[str, int]], schedule: Schedule, alignment: int) -> None:
    ops = {output: inputs for inputs, output in schedule}
    for out, (src, delta) in overlaps.items():
        if src not in ops.get(out, ()) or delta < 0 or delta % alignment:
            raise ValueError(f"in-place pair {out!r} <- {src!r} (delta {delta}) is not an op's "
                             f"input and output with an aligned delta >= 0")


def plan_arena(tensor_bytes: dict[str, int], schedule: Schedule, alignment: int = ARENA_ALIGNMENT,
               keep: tuple[str, ...] = (), overlaps: dict[str, tuple[str, int]] | None = None,
               hold: dict[str, tuple[int, int]] | None = None) -> MemoryPlan:
    """Offsets for all tensors in one arena; no two simultaneously-live tensors overlap, except
    the in-place pairs of `overlaps` (output -> (input, delta): input at output offset + delta).

    tensor_bytes: name -> bytes. schedule: ops in execution order as (input names, output name).
    keep: tensors that must stay live to the end even if read earlier (extra graph outputs).
    hold: name -> (first, last) steps a tensor is live at least (see lifetimes).
    """
    if alignment < 1:
        raise ValueError("alignment must be >= 1")
    overlaps = dict(overlaps or {})
    _check_overlaps(overlaps, schedule, alignment)
    spans = lifetimes(tensor_bytes, schedule, tuple(keep), hold)
    aligned = {n: _align(int(b), alignment) for n, b in tensor_bytes.items()}
    units = _units(aligned, overlaps)
    bound, best = live_lower_bound(aligned, spans, units), None
    for strategy, order in _orders(units, aligned, spans):
        offsets = _place(order, aligned, spans)
        arena = max((offsets[n] + aligned[n] for n in offsets), default=0)
        if best is None or arena < best[1]:
            best = (offsets, arena, strategy, order)
        if arena <= bound:       # optimal: later orderings cannot do better
            break
    if overlaps and best[1] > bound:
        best = _repair(best, aligned, spans, bound)
    offsets, arena, strategy, _ = best
    return MemoryPlan(offsets, arena, alignment, {n: int(b) for n, b in tensor_bytes.items()},
                      spans, strategy, overlaps)


def graph_schedule(graph) -> tuple[dict[str, int], Schedule]:
    """The activation tensors (int8: 1 byte per element) and op schedule of a graph."""
    sizes = {name: graph.tensor_bytes(name) for name in graph.tensors}
    return sizes, [(op.inputs, op.output) for op in graph.ops]


def plan_schedule(tensor_bytes: dict[str, int], schedule: Schedule, window_ops, keep: tuple[str, ...] = (),
                  mode: str = DEFAULT_MEMORY, alignment: int = ARENA_ALIGNMENT,
                  hold: dict[str, tuple[int, int]] | None = None) -> MemoryPlan:
    """THE plan of a schedule in a memory mode: "layer" (no tensor shares bytes), "inplace"
    (the in-place ops of dnasgen.cost.inplace overwrite their inputs; the layer plan is kept
    when it is as small, so in-place never costs RAM) or "patch" (dnasgen.cost.patch: the
    smallest of the in-place plan and every patch stage). window_ops: the schedule's ops as
    dnasgen.cost.inplace.WindowOp, in the same order."""
    if check_mode(mode) == "patch":
        from dnasgen.cost.patch import best_plan
        return best_plan(tensor_bytes, schedule, window_ops, keep, alignment)
    layer = plan_arena(tensor_bytes, schedule, alignment, keep, hold=hold)
    if mode == "layer":
        return layer
    pairs = overlaps(list(window_ops), tuple(keep), alignment)
    if not pairs:
        return layer
    inplace = plan_arena(tensor_bytes, schedule, alignment, keep, pairs, hold)
    bound = inplace.peak_live_bytes          # with every pair: no in-place plan can be smaller
    if inplace.arena_bytes >= layer.arena_bytes:
        return replace(layer, bound=bound)
    # Only the ops whose input + output (+ whatever else is live) exceed the arena need to run in
    # place (the in-place depthwise order costs instructions): keep the rest out if that fits too.
    needed = _needed(pairs, inplace, schedule)
    if len(needed) < len(pairs):
        pruned = plan_arena(tensor_bytes, schedule, alignment, keep, needed, hold)
        if pruned.arena_bytes <= inplace.arena_bytes:
            return replace(pruned, bound=bound)
    return inplace


def _needed(pairs: dict[str, tuple[str, int]], plan: MemoryPlan, schedule: Schedule) -> dict[str, tuple[str, int]]:
    """The in-place pairs whose op's live set, without sharing, is larger than the plan's arena."""
    steps = {output: step for step, (_, output) in enumerate(schedule)}
    aligned = {n: _align(b, plan.alignment) for n, b in plan.sizes.items()}
    return {out: pair for out, pair in pairs.items()
            if sum(aligned[n] for n in plan.live_at(steps[out])) > plan.arena_bytes}


def plan_graph(graph, alignment: int = ARENA_ALIGNMENT, mode: str = DEFAULT_MEMORY) -> MemoryPlan:
    """The arena plan of a dnasgen.graph.Graph (input live from the start, output to the end)."""
    sizes, schedule = graph_schedule(graph)
    return plan_schedule(sizes, schedule, graph_window_ops(graph), (graph.output,), mode, alignment)


def mcunet_peak(graph) -> int:
    """The MCUNet analytic peak: max over ops of (main-path) input + output bytes, unaligned.

    The rule ignores the skip tensor of a residual block, which must stay live from the
    block input to its add while the expand/dw/project tensors come and go, so it
    under-estimates what a real arena needs (compare with plan_graph(graph).arena_bytes).
    """
    return max(graph.tensor_bytes(op.inputs[-1]) + graph.tensor_bytes(op.output)
               for op in graph.ops)
