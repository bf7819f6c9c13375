"""Training checkpoints: a supernet checkpoint (self-describing) plus the state to resume exactly.

Saved at every epoch end: weights, optimizer, the subnet-sampling RNG, torch RNGs, step and
epoch, the spec hash of the sections training reads and the train settings. Resuming from
it reproduces an uninterrupted run bit for bit (same seed, same device and threads).
"""
from __future__ import annotations

import dataclasses
import random
import sys
from pathlib import Path

import torch

from dnasgen.errors import DnasgenError
from dnasgen.io import json_digest, sha256_file
from dnasgen.nn.checkpoint import atomic_torch_save, read_checkpoint, supernet_payload

TRAIN_SECTIONS = ("task", "dataset", "sensor", "data_options", "search_space", "train")
CHECKPOINT_NAME = "supernet.pt"
LOG_NAME = "train_log.jsonl"
RESUME_KEYS = ("epoch", "optimizer", "rng")


def train_spec_hash(spec) -> str:
    """The spec sections training reads, plus the content of the train.init checkpoint."""
    sections = spec.section_hash(*TRAIN_SECTIONS)
    return sections if spec.train.init is None else json_digest([sections, init_digest(spec)])[:16]


def init_digest(spec) -> str | None:
    """sha256 of the train.init checkpoint (None without one): part of the train stage's key."""
    return None if spec.train.init is None else sha256_file(spec.train.init)


def save_training(path: Path, model, optimizer, rng: random.Random, spec, progress: dict) -> Path:
    payload = supernet_payload(model)
    payload["spec_hash"] = train_spec_hash(spec)
    payload["train"] = {
        **progress,
        "settings": dataclasses.asdict(spec.train),
        "optimizer": optimizer.state_dict(),
        "rng": {"python": rng.getstate(), "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
    }
    return atomic_torch_save(payload, path)


def load_training(path: Path, spec) -> dict | None:
    """The checkpoint to resume from, or None (a fresh start) when absent, made for other spec
    sections, or not resumable: truncated, unreadable, another checkpoint version or layout (warned)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        payload = read_checkpoint(path, "supernet")
        state = payload["train"]
        resumable = isinstance(payload["state_dict"], dict) and all(k in state for k in RESUME_KEYS)
    except (DnasgenError, KeyError, TypeError) as exc:
        resumable, why = False, str(exc) if isinstance(exc, DnasgenError) else f"{path}: missing {exc}"
    else:
        why = f"{path}: not a resumable training checkpoint"
    if not resumable:
        print(f"warning: {why}; training starts afresh", file=sys.stderr)
        return None
    if payload.get("spec_hash") != train_spec_hash(spec):
        return None
    return payload


def restore(payload: dict, model, optimizer, rng: random.Random) -> dict:
    """Load weights, optimizer and RNG states; returns the saved progress dict."""
    model.load_state_dict(payload["state_dict"])
    state = payload["train"]
    optimizer.load_state_dict(state["optimizer"])
    rng.setstate(state["rng"]["python"])
    torch.set_rng_state(state["rng"]["torch"])
    if state["rng"]["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    return {k: v for k, v in state.items() if k not in ("optimizer", "rng", "settings")}
