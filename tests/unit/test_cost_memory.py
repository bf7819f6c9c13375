"""THE memory planner: invariants on random candidates and hand-checked small schedules."""
import random

import pytest

from dnasgen.candidate import SearchSpace
from dnasgen.cost import lifetimes, mcunet_peak, plan_arena, plan_graph
from dnasgen.graph import build_graph

SPACE = SearchSpace(resolutions=(48, 64, 75, 96, 128), colors=("grayscale", "rgb"),
                    widths=(0.35, 0.5, 0.75, 1.0),
                    depths=((1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), (1, 2, 3), (1, 2, 3), (1,)),
                    kernels=(3, 5, 7), expands=(3, 4, 6))


def random_graphs(n, seed=0):
    rng = random.Random(seed)
    return [build_graph(SPACE.sample(rng), rng.choice([2, 10]), 1280) for _ in range(n)]


def check_no_overlap(plan):
    """No two live tensors share bytes, except in-place pairs, which sit exactly delta apart."""
    for out, (src, delta) in plan.overlaps.items():
        assert plan.offsets[src] - plan.offsets[out] == delta >= 0
    names = sorted(plan.offsets)
    for i, a in enumerate(names):
        fa, la = plan.lifetimes[a]
        for b in names[i + 1:]:
            fb, lb = plan.lifetimes[b]
            if fa <= lb and fb <= la and not plan.shares_bytes(a, b):   # live at the same time
                a0, a1 = plan.offsets[a], plan.offsets[a] + plan.sizes[a]
                b0, b1 = plan.offsets[b], plan.offsets[b] + plan.sizes[b]
                assert a1 <= b0 or b1 <= a0, f"{a} [{a0},{a1}) overlaps {b} [{b0},{b1})"


@pytest.mark.parametrize("graph", random_graphs(25), ids=lambda g: f"{len(g.ops)}ops")
def test_planner_invariants_on_random_candidates(graph):
    inplace = plan_graph(graph, mode="inplace")
    check_no_overlap(inplace)
    assert inplace.peak_live_bytes <= inplace.arena_bytes <= plan_graph(graph, mode="layer").arena_bytes
    plan = plan_graph(graph, mode="layer")
    check_no_overlap(plan)
    assert all(off % 16 == 0 for off in plan.offsets.values())
    assert plan.arena_bytes % 16 == 0
    assert all(plan.offsets[n] + plan.sizes[n] <= plan.arena_bytes for n in plan.offsets)
    live_sets = [sum(-(-plan.sizes[n] // 16) * 16 for n in plan.live_at(s)) for s in range(len(graph.ops))]
    assert plan.arena_bytes >= max(live_sets) == plan.peak_live_bytes
    # every step: the op's inputs and output are live together
    for step, op in enumerate(graph.ops):
        live = set(plan.live_at(step))
        assert set(op.inputs) | {op.output} <= live
    assert plan.lifetimes[graph.input][0] == 0
    assert plan.lifetimes[graph.output][1] == len(graph.ops) - 1
    assert plan_graph(graph, mode="layer") == plan and plan_graph(graph) == inplace   # deterministic


def test_arena_at_least_largest_op_working_set():
    for graph in random_graphs(10, seed=3):
        plan = plan_graph(graph, mode="layer")
        need = max(sum(graph.tensor_bytes(t) for t in set(op.inputs) | {op.output}) for op in graph.ops)
        assert plan.arena_bytes >= need


def test_residual_skip_is_kept_live_and_mcunet_rule_underestimates():
    # a -> x -> y -> add(a, y): a must stay live through x and y
    sizes = {"a": 100, "x": 600, "y": 100, "out": 100}
    schedule = [(("a",), "x"), (("x",), "y"), (("a", "y"), "out")]
    plan = plan_arena(sizes, schedule, alignment=1)
    assert plan.lifetimes == {"a": (0, 2), "x": (0, 1), "y": (1, 2), "out": (2, 2)}
    check_no_overlap(plan)
    assert plan.arena_bytes == 800          # a + x + y live at step 1; MCUNet rule says 700
    assert plan.peak_live_bytes == 800


def test_chain_reuses_memory_and_alignment_rounds_up():
    sizes = {"in": 10, "t1": 30, "t2": 20, "t3": 5}
    schedule = [(("in",), "t1"), (("t1",), "t2"), (("t2",), "t3")]
    plan = plan_arena(sizes, schedule, alignment=16)
    check_no_overlap(plan)
    assert plan.arena_bytes == 32 + 32        # t1 (32 aligned) with t2 (32): 64
    assert plan.offsets["in"] % 16 == 0 and plan.offsets["t3"] % 16 == 0
    assert plan_arena(sizes, schedule, alignment=1).arena_bytes == 50


def test_second_ordering_kept_when_smaller():
    # largest-first puts t4 at 0 and leaves a 20-byte hole t2 cannot use (170 B); first-use: 130 B
    sizes = {"t0": 80, "t1": 50, "t2": 40, "t3": 20, "t4": 60}
    schedule = [(("t0",), "t1"), (("t1",), "t2"), (("t2",), "t3"), (("t2", "t3"), "t4")]
    plan = plan_arena(sizes, schedule, alignment=1)
    check_no_overlap(plan)
    assert (plan.strategy, plan.arena_bytes) == ("first_use", 130)
    assert plan.peak_live_bytes == 130
    # the first ordering wins ties: on a plain chain both give the same arena
    assert plan_arena({"a": 8, "b": 8}, [(("a",), "b")], alignment=1).strategy == "size"


def test_keep_and_unscheduled_tensors_live_to_the_end():
    sizes = {"in": 8, "mid": 8, "out": 8, "extra": 4, "scratch": 4}
    schedule = [(("in",), "mid"), (("mid",), "out"), (("out",), "extra")]
    spans = lifetimes(sizes, schedule, keep=("out",))
    assert spans["out"] == (1, 2)
    assert spans["extra"] == (2, 2)
    assert spans["scratch"] == (0, 2)
    check_no_overlap(plan_arena(sizes, schedule, alignment=4, keep=("out",)))


def test_bad_schedules_are_rejected():
    with pytest.raises(ValueError, match="without a size"):
        plan_arena({"a": 1}, [(("a",), "b")])
    with pytest.raises(ValueError, match="after being used"):
        plan_arena({"a": 1, "b": 1}, [(("a",), "b"), (("b",), "a")])
    with pytest.raises(ValueError, match="alignment"):
        plan_arena({"a": 1}, [], alignment=0)


def test_mcunet_peak_is_max_input_plus_output():
    graph = random_graphs(1, seed=7)[0]
    expect = max(graph.tensor_bytes(op.inputs[-1]) + graph.tensor_bytes(op.output) for op in graph.ops)
    assert mcunet_peak(graph) == expect
    assert plan_graph(graph, mode="layer").arena_bytes >= mcunet_peak(graph)


def test_plan_to_dict_lists_every_tensor():
    graph = random_graphs(1, seed=11)[0]
    d = plan_graph(graph).to_dict()
    assert set(d["tensors"]) == set(graph.tensors)
    assert d["arena_bytes"] == plan_graph(graph).arena_bytes


def test_longest_lived_first_reaches_the_lower_bound_on_mobilenet_v2_05_128():
    # largest-first leaves the s1b0 residual skip tensor above s1b0.dw: 262,144 B
    full = SearchSpace(resolutions=(128,), widths=(0.5,)).largest()     # kernel 3, expand 6, full depth
    graph = build_graph(full, 2, 1280)
    plan = plan_graph(graph, mode="layer")
    assert (plan.strategy, plan.arena_bytes) == ("duration", 245_760)
    assert plan.arena_bytes == plan.peak_live_bytes == mcunet_peak(graph)


def test_arena_meets_the_live_set_lower_bound_on_most_random_candidates():
    graphs = random_graphs(40, seed=21)
    tight = sum(plan_graph(g, mode="layer").arena_bytes == plan_graph(g, mode="layer").peak_live_bytes
                for g in graphs)
    assert tight >= 36
    # in place: an expanding 1x1 conv's input ends in_c bytes past its output, rounded up to the
    # alignment, so the bound (the union of the live bytes) is reached within 16 B
    near = sum(plan_graph(g).arena_bytes - plan_graph(g).peak_live_bytes <= 16 for g in graphs)
    assert near >= 36
