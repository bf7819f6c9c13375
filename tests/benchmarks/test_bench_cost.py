"""Speed of the cost model and of `dnasgen plan` (pytest-benchmark; run with `make bench`)."""
import random
from pathlib import Path

import pytest

from dnasgen.candidate import SearchSpace
from dnasgen.cost import estimate, graph_cost, plan_graph
from dnasgen.graph import build_graph
from dnasgen.plan import make_plan

ROOT = Path(__file__).resolve().parents[2]
SPACE = SearchSpace(resolutions=(96, 128, 160), colors=("grayscale", "rgb"), widths=(0.35, 0.5, 0.75, 1.0),
                    depths=((1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), (1, 2, 3), (1, 2, 3), (1,)),
                    kernels=(3, 5, 7), expands=(3, 4, 6))


@pytest.fixture(scope="module")
def candidates():
    rng = random.Random(0)
    return [SPACE.sample(rng) for _ in range(200)]


def test_bench_estimate_uncached(benchmark, candidates):
    """One estimate() of a fresh candidate (graph + planner + flash + latency): 200 per round."""
    from dnasgen.boards import get_board
    board = get_board("arduino-nano-33-ble-sense")

    def run():
        graph_cost.cache_clear()
        return [estimate(c, board, 2, 1280) for c in candidates]
    reports = benchmark(run)
    assert len(reports) == 200 and all(r.ram_bytes > 0 for r in reports)


def test_bench_plan_graph(benchmark, candidates):
    graphs = [build_graph(c, 2, 1280) for c in candidates[:50]]
    plans = benchmark(lambda: [plan_graph(g) for g in graphs])
    assert all(p.arena_bytes >= p.peak_live_bytes for p in plans)


def test_bench_make_plan_quickstart(benchmark):
    from dnasgen.spec import load_spec
    spec = load_spec(ROOT / "specs" / "quickstart.yaml", check_paths=False)

    def run():
        graph_cost.cache_clear()
        return make_plan(spec)
    plan = benchmark(run)
    assert plan.samples == 500
