"""Continuity of H_gamma(P) and Q* (finite alphabets) and where it fails (countable).

Statements (docs/theory.rst, section "Countable alphabets", paragraph "Continuity"):

* finite alphabet: ``Q*`` and ``H_gamma(P)`` are continuous in ``P`` on the
  whole simplex (also where classes vanish: ``Q*(x) <= G_max P(x) / lam``)
  and in ``gamma >= 0``; in the interior they are locally Lipschitz;
* countable alphabet: ``H_gamma`` is *not* continuous in total variation,
  already for gamma = 0 (Shannon): mass ``1/k`` spread over ``e^(2k)``
  classes vanishes in total variation but keeps the entropy above a
  positive constant.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from focalentropy._entropy import entropy
from focalentropy._loss import _max_gradient_weight
from focalentropy._minimizer import minimizer

P = np.array([0.45, 0.3, 0.15, 0.07, 0.03])
DIRECTION = np.array([1.0, -2.0, 0.5, 0.3, 0.2])  # sums to 0


def _slope(x, y):
    return np.polyfit(np.log(x), np.log(y), 1)[0]


class TestFiniteAlphabet:
    @pytest.mark.parametrize("gamma", [0.5, 2.0, 5.0])
    def test_lipschitz_in_p(self, gamma):
        eps = np.logspace(-8, -4, 5)
        dq = [np.abs(minimizer(P + e * DIRECTION, gamma) - minimizer(P, gamma)).max() for e in eps]
        dh = [abs(entropy(P + e * DIRECTION, gamma) - entropy(P, gamma)) for e in eps]
        assert _slope(eps, dq) == pytest.approx(1.0, abs=0.05)
        assert _slope(eps, dh) == pytest.approx(1.0, abs=0.05)

    @pytest.mark.parametrize("gamma", [0.0, 1.0, 3.0])
    def test_lipschitz_in_gamma(self, gamma):
        h = np.logspace(-7, -3, 5)
        dq = [np.abs(minimizer(P, gamma + e) - minimizer(P, gamma)).max() for e in h]
        dh = [abs(entropy(P, gamma + e) - entropy(P, gamma)) for e in h]
        assert _slope(h, dq) == pytest.approx(1.0, abs=0.05)
        assert _slope(h, dh) == pytest.approx(1.0, abs=0.05)

    @pytest.mark.parametrize("gamma", [0.5, 2.0])
    def test_continuous_where_a_class_vanishes(self, gamma):
        # P_eps -> P0 with a class of P0 at 0: Q*(x) <= G_max P(x) / lam -> 0
        p0 = np.array([0.6, 0.4, 0.0])
        q0, h0 = minimizer(p0, gamma), entropy(p0, gamma)
        g_max = _max_gradient_weight(gamma)[0]
        for e in np.logspace(-12, -3, 4):
            p = np.array([0.6 - e / 2, 0.4 - e / 2, e])
            q, lam = minimizer(p, gamma, return_multiplier=True)
            assert q[2] <= g_max * e / lam * (1 + 1e-12)
            assert np.abs(q - q0).max() <= 3 * g_max * e / lam
            # the entropy converges too, at rate e log(1/e)
            assert abs(entropy(p, gamma) - h0) <= 2 * e * np.log(1 / e) + 1e-15

    @given(
        st.lists(st.floats(0.01, 1.0), min_size=2, max_size=6),
        st.floats(0.0, 6.0),
        st.floats(-1.0, 1.0),
    )
    def test_small_perturbations_move_little(self, weights, gamma, shift):
        p = np.array(weights) / np.sum(weights)
        d = np.zeros_like(p)
        d[0], d[-1] = 1e-9 * shift, -1e-9 * shift
        q, q_moved = minimizer(p, gamma), minimizer(p + d, gamma)
        # |dQ*| <= C |dP| with a modest constant for p bounded away from 0
        assert np.abs(q_moved - q).max() <= 1e-9 * abs(shift) * 200 + 1e-14
        assert abs(entropy(p + d, gamma) - entropy(p, gamma)) <= 1e-9 * abs(shift) * 200 + 1e-14


class TestCountableCounterexample:
    """H_gamma is not continuous in total variation on a countable alphabet.

    ``P_k = (1 - 1/k) delta_0 + (1/k) Uniform{1, ..., M_k}`` with
    ``M_k = ceil(e^(2k))``: ``TV(P_k, delta_0) = 1/k -> 0`` and
    ``H_gamma(delta_0) = 0``, but ``H(P_k) >= (1/k) log M_k = 2`` and
    ``H_gamma(P_k)`` stays bounded away from 0 as well. (With
    ``M_k = e^(k^2)`` it even diverges.) Each ``P_k`` has finite support, so
    the finite minimizer computes it exactly.
    """

    @staticmethod
    def _p(k):
        m = int(np.ceil(np.exp(2 * k)))
        return np.concatenate([[1 - 1 / k], np.full(m, 1 / (k * m))])

    @pytest.mark.parametrize("gamma", [0.0, 1.0, 2.0])
    def test_entropy_does_not_converge(self, gamma):
        assert entropy(np.array([1.0]), gamma) == 0.0
        values = []
        for k in (2, 3, 4, 5):
            p = self._p(k)
            tv = 0.5 * (abs(p[0] - 1) + p[1:].sum())
            assert tv == pytest.approx(1 / k, rel=1e-9)
            values.append(float(entropy(p, gamma)))
        # TV -> 0 but the entropy stays above a positive constant
        assert min(values) > (1.5 if gamma == 0 else 0.5)
        assert values[-1] > 0.9 * values[0]

    def test_minimizer_mass_on_the_spread_part_stays(self):
        # Q* puts mass ~ (1/k) / lam on the spread part: Q* converges in TV,
        # yet the entropy above does not (the loss of each tiny class grows)
        for k in (3, 5):
            p = self._p(k)
            q, lam = minimizer(p, 2.0, return_multiplier=True)
            # (up to the factor G(q) = 1 + O(q log(1/q)) of each tiny class)
            assert q[1:].sum() == pytest.approx(p[1:].sum() / lam, rel=0.03)
