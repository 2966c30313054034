"""Tests of focalentropy.countable._tails: truncation search and proven tail brackets.

Every bracket is checked against the exact tail computed independently in
50-digit mpmath (long sums of closed-form pmfs, or Hurwitz zeta closed forms).
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from scipy import stats

from _countable_reference import mp_scipy_pmf as mp_pmf
from focalentropy import CountableDistribution, max_gradient_weight
from focalentropy.countable._adapters import as_source
from focalentropy.countable._tails import cross_tail, find_truncation, g_value, tail_factor

mp.mp.dps = 50


def exact_cross_tail(p_dist, q_dist, n: int) -> mp.mpf:
    """``sum_{x > n} P(x) (-log Q(x))`` in 50 digits (``x`` in the coordinates of ``P``)."""
    if p_dist.dist.name == "zipf":
        a = mp.mpf(str(p_dist.args[0]))
        z = mp.zeta(a)
        if q_dist.dist.name == "zipf":  # P = Q: sum P (a log x + log z)
            return (a * -mp.zeta(a, n + 1, derivative=1) + mp.log(z) * mp.zeta(a, n + 1)) / z
        # Q geometric: -log Q(x) = -log p - (x - 1) log(1 - p)
        p = mp.mpf(str(q_dist.args[0]))
        s0, s1 = mp.zeta(a, n + 1) / z, mp.zeta(a - 1, n + 1) / z
        return -mp.log(p) * s0 - mp.log1p(-p) * (s1 - s0)
    total, x = mp.mpf(0), n + 1
    while True:
        p = mp_pmf(p_dist, x)
        if p < mp.mpf(10) ** -45 and x > n + 20:
            return total
        total += p * -mp.log(mp_pmf(q_dist, x))
        x += 1


CROSS_CASES = [
    (stats.poisson(3), stats.poisson(3), 10),
    (stats.poisson(3), stats.poisson(3), 20),
    (stats.geom(0.2), stats.geom(0.3), 30),
    (stats.nbinom(5, 0.3), stats.poisson(4), 40),
    (stats.nbinom(0.5, 0.3), stats.nbinom(0.5, 0.3), 20),
    (stats.logser(0.9), stats.planck(0.7), 50),
    (stats.poisson(3), stats.geom(0.3, loc=-1), 15),  # shifted coordinates
    (stats.poisson(3, loc=2), stats.nbinom(5, 0.3), 12),  # shifted the other way
    (stats.zipf(3.5), stats.geom(0.3), 100),
    (stats.zipf(2.5), stats.zipf(2.5), 100),
    (stats.zipf(2.5), stats.zipf(2.5), 5000),
]


@pytest.mark.parametrize(
    ("p_dist", "q_dist", "n"),
    CROSS_CASES,
    ids=[
        f"{p.dist.name}{p.args}{p.kwds}-{q.dist.name}{q.args}{q.kwds}-N{n}"
        for p, q, n in CROSS_CASES
    ],
)
def test_cross_tail_brackets_the_exact_tail(p_dist, q_dist, n):
    p_src, q_src = as_source(p_dist, "p"), as_source(q_dist, "q")
    lower, upper = cross_tail(p_src, q_src, n - p_src.shift)
    exact = exact_cross_tail(p_dist, q_dist, n)
    assert lower <= exact * (1 + 1e-13)
    assert exact <= upper * (1 + 1e-13)
    assert math.isfinite(upper)
    # and not uselessly loose: the envelopes are tight to leading order (a shift of
    # coordinates between P and Q costs a constant factor)
    assert upper <= (3 if p_src.shift == q_src.shift else 10) * exact


def test_cross_tail_without_envelopes():
    user = CountableDistribution(lambda x: 0.5 ** (x + 1.0), lambda n: 0.5 ** (n + 1.0))
    src = as_source(user, "p")
    lower, upper = cross_tail(src, src, 10)
    exact = mp.fsum(mp.mpf(2) ** -(x + 1) * (x + 1) * mp.log(2) for x in range(11, 400))
    assert upper == math.inf
    assert lower <= exact
    certified = CountableDistribution(
        user.pmf, user.sf, entropy_tail=lambda n: (n + 3) * math.log(2) * 0.5 ** (n + 1)
    )
    src = as_source(certified, "p")
    lower, upper = cross_tail(src, src, 10)
    # the user's bound is the exact tail here: equal up to rounding
    assert lower <= exact <= upper * (1 + 1e-14)
    # Q = 0 beyond P's tail: infinite
    assert cross_tail(
        as_source(stats.poisson(3), "p"), as_source(stats.binom(10, 0.3), "q"), 12
    ) == (
        math.inf,
        math.inf,
    )


def _sources():
    user = CountableDistribution(lambda x: 0.8**x * 0.2, lambda n: 0.8 ** (n + 1.0))
    return {
        "geom(0.2)": as_source(stats.geom(0.2), "d"),  # isf from scipy's ppf
        "poisson(3)": as_source(stats.poisson(3), "d"),
        "logser(0.9)": as_source(stats.logser(0.9), "d"),  # scipy's generic isf
        "zipf(2.5)": as_source(stats.zipf(2.5), "d"),  # closed-form isf
        "user": as_source(user, "d"),  # no isf: doubling and bisection
    }


@pytest.mark.parametrize("name", list(_sources()))
@pytest.mark.parametrize("target", [0.3, 1e-3, 6.3e-14, 1e-20, 1e-40])
def test_find_truncation_is_the_smallest(name, target):
    src = _sources()[name]
    n_min, n_max = src.lower + 1, src.lower + 10**7
    n = find_truncation(src, target, n_min, n_max)
    if n == n_max:
        assert src.sf(n_max) > target
    else:
        assert src.sf(n) <= target
        assert n == n_min or src.sf(n - 1) > target


def test_find_truncation_caps():
    src = as_source(stats.zipf(2.5), "d")
    assert find_truncation(src, 1e-30, 1, 1000) == 1000
    assert find_truncation(src, 0.9, 5, 1000) == 5


GAMMAS = (0.5, 2.0, 5.0)


def mp_gradient_weight(q, gamma) -> mp.mpf:
    """``G(q) = q phi(q)`` with ``phi = -l'``, ``l(q) = -(1-q)^gamma log q``, in 50 digits.

    ``-l'(q) = (1-q)^gamma / q - gamma (1-q)^(gamma-1) log q`` (differentiated by hand).
    """
    q, g = mp.mpf(q), mp.mpf(gamma)
    return q * ((1 - q) ** g / q - g * (1 - q) ** (g - 1) * mp.log(q))


@pytest.mark.parametrize("gamma", GAMMAS)
def test_g_value_against_mpmath(gamma):
    for q in ("1e-300", "1e-12", "0.01", "0.3", "0.7", "0.999"):
        exact = mp_gradient_weight(mp.mpf(q), gamma)
        assert g_value(float(q), gamma) == pytest.approx(float(exact), rel=1e-13)
    assert g_value(0.0, gamma) == 1.0
    assert g_value(1.0, gamma) == 0.0


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("m_tail", [1e-12, 1e-4, 0.05, 0.5])
def test_tail_factor_brackets_g_on_the_tail(gamma, m_tail):
    # every tail class has Q* <= q_max, where G_lo <= G <= G_hi must hold
    g_max, p_max = max_gradient_weight(gamma)
    lam, a_tail = 0.9, 1.5
    g_lo, g_hi, q_max = tail_factor(lam, gamma, a_tail, m_tail, g_max, p_max)
    assert q_max == pytest.approx(min(1.0, g_max * a_tail * m_tail / lam), rel=1e-12)
    grid = np.unique(
        np.concatenate([np.geomspace(1e-300, q_max, 60), np.linspace(0, q_max, 60)[1:]])
    )
    values = [float(mp_gradient_weight(mp.mpf(float(q)), gamma)) for q in grid]
    assert min(values) >= g_lo
    assert max(values) <= g_hi
    assert tail_factor(lam, 0.0, a_tail, m_tail, g_max, p_max) == (1.0, 1.0, 0.0)
