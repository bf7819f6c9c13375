"""Patch-based inference planner (dnasgen.cost.patch): halo arithmetic, plans, the choice.

Known answers on hand-sized nets (stride 2 with TF SAME padding on even and odd sizes), a numpy
model of the C kernels' window semantics (rows / columns outside in_h / in_w are padding) that
must give the same tensor patch by patch as over the whole input, and MobileNetV2-0.35@96's
arena per mode.
"""
from __future__ import annotations

import random

import numpy as np
import pytest

from dnasgen.boards import get_board
from dnasgen.candidate import DataConfig, SearchSpace
from dnasgen.cost import estimate, format_report, plan_graph
from dnasgen.cost.inplace import WindowOp, graph_window_ops
from dnasgen.cost.memory import graph_schedule
from dnasgen.cost.patch import (axis_window, buffer, stage_counts, patch_plans, patch_stage, patched_schedule,
                                tiles)
from dnasgen.graph import build_graph, same_padding


def test_axis_window_stride_2_same_padding_even_and_odd():
    # 8 -> 4 (k 3, s 2): TF pads 0 on top, 1 at the bottom
    assert same_padding(8, 3, 2) == (4, 0, 1)
    assert axis_window(0, 2, 8, 3, 2, 0) == ((0, 5), 0)
    assert axis_window(2, 4, 8, 3, 2, 0) == ((4, 8), 0)          # the bottom pad row is the kernel's
    # 9 -> 5: one row each side
    assert same_padding(9, 3, 2) == (5, 1, 1)
    assert axis_window(0, 2, 9, 3, 2, 1) == ((0, 4), 1)
    assert axis_window(3, 5, 9, 3, 2, 1) == ((5, 9), 0)
    # k 5 stride 1 on 7: a 2-row halo, clipped at both edges
    assert axis_window(2, 4, 7, 5, 1, 2) == ((0, 6), 0)
    assert axis_window(0, 1, 7, 5, 1, 2) == ((0, 3), 2)


def test_tiles_cover_odd_sizes():
    assert tiles(7, 3) == [(0, 2), (2, 4), (4, 7)]
    assert tiles(24, 4) == [(0, 6), (6, 12), (12, 18), (18, 24)]


def _net():
    """9x9x1 -> conv 3x3 s2 (pad 1) 5x5x2 -> dw 3x3 (pad 1) 5x5x2 -> 1x1 5x5x4 -> add (not patchable)."""
    return [WindowOp("conv", ("x",), "a", (9, 9, 1), (5, 5, 2), 2, 1, (3, 3), 2, 1),
            WindowOp("dwconv", ("a",), "b", (5, 5, 2), (5, 5, 2), 1, 1, (3, 3), 1, 1),
            WindowOp("conv1x1", ("b",), "c", (5, 5, 2), (5, 5, 4)),
            WindowOp("add", ("c", "c"), "d", (5, 5, 4), (5, 5, 4))]


def test_windows_of_a_hand_sized_net():
    ops = _net()
    assert stage_counts(ops) == [1, 2, 3, 4]          # the add reads c only
    stage = patch_stage(ops, 2, 2)
    first, last = stage.windows[0], stage.windows[-1]
    assert (first[1].out_y, first[1].in_y, first[1].pad_t) == ((0, 2), (0, 3), 1)
    assert (first[0].out_y, first[0].in_y, first[0].pad_t) == ((0, 3), (0, 6), 1)
    assert (last[1].out_y, last[1].in_y, last[1].pad_t) == ((2, 5), (1, 5), 0)
    assert (last[0].out_y, last[0].in_y, last[0].pad_t) == ((1, 5), (1, 9), 0)
    # conv outputs per patch: 3x3, 3x4, 4x3, 4x4 (a halo row and column overlap) = 49 vs 25 pixels
    assert stage.base_macs == 25 * 9 * 2 + 25 * 9 * 2
    assert stage.macs == 49 * 9 * 2 + 25 * 9 * 2 and stage.extra_macs == 24 * 18
    assert patch_stage(ops, 2, 6) is None                         # 6 tiles of 5 rows: none


def test_residual_block_inside_the_stage_crops_the_skip():
    """x -> a (3x3) -> b (dw 3x3) -> c (1x1) -> d = a + c: a is read by b (with a halo) and by the
    add (without): the stage can end at a or at d, and the add reads a cut-out of a's buffer."""
    ops = [WindowOp("conv", ("x",), "a", (7, 7, 1), (7, 7, 2), 1, 1, (3, 3), 1, 1),
           WindowOp("dwconv", ("a",), "b", (7, 7, 2), (7, 7, 2), 1, 1, (3, 3), 1, 1),
           WindowOp("conv1x1", ("b",), "c", (7, 7, 2), (7, 7, 2)),
           WindowOp("add", ("a", "c"), "d", (7, 7, 2), (7, 7, 2)),
           WindowOp("dwconv", ("d",), "e", (7, 7, 2), (7, 7, 2), 1, 1, (3, 3), 1, 1)]
    assert stage_counts(ops) == [1, 4, 5]
    stage = patch_stage(ops, 4, 2)
    assert stage.crops == ((3, 0),)
    top = stage.regions[0]
    assert top["d"] == top["c"] == ((0, 3), (0, 3)) and top["a"] == ((0, 4), (0, 4)) and top["x"] == ((0, 5), (0, 5))
    sizes = {n: 98 for n in "abcde"} | {"x": 49}
    _, steps, _, hold = patched_schedule(sizes, [(op.inputs, op.output) for op in ops], ops, stage)
    assert steps[4] == ((buffer("a"),), buffer("a") + ".3") and steps[5] == ((buffer("a") + ".3", buffer("c")), buffer("d"))
    assert hold == {"x": (0, 6), "d": (0, 6)}


def test_patched_schedule_holds_input_and_split():
    ops = _net()
    sizes = {"x": 81, "a": 50, "b": 50, "c": 100, "d": 100}
    stage = patch_stage(ops, 2, 2)
    new, steps, wops, hold = patched_schedule(sizes, [(op.inputs, op.output) for op in ops], ops, stage)
    assert "a" not in new and new["b"] == 50 and new[buffer("x")] == 8 * 8 * 1 and new[buffer("b")] == 3 * 3 * 2
    assert steps[0] == (("x",), buffer("x")) and steps[3] == ((buffer("b"),), "b")
    assert hold == {"x": (0, 3), "b": (0, 3)} and len(wops) == len(steps)


def _window_op(x, w, stride, pad, out_hw, depthwise):
    """The C kernels' semantics: output (oy, ox) reads rows oy*s - pad_t + i, outside 0..in_h: zero."""
    ih, iw, _ = x.shape
    k = w.shape[0]
    out = np.zeros((*out_hw, w.shape[-1]), np.int64)
    for oy in range(out_hw[0]):
        for ox in range(out_hw[1]):
            for i in range(k):
                for j in range(k):
                    y, xx = oy * stride - pad[0] + i, ox * stride - pad[1] + j
                    if 0 <= y < ih and 0 <= xx < iw:
                        out[oy, ox] += x[y, xx] * w[i, j] if depthwise else x[y, xx] @ w[i, j]
    return out % 7 - 3            # a nonlinear, bounded "requantisation"


def _run(ops, weights, x, windows=None):
    for k, op in enumerate(ops):
        win = windows[k] if windows else None
        hw = win.out_hw if win else op.out_shape[:2]
        pad = (win.pad_t, win.pad_l) if win else (op.pad_top, op.pad_left)
        x = _window_op(x, weights[k], op.stride, pad, hw, op.kind == "dwconv")
    return x


@pytest.mark.parametrize("size,kernels,strides,n", [(9, (3, 3), (2, 1), 2), (11, (5, 3), (1, 2), 3),
                                                    (12, (3, 7), (2, 1), 3), (13, (7, 5), (2, 2), 2)])
def test_patches_reproduce_the_whole_tensor(size, kernels, strides, n):
    rng = np.random.default_rng(size)
    ops, shape, chans = [], (size, size, 2), (3, 3)
    for i, (k, s) in enumerate(zip(kernels, strides)):
        oh, pt, _ = same_padding(shape[0], k, s)
        kind = "conv" if i == 0 else "dwconv"
        out = (oh, oh, chans[i])
        ops.append(WindowOp(kind, (f"t{i}",), f"t{i + 1}", shape, out, s, pt, (k, k), s, pt))
        shape = out
    weights = [rng.integers(-2, 3, (kernels[0], kernels[0], 2, 3)), rng.integers(-2, 3, (kernels[1], kernels[1], 3))]
    x = rng.integers(-3, 4, (size, size, 2))
    whole = _run(ops, weights, x)
    stage = patch_stage(ops, 2, n)
    tiled = np.full_like(whole, 99)
    for wins in stage.windows:
        (y0, y1), (x0, x1) = wins[0].in_y, wins[0].in_x
        part = _run(ops, weights, x[y0:y1, x0:x1], wins)
        tiled[slice(*wins[-1].out_y), slice(*wins[-1].out_x)] = part
    assert np.array_equal(tiled, whole)


def _mnv2():
    return SearchSpace(resolutions=(96,), colors=("rgb",), widths=(0.35,)).largest()


def test_mobilenet_v2_035_96_arena_per_mode():
    graph = build_graph(_mnv2(), 2, 1280)
    assert plan_graph(graph, mode="layer").arena_bytes == 138_240
    assert plan_graph(graph, mode="inplace").arena_bytes == 111_760
    sizes, schedule = graph_schedule(graph)
    plans = patch_plans(sizes, schedule, graph_window_ops(graph), (graph.output,))
    assert [(p.arena_bytes, p.patch and (p.patch.n, p.patch.ops)) for p in plans[:2]] == [
        (42_096, (4, 6)), (49_200, (3, 6))]          # <= 0.25x TFLM's 204,628 B
    assert plans[-1].patch is None and plans[-1].arena_bytes == 111_760
    assert plans[1].patch.extra_macs == 392_960       # +3.7 % of 10,656,688
    assert plan_graph(graph, mode="patch") == plans[0]


def test_patched_plan_keeps_live_tensors_apart():
    graph = build_graph(_mnv2(), 2, 1280)
    plan = plan_graph(graph, mode="patch")
    for step in range(plan.steps):
        live = plan.live_at(step)
        for i, a in enumerate(live):
            for b in live[i + 1:]:
                apart = (plan.offsets[a] + plan.sizes[a] <= plan.offsets[b]
                         or plan.offsets[b] + plan.sizes[b] <= plan.offsets[a])
                assert apart or plan.shares_bytes(a, b), (step, a, b)
    assert plan.lifetimes["input"][1] >= plan.lifetimes[buffer("s1b0.project")][1]


def test_choice_meets_the_latency_budget():
    board = get_board("qemu-mps2-an386")
    cand = _mnv2()
    free = estimate(cand, board, 2, 1280, memory="patch")
    inplace = estimate(cand, board, 2, 1280, memory="inplace")
    assert free.patch_grid == (4, 6) and free.arena_bytes == 42_096 and free.latency_ms > inplace.latency_ms
    mid = estimate(cand, board, 2, 1280, free.latency_ms - 0.01, memory="patch")   # just under 4x4's
    assert mid.patch_grid == (3, 6) and inplace.latency_ms < mid.latency_ms < free.latency_ms and mid.fits
    assert free.arena_bytes < mid.arena_bytes < 111_760
    tight = estimate(cand, board, 2, 1280, inplace.latency_ms + 0.01, memory="patch")
    assert tight.patch_grid is None and tight.arena_bytes == 111_760
    text = format_report(free, per_op=True)
    stem = free.ops[0]
    # 6-row tiles of the 24x24 split <- 13 rows before the stride-2 depthwise <- 15 before the 3x3 one
    assert (stem.out_bytes, stem.patch) == (15 * 15 * 16, "4x4")
    assert "4x4 patches over 6 ops up to s1b0.project (24x24x8)" in text and sum(line.endswith("  4x4") for line in text.splitlines()) == 6


def test_patch_never_costs_arena_on_random_candidates():
    space = SearchSpace(resolutions=(33, 48, 64), colors=("rgb", "grayscale"), widths=(0.25, 0.35),
                        kernels=(3, 5, 7), expands=(1, 3, 6))
    rng = random.Random(3)
    smaller = 0
    for _ in range(12):
        cand = space.sample(rng, DataConfig(rng.choice((33, 48, 64)), "rgb"))
        graph = build_graph(cand, 2, 256)
        patched, inplace = plan_graph(graph, mode="patch"), plan_graph(graph, mode="inplace")
        assert patched.arena_bytes <= inplace.arena_bytes
        smaller += patched.arena_bytes < inplace.arena_bytes
    assert smaller >= 10


def test_pruned_search_finds_the_exhaustive_best():
    """best_plan skips stages by lower bound: it must still find what planning every stage finds."""
    space = SearchSpace(resolutions=(40, 64, 96), colors=("rgb",), widths=(0.25, 0.35, 0.5),
                        kernels=(3, 5, 7), expands=(1, 3, 6))
    rng = random.Random(5)
    for _ in range(8):
        cand = space.sample(rng, DataConfig(rng.choice((40, 64, 96)), "rgb"))
        graph = build_graph(cand, 2, 256)
        sizes, schedule = graph_schedule(graph)
        every = patch_plans(sizes, schedule, graph_window_ops(graph), (graph.output,))
        best = plan_graph(graph, mode="patch")
        assert (best.arena_bytes, best.patch and best.patch.extra_macs) == (
            every[0].arena_bytes, every[0].patch and every[0].patch.extra_macs), cand.to_json()


def test_patch_pricing_widens_the_quickstart_ram_plan():
    """specs/quickstart_ram.yaml (12 KB of RAM, 400 ms): in place only 32 px networks fit; priced
    with patches, larger data configurations fit and the largest feasible network is bigger."""
    import dataclasses
    from pathlib import Path

    from dnasgen.plan import make_plan
    from dnasgen.spec import load_spec
    spec = load_spec(Path(__file__).resolve().parents[2] / "specs" / "quickstart_ram.yaml")
    assert spec.export.memory == "patch"
    inplace = make_plan(dataclasses.replace(spec, export=dataclasses.replace(spec.export, memory="inplace")), samples=40)
    patched = make_plan(spec, samples=40)
    assert {d.resolution for d in inplace.feasible_data_configs} == {32}
    assert {d.label for d in patched.feasible_data_configs} >= {"40px-rgb", "48px-grayscale", "56px-grayscale"}
    assert patched.fit_fraction["ram"] > inplace.fit_fraction["ram"] + 0.3
    assert patched.largest_feasible.cost["macs"] > 2 * inplace.largest_feasible.cost["macs"]


def test_a_search_priced_in_another_memory_mode_is_not_resumed():
    """The evolution state's fingerprint holds export.memory: a patch-priced search must not resume
    the finished in-place one (it would never see the data configurations only patches make fit)."""
    import dataclasses
    from pathlib import Path

    from dnasgen.search.constraints import Pricer
    from dnasgen.search.runner import config_from_spec, fingerprint
    from dnasgen.spec import load_spec
    spec = load_spec(Path(__file__).resolve().parents[2] / "specs" / "quickstart_ram.yaml")
    inplace = dataclasses.replace(spec, export=dataclasses.replace(spec.export, memory="inplace"))
    prints = {fingerprint(s, config_from_spec(s, "evolution"), "supernet", Pricer(s, lambda c: {}))
              for s in (spec, inplace)}
    assert len(prints) == 2
