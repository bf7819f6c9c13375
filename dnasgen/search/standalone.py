"""Stand-alone training of a candidate, cached on disk: the ground truth of `dnasgen fidelity` and the
re-scoring stage of the search (search.rescore_top).

A stand-alone net: the candidate trained from random initialisation (the init of a fresh Supernet,
seeded) for E epochs at train.lr, no teacher, the final training's weight decay and crops, then
evaluated on ALL validation and test images. Records live in <project>/.dnasgen/fidelity/
<kind>-<digest>.json; the digest covers what the number depends on. A stand-alone record is keyed by
the train settings stand-alone training reads (STANDALONE_TRAIN), not by the whole train section:
retraining the supernet with another recipe reuses it, and the search's re-scoring and `dnasgen
fidelity` share their records.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from dnasgen.candidate import Candidate
from dnasgen.io import json_digest, read_json
from dnasgen.search.finetune import final_recipe
from dnasgen.search.state import write_record

VERSION = 1
CACHE = "fidelity"      # <project>/.dnasgen/fidelity/
# the train settings train_standalone reads (its optimiser, batches, loss and seeds); the supernet
# recipe's other fields (distillation, sampling, warm-up, ...) do not change a stand-alone net
STANDALONE_TRAIN = ("batch_size", "lr", "weight_decay", "label_smoothing", "crop_area_min", "seed")


class Cache:
    """Per-measurement JSON records keyed by a digest of everything they depend on."""

    def __init__(self, work: Path, spec, supernet_identity: str):
        self.root = Path(work) / CACHE
        self.base = [VERSION, spec.section_hash("task", "dataset", "sensor", "data_options", "search_space")]
        self.train = spec.section_hash("train")
        recipe = final_recipe(spec).train
        self.standalone_train = [getattr(recipe, k) for k in STANDALONE_TRAIN]
        self.supernet = supernet_identity
        self.computed = 0          # records computed by this run (the rest came from disk)

    def path(self, kind: str, parts: list) -> Path:
        return self.root / f"{kind}-{json_digest([*self.base, kind, *parts])[:20]}.json"

    def get(self, kind: str, parts: list, compute: Callable[[], dict]) -> dict:
        path = self.path(kind, parts)
        record = read_json(path) if path.is_file() else None
        if record is None:
            record = compute()
            self.computed += 1
            write_record(path, record)
        return record


def _timed(func) -> dict:
    t0 = time.monotonic()
    out = func()
    return {**out, "seconds": time.monotonic() - t0}


def _all_heldout(net, bundle, cand: Candidate) -> dict:
    from dnasgen.search.finetune import _accuracies
    val, test = _accuracies(net, bundle, cand.data)
    return {"val": val, "test": test, "n_val": len(bundle.arrays("val", cand.data)[1]),
            "n_test": len(bundle.arrays("test", cand.data)[1])}


def train_standalone(spec, bundle, cand: Candidate, epochs: int, seed: int) -> dict:
    """Random init (seeded), `epochs` epochs at train.lr without a teacher, the final training's
    weight decay and crops (finetune.final_recipe), BN recalibrated as the fine-tune does (so that with
    search.finetune_init: scratch and finetune_lr = train.lr the build's winner is seed 0's net); all
    held-out images."""
    from dnasgen.search.finetune import fresh_subnet, train_static
    from dnasgen.train import recalibrate_bn
    from dnasgen.train.evaluate import recal_arrays
    net = fresh_subnet(spec, cand, spec.train.seed + 1000 * seed)
    steps = train_static(net, None, bundle, cand, final_recipe(spec), epochs, lr=spec.train.lr,
                         seed=spec.train.seed + 1000 * seed, label=f"stand-alone seed {seed}")
    recalibrate_bn(net, recal_arrays(bundle, cand.data, spec.train.bn_recal_samples, spec.train.seed))
    return {"steps": steps, **_all_heldout(net.eval(), bundle, cand)}


def standalone(cache: Cache, spec, bundle, cand: Candidate, epochs: int, seed: int) -> dict:
    return cache.get("standalone", [cand.key, *cache.standalone_train, epochs, seed],
                     lambda: _timed(lambda: train_standalone(spec, bundle, cand, epochs, seed)))
