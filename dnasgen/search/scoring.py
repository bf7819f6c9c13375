"""The real fitness: a subnet of the trained supernet, BN-recalibrated, on the validation split.

`SupernetScorer.score_many` calls `dnasgen.train.score_candidate` per candidate (BN recal on
training samples + validation accuracy; never the test split). `holdout` gives the test-split
accuracy of a chosen candidate for the final report only. torch is imported here, lazily.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from dnasgen.candidate import Candidate
from dnasgen.search.state import file_digest


class SupernetScorer:
    """Scores candidates with one trained supernet and one dataset bundle."""

    def __init__(self, supernet, bundle, spec, identity: str = ""):
        self.supernet, self.bundle, self.spec = supernet, bundle, spec
        self.identity = identity       # checkpoint digest: part of the search state fingerprint
        self.scored = 0

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
        self.supernet.set_active(cand)
        x_cal, _ = self.bundle.arrays("train", cand.data, limit=self.spec.train.bn_recal_samples)
        recalibrate_bn(self.supernet, x_cal)
        x_test, y_test = self.bundle.arrays("test", cand.data, limit=self.spec.search.eval_samples)
        return float(evaluate(self.supernet, x_test, y_test))


def supernet_checkpoint(spec, workdir: Path) -> Path:
    """The trained supernet of this spec (trains it, or resumes/reuses the cached checkpoint)."""
    from dnasgen.train import train_supernet
    return Path(train_supernet(spec, Path(workdir)))


def load_scorer(spec, workdir: Path, checkpoint: Path | None = None) -> SupernetScorer:
    """A scorer over the spec's supernet (trained on demand) and dataset."""
    from dnasgen.data import open_dataset
    from dnasgen.nn import load_supernet
    path = Path(checkpoint) if checkpoint else supernet_checkpoint(spec, workdir)
    supernet = load_supernet(path)
    supernet.eval()
    bundle = open_dataset(spec)
    return SupernetScorer(supernet, bundle, spec, identity=file_digest(path))
