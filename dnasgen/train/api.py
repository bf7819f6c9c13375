"""`dnasgen train SPEC`: load the spec, train (or resume) into <out>/<name>/.dnasgen/supernet.pt."""
from __future__ import annotations

import json
from pathlib import Path

from dnasgen.layout import WORK_NAME
from dnasgen.train.state import LOG_NAME


def workdir_of(spec, out: Path | None = None) -> Path:
    """<out or spec.output_dir>/<name>/.dnasgen."""
    return Path(out if out is not None else spec.output_dir) / spec.name / WORK_NAME


def train_spec(spec_path: Path, out: Path | None = None, threads: int | None = None) -> Path:
    """Load the spec and train its supernet; returns the checkpoint path."""
    from dnasgen.spec import load_spec
    from dnasgen.train.loop import train_supernet
    spec = load_spec(spec_path)
    try:
        return train_supernet(spec, workdir_of(spec, out), threads=threads)
    finally:
        import torch.distributed as dist
        if dist.is_available() and dist.is_initialized():     # launched by torchrun
            dist.destroy_process_group()


def format_train(checkpoint: Path) -> str:
    """One-paragraph summary from the training log next to the checkpoint."""
    log = Path(checkpoint).parent / LOG_NAME
    records = [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []
    if not records:
        return f"supernet checkpoint: {checkpoint}"
    last = records[-1]
    seconds = sum(r.get("seconds", 0.0) for r in records)
    images = sum(r.get("images", 0) for r in records)
    return (f"trained {last['epoch']} epochs ({last['step']} steps, {images:,} images, {seconds:.0f} s)\n"
            f"after BN recalibration: largest subnet val acc {last.get('val_largest', float('nan')):.3f}, "
            f"smallest {last.get('val_smallest', float('nan')):.3f}\n"
            f"checkpoint {checkpoint}\nlog {log}")
