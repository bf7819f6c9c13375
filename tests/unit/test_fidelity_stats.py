"""Rank statistics of `dnasgen fidelity` against hand-computed values."""
import math

import pytest

from dnasgen.fidelity.stats import default_k, kendall_tau, spearman_rho, top_k_overlap


def test_kendall_tau_known_values():
    assert kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert kendall_tau([1, 2, 3], [1, 3, 2]) == pytest.approx(1 / 3)        # 2 concordant, 1 discordant
    # tau-b with a tie in y: pairs (1,2) tied; C=5, D=0 over sqrt(6 * 5)
    assert kendall_tau([1, 2, 3, 4], [1, 1, 2, 3]) == pytest.approx(5 / math.sqrt(30))
    assert math.isnan(kendall_tau([1, 2, 3], [5, 5, 5]))


def test_spearman_rho_known_values():
    assert spearman_rho([1, 2, 3, 4, 5], [2, 4, 6, 8, 100]) == pytest.approx(1.0)
    assert spearman_rho([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(0.8207826816681233)
    assert math.isnan(spearman_rho([1, 2], [3, 3]))


def test_top_k_overlap():
    assert top_k_overlap([0.9, 0.8, 0.1, 0.2], [0.7, 0.1, 0.9, 0.2], 2) == 0.5
    assert top_k_overlap([3, 2, 1], [30, 20, 10], 1) == 1.0
    assert default_k(12) == 3 and default_k(2) == 1
