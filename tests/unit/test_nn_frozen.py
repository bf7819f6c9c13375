"""FrozenSubnet (weights sliced once, for scoring) == the active supernet, bit for bit.

Both BN phases of a score: recalibration (batch statistics, cumulative average over batches of
RECAL_BATCH) then eval-mode logits, on channels-last inputs as the scorer makes them, with a
shared and with per-colour stems, odd resolutions, kernels 3/5/7 and every depth.
"""
import random

import numpy as np
import pytest
import torch

from dnasgen.candidate import SearchSpace
from dnasgen.nn import Supernet
from dnasgen.nn.frozen import FrozenSubnet
from dnasgen.train import recalibrate_bn
from dnasgen.train.evaluate import EVAL_BATCH, RECAL_BATCH, evaluate

SPACE = SearchSpace(resolutions=(32, 41), colors=("grayscale", "rgb"), widths=(0.35, 0.5),
                    depths=((1,), (1, 2), (1, 2, 3), (2, 3), (1, 2), (1, 2), (1,)),
                    kernels=(3, 5, 7), expands=(3, 6), head_channels=128, num_classes=3)


@pytest.fixture(scope="module", params=[False, True], ids=["shared-stem", "colour-stems"])
def supernet(request):
    torch.manual_seed(0)
    return Supernet(SPACE, color_stems=request.param).eval()


def _input(cand, n: int, seed: int) -> torch.Tensor:
    g, r = torch.Generator().manual_seed(seed), cand.data.resolution
    x = torch.rand(n, cand.data.channels, r, r, generator=g) * 2 - 1
    return x.contiguous(memory_format=torch.channels_last)


def _candidates():
    rng = random.Random(3)
    return [SPACE.largest(), SPACE.smallest()] + [SPACE.sample(rng) for _ in range(4)]


@pytest.mark.parametrize("idx", range(6))
def test_frozen_subnet_equals_the_active_supernet(supernet, idx):
    cand = _candidates()[idx]
    x_recal, x = _input(cand, RECAL_BATCH + 37, idx), _input(cand, 40, 100 + idx)   # two recal batches
    supernet.set_active(cand)
    frozen = FrozenSubnet(supernet, cand.data.channels)
    before = {k: v.clone() for k, v in supernet.state_dict().items()}
    frozen.recalibrate(x_recal, RECAL_BATCH)
    assert all(torch.equal(v, before[k]) for k, v in supernet.state_dict().items())   # supernet untouched
    recalibrate_bn(supernet, x_recal)
    with torch.no_grad():
        ref, got = supernet(x), frozen.forward(x)
    assert torch.equal(ref, got)                                     # bit for bit
    assert torch.equal(frozen.head.mean, supernet.head.bn.running_mean[:frozen.head.out])
    y = np.arange(len(x)) % SPACE.num_classes
    assert frozen.accuracy(x, y, EVAL_BATCH) == evaluate(supernet, x, y)
    assert frozen.accuracy(x, y, 16) == evaluate(supernet, x, y, 16)


def test_frozen_subnet_recalibrates_afresh(supernet):
    """A second recalibration (the full stage after a race) forgets the first one's statistics."""
    cand = _candidates()[2]
    supernet.set_active(cand)
    frozen = FrozenSubnet(supernet, cand.data.channels)
    x_a, x_b = _input(cand, 20, 1), _input(cand, 50, 2)
    frozen.recalibrate(x_a, RECAL_BATCH).recalibrate(x_b, RECAL_BATCH)
    fresh = FrozenSubnet(supernet, cand.data.channels).recalibrate(x_b, RECAL_BATCH)
    assert all(torch.equal(a.var, b.var) and torch.equal(a.mean, b.mean)
               for a, b in zip(frozen.layers(), fresh.layers()))
    assert frozen.nbytes > 0 and len(frozen.layers()) == 2 + sum(
        (2 + (e != 1)) for st in cand.arch.stages for e in st.expand)


@pytest.mark.parametrize("idx", [0, 1, 3])
def test_batch_accuracy_is_a_train_mode_forward_of_the_batch(supernet, idx):
    """The one-pass race (search.race_recal_samples: 0): logits normalised by the evaluated images'
    own batch statistics, bit for bit a train-mode forward of the active supernet on that batch;
    the supernet is untouched and a later recalibration starts afresh."""
    import copy
    cand = _candidates()[idx]
    x = _input(cand, 50, 7 + idx)
    supernet.set_active(cand)
    frozen = FrozenSubnet(supernet, cand.data.channels)
    before = {k: v.clone() for k, v in supernet.state_dict().items()}
    y = np.arange(len(x)) % SPACE.num_classes
    acc = frozen.batch_accuracy(x, y)
    assert all(torch.equal(v, before[k]) for k, v in supernet.state_dict().items())
    reference = copy.deepcopy(supernet).train()
    with torch.no_grad():
        ref = reference(x)
        for op in frozen.layers():
            op.reset()
        assert torch.equal(frozen.forward(x, 1.0), ref)
    assert acc == float((ref.argmax(dim=1).numpy() == y).mean())
    x_recal = _input(cand, 30, 99)
    frozen.recalibrate(x_recal, RECAL_BATCH)
    fresh = FrozenSubnet(supernet, cand.data.channels).recalibrate(x_recal, RECAL_BATCH)
    assert all(torch.equal(a.var, b.var) and torch.equal(a.mean, b.mean) for a, b in zip(frozen.layers(), fresh.layers()))
