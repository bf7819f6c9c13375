"""Patch-based inference of the first ops (MCUNetV2): THE planner's `export.memory: patch`.

The first `ops` ops of the schedule (convolutions / depthwise convolutions / pooling and adds
fed from the graph input, every intermediate tensor read only inside the stage) run n x n times,
once per spatial patch, on small buffers; each patch's output tile is written into the full-size
output of the last of them (the split tensor), and the rest of the schedule runs layer by layer
(in place where dnasgen.cost.inplace allows). Per patch:

  * the split tensor's H x W is cut into n x n tiles (rows i*H//n .. (i+1)*H//n, the same for columns);
  * going backwards through the stage, a tensor's region (per axis: rows and columns are
    independent) is the union of what its readers need; an op whose output rows o0 .. o1 are needed reads input
    rows max(0, o0*s - pad) .. min(H_in, (o1-1)*s - pad + k) (TF SAME padding, any stride, odd
    sizes), and runs as the same kernel on that window with its own top / left padding
    max(0, pad - o0*s): the C kernels already treat rows and columns outside in_h / in_w as
    padding, so edge patches get exactly TFLite's bottom / right padding;
  * an add needs both inputs over its output region: a residual skip whose buffer holds more (the
    block's depthwise halo) is cut out into a small buffer first (a crop); a window op must read
    exactly its input's region (else the stage is not offered);
  * the graph input's window is copied into a buffer first (the gather), the last op's output
    tile copied into the split tensor at the end (the scatter).

The arena holds the graph input and the split tensor for the whole patch loop (`hold`), plus one
set of patch buffers (each the largest over the patches, at one offset for all of them); patch
ops never run in place (their geometry differs per patch). The recomputed halos cost MACs, which
`PatchStage.macs` counts and the latency model prices op by op (dnasgen.cost.model).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from math import prod

from dnasgen.abi import ARENA_ALIGNMENT

PATCH_KINDS = ("conv", "conv1x1", "dwconv", "avgpool", "maxpool")
GRIDS = (2, 3, 4)
SUFFIX = "@patch"               # the patch buffer of a tensor: "<name>@patch"


@dataclass(frozen=True)
class Window:
    """One op of one patch: its output and input rows / columns in the full tensors' coordinates
    (half-open) and the padding the kernel applies at the window's top / left."""
    out_y: tuple[int, int]
    out_x: tuple[int, int]
    in_y: tuple[int, int]
    in_x: tuple[int, int]
    pad_t: int
    pad_l: int

    @property
    def out_hw(self) -> tuple[int, int]:
        return self.out_y[1] - self.out_y[0], self.out_x[1] - self.out_x[0]

    @property
    def in_hw(self) -> tuple[int, int]:
        return self.in_y[1] - self.in_y[0], self.in_x[1] - self.in_x[0]

    @property
    def geometry(self) -> tuple[int, ...]:
        """What the kernel's descriptor holds of the window."""
        return (*self.in_hw, *self.out_hw, self.pad_t, self.pad_l)


@dataclass(frozen=True)
class PatchStage:
    """The choice: an n x n grid over the first `ops` ops. Rows and columns are independent: per
    row tile (and per column tile) each op's (output span, input span, pad) and each tensor's
    span; patch (i, j) = row tile i x column tile j, row-major."""
    n: int
    ops: int
    rows: tuple                # per row tile: ([(out, in, pad) per op], {tensor: span})
    cols: tuple
    macs: int                  # executed by the patch loop, recomputed halos included
    base_macs: int             # the same ops run once over the full tensors
    crops: tuple[tuple[int, int], ...] = ()   # (op, input): an add's input cut out of a larger buffer

    @cached_property
    def windows(self) -> tuple[tuple[Window, ...], ...]:
        """windows[patch][op]."""
        return tuple(tuple(Window(ry[0], cx[0], ry[1], cx[1], ry[2], cx[2]) for ry, cx in zip(r[0], c[0]))
                     for r in self.rows for c in self.cols)

    @cached_property
    def regions(self) -> tuple[dict, ...]:
        """Per patch: tensor -> (rows, columns) its patch buffer holds."""
        return tuple({name: (span, c[1][name]) for name, span in r[1].items()} for r in self.rows for c in self.cols)

    def window_counts(self, k: int) -> list[tuple[Window, int]]:
        """Op k's distinct windows (by geometry) and how many patches run each, from the axes."""
        def axis(tiles):
            seen: dict = {}
            for spans, _ in tiles:
                o, i, pad = spans[k]
                seen.setdefault((i[1] - i[0], o[1] - o[0], pad), [spans[k], 0])[1] += 1
            return list(seen.values())
        return [(Window(ry[0], cx[0], ry[1], cx[1], ry[2], cx[2]), nr * nc)
                for ry, nr in axis(self.rows) for cx, nc in axis(self.cols)]

    def largest(self, name: str) -> int:
        """Pixels of the largest region of a tensor over the patches."""
        return max(b - a for a, b in (r[1][name] for r in self.rows)) * max(b - a for a, b in (c[1][name] for c in self.cols))

    def largest_out(self, k: int) -> int:
        """Pixels of op k's largest output window."""
        return max(b - a for a, b in (r[0][k][0] for r in self.rows)) * max(b - a for a, b in (c[0][k][0] for c in self.cols))

    @property
    def extra_macs(self) -> int:
        return self.macs - self.base_macs

    def distinct(self, k: int) -> list[tuple[int, ...]]:
        """The distinct window geometries of op k, in first-use order (one C descriptor each)."""
        return list(dict.fromkeys(w[k].geometry for w in self.windows))

    def to_dict(self) -> dict:
        return {"grid": self.n, "ops": self.ops, "macs": self.macs, "extra_macs": self.extra_macs,
                "crops": [list(c) for c in self.crops]}


def buffer(name: str) -> str:
    return name + SUFFIX


def axis_window(o0: int, o1: int, size: int, k: int, stride: int, pad: int) -> tuple[tuple[int, int], int]:
    """Input span (clipped to 0 .. size) of outputs o0 .. o1 along one axis, and the window's pad."""
    lo, hi = o0 * stride - pad, (o1 - 1) * stride - pad + k
    start = max(0, lo)
    return (start, min(size, hi)), start - lo


def tiles(size: int, n: int) -> list[tuple[int, int]]:
    return [(i * size // n, (i + 1) * size // n) for i in range(n)]


def stage_counts(ops, keep: tuple[str, ...] = ()) -> list[int]:
    """The numbers of leading ops that can run patch by patch: ops of PATCH_KINDS (or adds) whose
    inputs are the graph input (the first op only) or outputs of earlier ops of the stage, every
    tensor but the last one's output read inside the stage only (see the module docstring)."""
    produced = {op.output: i for i, op in enumerate(ops)}
    last_reader: dict[str, int] = {}
    for i, op in enumerate(ops):
        for name in op.inputs:
            last_reader[name] = i
    counts = []
    for k, op in enumerate(ops):
        if k == 0:
            linked = op.kind in PATCH_KINDS and len(op.inputs) == 1 and op.inputs[0] not in produced
        else:
            linked = op.kind in PATCH_KINDS + ("add",) and all(produced.get(n, k) < k for n in op.inputs)
        if not linked:
            break
        if all(last_reader.get(o.output, 0) <= k and o.output not in keep for o in ops[:k]):
            counts.append(k + 1)
    return counts


def _axis_windows(ops, tile: tuple[int, int], axis: int):
    """Along one axis (0 rows, 1 columns), for one tile of the last op's output: each op's
    (output span, input span, pad) and each tensor's span (the union of what its readers need)."""
    need = {ops[-1].output: tile}
    out = []
    for op in reversed(ops):
        o = need[op.output]
        if op.kind == "add":
            i, pad = o, 0
        else:
            stride, pad0 = (op.stride, op.pad_top) if axis == 0 else (op.stride_w, op.pad_left)
            i, pad = axis_window(*o, op.in_shape[axis], op.kernel[axis], stride, pad0)
        out.append((o, i, pad))
        for name in op.inputs:
            old = need.get(name, i)
            need[name] = (min(old[0], i[0]), max(old[1], i[1]))
    return out[::-1], need


def _crops(ops, axes) -> tuple[tuple[int, int], ...] | None:
    """The (op, input) pairs reading less than the input's buffer holds, on some patch: an add's
    (its input is cut out first), never a window op's (None: the stage is not supported)."""
    crops = set()
    for spans, need in axes:
        for k, op in enumerate(ops):
            for j, name in enumerate(op.inputs):
                if need[name] != spans[k][1]:
                    if op.kind != "add":
                        return None
                    crops.add((k, j))
    return tuple(sorted(crops))


def window_macs(op, hw: tuple[int, int]) -> int:
    """MACs of an op (a WindowOp) over an output of hw pixels (the full op: its out_shape)."""
    taps = op.kernel[0] * op.kernel[1]
    if op.kind in ("conv", "conv1x1"):
        return hw[0] * hw[1] * taps * op.in_shape[2] * op.out_shape[2]
    if op.kind == "dwconv":
        return hw[0] * hw[1] * taps * op.out_shape[2]
    return 0


def patch_stage(ops, count: int, n: int) -> PatchStage | None:
    """The n x n patch stage over ops[:count] (None where the split tensor has fewer than n rows
    or columns, or a window op would read part of its input's buffer)."""
    h, w = ops[count - 1].out_shape[:2]
    if n > h or n > w:
        return None
    rows = [_axis_windows(ops[:count], t, 0) for t in tiles(h, n)]
    square = h == w and all(op.in_shape[0] == op.in_shape[1] and op.kernel[0] == op.kernel[1] and
                            op.stride == op.stride_w and op.pad_top == op.pad_left for op in ops[:count])
    cols = rows if square else [_axis_windows(ops[:count], t, 1) for t in tiles(w, n)]
    crops = _crops(ops[:count], rows + cols)
    if crops is None:
        return None
    macs = sum(window_macs(op, (sum(r[0][k][0][1] - r[0][k][0][0] for r in rows),
                                sum(c[0][k][0][1] - c[0][k][0][0] for c in cols))) for k, op in enumerate(ops[:count]))
    base = sum(window_macs(op, op.out_shape[:2]) for op in ops[:count])
    return PatchStage(n, count, tuple(rows), tuple(cols), macs, base, crops)


def crop_buffer(name: str, k: int) -> str:
    """The buffer op k reads `name` from after cutting it out of name's patch buffer."""
    return f"{buffer(name)}.{k}"


def _shapes(ops, count: int) -> dict[str, tuple[int, int, int]]:
    return {ops[0].inputs[0]: ops[0].in_shape, **{op.output: op.out_shape for op in ops[:count]}}


def buffer_bytes(stage: PatchStage, ops) -> dict[str, int]:
    """Bytes of each patch buffer: the largest region of its tensor over the patches (crops: the
    largest add output)."""
    shapes = _shapes(ops, stage.ops)
    sizes = {buffer(name): stage.largest(name) * shape[2] for name, shape in shapes.items()}
    for k, j in stage.crops:
        name = ops[k].inputs[j]
        sizes[crop_buffer(name, k)] = stage.largest_out(k) * shapes[name][2]
    return sizes


def stage_steps(stage: PatchStage, ops) -> list[tuple[tuple[str, ...], str]]:
    """The patch loop's steps on the patch buffers: gather, [crop,] op, ..., scatter."""
    source, split = ops[0].inputs[0], ops[stage.ops - 1].output
    steps = [((source,), buffer(source))]
    for k, op in enumerate(ops[:stage.ops]):
        inputs = []
        for j, name in enumerate(op.inputs):
            if (k, j) in stage.crops:
                steps.append(((buffer(name),), crop_buffer(name, k)))
            inputs.append(crop_buffer(name, k) if (k, j) in stage.crops else buffer(name))
        steps.append((tuple(inputs), buffer(op.output)))
    return steps + [((buffer(split),), split)]


def patched_schedule(tensor_bytes: dict[str, int], schedule, ops, stage: PatchStage):
    """(tensor bytes, schedule, window ops, hold) of the patched program: the patch loop's steps
    (stage_steps), then the rest of the schedule as it was."""
    from dnasgen.cost.inplace import WindowOp
    source, split = ops[0].inputs[0], ops[stage.ops - 1].output
    inner = {op.output for op in ops[:stage.ops - 1]}
    sizes = {n: b for n, b in tensor_bytes.items() if n not in inner}
    sizes.update(buffer_bytes(stage, ops))
    steps = stage_steps(stage, ops)
    wops = [WindowOp("patch", inputs, out, (1, 1, 1), (1, 1, 1)) for inputs, out in steps]
    hold = {source: (0, len(steps) - 1), split: (0, len(steps) - 1)}
    return sizes, steps + list(schedule[stage.ops:]), wops + list(ops[stage.ops:]), hold


def stage_grids(ops, keep: tuple[str, ...] = ()) -> list[tuple[int, int]]:
    """Every (n, ops) patch stage of a schedule's ops: each chain prefix (split) and grid n that
    fits the split tensor."""
    return [(n, count) for count in stage_counts(ops, keep) for n in GRIDS
            if n <= min(ops[count - 1].out_shape[:2])]


def patch_stages(ops, keep: tuple[str, ...] = ()) -> list[PatchStage]:
    return [patch_stage(ops, count, n) for n, count in stage_grids(ops, keep)]


def _aligned(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


def held_bytes(ops, count: int, tensor_bytes: dict[str, int], alignment: int = ARENA_ALIGNMENT) -> int:
    """The input and the split tensor, live together through the whole patch loop."""
    return sum(_aligned(tensor_bytes[n], alignment) for n in (ops[0].inputs[0], ops[count - 1].output))


def stage_bound(stage: PatchStage, tensor_bytes: dict[str, int], ops, alignment: int = ARENA_ALIGNMENT) -> int:
    """No arena of the stage is smaller: the input and the split tensor (held through the loop)
    plus the patch buffers one step of the loop reads and writes."""
    bufs = {n: _aligned(b, alignment) for n, b in buffer_bytes(stage, ops).items()}
    steps = stage_steps(stage, ops)[1:-1]
    return held_bytes(ops, stage.ops, tensor_bytes, alignment) + max(
        sum(bufs[n] for n in set(inputs) | {out}) for inputs, out in steps)


def plan_stage(tensor_bytes: dict[str, int], schedule, ops, keep: tuple[str, ...], stage: PatchStage,
               alignment: int = ARENA_ALIGNMENT):
    """THE plan of the schedule with that patch stage (in place after the split)."""
    from dnasgen.cost.memory import plan_schedule
    sizes, steps, wops, hold = patched_schedule(tensor_bytes, schedule, ops, stage)
    return replace(plan_schedule(sizes, steps, wops, keep, "inplace", alignment, hold), patch=stage)


def _key(plan) -> tuple[int, int]:
    return plan.arena_bytes, plan.patch.extra_macs if plan.patch else 0


def best_plan(tensor_bytes: dict[str, int], schedule, window_ops, keep: tuple[str, ...] = (),
              alignment: int = ARENA_ALIGNMENT, base=None, admit=None, stage_of=None):
    """The smallest arena among the in-place plan (`base`, planned if None) and the patch stages
    that `admit` (stage -> bool, e.g. the latency budget; None: all); ties: fewer recomputed MACs.
    Stages are looked at in order of their lower bounds, until one exceeds the best arena found
    (stage_of: (n, ops) -> PatchStage, e.g. cached; None: built here)."""
    from dnasgen.cost.memory import inplace_step_bounds, plan_schedule
    ops = list(window_ops)
    best = base or plan_schedule(tensor_bytes, schedule, ops, keep, "inplace", alignment)
    tail = inplace_step_bounds(tensor_bytes, schedule, ops, keep, alignment) + [0]
    for i in range(len(tail) - 2, -1, -1):
        tail[i] = max(tail[i], tail[i + 1])     # the largest live set from step i on: after a split there
    cheap = sorted((max(held_bytes(ops, c, tensor_bytes, alignment) + _buffers_floor(ops, c, n), tail[c]), n, c)
                   for n, c in stage_grids(ops, keep))
    for floor, n, count in cheap:
        if floor > best.arena_bytes or (floor == best.arena_bytes and best.patch is None):
            break
        stage = (stage_of or (lambda g: patch_stage(ops, g[1], g[0])))((n, count))
        if stage is None or stage_bound(stage, tensor_bytes, ops, alignment) > best.arena_bytes:
            continue
        if admit is not None and not admit(stage):
            continue
        plan = plan_stage(tensor_bytes, schedule, ops, keep, stage, alignment)
        if _key(plan) < _key(best):
            best = plan
    return best


def _buffers_floor(ops, count: int, n: int) -> int:
    """Without building the stage: a window op's input and output patch buffers hold at least
    1/n^2 of their tensors each (the n x n patches' regions cover both where kernel >= stride)."""
    if any(op.kind != "add" and (op.kernel[0] < op.stride or op.kernel[1] < op.stride_w) for op in ops[:count]):
        return 0
    return max((prod(op.in_shape) + prod(op.out_shape)) // (n * n) for op in ops[:count] if op.kind != "add")


def patch_plans(tensor_bytes: dict[str, int], schedule, window_ops, keep: tuple[str, ...] = (),
                alignment: int = ARENA_ALIGNMENT) -> list:
    """Every plan of the patch mode, smallest arena first (ties: fewest recomputed MACs): the
    in-place plan and each stage whose arena is smaller than it (for reports and tests)."""
    from dnasgen.cost.memory import plan_schedule
    ops = list(window_ops)
    base = plan_schedule(tensor_bytes, schedule, ops, keep, "inplace", alignment)
    plans = [plan_stage(tensor_bytes, schedule, ops, keep, s, alignment) for s in patch_stages(ops, keep)]
    return sorted([base] + [p for p in plans if p.arena_bytes < base.arena_bytes], key=_key)


def find_stage(stages, grid: tuple[int, int]) -> PatchStage:
    """The stage with that (n, ops) grid."""
    for stage in stages:
        if (stage.n, stage.ops) == grid:
            return stage
    raise ValueError(f"no patch stage with grid {grid}")


def patch_op(op, win: Window):
    """A dnasgen.graph.Op as it runs on one patch (for the latency model)."""
    (ih, iw), (oh, ow) = win.in_hw, win.out_hw
    pb = max(0, (oh - 1) * op.stride + op.kernel - ih - win.pad_t)
    pr = max(0, (ow - 1) * op.stride + op.kernel - iw - win.pad_l)
    return replace(op, in_shape=(ih, iw, op.in_shape[2]), out_shape=(oh, ow, op.out_shape[2]),
                   pad=(win.pad_t, pb, win.pad_l, pr))


def describe(stage: PatchStage | None, ops) -> str:
    """e.g. "3x3 patches over 6 ops up to s1b0.project (24x24x8), +3.7 % MACs"."""
    if stage is None:
        return "no patches"
    last = ops[stage.ops - 1]
    shape = "x".join(map(str, last.out_shape))
    return (f"{stage.n}x{stage.n} patches over {stage.ops} ops up to {last.output} ({shape}), "
            f"+{stage.extra_macs:,} MACs")
