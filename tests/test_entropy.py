"""Focal cross-entropy, entropy and divergence (arXiv:2603.02533).

Properties on random distributions (convexity in Q, comparison with the
Shannon quantities, monotonicity in gamma, finiteness, the decomposition
H(P, Q) = H(P) + D(P || Q)), properties that hold only at the true minimizer
(concavity of H_gamma in P, the envelope theorem in gamma and in the weights),
exact agreement with scipy.stats at gamma = 0, and 50-digit mpmath references
(``tests/_mp_reference.py``: stored from-scratch minimizers, live two-class solves).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mpmath as mp
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy import stats

from _mp_reference import (
    SOFTMAX_CASES,
    case_weights,
    mp_binary,
    mp_cross_entropy,
    mp_weighted_loss,
    reference,
    rel_err,
)
from _strategies import distributions, gammas, moderate_distributions
from focalentropy import cross_entropy, divergence, entropy, minimizer

RTOL = 1e-12


def _mp_entropy(name):
    """H_gamma(P) of a stored case: sum_x w_x l(Q*(x)) with the 50-digit Q*."""
    q, _, r = reference(name)
    return mp_weighted_loss(case_weights(SOFTMAX_CASES[name]), q, r, SOFTMAX_CASES[name]["gamma"])


def _mp_divergence(name, q_model):
    """D_gamma(P || Q) = H_gamma(P, Q) - H_gamma(P) of a stored case, in 50 digits."""
    case = SOFTMAX_CASES[name]
    qm = [mp.mpf(float(x)) for x in q_model]
    h = mp_weighted_loss(case_weights(case), qm, [1 - x for x in qm], case["gamma"])
    return h - _mp_entropy(name)


#: binary distributions (P(0) from 1e-300 to 1 - 1e-16) for the live two-class references
_binary_p = st.one_of(
    st.floats(-300.0, -1e-3).map(lambda e: 10.0**e),
    st.floats(1e-3, 1.0 - 1e-16),
)


def _pair(min_support=2):
    """P and Q with the same number of classes."""

    @st.composite
    def pair(draw):
        p = draw(distributions(min_support=min_support))
        q = draw(distributions(p.size, p.size, min_support=1))
        return p, q

    return pair()


class TestCrossEntropy:
    @given(_pair(), gammas)
    def test_matches_definition(self, pq, gamma):
        p, q = pq
        support = p > 0
        with np.errstate(divide="ignore"):
            terms = -p[support] * (1 - q[support]) ** gamma * np.log(q[support])
        assert cross_entropy(p, q, gamma) == pytest.approx(terms.sum(), rel=1e-13)

    @given(_pair(min_support=1), gammas)
    def test_infinite_exactly_when_q_misses_support(self, pq, gamma):
        p, q = pq
        h = cross_entropy(p, q, gamma)
        assert not np.isnan(h)
        assert np.isinf(h) == bool(np.any((p > 0) & (q == 0)))
        assert h >= 0

    @given(_pair(), gammas, st.data())
    def test_convex_in_q(self, pq, gamma, data):
        p, q1 = pq
        q2 = data.draw(distributions(p.size, p.size, min_support=1))
        mid = cross_entropy(p, 0.5 * (q1 + q2), gamma)
        chord = 0.5 * (cross_entropy(p, q1, gamma) + cross_entropy(p, q2, gamma))
        assert mid <= chord * (1 + 1e-13)

    @given(moderate_distributions(max_k=10), gammas, st.data())
    def test_strictly_convex_on_the_support(self, p, gamma, data):
        # theory page, "The loss term": strictly convex in Q on the support of P
        # (hence the unique minimizer): the midpoint lies strictly below the chord
        q1 = data.draw(moderate_distributions(p.size, p.size))
        q2 = data.draw(moderate_distributions(p.size, p.size))
        assume(np.abs(q1 - q2).max() > 1e-2)
        mid = cross_entropy(p, 0.5 * (q1 + q2), gamma)
        chord = 0.5 * (cross_entropy(p, q1, gamma) + cross_entropy(p, q2, gamma))
        assert mid < chord

    @given(_pair(), gammas)
    def test_bounded_by_shannon(self, pq, gamma):
        p, q = pq
        assert cross_entropy(p, q, gamma) <= cross_entropy(p, q, 0.0)

    @given(_pair(), gammas, gammas)
    def test_non_increasing_in_gamma(self, pq, g1, g2):
        p, q = pq
        lo, hi = sorted((g1, g2))
        assert cross_entropy(p, q, hi) <= cross_entropy(p, q, lo)

    @given(_pair())
    def test_gamma_zero_is_shannon(self, pq):
        p, q = pq
        expected = stats.entropy(p) + stats.entropy(p, q)
        assert cross_entropy(p, q, 0.0) == pytest.approx(expected, rel=1e-12)

    def test_zero_times_infinity_is_zero(self):
        # classes outside the support of P do not count, even where Q = 0
        assert cross_entropy([1.0, 0.0], [1.0, 0.0], 2.0) == 0.0
        assert cross_entropy([0.5, 0.5, 0.0], [0.5, 0.5, 0.0], 0.0) == pytest.approx(np.log(2))

    def test_weights(self):
        p, q = np.array([0.6, 0.3, 0.1]), np.array([0.2, 0.5, 0.3])
        alpha = np.array([1.0, 2.0, 4.0])
        expected = -(alpha * p * (1 - q) ** 2 * np.log(q)).sum()
        assert cross_entropy(p, q, 2.0, alpha=alpha) == pytest.approx(expected, rel=1e-14)
        assert cross_entropy(p, q, 2.0, alpha=3.0) == pytest.approx(
            3 * cross_entropy(p, q, 2.0), rel=1e-14
        )

    def test_broadcasting_and_axis(self):
        rng = np.random.default_rng(0)
        p = rng.dirichlet(np.ones(5), size=(3, 4))
        q = rng.dirichlet(np.ones(5))
        h = cross_entropy(p, q, 1.5)
        assert h.shape == (3, 4)
        for idx in np.ndindex(3, 4):
            assert h[idx] == pytest.approx(cross_entropy(p[idx], q, 1.5), rel=1e-14)
        np.testing.assert_allclose(
            cross_entropy(np.moveaxis(p, -1, 0), q[:, None, None], 1.5, axis=0), h, rtol=1e-14
        )

    def test_per_class_alpha_follows_class_axis(self):
        rng = np.random.default_rng(5)
        p, q = rng.dirichlet(np.ones(4), size=3), rng.dirichlet(np.ones(4), size=3)
        alpha = np.array([1.0, 2.0, 3.0, 4.0])
        cases: list[tuple[Callable[..., Any], tuple[np.ndarray, ...]]] = [
            (cross_entropy, (p, q)),
            (divergence, (p, q)),
            (entropy, (p,)),
        ]
        for func, args in cases:
            expected = func(*args, 2.0, alpha=alpha)
            transposed = [a.T for a in args]
            np.testing.assert_allclose(
                func(*transposed, 2.0, alpha=alpha, axis=0), expected, rtol=1e-14
            )

    def test_scalar_result_for_1d(self):
        h = cross_entropy([0.5, 0.5], [0.5, 0.5], 1.0)
        assert np.ndim(h) == 0


class TestEntropy:
    @pytest.mark.parametrize("name", sorted(SOFTMAX_CASES))
    def test_against_stored_reference(self, name):
        case = SOFTMAX_CASES[name]
        h = entropy(case["p"], case["gamma"], alpha=case["alpha"])
        assert float(rel_err(h, _mp_entropy(name))) <= RTOL

    @given(_binary_p, gammas)
    def test_binary_against_scalar_reference(self, p0, gamma):
        # two classes: Q* from one scalar equation in 50 digits, H = sum_x P(x) l(Q*(x))
        p = np.array([p0, 1.0 - p0])
        q, r, _ = mp_binary(p[0], p[1], gamma)
        ref = mp_weighted_loss(p, [q, r], [r, q], gamma)
        assert float(rel_err(entropy(p, gamma), ref)) <= RTOL

    @given(distributions(min_support=1), gammas)
    def test_between_zero_and_cross_entropy_at_p(self, p, gamma):
        h = entropy(p, gamma)
        assert 0 <= h <= cross_entropy(p, p, gamma) * (1 + 1e-13)

    @given(moderate_distributions(max_k=10), moderate_distributions(max_k=10), gammas)
    def test_concave_in_p(self, p1, p2, gamma):
        # H_gamma(P) = min_Q sum_x P(x) l(Q(x)) is a minimum of linear functions of P
        if p1.size != p2.size:
            p2 = np.resize(p2, p1.size)
            p2 /= p2.sum()
        mid = entropy(0.5 * (p1 + p2), gamma)
        chord = 0.5 * (entropy(p1, gamma) + entropy(p2, gamma))
        assert mid >= chord * (1 - 1e-13)

    @given(moderate_distributions(max_k=10), st.floats(0.05, 20.0))
    def test_envelope_in_gamma(self, p, gamma):
        # dH/dgamma = sum_x P(x) d l(Q*(x)) / d gamma at fixed Q* (Q* is stationary):
        # d l / d gamma = -(1-q)^gamma log(1-q) log q. A wrong Q* adds a first-order term.
        h = 1e-5 * gamma
        slope = (entropy(p, gamma + h) - entropy(p, gamma - h)) / (2 * h)
        q = minimizer(p, gamma)
        expected = -(p * (1 - q) ** gamma * np.log1p(-q) * np.log(q)).sum()
        assert slope == pytest.approx(expected, rel=1e-6, abs=1e-12)

    @given(moderate_distributions(max_k=10), gammas, st.data())
    def test_envelope_in_weights(self, p, gamma, data):
        # d H / d alpha_x = P(x) l(Q*(x)) at alpha = 1 (the minimum is stationary in Q)
        x = data.draw(st.integers(0, p.size - 1))
        h = 1e-6
        up, down = np.ones(p.size), np.ones(p.size)
        up[x], down[x] = 1 + h, 1 - h
        slope = (entropy(p, gamma, alpha=up) - entropy(p, gamma, alpha=down)) / (2 * h)
        q = minimizer(p, gamma)
        expected = -p[x] * (1 - q[x]) ** gamma * np.log(q[x])
        assert slope == pytest.approx(expected, rel=1e-6, abs=1e-12)

    @given(_pair(), gammas)
    def test_is_a_minimum(self, pq, gamma):
        p, q = pq
        assert entropy(p, gamma) <= cross_entropy(p, q, gamma) * (1 + 1e-13)

    @given(distributions(min_support=1))
    def test_gamma_zero_is_shannon(self, p):
        # H_0(P) = sum_x P(x) (-log Q*(x)), Q* = P / sum(P), in 50 digits: scipy
        # takes -log of the rounded dominant P, which loses digits when it is near 1
        # (the dominant class through the others' share, exact where it rounds to 1)
        x = [mp.mpf(float(v)) for v in p]
        top = int(np.argmax(p))
        others = mp.fsum(v for i, v in enumerate(x) if i != top)
        total = x[top] + others
        neg_log_q = [-mp.log(v / total) if v > 0 else 0 for v in x]
        neg_log_q[top] = -mp.log1p(-others / total)
        ref = mp.fsum(v * nl for v, nl in zip(x, neg_log_q, strict=True))
        assert float(rel_err(entropy(p, 0.0), ref)) <= 1e-13 or abs(ref) < 1e-300
        if p.max() <= 0.5:
            assert entropy(p, 0.0) == pytest.approx(stats.entropy(p), rel=1e-12, abs=1e-300)

    @given(st.integers(1, 50), gammas)
    def test_uniform(self, k, gamma):
        # Q* = P = uniform: H = (1 - 1/K)^gamma log K
        expected = (1 - 1 / k) ** gamma * np.log(k)
        assert entropy(np.full(k, 1 / k), gamma) == pytest.approx(expected, rel=1e-13, abs=1e-300)

    @given(gammas)
    def test_one_hot_is_zero(self, gamma):
        assert entropy([0.0, 1.0, 0.0], gamma) == 0.0

    @given(moderate_distributions(), gammas, st.floats(0.01, 100.0))
    def test_scalar_alpha_scales(self, p, gamma, a):
        assert entropy(p, gamma, alpha=a) == pytest.approx(a * entropy(p, gamma), rel=1e-13)

    def test_batched(self):
        rng = np.random.default_rng(1)
        p = rng.dirichlet(np.ones(6), size=(2, 3))
        h = entropy(p, 2.0)
        assert h.shape == (2, 3)
        for idx in np.ndindex(2, 3):
            assert h[idx] == pytest.approx(entropy(p[idx], 2.0), rel=1e-14)
        np.testing.assert_allclose(entropy(np.moveaxis(p, -1, 0), 2.0, axis=0), h, rtol=1e-14)


class TestDivergence:
    @given(_pair(), gammas)
    def test_non_negative_and_decomposes(self, pq, gamma):
        p, q = pq
        d = divergence(p, q, gamma)
        assert d >= 0
        h = cross_entropy(p, q, gamma)
        if np.isinf(h):
            assert d == np.inf
        else:
            # H(P, Q) = H(P) + D(P || Q), the divergence being computed as Bregman terms
            # (1e-11: see test_accuracy_with_dominant_class for the 1e-13 target)
            assert h == pytest.approx(entropy(p, gamma) + d, rel=1e-11, abs=1e-300)

    @given(distributions(), gammas)
    def test_zero_at_minimizer(self, p, gamma):
        h = float(entropy(p, gamma))
        assert divergence(p, minimizer(p, gamma), gamma) <= 1e-15 * max(1.0, h)

    @given(moderate_distributions(max_k=10), st.floats(0.1, 20.0))
    def test_positive_away_from_minimizer(self, p, gamma):
        # Q = P is not the minimizer unless P is uniform
        q_star = minimizer(p, gamma)
        if np.abs(q_star - p).max() > 1e-6:
            assert divergence(p, p, gamma) > 0

    def test_theory_page_self_divergence(self):
        # docs/theory.rst, "Definitions": D_2(P || P) = 0.076433 > 0 for P = (0.7, 0.2, 0.08, 0.02)
        p = SOFTMAX_CASES["small0-gamma2"]["p"]
        ref = _mp_divergence("small0-gamma2", p)
        assert mp.nstr(ref, 5) == "0.076433"
        assert float(rel_err(divergence(p, p, 2.0), ref)) <= RTOL

    @pytest.mark.parametrize("name", sorted(SOFTMAX_CASES))
    def test_against_stored_reference(self, name):
        case = SOFTMAX_CASES[name]
        p = np.asarray(case["p"])
        for q in (p, np.full(p.size, 1 / p.size), np.roll(p, 1) * 0.5 + 0.5 / p.size):
            q = q / q.sum()
            d = divergence(p, q, case["gamma"], alpha=case["alpha"])
            ref = _mp_divergence(name, q)
            # D is a difference of two entropies: rounding Q and Q* to doubles moves it
            # by ~eps H(P, Q) absolutely (relative error ~eps / |Q - Q*| near Q*)
            h = mp_weighted_loss(case_weights(case), [mp.mpf(x) for x in q],
                                 [1 - mp.mpf(x) for x in q], case["gamma"])  # fmt: skip
            assert abs(d - ref) <= 1e-12 * ref + 4 * 2.2e-16 * h, q

    @given(_pair())
    def test_gamma_zero_is_kl(self, pq):
        p, q = pq
        assert divergence(p, q, 0.0) == pytest.approx(stats.entropy(p, q), rel=1e-10, abs=1e-15)

    @pytest.mark.parametrize(("eps", "gamma"), [(1e-7, 0.125), (1e-12, 0.5)])
    def test_accuracy_with_dominant_class(self, eps, gamma):
        p, q = [1 - eps, eps], [0.5, 0.5]
        q_top, r_top, _ = mp_binary(p[0], p[1], gamma)
        reference = mp_cross_entropy(p, q, gamma) - mp_weighted_loss(
            p, [q_top, r_top], [r_top, q_top], gamma
        )
        assert float(rel_err(divergence(p, q, gamma), reference)) < 1e-13

    def test_mass_outside_support(self):
        # Q puts mass where P has none: the lam * Q(outside) term
        p = np.array([0.7, 0.3, 0.0])
        q = np.array([0.5, 0.3, 0.2])
        d = divergence(p, q, 2.0)
        assert float(rel_err(d, _mp_divergence("outside-support", q))) <= RTOL
        assert d > divergence(p, np.array([0.625, 0.375, 0.0]), 2.0)

    def test_weights(self):
        p, q = np.array([0.6, 0.3, 0.1]), np.array([0.2, 0.5, 0.3])
        alpha = np.array([1.0, 2.0, 4.0])
        d = divergence(p, q, 2.0, alpha=alpha)
        assert float(rel_err(d, _mp_divergence("weighted", q))) <= RTOL
        q_star = minimizer(p, 2.0, alpha=alpha)
        assert divergence(p, q_star, 2.0, alpha=alpha) < 1e-15
        assert divergence(p, q_star, 2.0) > 1e-3  # the unweighted minimizer differs

    def test_broadcasting(self):
        rng = np.random.default_rng(2)
        p = rng.dirichlet(np.ones(4), size=3)
        q = rng.dirichlet(np.ones(4))
        d = divergence(p, q, 2.0)
        assert d.shape == (3,)
        for i in range(3):
            assert d[i] == pytest.approx(divergence(p[i], q, 2.0), rel=1e-14)
        np.testing.assert_allclose(divergence(p.T, q[:, None], 2.0, axis=0), d, rtol=1e-14)
