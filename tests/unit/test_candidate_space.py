"""SearchSpace: size, sampling, mutation and crossover stay inside the space; Candidate JSON."""
import random
from itertools import product

import pytest

from dnasgen.candidate import ArchConfig, Candidate, DataConfig, SearchSpace, StageConfig

TINY = SearchSpace(resolutions=(32,), colors=("rgb", "grayscale"), widths=(0.25, 0.5),
                   depths=((1,), (1, 2), (1,), (1,), (1,), (1,), (1, 2)), kernels=(3, 5), expands=(6,))


def _stages(space, i):
    """Every StageConfig stage i can take."""
    for depth in space.depths[i]:
        for kernels in product(space.kernels, repeat=depth):
            for expands in product(space.expand_choices(i), repeat=depth):
                yield StageConfig(depth, kernels, expands)


def enumerate_space(space):
    for data, width in product(space.data_configs(), space.widths):
        for stages in product(*(list(_stages(space, i)) for i in range(7))):
            yield Candidate(data, ArchConfig(width, stages))


def test_size_counts_every_distinct_candidate():
    every = {c.key for c in enumerate_space(TINY)}
    # per block 2 kernels x 1 expand; stages 1 and 6 take 1 or 2 blocks: 2 + 4; x 2 widths x 2 colours
    assert len(every) == TINY.size() == 2 * 6 * 2 ** 4 * 6 * 2 * 2
    assert all(TINY.contains(Candidate.from_json(k)) for k in list(every)[:50])


def test_size_of_a_large_space_is_exact_and_quick():
    big = SearchSpace(widths=(0.5, 1.0), depths=tuple((1, 2, 3, 4, 5, 6) for _ in range(7)),
                      kernels=(3, 5, 7), expands=(1, 2, 3, 4, 5, 6))
    per_stage = [sum((3 * 6) ** d for d in range(1, 7))] * 6
    assert big.size() == sum(3 ** d for d in range(1, 7)) * per_stage[0] ** 6 * 2


@pytest.mark.parametrize("seed", range(20))
def test_sample_mutate_crossover_stay_inside(seed):
    rng = random.Random(seed)
    a, b = TINY.sample(rng), TINY.sample(rng)
    children = [a, b, TINY.mutate(a, rng, prob=0.5), TINY.crossover(a, b, rng),
                TINY.mutate(b, rng, prob=1.0), TINY.largest(), TINY.smallest()]
    for child in children:
        assert TINY.violations(child) == []
        assert child.arch.stages[0].expand == (1,) * child.arch.stages[0].depth
    fixed = TINY.crossover(a, b, rng, fixed_data=True)
    assert fixed.data == a.data and TINY.mutate(a, rng, prob=1.0, fixed_data=True).data == a.data


def test_json_round_trip_and_violations():
    cand = TINY.largest()
    assert Candidate.from_json(cand.to_json(indent=2)) == cand and cand.key == Candidate.from_dict(
        cand.to_dict()).key
    assert (cand.data, cand.arch.width, cand.arch.stages[1].depth) == (DataConfig(32, "rgb"), 0.5, 2)
    outside = Candidate(DataConfig(40, "rgb"), cand.arch)
    assert TINY.violations(outside) == ["resolution 40 not in [32]"]
    with pytest.raises(ValueError, match="missing field 'arch'"):
        Candidate.from_dict({"data": cand.data.to_dict()})
