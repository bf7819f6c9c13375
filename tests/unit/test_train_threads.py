"""Torch thread count: --threads, else $DNASGEN_THREADS, else the cores this process may use.

Never the load average: the count (and the last float bits of reductions) must not depend on
what else the machine is doing. Training and the search scorer share the one rule.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from dnasgen.errors import BuildError
from dnasgen.search.scoring import SupernetScorer
from dnasgen.train.runtime import THREADS_ENV, configure_threads, default_threads, resolve_threads


@pytest.fixture(autouse=True)
def _restore_threads(monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    saved = torch.get_num_threads()
    yield
    torch.set_num_threads(saved)


def test_default_is_the_affinity_not_the_load(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 5}, raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (3.9, 3.9, 3.9))
    assert default_threads() == 4
    assert resolve_threads() == 4
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert resolve_threads() == 4


def test_cores_are_split_over_the_processes_of_a_node(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    assert [default_threads(p) for p in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]


def test_environment_then_argument_override(monkeypatch):
    monkeypatch.setenv(THREADS_ENV, "3")
    assert resolve_threads() == 3
    assert resolve_threads(2) == 2
    assert configure_threads() == 3 and torch.get_num_threads() == 3


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_bad_environment_value_is_a_clean_error(monkeypatch, value):
    monkeypatch.setenv(THREADS_ENV, value)
    with pytest.raises(BuildError, match=THREADS_ENV):
        resolve_threads()


def test_bad_argument_is_a_clean_error():
    with pytest.raises(BuildError, match="--threads"):
        resolve_threads(0)


def test_the_scorer_uses_the_training_rule(monkeypatch):
    monkeypatch.setenv(THREADS_ENV, "1")
    torch.set_num_threads(2)
    scorer = SupernetScorer(None, None, None)
    assert scorer.threads == 1 and torch.get_num_threads() == 1
    monkeypatch.delenv(THREADS_ENV)
    assert SupernetScorer(None, None, None, threads=2).threads == torch.get_num_threads() == 2


@pytest.mark.parametrize("given,want", [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_openmp_threads_sleep_when_idle_unless_the_user_says_otherwise(given, want):
    """OMP_WAIT_POLICY is set by `import dnasgen`, before torch loads OpenMP (spinning threads on busy
    cores collapse training); an explicit setting is kept."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given:
        env["OMP_WAIT_POLICY"] = given
    code = ("import sys, os, dnasgen.train.runtime; "
            "print(os.environ['OMP_WAIT_POLICY'], 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [want, "True"]
