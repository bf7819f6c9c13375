"""The real fitness: a subnet of the trained supernet, BN-recalibrated, on the validation split.

`SupernetScorer.score_many` calls `dnasgen.train.score_candidate` per candidate (BN recal on
training samples + validation accuracy; never the test split). `holdout` gives the test-split
accuracy of a chosen candidate for the final report only. torch is imported here, lazily.

Parallel scoring: not done across processes, on purpose. Measured on the 2-core CPU box
(quickstart, 32-48 px, 200 BN-recal + 400 val images): 675 candidates/min with 1 torch thread,
830-950 with 2 intra-op threads; two 1-thread worker processes could at best add ~40 % on an idle
machine, while a score computed with another thread count may differ in the last float bits
(a borderline logit flips), so "parallel without changing results" would not hold, and the search
is dominated by supernet training anyway (48 evaluations: 5-12 s vs ~40 s of training).
`load_scorer` puts the supernet on the GPU when there is one. Torch threads follow training's rule
(`dnasgen.train.runtime.configure_threads`: --threads, $DNASGEN_THREADS, else the available cores),
so a score does not depend on the machine's load or on whether training ran in the same process.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from dnasgen.candidate import Candidate
from dnasgen.io import sha256_file
from dnasgen.search.state import ARTIFACTS, data_cache


class SupernetScorer:
    """Scores candidates with one trained supernet and one dataset bundle."""

    def __init__(self, supernet, bundle, spec, identity: str = "", threads: int | None = None):
        from dnasgen.train.runtime import configure_threads
        self.supernet, self.bundle, self.spec = supernet, bundle, spec
        self.identity = identity       # checkpoint digest: part of the search state fingerprint
        self.scored = 0
        self.threads = configure_threads(threads)    # training's rule: --threads, env, the cores

    def score_many(self, candidates: Sequence[Candidate]) -> list[float]:
        from dnasgen.train import score_candidate
        out = []
        for cand in candidates:
            out.append(float(score_candidate(self.supernet, self.bundle, cand, self.spec)))
            self.scored += 1
        return out

    def holdout(self, cand: Candidate) -> float:
        """Test-split accuracy of the candidate's supernet subnet (report only, never for selection)."""
        from dnasgen.train import evaluate, recalibrate_bn
        from dnasgen.train.evaluate import recal_arrays, subset
        spec = self.spec
        self.supernet.set_active(cand)
        recalibrate_bn(self.supernet, recal_arrays(self.bundle, cand.data, spec.train.bn_recal_samples,
                                                   spec.train.seed))
        x, y = self.bundle.arrays("test", cand.data)
        idx = subset(len(y), spec.search.eval_samples, spec.train.seed)
        return float(evaluate(self.supernet, x[idx], y[idx]))


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
