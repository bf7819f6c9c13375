"""The differentiable search's architecture-gradient estimators (dnasgen.search.diffgrad): which genes
each estimator scores, the leave-one-out / moving-average baselines (values), and the score function's
mean gradient equals the exact gradient of the expected loss (the estimator is unbiased)."""
import pytest

from dnasgen.search.diffgrad import ESTIMATORS, ScoreBaseline, gate_genes, score_genes, score_surrogate

torch = pytest.importorskip("torch")
USED = ["data", "width", "depth0", "kernel0.0", "expand0.0"]


def test_each_estimator_splits_the_used_genes_into_scored_and_gated():
    assert score_genes("straight_through", USED) == [] and gate_genes("straight_through", USED) == USED
    assert score_genes("reinforce", USED) == USED and gate_genes("reinforce", USED) == []
    assert score_genes("reinforce_data", USED) == ["data", "width"]
    assert gate_genes("reinforce_data", USED) == ["depth0", "kernel0.0", "expand0.0"]
    for name in ESTIMATORS:
        assert sorted(score_genes(name, USED) + gate_genes(name, USED)) == sorted(USED)
    with pytest.raises(ValueError, match="diff_estimator 'gdas'"):
        score_genes("gdas", USED)


def test_leave_one_out_baseline_is_the_mean_of_the_other_samples():
    b = ScoreBaseline(2.0)
    assert b.advantages([1.0, 2.0, 6.0]) == [1.0 - 4.0, 2.0 - 3.5, 6.0 - 1.5]
    assert b.value == 2.0                                  # several samples: the moving average is untouched


def test_single_sample_baseline_is_a_moving_average():
    b = ScoreBaseline(None, momentum=0.5)
    assert b.advantages([3.0]) == [0.0] and b.value == 3.0  # no baseline yet: no score gradient
    assert b.advantages([1.0]) == [-2.0] and b.value == 2.0
    assert b.advantages([4.0]) == [2.0] and b.value == 3.0


def test_score_surrogate_without_scored_genes_is_zero():
    assert score_surrogate([0.5, -0.5], [0.0, 0.0]) == 0.0


@pytest.mark.parametrize("samples", [1, 4])
def test_score_function_gradient_is_unbiased(samples):
    """Mean over many steps of the surrogate's gradient = d/dlogits sum_i p_i L_i (to the Monte-Carlo
    error), for one sample a step (moving-average baseline) and four (leave-one-out)."""
    losses = torch.tensor([1.0, 0.2, 0.7, 1.5])
    logits = torch.tensor([0.3, -0.2, 0.1, 0.5], requires_grad=True)
    exact, = torch.autograd.grad((torch.softmax(logits, 0) * losses).sum(), logits)
    gen, baseline, total, steps = torch.Generator().manual_seed(0), ScoreBaseline(None), torch.zeros(4), 8000
    for _ in range(steps):
        picks = torch.multinomial(torch.softmax(logits.detach(), 0), samples, replacement=True, generator=gen)
        log_probs = [torch.log_softmax(logits, 0)[int(k)] for k in picks]
        surrogate = score_surrogate(baseline.advantages([float(losses[k]) for k in picks]), log_probs)
        total += torch.autograd.grad(surrogate, logits)[0]
    assert torch.allclose(total / steps, exact, atol=0.012), (total / steps, exact)
    assert float((total / steps - exact).abs().max()) < 0.1 * float(exact.abs().max())
