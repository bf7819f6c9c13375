"""Architecture-gradient estimators of `search.strategy: differentiable` (search.diff_estimator).

Per step the search draws search.diff_samples architectures (Gumbel-max) and trains the weights on
the mean of their task losses, all on the SAME batch of images (each in its own data configuration),
so the samples' losses differ by their architectures only. The logits get their task gradient from:

- `straight_through` (GDAS): the supernet's logits times the product of the sampled options'
  straight-through values: forward 1, backward the gradient of the relaxed (Gumbel-softmax) sample;
- `reinforce`: the score function, sum_k (L_k - b_k) grad log p(a_k) / K over the genes that shape
  the sampled candidate, with the leave-one-out baseline b_k (the mean loss of the step's other
  samples; with one sample a step, a moving average of the loss): an unbiased estimate of the
  gradient of the expected task loss under the logits' distribution;
- `reinforce_data`: the score function for the data-configuration and width genes (the discrete
  choices where one relaxed sample says least), straight-through for the per-stage/per-block genes.

The constraint penalty's gradient is the same for all of them: the exact expected flash and latency
and the RAM surrogate of dnasgen.search.diffcost.
"""
from __future__ import annotations

ESTIMATORS = ("straight_through", "reinforce", "reinforce_data")
DATA_GENES = ("data", "width")
BASELINE_MOMENTUM = 0.9      # the moving-average baseline of one sample a step


def score_genes(estimator: str, used: list[str]) -> list[str]:
    """The genes of `used` whose task gradient is the score function."""
    if estimator == "reinforce":
        return list(used)
    if estimator == "reinforce_data":
        return [g for g in used if g in DATA_GENES]
    if estimator == "straight_through":
        return []
    raise ValueError(f"unknown search.diff_estimator {estimator!r} (one of {', '.join(ESTIMATORS)})")


def gate_genes(estimator: str, used: list[str]) -> list[str]:
    """The genes of `used` whose task gradient comes straight through the supernet's logits."""
    scored = set(score_genes(estimator, used))
    return [g for g in used if g not in scored]


class ScoreBaseline:
    """The baseline of the score-function estimator: leave-one-out over a step's samples, or (one
    sample a step) an exponential moving average of the task loss, kept across steps."""

    def __init__(self, value: float | None = None, momentum: float = BASELINE_MOMENTUM):
        self.value, self.momentum = value, momentum

    def advantages(self, losses: list[float]) -> list[float]:
        """L_k - b_k per sample (0 for the very first single sample: no baseline yet)."""
        n = len(losses)
        if n > 1:
            total = sum(losses)
            return [loss - (total - loss) / (n - 1) for loss in losses]
        loss = losses[0]
        adv = 0.0 if self.value is None else loss - self.value
        self.value = loss if self.value is None else self.momentum * self.value + (1 - self.momentum) * loss
        return [adv]


def score_surrogate(advantages: list[float], log_probs: list):
    """The loss whose gradient is the score-function estimate: mean_k advantage_k * log p(a_k)."""
    terms = [a * lp for a, lp in zip(advantages, log_probs) if not isinstance(lp, float)]
    return sum(terms) / len(advantages) if terms else 0.0
