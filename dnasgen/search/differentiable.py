"""`search.strategy: differentiable`: single-shot search of (data configuration, architecture) under
RAM, flash and latency budgets, trained jointly with the supernet's weights (after a warm-up).

The idea of Burrello et al. 2023 (PLiNIO's PIT + DUCCIO), in this search space and its cost model:
- one categorical gene per choice (dnasgen.search.diffcost.gene_options), logits trained by Adam;
- per step search.diff_samples architectures are sampled by Gumbel-max and run (set_active) on the
  SAME batch of images, each in its own data configuration; the weights train on the samples' mean
  loss, or (search.diff_train: uniform) on one architecture drawn uniformly from the space, the
  samples only forward, so the logits judge a supernet not specialised to their own samples;
- the logits' task gradient (dnasgen.search.diffgrad, search.diff_estimator): straight through (GDAS:
  the subnet's logits times the product of the sampled options' straight-through values, 1 forward,
  backward the softmax gradient; one gate on the logits rather than one per block: a scale feeding a
  BatchNorm has no gradient in training), or the score function (REINFORCE with a leave-one-out /
  moving-average baseline) for all genes or for the data-configuration and width genes only;
- loss = task loss + sum_i s_i * max(0, cost_i / budget_i - 1) over RAM, flash and (if set) latency:
  flash and latency are the exact expected values under the gene probabilities, RAM straight through:
  the planner's figure of the sampled architecture forward, backward the gradient of the expected
  violation over (data, width) of the smooth peak-live surrogate (what fits is not pushed down);
- strengths s_i = warm-up loss / max(initial relative violation, 0.1) (the regulariser starts level
  with the task loss), ramped linearly to diff_penalty_ramp x over the search epochs.
torch is imported here: import this module only when the strategy runs.
"""
from __future__ import annotations

import random
import time

import torch
import torch.nn.functional as F

from dnasgen.candidate import Candidate
from dnasgen.data.preprocess import preprocess_frames
from dnasgen.search.diffcost import (decode, expected_flash, expected_latency_ms, expected_ram_violation, gene_options,
                                     relaxed_costs, torch_tables)
from dnasgen.search.diffgrad import DATA_GENES, ScoreBaseline, gate_genes, score_genes, score_surrogate
from dnasgen.search.pareto import COST_OBJECTIVES
from dnasgen.train.sandwich import lr_at, make_optimizer, set_lr
from dnasgen.train.runtime import to_input

MIN_VIOLATION = 0.1          # an initially met budget counts as 10 % over when setting its strength
# Adam's moment decays for the logits: short memories. With the default (0.9, 0.999) the large penalty
# gradients of the first steps (a uniform start over the latency budget) stay in the second moment for
# ~1000 steps and scale the later, ~20x smaller task gradients down: on caltech101_20class the expected
# latency fell from 63 to 40 ms in the first epoch and stayed there with the budget at 55 ms; with
# (0.5, 0.9) it stays at 48-53 ms (SWEEP.md, issue 10).
ARCH_BETAS = (0.5, 0.9)


class ArchParams:
    """The architecture logits, one vector per gene; sampling, probabilities and the argmax."""

    def __init__(self, space, device):
        self.space, self.opts = space, gene_options(space)
        self.logits = {g: torch.zeros(len(o), device=device, requires_grad=True) for g, o in self.opts.items()}

    def parameters(self) -> list[torch.Tensor]:
        return list(self.logits.values())

    def probs(self) -> dict:
        return {g: torch.softmax(v, 0) for g, v in self.logits.items()}

    def sample(self, gen: torch.Generator, tau: float) -> tuple[dict, dict]:
        """(option index per gene, straight-through one-hot per gene) of one Gumbel-max sample."""
        index, hard = {}, {}
        for g, v in self.logits.items():
            u = torch.rand(len(v), generator=gen, dtype=torch.float64).clamp_(1e-12, 1 - 1e-12)
            noise = (-torch.log(-torch.log(u))).to(v.device, v.dtype)
            soft = torch.softmax((v + noise) / tau, 0)
            k = int(torch.argmax(v.detach() + noise))
            index[g] = k
            hard[g] = F.one_hot(torch.tensor(k, device=v.device), len(v)).to(v.dtype) - soft.detach() + soft
        return index, hard

    def log_prob(self, index: dict, genes: list[str]):
        """log p of the sampled options of `genes` (0.0 when there are none)."""
        terms = [torch.log_softmax(self.logits[g], 0)[index[g]] for g in genes]
        return torch.stack(terms).sum() if terms else 0.0

    def argmax(self) -> dict:
        return {g: int(torch.argmax(v.detach())) for g, v in self.logits.items()}

    def used_genes(self, cand: Candidate) -> list[str]:
        """The genes that shape a candidate (block slots beyond a stage's depth do not)."""
        out = ["data", "width"]
        for i, st in enumerate(cand.arch.stages):
            out += [f"depth{i}"] + [f"{kind}{i}.{j}" for j in range(st.depth) for kind in ("kernel", "expand")]
        return out

    def state_dict(self) -> dict:
        return {g: v.detach().cpu() for g, v in self.logits.items()}

    def load_state_dict(self, state: dict) -> None:
        with torch.no_grad():
            for g, v in self.logits.items():
                v.copy_(state[g].to(v.device))

    def summary(self) -> dict:
        """Per gene: option -> probability (JSON-able, options as strings)."""
        return {g: {_label(o): round(float(p), 4) for o, p in zip(self.opts[g], q.tolist())}
                for g, q in self.probs().items()}


def _label(option) -> str:
    return option.label if hasattr(option, "label") else f"{option:g}"


class _Frames:
    """The epoch's stream of raw augmented training frames, reopened when it runs out; one batch is
    preprocessed into each data configuration a step samples (the same images for every sample)."""

    def __init__(self, bundle, batch_size: int, seed: int, epoch: int):
        self.bundle, self.batch_size, self.seed, self.epoch = bundle, batch_size, seed, epoch
        self.stream = None

    def next(self):
        for _ in range(2):
            if self.stream is None:
                self.stream = iter(self.bundle.train_frames(self.batch_size, self.seed, self.epoch))
            try:
                return next(self.stream)
            except StopIteration:
                self.stream = None
        raise ValueError("no training batches")


class DiffTrainer:
    """Joint training of the supernet weights and the architecture logits, one epoch at a time."""

    def __init__(self, spec, supernet, bundle, pricer, tables, device, steps_per_epoch: int, warm_loss: float):
        s = spec.search
        self.spec, self.space, self.supernet, self.bundle = spec, spec.space, supernet, bundle
        self.pricer, self.device, self.warm_loss = pricer, device, warm_loss
        self.tables = torch_tables(tables, torch.float32, device)
        self.arch = ArchParams(spec.space, device)
        self.opt_w = make_optimizer(supernet, spec.train.lr, spec.train.weight_decay)
        self.opt_a = torch.optim.Adam(self.arch.parameters(), lr=s.diff_arch_lr, betas=ARCH_BETAS)
        self.gen = torch.Generator().manual_seed(s.seed)
        self.steps_per_epoch, self.epochs = steps_per_epoch, s.diff_epochs
        self.total = steps_per_epoch * s.diff_epochs
        self.limits = {k: v for k, v in pricer.budgets.to_dict().items() if v is not None}
        self.strengths: dict | None = None
        self.samples, self.estimator = s.diff_samples, s.diff_estimator
        self.baseline = ScoreBaseline(warm_loss)
        self.train_policy, self.rng = s.diff_train == "policy", random.Random(s.seed)

    # ---- schedules --------------------------------------------------------------------------
    def tau(self, step: int) -> float:
        s = self.spec.search
        t = step / max(1, self.total - 1)
        return s.diff_temperature_start * (s.diff_temperature_end / s.diff_temperature_start) ** t

    def ramp(self, epoch: int) -> float:
        return 1.0 + (self.spec.search.diff_penalty_ramp - 1.0) * epoch / max(1, self.epochs - 1)

    def set_strengths(self) -> dict:
        """s_i from the warm-up loss and the initial (uniform-logits) relative violation."""
        with torch.no_grad():
            initial = {k: float(v) for k, v in self.violations(None).items()}
        self.strengths = {k: self.warm_loss / max(v, MIN_VIOLATION) for k, v in initial.items()}
        return initial

    # ---- one step ---------------------------------------------------------------------------
    def violations(self, cands: list[Candidate] | None) -> dict:
        """max(0, cost / budget - 1) per budget: flash and latency of their exact expected values; RAM
        straight through: forward the mean of the planner's figures of the sampled candidates (with
        cands; without, the expectation), backward the gradient of the expected violation per (data,
        width) of the peak-live surrogate (a data configuration or width that fits is not pushed down)."""
        probs, out = self.arch.probs(), {}
        for key, expected in (("flash_bytes", expected_flash), ("latency_ms", expected_latency_ms)):
            if key in self.limits:
                out[key] = F.relu(expected(self.space, self.tables, probs) / self.limits[key] - 1.0)
        limit = self.limits["ram_bytes"]
        soft = expected_ram_violation(self.space, self.tables, probs, limit)
        exact = soft.detach() if cands is None else sum(
            max(0.0, self.pricer.cost(c)["ram_bytes"] / limit - 1.0) for c in cands) / len(cands)
        out["ram_bytes"] = exact + soft - soft.detach()
        return out

    def penalty(self, violations: dict, epoch: int):
        ramp = self.ramp(epoch)
        return sum(self.strengths[k] * ramp * v for k, v in violations.items())

    def sample_loss(self, index: dict, hard: dict, frames, target, inputs: dict):
        """(candidate, task loss, log p of its score-function genes) of one sampled architecture on
        the step's batch; its loss is back-propagated here (scaled by 1 / diff_samples) to the logits
        of its straight-through genes and (diff_train: policy) to the weights."""
        cand = decode(self.space, index)
        used = self.arch.used_genes(cand)
        gates = [hard[g][index[g]] for g in gate_genes(self.estimator, used)]
        with torch.set_grad_enabled(self.train_policy):
            logits = self.forward(cand, frames, inputs)
        if gates:
            logits = logits * torch.stack(gates).prod()
        task = F.cross_entropy(logits, target, label_smoothing=self.spec.train.label_smoothing)
        if task.requires_grad:
            (task / self.samples).backward()
        return cand, float(task.detach()), self.arch.log_prob(index, score_genes(self.estimator, used))

    def forward(self, cand: Candidate, frames, inputs: dict):
        """The supernet's logits (train mode) of cand on the step's batch, cached per data configuration."""
        if cand.data not in inputs:
            inputs[cand.data] = to_input(preprocess_frames(frames, self.spec.sensor, cand.data), self.device)
        self.supernet.set_active(cand)
        self.supernet.train()
        return self.supernet(inputs[cand.data]).float()

    def train_uniform(self, frames, target, inputs: dict) -> None:
        """diff_train: uniform: the weights' step on one architecture drawn uniformly from the space."""
        cand = self.space.sample(self.rng)
        F.cross_entropy(self.forward(cand, frames, inputs), target,
                        label_smoothing=self.spec.train.label_smoothing).backward()

    def step(self, step: int, epoch: int, frames: _Frames) -> dict:
        """diff_samples architectures on one batch: the logits learn from the estimator's task gradient
        + the constraint penalty, the weights from their mean task loss (or a uniform draw's)."""
        set_lr(self.opt_w, lr_at(step, self.total, self.spec.train.lr, 1))
        self.opt_w.zero_grad(set_to_none=True)
        self.opt_a.zero_grad(set_to_none=True)
        x_frames, y = frames.next()
        target, inputs, tau = torch.from_numpy(y).to(self.device), {}, self.tau(step)
        draws = [self.sample_loss(*self.arch.sample(self.gen, tau), x_frames, target, inputs)
                 for _ in range(self.samples)]
        if not self.train_policy:
            self.train_uniform(x_frames, target, inputs)
        cands, losses, log_probs = zip(*draws)
        penalty = self.penalty(self.violations(list(cands)), epoch)
        surrogate = score_surrogate(self.baseline.advantages(list(losses)), list(log_probs))
        if torch.is_tensor(penalty + surrogate):
            (penalty + surrogate).backward()
        self.opt_w.step()
        self.opt_a.step()
        return {"task": sum(losses) / len(losses), "penalty": float(torch.as_tensor(penalty).detach())}

    def run_epoch(self, epoch: int, bar) -> dict:
        t0, task, penalty = time.perf_counter(), 0.0, 0.0
        frames = _Frames(self.bundle, self.spec.train.batch_size, self.spec.train.seed, 1000 + epoch)
        for s in range(self.steps_per_epoch):
            out = self.step(epoch * self.steps_per_epoch + s, epoch, frames)
            task, penalty = task + out["task"], penalty + out["penalty"]
            bar.advance()
            bar.update(description=f"search epoch {epoch + 1}/{self.epochs}",
                       info=f"task {out['task']:.3f} · penalty {out['penalty']:.3f}")
        return self.record(epoch, task / self.steps_per_epoch, penalty / self.steps_per_epoch,
                           time.perf_counter() - t0)

    def record(self, epoch: int, task: float, penalty: float, seconds: float) -> dict:
        """The epoch's log line: losses, temperature, expected costs, the argmax and its exact cost."""
        with torch.no_grad():
            expected = {k: round(float(v), 3) for k, v in relaxed_costs(self.space, self.tables,
                                                                        self.arch.probs()).items()}
        best = decode(self.space, self.arch.argmax())
        cost = self.pricer.cost(best)
        return {"epoch": epoch + 1, "task_loss": round(task, 5), "penalty": round(penalty, 5),
                "tau": round(self.tau((epoch + 1) * self.steps_per_epoch - 1), 4), "expected": expected,
                "argmax": best.to_dict(), "argmax_cost": {k: cost[k] for k in COST_OBJECTIVES},
                "argmax_fits": not cost["violations"],
                "probabilities": {g: p for g, p in self.arch.summary().items() if g in DATA_GENES},
                "seconds": round(seconds, 3)}

    # ---- resume -----------------------------------------------------------------------------
    def state(self) -> dict:
        return {"supernet": self.supernet.state_dict(), "opt_w": self.opt_w.state_dict(),
                "opt_a": self.opt_a.state_dict(), "arch": self.arch.state_dict(), "gen": self.gen.get_state(),
                "torch": torch.get_rng_state(), "strengths": self.strengths,
                "baseline": self.baseline.value, "rng": self.rng.getstate()}

    def restore(self, state: dict) -> None:
        self.supernet.load_state_dict(state["supernet"])
        self.opt_w.load_state_dict(state["opt_w"])
        self.opt_a.load_state_dict(state["opt_a"])
        self.arch.load_state_dict(state["arch"])
        self.gen.set_state(state["gen"])
        torch.set_rng_state(state["torch"])
        self.strengths = state["strengths"]
        self.baseline.value = state["baseline"]
        self.rng.setstate(state["rng"])
