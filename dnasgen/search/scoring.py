"""The real fitness: a subnet of the trained supernet, BN-recalibrated, on the validation split.

`SupernetScorer.score_many` scores like `dnasgen.train.score_candidate` (BN recal on training
samples + validation accuracy; never the test split), on input tensors made once per data
configuration; `race_many` on a fixed part of the validation subset (the engine's racing). `holdout` gives the test-split
accuracy of a chosen candidate for the final report only. torch is imported here, lazily.

A candidate's subnet is sliced out of the supernet once (dnasgen.nn.frozen.FrozenSubnet: contiguous
weights, BN statistics of its own) and reused by every recalibration and evaluation batch and by
its full score after a race: the same logits, bit for bit, as recalibrate_bn + evaluate on the
active supernet, without re-slicing the max-size weights on every forward. Quickstart (trained
supernet, 1 thread, loaded 2-core box): a race (50 val / 32 recal images) 21 -> ~14 ms, a full
score (400 / 200) ~90 -> ~75 ms; the supernet's own BN statistics are left untouched.

Parallel scoring: full scores are not parallelised, on purpose: a score computed with another thread
count may differ in the last float bits (a borderline logit flips), and a full score must equal
score_candidate's at the configured threads. Races are: each race runs with ONE torch thread (its
bits are the same at every --threads and on every machine), the candidates of a race_many call
spread over `threads` Python workers (torch releases the GIL). At a race's sizes (50 images, 32-48
px) intra-op threads do not pay: quickstart, 2-core AMD EPYC, 209 raced candidates: ~7 ms a race
this way against ~20 ms with 2 intra-op threads that sleep between ops (OMP_WAIT_POLICY=PASSIVE,
dnasgen's default) and ~8 ms with them spinning (which stalls every op on a busy machine).
`load_scorer` puts the supernet on the GPU when there is one (races then run in turn). Torch threads
follow training's rule (`dnasgen.train.runtime.configure_threads`: --threads, $DNASGEN_THREADS, else
the available cores), so a score does not depend on the machine's load or on whether training ran
in the same process.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

from dnasgen.candidate import Candidate
from dnasgen.io import sha256_file
from dnasgen.search.state import ARTIFACTS, data_cache

INPUT_CACHE_BYTES = 1 << 30     # cached model inputs above this: the least recently used are made again
RACE_WORKERS_MIN = 2             # candidates in one race_many call before they are spread over workers
NET_CACHE_BYTES = 1 << 28       # sliced subnets (FrozenSubnet) kept between a candidate's race and full score


def _nbytes(entry) -> int:
    if hasattr(entry, "nbytes"):
        return int(entry.nbytes)
    return sum(int(getattr(a, "nbytes", 0)) for a in entry)


class _LRU:
    """Values made on demand by key, at most max_bytes of them kept (the least recently used go;
    the newest always stays)."""

    def __init__(self, max_bytes: int):
        self.max_bytes, self.items, self.bytes = max_bytes, {}, 0

    def get(self, key, make):
        if key in self.items:
            self.items[key] = self.items.pop(key)         # most recently used
            return self.items[key]
        value = self.items[key] = make()
        self.bytes += _nbytes(value)
        while len(self.items) > 1 and self.bytes > self.max_bytes:
            self.bytes -= _nbytes(self.items.pop(next(iter(self.items))))
        return value

    def __len__(self) -> int:
        return len(self.items)


class SupernetScorer:
    """Scores candidates with one trained supernet and one dataset bundle.

    The model inputs of each data configuration (the BN-recalibration images and the validation
    subset, preprocessed and converted by to_input) are made once per scorer and reused by every
    candidate of that configuration: the same tensors, bit for bit, as a fresh preprocessing (at
    most cache_bytes of them are kept: the least recently used are made again when needed).
    Sliced subnets are kept by candidate (NET_CACHE_BYTES), so a raced candidate's full score
    does not slice it again. `race_many` scores on the first `samples` of a fixed seeded ordering of the validation subset
    (search.race_samples: successive halving in the engine); `score_many` on all of it."""

    def __init__(self, supernet, bundle, spec, identity: str = "", threads: int | None = None,
                 cache_bytes: int = INPUT_CACHE_BYTES):
        from dnasgen.train.runtime import configure_threads
        self.supernet, self.bundle, self.spec = supernet, bundle, spec
        self.identity = identity       # checkpoint digest: part of the search state fingerprint
        self.scored = 0
        self.raced = 0
        self.threads = configure_threads(threads)    # training's rule: --threads, env, the cores
        self._inputs = _LRU(cache_bytes)      # (data, samples, recal) -> inputs
        self._nets = _LRU(NET_CACHE_BYTES)    # candidate key -> FrozenSubnet (weights sliced once)

    def inputs(self, data, samples: int | None = None, recal: int | None = None):
        """(recalibration tensor, validation tensor, validation labels) of a data configuration,
        made once: to_input of recal_arrays and of the eval_samples subset. samples / recal (racing):
        the first `samples` of a seeded ordering of that subset (kept in subset order) and `recal`
        recalibration images (recal_arrays' own subset), the same for every candidate."""
        if samples is None and recal is None:      # bounded: a large space's inputs (e.g. 12 configs
            return self._inputs.get((data, None, None), lambda: self._make_inputs(data))  # x 2000) won't fit
        return self._inputs.get((data, samples, recal), lambda: self._race_inputs(data, samples, recal))

    def _make_inputs(self, data):
        import numpy as np

        from dnasgen.train.evaluate import _device, recal_arrays, subset
        from dnasgen.train.runtime import to_input
        spec, device = self.spec, _device(self.supernet)
        x, y = self.bundle.arrays("val", data)
        idx = subset(len(y), spec.search.eval_samples, spec.train.seed)
        recal = recal_arrays(self.bundle, data, spec.train.bn_recal_samples, spec.train.seed)
        return to_input(recal, device), to_input(x[idx], device), np.asarray(y[idx])

    def _race_inputs(self, data, samples: int | None, recal: int | None):
        import numpy as np
        import torch

        from dnasgen.train.evaluate import _device, recal_arrays
        from dnasgen.train.runtime import to_input
        x_recal, x, y = self.inputs(data)
        if recal == 0:
            x_recal = None          # the race images' own batch statistics (FrozenSubnet.batch_accuracy)
        elif recal is not None:
            x_recal = to_input(recal_arrays(self.bundle, data, recal, self.spec.train.seed), _device(self.supernet))
        if samples is not None and samples < len(y):
            pick = np.sort(np.random.default_rng(self.spec.train.seed + 1).permutation(len(y))[:samples])
            x, y = x[torch.from_numpy(pick)].contiguous(memory_format=torch.channels_last), y[pick]
        return x_recal, x, y

    def subnet(self, cand: Candidate):
        """The candidate's FrozenSubnet (weights sliced once; kept for its next stage of scoring)."""
        from dnasgen.nn.frozen import FrozenSubnet

        def make():
            self.supernet.set_active(cand)
            return FrozenSubnet(self.supernet, cand.data.channels)
        return self._nets.get(cand.key, make)

    def _accuracy(self, cand: Candidate, samples: int | None = None, recal: int | None = None) -> float:
        """BN recalibration then validation accuracy, as recalibrate_bn + evaluate on the active
        supernet (bit for bit) on the candidate's once-sliced subnet."""
        return _run_accuracy(self.subnet(cand), self.inputs(cand.data, samples, recal))

    def score_many(self, candidates: Sequence[Candidate]) -> list[float]:
        out = [self._accuracy(cand, None) for cand in candidates]
        self.scored += len(out)
        return out

    def race_many(self, candidates: Sequence[Candidate], samples: int, recal: int | None = None) -> list[float]:
        """The racing stage's cheaper accuracy: BN recalibrated on `recal` images (None: all of
        train.bn_recal_samples; 0: no recalibration pass, the `samples` images' own batch statistics
        in one forward), evaluated on `samples` of the validation subset. Always computed with one
        torch thread per candidate (the same bits on every machine and at every --threads), the
        candidates spread over `threads` workers (RACE_WORKERS_MIN candidates at least; CPU only)."""
        from dnasgen.train.evaluate import _device
        jobs = [(self.subnet(cand), self.inputs(cand.data, samples, recal)) for cand in candidates]
        out = _race_jobs(jobs, self.threads if _device(self.supernet).type == "cpu" else 1)
        self.raced += len(out)
        return out

    def holdout(self, cand: Candidate) -> float:
        """Test-split accuracy of the candidate's supernet subnet (report only, never for selection)."""
        from dnasgen.train import evaluate, recalibrate_bn
        from dnasgen.train.evaluate import subset
        spec = self.spec
        self.supernet.set_active(cand)
        recalibrate_bn(self.supernet, self.inputs(cand.data)[0])
        x, y = self.bundle.arrays("test", cand.data)
        idx = subset(len(y), spec.search.eval_samples, spec.train.seed)
        return float(evaluate(self.supernet, x[idx], y[idx]))


def _run_accuracy(net, inputs) -> float:
    from dnasgen.train.evaluate import EVAL_BATCH, RECAL_BATCH
    x_recal, x, y = inputs
    if x_recal is None:
        return net.batch_accuracy(x, y)
    return net.recalibrate(x_recal, RECAL_BATCH).accuracy(x, y, EVAL_BATCH)


def _race_jobs(jobs: list, workers: int) -> list[float]:
    """_run_accuracy of each (subnet, inputs) job with one torch thread, over `workers` Python
    threads (torch ops release the GIL; why and the figures: this module's docstring). A subnet raced
    twice in one call runs once. Restores the process's thread count."""
    import torch
    threads = torch.get_num_threads()
    unique = list({id(net): (net, inputs) for net, inputs in jobs}.values())
    torch.set_num_threads(1)
    try:
        if workers < 2 or len(unique) < RACE_WORKERS_MIN:
            done = [_run_accuracy(*job) for job in unique]
        else:
            with ThreadPoolExecutor(min(workers, len(unique))) as pool:
                done = list(pool.map(lambda job: _run_accuracy(*job), unique))
    finally:
        torch.set_num_threads(threads)
    by_net = {id(job[0]): acc for job, acc in zip(unique, done)}
    return [by_net[id(net)] for net, _ in jobs]


def supernet_checkpoint(spec, workdir: Path, bundle=None) -> Path:
    """The trained supernet of this spec (trains it, or resumes/reuses the cached checkpoint)."""
    from dnasgen.train import train_supernet
    return Path(train_supernet(spec, Path(workdir) / ARTIFACTS, bundle=bundle))


def load_scorer(spec, workdir: Path, checkpoint: Path | None = None) -> SupernetScorer:
    """A scorer over the spec's supernet (trained on demand) and dataset."""
    from dnasgen.data import open_dataset
    from dnasgen.nn import load_supernet
    bundle = open_dataset(spec, cache_dir=data_cache(workdir))
    path = Path(checkpoint) if checkpoint else supernet_checkpoint(spec, workdir, bundle)
    supernet = load_supernet(path).eval()
    import torch
    if torch.cuda.is_available():
        supernet = supernet.cuda()
    return SupernetScorer(supernet, bundle, spec, identity=sha256_file(path))
