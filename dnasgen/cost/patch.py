"""Patch-based inference of the first ops (MCUNetV2): THE planner's `export.memory: patch`.

The first `ops` ops of the schedule (a linear chain of convolutions / depthwise convolutions /
pooling from the graph input, each intermediate tensor read only by the next op) run n x n times,
once per spatial patch, on small buffers; each patch's output tile is written into the full-size
output of the last of them (the split tensor), and the rest of the schedule runs layer by layer
(in place where dnasgen.cost.inplace allows). Per patch:

  * the split tensor's H x W is cut into n x n tiles (rows i*H//n .. (i+1)*H//n, the same for columns);
  * going backwards through the chain, an op whose output rows o0 .. o1 are needed reads input
    rows max(0, o0*s - pad) .. min(H_in, (o1-1)*s - pad + k) (TF SAME padding, any stride, odd
    sizes), and runs as the same kernel on that window with its own top / left padding
    max(0, pad - o0*s): the C kernels already treat rows and columns outside in_h / in_w as
    padding, so edge patches get exactly TFLite's bottom / right padding;
  * the graph input's window is copied into a buffer first (the gather), the last op's output
    tile copied into the split tensor at the end (the scatter).

The arena holds the graph input and the split tensor for the whole patch loop (`hold`), plus one
set of patch buffers (each the largest over the patches, at one offset for all of them); patch
ops never run in place (their geometry differs per patch). The recomputed halos cost MACs, which
`PatchStage.macs` counts and the latency model prices op by op (dnasgen.cost.model).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
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
    """The choice: an n x n grid over the first `ops` ops (windows[patch][op], patches row-major)."""
    n: int
    ops: int
    windows: tuple[tuple[Window, ...], ...]
    macs: int                  # executed by the patch loop, recomputed halos included
    base_macs: int             # the same ops run once over the full tensors

    @property
    def extra_macs(self) -> int:
        return self.macs - self.base_macs

    def distinct(self, k: int) -> list[tuple[int, ...]]:
        """The distinct window geometries of op k, in first-use order (one C descriptor each)."""
        return list(dict.fromkeys(w[k].geometry for w in self.windows))

    def to_dict(self) -> dict:
        return {"grid": self.n, "ops": self.ops, "macs": self.macs, "extra_macs": self.extra_macs}


def buffer(name: str) -> str:
    return name + SUFFIX


def axis_window(o0: int, o1: int, size: int, k: int, stride: int, pad: int) -> tuple[tuple[int, int], int]:
    """Input span (clipped to 0 .. size) of outputs o0 .. o1 along one axis, and the window's pad."""
    lo, hi = o0 * stride - pad, (o1 - 1) * stride - pad + k
    start = max(0, lo)
    return (start, min(size, hi)), start - lo


def tiles(size: int, n: int) -> list[tuple[int, int]]:
    return [(i * size // n, (i + 1) * size // n) for i in range(n)]


def chain_length(ops, keep: tuple[str, ...] = ()) -> int:
    """How many leading ops form a patchable chain (see the module docstring)."""
    produced = {op.output for op in ops}
    readers = Counter(name for op in ops for name in op.inputs)
    length = 0
    for k, op in enumerate(ops):
        linked = op.inputs[0] not in produced if k == 0 else op.inputs == (ops[k - 1].output,)
        if op.kind not in PATCH_KINDS or len(op.inputs) != 1 or not linked:
            break
        length = k + 1
        if readers[op.output] != 1 or op.output in keep:
            break
    return length


def _op_windows(ops, oy: tuple[int, int], ox: tuple[int, int]) -> tuple[Window, ...]:
    out = []
    for op in reversed(ops):
        iy, pt = axis_window(*oy, op.in_shape[0], op.kernel[0], op.stride, op.pad_top)
        ix, pl = axis_window(*ox, op.in_shape[1], op.kernel[1], op.stride_w, op.pad_left)
        out.append(Window(oy, ox, iy, ix, pt, pl))
        oy, ox = iy, ix
    return tuple(reversed(out))


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
    or columns)."""
    h, w = ops[count - 1].out_shape[:2]
    if n > h or n > w:
        return None
    windows = tuple(_op_windows(ops[:count], ty, tx) for ty in tiles(h, n) for tx in tiles(w, n))
    macs = sum(window_macs(op, win[k].out_hw) for win in windows for k, op in enumerate(ops[:count]))
    base = sum(window_macs(op, op.out_shape[:2]) for op in ops[:count])
    return PatchStage(n, count, windows, macs, base)


def buffer_bytes(stage: PatchStage, ops) -> dict[str, int]:
    """Bytes of each patch buffer: the largest window of its tensor over the patches."""
    sizes = {buffer(ops[0].inputs[0]): max(prod(w[0].in_hw) for w in stage.windows) * ops[0].in_shape[2]}
    for k, op in enumerate(ops[:stage.ops]):
        sizes[buffer(op.output)] = max(prod(w[k].out_hw) for w in stage.windows) * op.out_shape[2]
    return sizes


def patched_schedule(tensor_bytes: dict[str, int], schedule, ops, stage: PatchStage):
    """(tensor bytes, schedule, window ops, hold) of the patched program: gather, the stage's ops
    on patch buffers, scatter, then the rest of the schedule as it was."""
    from dnasgen.cost.inplace import WindowOp
    count, source, split = stage.ops, ops[0].inputs[0], ops[stage.ops - 1].output
    inner = {op.output for op in ops[:count - 1]}
    sizes = {n: b for n, b in tensor_bytes.items() if n not in inner}
    sizes.update(buffer_bytes(stage, ops))
    steps = [((source,), buffer(source))] + [((buffer(op.inputs[0]),), buffer(op.output)) for op in ops[:count]]
    steps.append(((buffer(split),), split))
    wops = [WindowOp("patch", inputs, out, (1, 1, 1), (1, 1, 1)) for inputs, out in steps]
    hold = {source: (0, count + 1), split: (0, count + 1)}
    return sizes, steps + list(schedule[count:]), wops + list(ops[count:]), hold


def stage_grids(ops, keep: tuple[str, ...] = ()) -> list[tuple[int, int]]:
    """Every (n, ops) patch stage of a schedule's ops: each chain prefix (split) and grid n that
    fits the split tensor."""
    return [(n, count) for count in range(1, chain_length(ops, keep) + 1) for n in GRIDS
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
    plus the largest input + output patch buffers of one step."""
    bufs = {n: _aligned(b, alignment) for n, b in buffer_bytes(stage, ops).items()}
    return held_bytes(ops, stage.ops, tensor_bytes, alignment) + max(bufs[buffer(op.inputs[0])] + bufs[buffer(op.output)] for op in ops[:stage.ops])


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
    grids = stage_grids(ops, keep)
    cheap = [(max(held_bytes(ops, c, tensor_bytes, alignment), tail[c]), n, c) for n, c in grids]
    stages = [(stage_of or (lambda g: patch_stage(ops, g[1], g[0])))((n, c))
              for h, n, c in cheap if h < best.arena_bytes]
    bounds = sorted((max(stage_bound(s, tensor_bytes, ops, alignment), tail[s.ops]), s.extra_macs, i)
                    for i, s in enumerate(stages))
    for bound, _, i in bounds:
        if bound > best.arena_bytes or (bound == best.arena_bytes and best.patch is None):
            break
        if admit is not None and not admit(stages[i]):
            continue
        plan = plan_stage(tensor_bytes, schedule, ops, keep, stages[i], alignment)
        if _key(plan) < _key(best):
            best = plan
    return best


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
