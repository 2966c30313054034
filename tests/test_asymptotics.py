"""Tests of focalentropy.asymptotics (docs/theory.rst, section "Asymptotics").

The coefficients are checked against 50-digit finite differences of the
exact minimizer (``mp_polish`` at gamma = 1e-12 and 1e10), and the stated
orders by fitting the slope of log(error) against log(gamma) on a grid.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from _mp_reference import SOFTMAX_CASES, mp_polish, reference, rel_err
from focalentropy._minimizer import minimizer
from focalentropy.asymptotics import Expansion, large_gamma, small_gamma, tail_ratio

P4 = np.array([0.5, 0.3, 0.15, 0.05])
P_SKEWED = np.array([0.55, 0.25, 0.12, 0.05, 0.025, 0.005])


def _slope(x, y):
    return np.polyfit(np.log(x), np.log(y), 1)[0]


def _distributions(min_k=2, max_k=6):
    return st.lists(st.floats(0.02, 1.0, allow_nan=False), min_size=min_k, max_size=max_k).map(
        lambda v: np.array(v) / np.sum(v)
    )


class TestSmallGamma:
    def test_coefficient_is_mp_derivative(self):
        h = mp.mpf("1e-12")
        q, _ = mp_polish(list(P4), h, minimizer(P4, 1e-12), steps=3)
        # Q*(0) is P normalized in exact arithmetic (the float P4 sums to 1 only
        # up to rounding)
        total = mp.fsum(mp.mpf(pi) for pi in P4)
        reference = [(qi - mp.mpf(pi) / total) / h for qi, pi in zip(q, P4)]
        d = small_gamma(P4).coefficient
        for di, ref in zip(d, reference):
            # the finite difference itself is off by O(h) = 1e-12
            assert abs(mp.mpf(di) - ref) < 1e-10

    def test_error_is_second_order(self):
        expansion = small_gamma(P_SKEWED)
        gammas = np.logspace(-4, -2, 5)
        errors = [np.abs(expansion(g) - minimizer(P_SKEWED, g)).max() for g in gammas]
        assert _slope(gammas, errors) == pytest.approx(2.0, abs=0.05)

    def test_returns_expansion_with_leading_p(self):
        expansion = small_gamma(P4)
        assert isinstance(expansion, Expansion)
        assert (expansion.order, expansion.remainder_order) == (1, 2)
        np.testing.assert_array_equal(expansion.leading, P4)
        np.testing.assert_array_equal(expansion(0.0), P4)

    @given(_distributions())
    def test_coefficient_sums_to_zero(self, p):
        assert abs(small_gamma(p).coefficient.sum()) < 1e-15

    def test_uniform_has_zero_coefficient(self):
        np.testing.assert_allclose(small_gamma(np.full(5, 0.2)).coefficient, 0.0, atol=1e-17)

    def test_zero_classes_and_single_class(self):
        d = small_gamma(np.array([0.7, 0.0, 0.3])).coefficient
        assert d[1] == 0.0
        d_pair = small_gamma(np.array([0.7, 0.3])).coefficient
        np.testing.assert_allclose(d[[0, 2]], d_pair, rtol=1e-15)
        np.testing.assert_array_equal(small_gamma(np.array([0.0, 1.0])).coefficient, 0.0)

    def test_alpha_is_normalized_weights(self):
        alpha = np.array([1.0, 2.0, 0.5, 4.0])
        w = alpha * P4 / np.sum(alpha * P4)
        weighted = small_gamma(P4, alpha=alpha)
        np.testing.assert_allclose(weighted.coefficient, small_gamma(w).coefficient, rtol=1e-14)
        np.testing.assert_allclose(
            weighted(1e-3), minimizer(P4, 1e-3, alpha=alpha), atol=1e-6, rtol=0
        )

    def test_axis_and_batch(self):
        batch = np.stack([P4, P4[::-1]])
        by_rows = small_gamma(batch).coefficient
        by_cols = small_gamma(batch.T, axis=0).coefficient
        np.testing.assert_array_equal(by_rows, by_cols.T)
        np.testing.assert_array_equal(by_rows[1], small_gamma(P4[::-1]).coefficient)

    def test_rejects_bad_input(self):
        with pytest.raises(ValueError, match="`p` must sum to 1"):
            small_gamma([0.5, 0.6])
        with pytest.raises(ValueError, match="`gamma` must be a finite number >= 0"):
            small_gamma(P4)(-1.0)


class TestLargeGamma:
    def test_coefficient_is_mp_limit(self):
        big = mp.mpf("1e10")
        expansion = large_gamma(P4)
        q, _ = mp_polish(list(P4), big, expansion(1e10), steps=3)
        for c, qi in zip(expansion.coefficient, q):
            # gamma (Q* - 1/K) -> coefficient with an O(1/gamma) remainder
            assert abs(mp.mpf(c) - (qi - mp.mpf(1) / 4) * big) < 1e-8

    def test_error_is_second_order_in_inverse_gamma(self):
        expansion = large_gamma(P_SKEWED)
        gammas = np.logspace(2, 4, 5)
        errors = [np.abs(expansion(g) - minimizer(P_SKEWED, g)).max() for g in gammas]
        assert _slope(gammas, errors) == pytest.approx(-2.0, abs=0.05)

    def test_leading_is_uniform_on_support(self):
        expansion = large_gamma(np.array([0.6, 0.0, 0.3, 0.1]))
        np.testing.assert_allclose(expansion.leading, [1 / 3, 0, 1 / 3, 1 / 3], rtol=1e-15)
        assert expansion.coefficient[1] == 0.0
        assert (expansion.order, expansion.remainder_order) == (-1, -2)

    @given(_distributions())
    def test_coefficient_sums_to_zero_and_keeps_order(self, p):
        c = large_gamma(p).coefficient
        assert abs(c.sum()) < 1e-13
        order = np.argsort(p, kind="stable")
        assert np.all(np.diff(c[order]) >= -1e-15)

    def test_scale_invariant_in_alpha(self):
        a = large_gamma(P4, alpha=3.0).coefficient
        np.testing.assert_allclose(a, large_gamma(P4).coefficient, rtol=1e-14)

    def test_gamma_zero_is_rejected(self):
        with pytest.raises(ValueError, match="`gamma` must be > 0"):
            large_gamma(P4)(0.0)


class TestTailRatio:
    def test_against_stored_reference(self):
        # tail_ratio = 1 / lam, lam from the 50-digit minimizer; the vanishing class
        # (P = 1e-9) already has Q*/P = 1/lam up to O(P log(1/P))
        p = np.array(SOFTMAX_CASES["vanishing-class"]["p"])
        q_ref, lam_ref, _ = reference("vanishing-class")
        assert float(rel_err(tail_ratio(p, 2.0), 1 / lam_ref)) <= 1e-12
        # lam Q*/P - 1 = G(Q*) - 1 = gamma q (log(1/q) - 1) + O(q^2 log q)
        q = q_ref[-1]
        deviation = lam_ref * q / mp.mpf(p[-1]) - 1
        assert float(rel_err(deviation, 2 * q * (mp.log(1 / q) - 1))) <= 1e-6
        for name in ("small0-gamma2", "rare-K5", "weighted"):
            case = SOFTMAX_CASES[name]
            _, lam, _ = reference(name)
            assert float(rel_err(tail_ratio(case["p"], 2.0, alpha=case["alpha"]), 1 / lam)) <= 1e-12

    def test_ratio_of_vanishing_class(self):
        # the ratio's error is O(eps log(1/eps)): it shrinks at first order
        eps = np.logspace(-9, -5, 5)
        head = np.array([0.3, 0.3, 0.3, 0.1])
        errors = []
        for e in eps:
            p = np.append(head * (1 - e), e)
            q = minimizer(p, 2.0)
            errors.append(abs(q[-1] / e - tail_ratio(p, 2.0)))
        assert _slope(eps, errors) == pytest.approx(1.0, abs=0.1)

    def test_over_suppression_example(self):
        # docs/theory.rst, section "Regimes": K = 5, gamma = 2 over-suppresses the rare class
        eps = 1e-8
        p = np.append(np.full(4, (1 - eps) / 4), eps)
        assert tail_ratio(p, 2.0) < 1.0
        p4 = np.append(np.full(3, (1 - eps) / 3), eps)
        assert tail_ratio(p4, 2.0) > 1.0

    def test_gamma_zero_and_batch(self):
        batch = np.array([P4, np.full(4, 0.25)])
        np.testing.assert_allclose(tail_ratio(batch, 0.0), [1.0, 1.0], rtol=1e-15)
        assert tail_ratio(batch, 1.5).shape == (2,)
