"""`train_supernet(spec, workdir)`: sandwich-rule training of the elastic MobileNetV2 supernet.

Each step draws a data configuration (resolution, colour) for its batch, then trains the
largest, the smallest and N random subnets on it, distilling from the largest in place.
Runs unchanged under `torchrun --nproc_per_node N` (DDP: gloo on CPU, NCCL on GPU); every
rank sees the same global batch and trains on its slice, so the result is that of one
process with the full batch. Resumes from the last epoch checkpoint.
"""
from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path
from typing import Callable

import torch

from dnasgen.data.bundle import batches_per_epoch
from dnasgen.nn import Supernet
from dnasgen.progress import Bar, progress_bar
from dnasgen.train.evaluate import evaluate, recal_arrays, recalibrate_bn, subset
from dnasgen.train.runtime import Runtime, setup_runtime, to_input
from dnasgen.train.sandwich import (SandwichLoss, lr_at, make_optimizer, set_lr, step_candidates,
                                    warmup_steps)
from dnasgen.train.state import CHECKPOINT_NAME, LOG_NAME, load_training, restore, save_training

EPOCH_EVAL_SAMPLES = 500


def open_bundle(spec, workdir: Path, rt: Runtime):
    """Open the spec's dataset; rank 0 builds the caches first, the other ranks then reuse them."""
    from dnasgen.data import open_dataset
    bundle = None
    if rt.is_main:
        bundle = open_dataset(spec, cache_dir=workdir / "data")
        for data in spec.space.data_configs():
            bundle.arrays("train", data)
            bundle.arrays("val", data)
    rt.barrier()
    return bundle or open_dataset(spec, cache_dir=workdir / "data")


class _Trainer:
    def __init__(self, spec, workdir: Path, bundle, rt: Runtime):
        self.spec, self.cfg, self.space, self.rt = spec, spec.train, spec.space, rt
        self.workdir, self.bundle = workdir, bundle
        self.note = ""                   # the last epoch's evaluation, shown next to the bar
        torch.manual_seed(self.cfg.seed)
        self.model = Supernet(self.space, color_stems=self.cfg.color_stems)
        if self.cfg.init:
            _initialise(self.model, spec, rt.is_main)
        self.model = self.model.to(rt.device)
        self.optimizer = make_optimizer(self.model, self.cfg.lr, self.cfg.weight_decay)
        self.rng = random.Random(self.cfg.seed)
        self.configs = self.space.data_configs()
        n_train = len(bundle.arrays("train", self.configs[0])[1])
        self.steps_per_epoch = batches_per_epoch(n_train, self.cfg.batch_size)
        self.total = self.steps_per_epoch * self.cfg.epochs
        self.warmup = warmup_steps(self.total, self.steps_per_epoch)
        loss = SandwichLoss(self.model, self.cfg.label_smoothing, self.cfg.distill)
        if rt.distributed:
            from torch.nn.parallel import DistributedDataParallel
            ids = [rt.device.index] if rt.device.type == "cuda" else None
            loss = DistributedDataParallel(loss, device_ids=ids, find_unused_parameters=True)
        self.loss = loss

    def _batches(self, epoch: int):
        """Per step: (data config, data config -> uint8 batch, labels).

        data_sampling step: one drawn config per step, one lazily opened stream per config;
        subnet: config None, one pass over the epoch's batches, each preprocessed on demand into
        the configs the step's subnets use. Every rank draws the same configs and the same global
        batch, and keeps its shard of it.
        """
        shard = (self.rt.rank, self.rt.world)
        if self.cfg.data_sampling == "subnet":
            frames = self.bundle.train_frames(self.cfg.batch_size, self.cfg.seed, epoch, shard=shard)
            for raw, y in frames:
                yield None, _views(raw, self.bundle.sensor), y
            return
        streams = {}

        def stream(data):
            return iter(self.bundle.train_batches(data, self.cfg.batch_size, self.cfg.seed, epoch,
                                                  shard=shard))
        for _ in range(self.steps_per_epoch):
            data = self.configs[self.rng.randrange(len(self.configs))]
            if data not in streams:
                streams[data] = stream(data)
            try:
                x, y = next(streams[data])
            except StopIteration:        # a config drawn more often than it has batches
                streams[data] = stream(data)
                x, y = next(streams[data])
            yield data, (lambda _, x=x: x), y

    def _step(self, step: int, data, views: Callable, y) -> tuple[float, float]:
        set_lr(self.optimizer, lr_at(step, self.total, self.cfg.lr, self.warmup))
        largest_only = step < self.cfg.warmup_largest_epochs * self.steps_per_epoch
        cands = step_candidates(self.space, data, self.cfg.random_subnets, self.rng, largest_only)
        inputs = {}
        for cand in cands:
            if cand.data not in inputs:
                inputs[cand.data] = to_input(views(cand.data), self.rt.device)
        labels = torch.from_numpy(y).to(self.rt.device)
        self.model.train()
        with self.rt.autocast():
            total, first = self.loss([inputs[c.data] for c in cands], labels, cands)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        return float(total.detach()) / len(cands), float(first)

    def run_epoch(self, epoch: int, bar: Bar) -> dict:
        t0, images, losses, firsts = time.perf_counter(), 0, [], []
        for s, (data, x, y) in enumerate(self._batches(epoch)):
            mean_loss, first = self._step(epoch * self.steps_per_epoch + s, data, x, y)
            losses.append(mean_loss)
            firsts.append(first)
            images += len(y) * self.rt.world      # global batch (equal shards)
            rate = images / (time.perf_counter() - t0)
            bar.advance()
            bar.update(description=f"epoch {epoch + 1}/{self.cfg.epochs}",
                       info=f"loss {mean_loss:.3f} · {rate:.0f} img/s{self.note}")
        seconds = time.perf_counter() - t0
        return {"epoch": epoch + 1, "step": (epoch + 1) * self.steps_per_epoch,
                "loss": sum(losses) / len(losses), "loss_largest": sum(firsts) / len(firsts),
                "lr": self.optimizer.param_groups[0]["lr"], "images": images,
                "seconds": round(seconds, 3), "images_per_s": round(images / seconds, 1)}

    def quick_eval(self) -> dict:
        """Validation accuracy of the largest and smallest subnets after BN recalibration."""
        out = {}
        for name, cand in (("largest", self.space.largest()), ("smallest", self.space.smallest())):
            self.model.set_active(cand)
            recalibrate_bn(self.model, recal_arrays(self.bundle, cand.data,
                                                    self.cfg.bn_recal_samples, self.cfg.seed))
            x, y = self.bundle.arrays("val", cand.data)
            idx = subset(len(y), EPOCH_EVAL_SAMPLES, self.cfg.seed)
            out[f"val_{name}"] = round(evaluate(self.model, x[idx], y[idx]), 4)
        return out


def _initialise(model, spec, verbose: bool) -> None:
    """train.init: start from another supernet's matching weights (a resume then restores its own)."""
    from dnasgen.data.images import spec_error
    from dnasgen.errors import DnasgenError
    from dnasgen.nn.checkpoint import copy_matching
    try:
        copied, total = copy_matching(model, Path(spec.train.init))
    except DnasgenError as exc:
        raise spec_error(spec, "$.train.init", str(exc)) from exc
    if copied == 0:
        raise spec_error(spec, "$.train.init", f"{spec.train.init}: no weight matches this supernet's")
    if verbose:
        print(f"train.init: {copied} of {total} tensors from {spec.train.init}", file=sys.stderr)


def _views(frames, sensor) -> Callable:
    """data config -> the batch's raw frames preprocessed into it (each config once)."""
    from dnasgen.data.preprocess import preprocess_frames
    done = {}

    def view(data):
        if data not in done:
            done[data] = preprocess_frames(frames, sensor, data)
        return done[data]
    return view


def _append_log(path: Path, record: dict) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def train_supernet(spec, workdir: Path, bundle=None, stop_at_epoch: int | None = None,
                   callback: Callable[[dict, torch.nn.Module], None] | None = None,
                   threads: int | None = None) -> Path:
    """Train (or resume training) the supernet; returns the checkpoint path (workdir/supernet.pt).

    stop_at_epoch: stop once this many epochs are done (the run resumes later from there).
    callback(record, supernet): called on every rank after each epoch.
    """
    rt = setup_runtime(threads)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    ckpt = workdir / CHECKPOINT_NAME
    trainer = _Trainer(spec, workdir, bundle or open_bundle(spec, workdir, rt), rt)
    payload = load_training(ckpt, spec)
    done = restore(payload, trainer.model, trainer.optimizer, trainer.rng)["epoch"] if payload else 0
    end = min(spec.train.epochs, stop_at_epoch or spec.train.epochs)
    if done == 0 and rt.is_main:         # a fresh training: an older run's log (other settings) goes
        (workdir / LOG_NAME).unlink(missing_ok=True)
    with progress_bar("training", trainer.total, completed=done * trainer.steps_per_epoch, info=True,
                      enabled=rt.is_main) as bar:
        for epoch in range(done, end):
            record = {**trainer.run_epoch(epoch, bar), **trainer.quick_eval()}
            if rt.is_main:
                save_training(ckpt, trainer.model, trainer.optimizer, trainer.rng, spec, record)
                _append_log(workdir / LOG_NAME, record)      # the JSON lines go to the log file only
            trainer.note = (f" · val largest {record['val_largest']:.3f}"
                            f" smallest {record['val_smallest']:.3f}")
            bar.update(info=f"loss {record['loss']:.3f}{trainer.note}")
            rt.barrier()
            if callback is not None:
                callback(record, trainer.model)
    return ckpt
