"""Iterations that stop at their cap say so: a ConvergenceWarning naming the rows/values.

The caps are never reached on valid input (the last test checks a hard
batch with warnings as errors), so each warning is provoked by lowering the
cap with monkeypatch.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

import focalentropy as fe
from focalentropy import ConvergenceWarning, _logit, _loss, _minimizer
from focalentropy.countable import _solver as _countable_solver


def test_public_and_a_runtime_warning():
    assert issubclass(fe.ConvergenceWarning, RuntimeWarning)
    assert "ConvergenceWarning" in fe.__all__


def test_solve_logit_names_values(monkeypatch):
    monkeypatch.setattr(_logit, "SOLVE_MAXITER", 1)
    y = np.array([1.0, 40.0, -3.0])
    with pytest.warns(
        ConvergenceWarning, match=r"solve_logit .* in 1 iterations .*index \d+ \(y = "
    ):
        fe.phi_inverse(np.exp(y), 2.0)


def test_bracketed_minimizer_names_rows(monkeypatch):
    monkeypatch.setattr(_minimizer, "_NEWTON_MAXITER", 1)
    monkeypatch.setattr(_minimizer, "_BRACKET_MAXITER", 1)
    p = np.array([[0.5, 0.5, 0.0], [0.7, 0.2, 0.1], [0.6, 0.3, 0.1]])
    with pytest.warns(
        ConvergenceWarning, match=r"minimizer \(bracketed .* for \d+ rows, at index 1"
    ):
        fe.minimizer(p, 2.0)


def test_bracketed_after_kernel_names_rows(monkeypatch):
    monkeypatch.setattr(_minimizer, "_TABLE_MAXITER", 1)
    monkeypatch.setattr(_minimizer, "_NEWTON_MAXITER", 1)  # the bracketed solver's polish
    monkeypatch.setattr(_minimizer, "_BRACKET_MAXITER", 1)
    p = np.array([[0.5, 0.5], [0.9, 0.1], [0.99, 0.01]])
    with pytest.warns(ConvergenceWarning, match=r"rows, at index 1"):
        fe.minimizer(p, 2.0, method="numba")


def test_g_max_names_gamma(monkeypatch):
    monkeypatch.setattr(_loss, "_GMAX_MAXITER", 2)
    _loss._max_gradient_weight.cache_clear()
    try:
        with pytest.warns(ConvergenceWarning, match=r"max_gradient_weight .*gamma = 3\.25"):
            fe.max_gradient_weight(3.25)
    finally:
        _loss._max_gradient_weight.cache_clear()


def test_countable_head_solve(monkeypatch):
    monkeypatch.setattr(_countable_solver, "_HEAD_MAXITER", 1)
    with pytest.warns(ConvergenceWarning, match=r"head solve .* did not converge in 1 iterations"):
        fe.countable_minimizer(stats.geom(0.3), 2.0)


def test_no_warning_on_hard_input():
    rng = np.random.default_rng(5)
    x = 10.0 ** rng.uniform(-300, 0, size=(50, 40))
    p = x / x.sum(axis=-1, keepdims=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        for gamma in [1e-6, 0.3, 2.0, 50.0, 1e4]:
            fe.minimizer(p, gamma, method="numpy")
            fe.minimizer(p, gamma, method="numba")
        fe.phi_inverse(np.logspace(-300, 300, 50), 7.0)
        fe.max_gradient_weight(1e300)
