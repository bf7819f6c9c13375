"""The differentiable search's relaxed costs are THE cost model's: exact at one-hot probabilities,
exact expectations (flash, latency) under any probabilities, the planner's live set for peak RAM."""
import dataclasses
import random
from itertools import product
from pathlib import Path

import pytest

from dnasgen.cost import estimate_spec, graph_cost
from dnasgen.search.diffcost import (decode, encode, expected_flash, expected_latency_ms, gene_options,
                                     one_hot, peak_live, relaxed_costs, tables_for_spec)
from dnasgen.spec import load_spec

torch = pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def quickstart():
    spec = load_spec(ROOT / "specs" / "quickstart.yaml")
    return spec, tables_for_spec(spec)


def test_encode_decode_round_trip(quickstart):
    spec, _ = quickstart
    rng = random.Random(0)
    for _ in range(50):
        cand = spec.space.sample(rng)
        assert decode(spec.space, encode(spec.space, cand)) == cand


@pytest.mark.parametrize("seed", range(3))
def test_one_hot_costs_equal_the_cost_model(quickstart, seed):
    spec, tables = quickstart
    rng = random.Random(seed)
    for _ in range(15):
        cand = spec.space.sample(rng)
        exact = estimate_spec(spec, cand)
        probs = one_hot(spec.space, cand)
        assert float(expected_flash(spec.space, tables, probs)) == pytest.approx(exact.flash_bytes, abs=1e-6)
        assert float(expected_latency_ms(spec.space, tables, probs)) == pytest.approx(exact.latency_ms, rel=1e-12)
        plan = graph_cost(cand, spec.num_classes, spec.space.head_channels).plan
        assert float(peak_live(spec.space, tables, probs, smooth=None)) == pytest.approx(plan.peak_live_bytes)
        smooth = float(relaxed_costs(spec.space, tables, probs)["ram_bytes"])
        assert exact.ram_bytes * 0.95 <= smooth <= exact.ram_bytes * 1.3      # a surrogate, near the figure


RANDOM_GENES = ("data", "width", "depth1", "kernel1.1", "expand1.1", "kernel2.0", "expand3.0")


def test_expected_flash_and_latency_are_exact_expectations(quickstart):
    """Random probabilities on some genes (the others one-hot): the probability-weighted mean over
    every candidate they span (ADD and depthwise-kernel code included)."""
    spec, tables = quickstart
    space, opts = spec.space, gene_options(spec.space)
    gen = torch.Generator().manual_seed(0)
    probs = one_hot(space, space.smallest())
    probs.update({g: torch.softmax(torch.randn(len(opts[g]), generator=gen, dtype=torch.float64), 0)
                  for g in RANDOM_GENES})
    base = encode(space, space.smallest())
    flash = latency = 0.0
    for combo in product(*(range(len(opts[g])) for g in RANDOM_GENES)):
        index = {**base, **dict(zip(RANDOM_GENES, combo))}
        weight = float(torch.prod(torch.stack([probs[g][k] for g, k in index.items()])))
        exact = estimate_spec(spec, decode(space, index))
        flash += weight * exact.flash_bytes
        latency += weight * exact.latency_ms
    assert float(expected_flash(space, tables, probs)) == pytest.approx(flash, rel=1e-9)
    assert float(expected_latency_ms(space, tables, probs)) == pytest.approx(latency, rel=1e-9)


def test_relaxed_costs_have_gradients_towards_cheaper_choices(quickstart):
    spec, tables = quickstart
    logits = {g: torch.zeros(len(o), dtype=torch.float64, requires_grad=True)
              for g, o in gene_options(spec.space).items()}
    costs = relaxed_costs(spec.space, tables, {g: torch.softmax(v, 0) for g, v in logits.items()})
    sum(costs.values()).backward()
    data = gene_options(spec.space)["data"]
    grad = dict(zip(data, logits["data"].grad.tolist()))
    big, small = max(data, key=lambda d: (d.resolution, d.channels)), min(data, key=lambda d: (d.resolution, d.channels))
    assert grad[big] > 0 > grad[small]                 # gradient descent moves mass to the small input
    expand = logits["expand3.0"].grad.tolist()
    assert expand[0] < 0 < expand[-1]                  # expand 3 cheaper than 6


class _Argmax:
    """A trainer stub whose architecture logits point at one candidate."""

    def __init__(self, space, cand):
        self.arch = type("Arch", (), {"argmax": staticmethod(lambda: encode(space, cand))})()


def test_argmax_over_budget_is_repaired_and_the_report_says_by_how_much(quickstart):
    from dnasgen.boards import get_board
    from dnasgen.search.constraints import Pricer
    from dnasgen.search.diffrun import _choose
    from dnasgen.search.report import _differentiable_lines
    spec = quickstart[0]
    small, large = (estimate_spec(spec, c).ram_bytes for c in (spec.space.smallest(), spec.space.largest()))
    board = get_board(spec.board.id, ram_kb=(small + large) / 2 / 1024, reserve_ram_kb=0)
    tight = dataclasses.replace(spec, board=board)
    pricer = Pricer(tight)
    chosen, argmax, record = _choose(tight, _Argmax(spec.space, spec.space.largest()), pricer)
    assert argmax == spec.space.largest() and not pricer.fits(argmax)
    assert pricer.fits(chosen) and spec.space.contains(chosen) and record["repaired"]
    assert record["before"]["ram_bytes"] == large and record["after"]["ram_bytes"] <= board.ram_budget_bytes
    assert record["overshoot"] >= large / board.ram_budget_bytes - 1 - 1e-3 > 0.05     # + any latency excess
    fits, _, kept = _choose(spec, _Argmax(spec.space, spec.space.smallest()), Pricer(spec))
    assert fits == spec.space.smallest() and kept == {"repaired": False}
    info = {"warmup_epochs": 1, "epochs": 2, "warmup_s": 1.0, "search_s": 2.0, "strengths": {"ram_bytes": 3.0},
            "argmax": argmax.to_dict(), **record, "selection": {"draws": 4, "distinct": 3, "feasible": 2,
            "argmax_score": 0.5, "chosen_score": 0.625, "chosen_is_argmax": False, "seconds": 0.25}}
    text = "\n".join(_differentiable_lines(info))
    assert "**repaired**" in text and f"RAM {large:,} -> {record['after']['ram_bytes']:,} B" in text
    assert "4 draws from the learned distribution (3 distinct, 2 feasible, 0.2 s): a draw, supernet val 0.625 " \
        "vs the argmax's 0.500" in text
    info["selection"]["draws"] = 0
    assert "draws from" not in "\n".join(_differentiable_lines(info))


def test_expected_depthwise_code_shares_one_generic_kernel_between_5x5_and_7x7(quickstart):
    """Kernels 3/5/7: 5x5 and 7x7 run on the same dn_dwk, so its code counts with the probability that
    some block uses either (exact expectation over the kernel genes, one-hot costs equal the model)."""
    spec = dataclasses.replace(quickstart[0], space=dataclasses.replace(quickstart[0].space, kernels=(3, 5, 7)))
    space, opts = spec.space, gene_options(spec.space)
    tables = tables_for_spec(spec)
    assert tables.dw_code.tolist() == [1396, 1742] and tables.dw_uses.tolist() == [[1, 0, 0], [0, 1, 1]]
    genes = ("depth1", "kernel1.0", "kernel1.1", "kernel2.0")
    gen = torch.Generator().manual_seed(1)
    probs = one_hot(space, space.smallest())
    probs.update({g: torch.softmax(torch.randn(len(opts[g]), generator=gen, dtype=torch.float64), 0) for g in genes})
    base, flash = encode(space, space.smallest()), 0.0
    for combo in product(*(range(len(opts[g])) for g in genes)):
        index = {**base, **dict(zip(genes, combo))}
        weight = float(torch.prod(torch.stack([probs[g][k] for g, k in index.items()])))
        exact = estimate_spec(spec, decode(space, index)).flash_bytes
        hot = one_hot(space, decode(space, index))
        assert float(expected_flash(space, tables, hot)) == pytest.approx(exact, abs=1e-6)
        flash += weight * exact
    assert float(expected_flash(space, tables, probs)) == pytest.approx(flash, rel=1e-9)
