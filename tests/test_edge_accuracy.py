"""Relative accuracy where one class dominates, against 50-digit mpmath references.

Rows ``(1.0, s_1, ..., s_k)`` with ``S = sum(s)`` down to 1e-300: the dominant
class's mass is ``1 - S`` (it rounds to 1.0 in float64) and ``1 - Q(top)`` is
the others' sum, for ``P``, for a given ``Q`` and for ``Q*`` alike. Every
reference below takes the dominant class's ``-log q`` as ``-log1p(-r)`` from
its exact complement ``r`` (at 50 digits ``q`` itself rounds to 1 too).
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

from _mp_reference import mp_losses, mp_polish, mp_weighted_loss, rel_err
from focalentropy import cross_entropy, divergence, entropy, minimizer, recover

RTOL = 1e-13
_TINY = np.finfo(float).tiny

#: the small classes of the dominated rows (their sums: 1e-14 ... 1e-300)
SMALL = [
    [1e-14],
    [3e-17, 1e-17],
    [1e-20, 5e-25, 2e-30],
    [1e-100, 1e-120],
    [2e-300, 1e-300, 5e-301],
    [1e-18, 1e-200, 1e-300],
]
GAMMAS = [0.0, 0.5, 2.0, 7.0]


def _row(small):
    return np.array([1.0, *small])


def _mp_row(small):
    """The exact distribution: top mass 1 - S, complement S."""
    s = [mp.mpf(x) for x in small]
    return [1 - mp.fsum(s), *s], mp.fsum(s)


def _mp_q_star(p_float, gamma):
    """Q* (with exact complements) of the row: KKT Newton-polished in 50 digits."""
    if gamma == 0:
        x = [mp.mpf(float(v)) for v in p_float]
        others = mp.fsum(x[1:])
        total = x[0] + others
        q = [v / total for v in x]
        r = [others / total] + [1 - v for v in q[1:]]
        return q, r
    q0 = minimizer(p_float, gamma)
    q, _, r = mp_polish(p_float, gamma, q0, steps=3, return_complement=True)
    return q, r


def _mp_q_given(q_float):
    """A given Q: dominant mass 1 - (sum of the others), complement that sum."""
    x = [mp.mpf(float(v)) for v in q_float]
    others = mp.fsum(x[1:])
    return [1 - others, *x[1:]], [others, *(1 - v for v in x[1:])]


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("small", SMALL, ids=lambda s: f"S={sum(s):.0e}")
class TestDominatedRows:
    def test_entropy(self, small, gamma):
        p = _row(small)
        p_mp, _ = _mp_row(small)
        q, r = _mp_q_star(p, gamma)
        ref = mp_weighted_loss(p_mp, q, r, gamma)
        assert float(rel_err(entropy(p, gamma), ref)) <= RTOL

    @pytest.mark.parametrize("method", ["numpy", "numba"])
    def test_minimizer_complement(self, small, gamma, method):
        p = _row(small)
        q_star = minimizer(p, gamma, method=method)
        q, r = _mp_q_star(p, gamma)
        assert float(rel_err(q_star[1:].sum(), r[0])) <= RTOL
        for got, want in zip(q_star[1:], q[1:], strict=True):
            assert float(rel_err(got, want)) <= RTOL

    @pytest.mark.parametrize("factor", [0.5, 3.0])
    def test_cross_entropy_and_divergence(self, small, gamma, factor):
        p = _row(small)
        p_mp, _ = _mp_row(small)
        q = np.array([1.0, *(factor * np.array(small))])
        qm, rm = _mp_q_given(q)
        h_pq = mp_weighted_loss(p_mp, qm, rm, gamma)
        assert float(rel_err(cross_entropy(p, q, gamma), h_pq)) <= RTOL
        qs, rs = _mp_q_star(p, gamma)
        d_ref = h_pq - mp_weighted_loss(p_mp, qs, rs, gamma)
        assert float(rel_err(divergence(p, q, gamma), d_ref)) <= 1e-12

    def test_divergence_far_from_minimizer(self, small, gamma):
        p = _row(small)
        p_mp, _ = _mp_row(small)
        q = np.full(p.size, 1.0 / p.size)
        qm, rm = _mp_q_given(q)
        qs, rs = _mp_q_star(p, gamma)
        d_ref = mp_weighted_loss(p_mp, qm, rm, gamma) - mp_weighted_loss(p_mp, qs, rs, gamma)
        assert float(rel_err(divergence(p, q, gamma), d_ref)) <= RTOL

    def test_recover(self, small, gamma):
        q = _row(small)
        qm, rm = _mp_q_given(q)
        gm = mp.mpf(gamma)
        inv_phi = []
        for qi, ri, li in zip(qm, rm, mp_losses(qm, rm, 0.0), strict=True):
            # phi = r^g / q + g r^(g-1) (-log q), -log q exact through r
            phi = ri**gm / qi + (gm * ri ** (gm - 1) * li if gamma else 0)
            inv_phi.append(1 / phi)
        total = mp.fsum(inv_phi)
        p = recover(q, gamma)
        for got, want in zip(p[1:], inv_phi[1:], strict=True):
            want = want / total
            if want < _TINY:  # below the normal doubles: underflows (to a subnormal or 0)
                assert got < 2 * _TINY
            else:
                assert float(rel_err(got, want)) <= RTOL
        # 1 - P(top) as the others' sum is exact as well
        rest = mp.fsum(inv_phi[1:]) / total
        if rest >= _TINY:
            assert float(rel_err(p[1:].sum(), rest)) <= RTOL


def test_weighted_entropy_dominated():
    small = [1e-40, 3e-41]
    p = _row(small)
    alpha = np.array([2.0, 0.5, 3.0])
    w = p * alpha
    q0 = minimizer(p, 2.0, alpha=alpha)
    q, _, r = mp_polish(w, 2.0, q0, steps=3, return_complement=True)
    p_mp, _ = _mp_row(small)
    ref = mp.fsum(
        mp.mpf(a) * pi * li for a, pi, li in zip(alpha, p_mp, mp_losses(q, r, 2.0), strict=True)
    )
    assert float(rel_err(entropy(p, 2.0, alpha=alpha), ref)) <= RTOL
