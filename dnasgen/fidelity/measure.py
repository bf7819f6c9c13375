"""The three measurements of one candidate, each cached on disk (a rerun skips what is done).

- fitness: the search's own scorer (`SupernetScorer.score_many`: supernet subnet, BN recalibrated,
  validation subset), the number the search ranks by;
- stand-alone: the candidate trained from random initialisation (the supernet's init of a fresh
  Supernet, seeded) for E epochs at train.lr, no teacher, then evaluated on ALL validation and test images;
- paper: the seed paper's proxy, the supernet subnet fine-tuned ~100 steps (whole epochs, no
  teacher, the fine-tuning lr), evaluated like the fitness.

Records live in <project>/.dnasgen/fidelity/<kind>-<digest>.json (the cache and the stand-alone
training: dnasgen.search.standalone, shared with the search's re-scoring); the digest covers what the
number depends on (candidate, settings, spec sections, the supernet for the supernet-based ones).
"""
from __future__ import annotations

import math

from dnasgen.candidate import Candidate
from dnasgen.search.standalone import CACHE, STANDALONE_TRAIN, VERSION, Cache, _timed, standalone, train_standalone

__all__ = ["CACHE", "STANDALONE_TRAIN", "VERSION", "Cache", "fitness", "paper", "standalone", "train_standalone"]


def fitness(cache: Cache, scorer, cand: Candidate, spec) -> dict:
    parts = [cand.key, cache.train, cache.supernet, spec.search.eval_samples]
    return cache.get("fitness", parts, lambda: _timed(lambda: {"accuracy": scorer.score_many([cand])[0]}))


def _paper_score(scorer, cand: Candidate, spec, steps: int) -> dict:
    from dnasgen.search.finetune import _steps_per_epoch, static_subnet, train_static
    from dnasgen.train import evaluate, recalibrate_bn
    from dnasgen.train.evaluate import recal_arrays, subset
    bundle = scorer.bundle
    x_cal = recal_arrays(bundle, cand.data, spec.train.bn_recal_samples, spec.train.seed)
    net = static_subnet(scorer.supernet, cand, x_cal).train()
    epochs = max(1, math.ceil(steps / _steps_per_epoch(bundle, cand, spec)))
    done = train_static(net, None, bundle, cand, spec, epochs, label="paper fine-tune")
    recalibrate_bn(net, x_cal)
    x, y = bundle.arrays("val", cand.data)
    idx = subset(len(y), spec.search.eval_samples, spec.train.seed)     # the fitness's images
    return {"accuracy": evaluate(net, x[idx], y[idx]), "steps": done}


def paper(cache: Cache, scorer, cand: Candidate, spec, steps: int) -> dict:
    parts = [cand.key, cache.train, cache.supernet, spec.search.eval_samples, steps]
    return cache.get("paper", parts, lambda: _timed(lambda: _paper_score(scorer, cand, spec, steps)))
