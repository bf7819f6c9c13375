"""Fine-tuning of the chosen candidate: extract it from the supernet as a static network, train it
on the training split with distillation from the supernet's largest subnet (same data
configuration, so teacher and student see the same batch), report its float test accuracy next
to the supernet's estimates, and save it with dnasgen.nn.save_static.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from dnasgen.candidate import Candidate
from dnasgen.progress import progress_bar
from dnasgen.search.state import ARTIFACTS, data_cache, write_record

FINETUNE_VERSION = 2
LR_SCALE = 0.2          # default fine-tuning learning rate = LR_SCALE * train.lr (search.finetune_lr: null)


@dataclass
class FinetuneResult:
    checkpoint: Path
    json_path: Path
    candidate: dict
    test_accuracy: float               # fine-tuned static net, float, test split
    supernet_test_accuracy: float      # the same subnet before fine-tuning (BN recalibrated)
    val_accuracy: float                # fine-tuned, validation split
    supernet_val_accuracy: float       # the search's estimate (BN recalibrated supernet subnet)
    teacher_test_accuracy: float       # the supernet's largest subnet at the same data config
    epochs: int
    steps: int
    seconds: float
    lr: float = 0.0                    # peak fine-tuning learning rate used

    def to_dict(self) -> dict:
        out = asdict(self)
        out.update(version=FINETUNE_VERSION, checkpoint=str(self.checkpoint), json_path=str(self.json_path))
        return out


def static_subnet(supernet, cand: Candidate, x_cal):
    """The candidate as a StaticNet with the supernet's weights, BN recalibrated on x_cal (eval mode)."""
    from dnasgen.train import recalibrate_bn
    supernet.set_active(cand)
    net = supernet.get_active_subnet()
    return recalibrate_bn(net, x_cal)


def _accuracies(net, bundle, data, limit: int | None = None, seed: int = 0) -> tuple[float, float]:
    """(val, test) accuracy of an eval-mode model."""
    from dnasgen.train import evaluate
    from dnasgen.train.evaluate import subset
    out = []
    for split in ("val", "test"):
        x, y = bundle.arrays(split, data)
        idx = subset(len(y), limit if limit is not None else len(y), seed)
        out.append(evaluate(net, x[idx], y[idx]))
    return out[0], out[1]


def final_recipe(spec):
    """The spec with the final training's recipe in train: search.finetune_weight_decay and
    search.finetune_crop_area_min where set (the winner's training and fidelity's stand-alone nets)."""
    import dataclasses
    s, t = spec.search, spec.train
    wd = t.weight_decay if s.finetune_weight_decay is None else s.finetune_weight_decay
    crop = t.crop_area_min if s.finetune_crop_area_min is None else s.finetune_crop_area_min
    if (wd, crop) == (t.weight_decay, t.crop_area_min):
        return spec
    return dataclasses.replace(spec, train=dataclasses.replace(t, weight_decay=wd, crop_area_min=crop))


def fresh_subnet(spec, cand: Candidate, seed: int):
    """The candidate as a StaticNet from random init (seeded), in train mode."""
    import torch

    from dnasgen.nn import Supernet
    torch.manual_seed(seed)
    fresh = Supernet(spec.space)
    fresh.set_active(cand)
    return fresh.get_active_subnet().train()


def finetune_lr(spec) -> float:
    """Peak fine-tuning learning rate (cosine to zero): search.finetune_lr, else LR_SCALE * train.lr."""
    lr = spec.search.finetune_lr
    return float(lr) if lr is not None else LR_SCALE * spec.train.lr


def _epoch(student, teacher, optimizer, bundle, cand: Candidate, spec, epoch: int, step: int,
           total: int, tick, base: float, seed: int) -> int:
    import torch
    import torch.nn.functional as F

    from dnasgen.train.runtime import to_input
    from dnasgen.train.sandwich import lr_at, set_lr, soft_cross_entropy
    device = next(student.parameters()).device
    for x_u8, y in bundle.train_batches(cand.data, spec.train.batch_size, seed, epoch,
                                        area_min=spec.train.crop_area_min):
        set_lr(optimizer, lr_at(step, total, base, warmup=max(1, total // 20)))
        x, target = to_input(x_u8, device), torch.as_tensor(y, device=device)
        student.train()
        logits = student(x)
        loss = F.cross_entropy(logits, target, label_smoothing=spec.train.label_smoothing)
        if teacher is not None:
            with torch.no_grad():
                soft = teacher(x)
            loss = loss + soft_cross_entropy(logits, soft)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        tick()
    return step


def _steps_per_epoch(bundle, cand: Candidate, spec) -> int:
    n = len(bundle.arrays("train", cand.data)[1])
    from dnasgen.data.bundle import batches_per_epoch
    return batches_per_epoch(n, spec.train.batch_size)


def train_static(student, teacher, bundle, cand: Candidate, spec, epochs: int, lr: float | None = None,
                 seed: int | None = None, label: str = "fine-tune") -> int:
    """Train a static net `epochs` epochs (cosine lr, peak `lr`, default the fine-tuning lr), with
    distillation from `teacher` unless it is None; batches shuffled from `seed` (default train.seed);
    weight decay and crops from spec.train (pass final_recipe(spec) for the final training).
    Also the stand-alone training of `dnasgen fidelity` (random init, no teacher, lr train.lr)."""
    from dnasgen.train.sandwich import make_optimizer
    base = finetune_lr(spec) if lr is None else float(lr)
    seed = spec.train.seed if seed is None else int(seed)
    optimizer = make_optimizer(student, base, spec.train.weight_decay)
    total = epochs * _steps_per_epoch(bundle, cand, spec)
    step = 0
    with progress_bar(label, total) as bar:
        for epoch in range(epochs):
            step = _epoch(student, teacher, optimizer, bundle, cand, spec, epoch, step, total, bar.advance,
                          base, seed)
    return step


def finetune_candidate(spec, supernet_path: Path, candidate: Candidate, bundle, out_dir: Path,
                       epochs: int | None = None, search_estimate: float | None = None) -> FinetuneResult:
    """Fine-tune `candidate` from the supernet at supernet_path; writes finetuned.pt + finetune.json."""
    import torch

    from dnasgen.nn import load_supernet, save_static
    from dnasgen.train import recalibrate_bn
    from dnasgen.train.evaluate import recal_arrays
    t0 = time.monotonic()
    torch.manual_seed(spec.train.seed)
    epochs = spec.search.finetune_epochs if epochs is None else epochs
    supernet = load_supernet(Path(supernet_path))
    x_cal = recal_arrays(bundle, candidate.data, spec.train.bn_recal_samples, spec.train.seed)
    teacher = static_subnet(supernet, spec.space.largest(candidate.data), x_cal).eval()
    student = static_subnet(supernet, candidate, x_cal)
    sup_val, sup_test = _accuracies(student, bundle, candidate.data)
    _, teacher_test = _accuracies(teacher, bundle, candidate.data)
    if spec.search.finetune_init == "scratch":
        student = fresh_subnet(spec, candidate, spec.train.seed).to(next(student.parameters()).device)
    steps = train_static(student, teacher if spec.train.distill else None, bundle, candidate, final_recipe(spec),
                         epochs)
    recalibrate_bn(student, x_cal)
    val, test = _accuracies(student, bundle, candidate.data)
    out_dir = Path(out_dir)
    result = FinetuneResult(out_dir / "finetuned.pt", out_dir / "finetune.json", candidate.to_dict(), test,
                            sup_test, val, sup_val if search_estimate is None else search_estimate,
                            teacher_test, epochs, steps, time.monotonic() - t0, finetune_lr(spec))
    save_static(student.cpu().eval(), result.checkpoint, **{k: v for k, v in result.to_dict().items()
                                                               if isinstance(v, (int, float))})
    write_record(result.json_path, result.to_dict())
    return result


def finetune_project(spec, workdir: Path, candidate: Candidate | None = None) -> FinetuneResult:
    """Fine-tune the search's chosen candidate (or the given one) into <workdir>/.dnasgen/."""
    from dnasgen.data import open_dataset
    from dnasgen.search.runner import load_result
    from dnasgen.search.scoring import supernet_checkpoint
    work = Path(workdir) / ARTIFACTS
    estimate, supernet = None, None
    if candidate is None:
        searched = load_result(workdir)
        candidate, estimate = searched.candidate, searched.chosen.accuracy
        if searched.strategy == "differentiable":        # its own jointly trained supernet
            from dnasgen.search.diffrun import supernet_path
            supernet = supernet_path(workdir)
    bundle = open_dataset(spec, cache_dir=data_cache(workdir))
    return finetune_candidate(spec, supernet or supernet_checkpoint(spec, workdir, bundle), candidate, bundle,
                              work, search_estimate=estimate)


def finetune(spec, workdir: Path, candidate: Candidate | None = None) -> Path:
    """Fine-tune and save with save_static; returns <workdir>/.dnasgen/finetuned.pt."""
    return finetune_project(spec, workdir, candidate).checkpoint


def finetune_spec(spec_path: Path, out: Path | None = None) -> FinetuneResult:
    """`dnasgen finetune`: load the spec and fine-tune its searched candidate."""
    from dnasgen.search.runner import project_of
    from dnasgen.spec import load_spec
    spec = load_spec(spec_path)
    return finetune_project(spec, project_of(spec, out))


def format_finetune(r: FinetuneResult) -> str:
    return (f"fine-tuned {r.epochs} epochs ({r.steps} steps, {r.seconds:.0f} s): test accuracy {r.test_accuracy:.3f} "
            f"(supernet estimate: val {r.supernet_val_accuracy:.3f}, test {r.supernet_test_accuracy:.3f}; "
            f"teacher test {r.teacher_test_accuracy:.3f})\nwrote {r.checkpoint}")
