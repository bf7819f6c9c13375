"""The differentiable search's relaxed costs are THE cost model's: exact at one-hot probabilities,
exact expectations (flash, latency) under any probabilities, the planner's live set for peak RAM."""
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
