"""Tests of focalentropy._countable: minimizer, tail bound and series on the integers.

References are computed here in 50-digit mpmath: every class up to a cutoff
``K`` is solved by Newton's method in the logit (started from the double
value, converging quadratically), and the multiplier by Newton on
``log lam``. Beyond ``K`` the light tails (poisson, geom, nbinom) have mass
below 1e-30 and are dropped; the zipf tail is summed in closed form with
Hurwitz zeta functions through first order in ``q`` (``q = (w/lam) (1 +
gamma (w/lam)(log(lam/w) - 1) + O(q^2 log^2 q))``), whose remainder
changes ``lam`` by less than 2e-13 relative for gamma <= 5.
"""

from __future__ import annotations

import functools
import math
import warnings

import mpmath as mp
import numpy as np
import pytest
from scipy import special, stats

from focalentropy._countable import (
    CountableDistribution,
    CountableMinimizer,
    DivergenceWarning,
    SeriesValue,
    TruncationWarning,
    countable_cross_entropy,
    countable_entropy,
    countable_minimizer,
)
from focalentropy._loss import _solve_logit
from focalentropy._minimizer import minimizer

mp.mp.dps = 50

GAMMAS = (0.5, 1.0, 2.0, 5.0)
DISTS = {
    "poisson(3)": (stats.poisson(3), 1e-12),
    "geom(0.2)": (stats.geom(0.2), 1e-12),
    "nbinom(5, 0.3)": (stats.nbinom(5, 0.3), 1e-12),
    # zipf's tail needs N ~ tol^(-2/3) terms: a moderate tol keeps the test fast
    "zipf(2.5)": (stats.zipf(2.5), 1e-5),
}
ZIPF_CUTOFF = 400


# ---------------------------------------------------------------------------
# 50-digit references
# ---------------------------------------------------------------------------


def _mp_pmf(name: str, x: int):
    if name == "poisson(3)":
        return mp.exp(-3) * mp.mpf(3) ** x / mp.factorial(x)
    if name == "geom(0.2)":
        return mp.mpf("0.2") * mp.mpf("0.8") ** (x - 1) if x >= 1 else mp.mpf(0)
    if name == "nbinom(5, 0.3)":
        return mp.binomial(x + 4, x) * mp.mpf("0.3") ** 5 * mp.mpf("0.7") ** x
    if name == "zipf(2.5)":
        return mp.mpf(x) ** mp.mpf("-2.5") / mp.zeta(mp.mpf("2.5")) if x >= 1 else mp.mpf(0)
    raise KeyError(name)


@functools.lru_cache(maxsize=1)
def _zeta_25():
    return mp.zeta(mp.mpf("2.5"))


def _cutoff(name: str) -> int:
    # beyond these, the light tails carry mass < 1e-30
    return {"poisson(3)": 45, "geom(0.2)": 305, "nbinom(5, 0.3)": 250}.get(name, ZIPF_CUTOFF)


def _mp_psi(t, g):
    """log phi(sigmoid t) and its derivative, in mp (docs/theory.rst, "The loss term")."""
    e = mp.exp(t)
    q = e / (1 + e)
    r = 1 / (1 + e)
    neg_log_r = mp.log1p(e)
    neg_log_q = neg_log_r - t
    v = e * neg_log_q
    psi = neg_log_q - g * neg_log_r + mp.log(1 + g * v)
    dpsi = -g * q - r + g * (v - q) / (1 + g * v)
    return psi, dpsi, q, r


def _mp_logit(y, g, t0):
    t = mp.mpf(t0)
    for _ in range(60):
        psi, dpsi, _, _ = _mp_psi(t, g)
        step = (psi - y) / dpsi
        t -= step
        if abs(step) < mp.mpf(10) ** -45 * max(1, abs(t)):
            break
    return t


def _mp_zipf_tail(ell, g, k):
    """sum_{x > k} Q*(x) and d/d ell of it, through first order (see module docstring)."""
    a = mp.mpf("2.5")
    z = mp.zeta(a)
    lam = mp.exp(ell)
    s1 = mp.zeta(a, k + 1) / z
    s2 = mp.zeta(2 * a, k + 1) / z**2
    s2_log_x = -mp.zeta(2 * a, k + 1, derivative=1) / z**2
    # sum w^2 log(lam / w) = s2 (ell + log z) + a sum w^2 log x
    s2_log = s2 * (ell + mp.log(z)) + a * s2_log_x
    tail = s1 / lam + g * (s2_log - s2) / lam**2
    dtail = -s1 / lam + g * (s2 - 2 * (s2_log - s2)) / lam**2
    return tail, dtail


@functools.cache
def mp_reference(name: str, gamma: float):
    """(lam, {x: Q*(x)}) in 50 digits for x up to the cutoff.

    Joint Newton iteration on the logits and ``log lam`` (as in
    ``_mp_reference.mp_polish``), started from a double-precision solution:
    the residual squares every step, so 5 steps reach far beyond 1e-30.
    """
    g = mp.mpf(gamma)
    k = _cutoff(name)
    xs = [x for x in range(k + 1) if _mp_pmf(name, x) > 0]
    log_w = {x: mp.log(_mp_pmf(name, x)) for x in xs}
    start = countable_minimizer(DISTS[name][0], gamma, tol=1e-3)
    ell = mp.log(mp.mpf(start.multiplier))
    y = math.log(start.multiplier) - np.array([float(log_w[x]) for x in xs])
    t = dict(zip(xs, (mp.mpf(float(v)) for v in _solve_logit(y, gamma)), strict=True))
    for _ in range(5):
        total, c_sum, c_resid = mp.mpf(0), mp.mpf(0), mp.mpf(0)
        resid, dpsis = {}, {}
        for x in xs:
            psi, dpsi, q, r = _mp_psi(t[x], g)
            resid[x] = psi + log_w[x] - ell
            dpsis[x] = dpsi
            c = q * r / dpsi
            total += q
            c_sum += c
            c_resid += c * resid[x]
        if name == "zipf(2.5)":
            tail, dtail = _mp_zipf_tail(ell, g, k)
            total += tail
            c_sum += dtail
        d_ell = (c_resid - (total - 1)) / c_sum
        for x in xs:
            t[x] += (d_ell - resid[x]) / dpsis[x]
        ell += d_ell
    q_ref = {x: 1 / (1 + mp.exp(-t[x])) for x in xs}
    return mp.exp(ell), q_ref


# ---------------------------------------------------------------------------
# the minimizer
# ---------------------------------------------------------------------------


@functools.cache
def solved(name: str, gamma: float) -> CountableMinimizer:
    dist, tol = DISTS[name]
    return countable_minimizer(dist, gamma, tol=tol)


class TestCountableMinimizer:
    @pytest.mark.parametrize("gamma", GAMMAS)
    @pytest.mark.parametrize("name", list(DISTS))
    def test_values_match_mpmath(self, name, gamma):
        res = solved(name, gamma)
        lam_ref, q_ref = mp_reference(name, gamma)
        lo, hi = res.multiplier_bounds
        assert lo <= lam_ref <= hi
        # the heavy zipf tail leaves lam uncertain by ~1e-12 at tol = 1e-5
        assert abs(res.multiplier / lam_ref - 1) < (1e-12 if name != "zipf(2.5)" else 1e-11)
        errors = [abs(res.q[i] - q_ref[int(x)]) for i, x in enumerate(res.support) if x in q_ref]
        assert max(errors) < 1e-12
        assert max(errors) <= res.error_bound
        # every kept entry beyond the mp cutoff (zipf only) against the expansion
        # q = (w/lam)(1 + gamma (w/lam)(log(lam/w) - 1)), exact to O(q^3 log^2 q),
        # at the returned lam (checked against mp above)
        far = res.support > max(q_ref)
        if far.any():
            a = res.p[far] / res.multiplier
            expansion = a * (1 + gamma * a * (np.log(1 / a) - 1))
            remainder = 2 * (gamma * a * np.log(1 / a)) ** 2 + 1e-13
            assert np.all(np.abs(res.q[far] - expansion) <= remainder * expansion)

    @pytest.mark.parametrize("gamma", GAMMAS)
    @pytest.mark.parametrize("name", list(DISTS))
    def test_tail_bound_is_honest_and_tight(self, name, gamma):
        res = solved(name, gamma)
        dist, tol = DISTS[name]
        assert res.tail_bound <= tol
        _, q_ref = mp_reference(name, gamma)
        if name != "zipf(2.5)":
            # the exact Q*-mass outside the support, from the 50-digit solution
            outside = mp.fsum(q for x, q in q_ref.items() if x > res.support[-1])
            assert outside <= res.tail_bound <= outside * (1 + 1e-6)
        # against a much longer truncation
        longer = countable_minimizer(dist, gamma, tol=tol * (0.1 if tol > 1e-9 else 1e-2))
        assert len(longer.support) > len(res.support)
        outside = longer.q[len(res.support) :].sum() + longer.tail_bound
        assert outside <= res.tail_bound * (1 + 1e-12)
        assert res.tail_bound <= outside * 1.001

    @pytest.mark.parametrize("name", ["poisson(3)", "geom(0.2)"])
    def test_gamma_zero_is_p(self, name):
        dist, tol = DISTS[name]
        res = countable_minimizer(dist, 0.0, tol=tol)
        np.testing.assert_allclose(res.q, res.p, rtol=1e-14)
        assert res.multiplier == pytest.approx(1.0, abs=1e-14)
        assert res.tail_bound == pytest.approx(dist.sf(res.support[-1]), rel=1e-12)

    def test_tail_ratio_is_the_limit(self):
        res = solved("geom(0.2)", 2.0)
        ratio = res.q[-5:] / res.p[-5:]
        np.testing.assert_allclose(ratio, res.tail_ratio, rtol=1e-9)
        # a far-away class, evaluated with pmf() beyond the support
        far = res.pmf(np.array([400]))[0] / stats.geom(0.2).pmf(400)
        assert far == pytest.approx(res.tail_ratio, rel=1e-15)

    def test_pmf_matches_kept_values_and_zero_outside_support(self):
        res = solved("poisson(3)", 1.0)
        np.testing.assert_array_equal(res.pmf(res.support), res.q)
        zipf = solved("zipf(2.5)", 1.0)
        assert zipf.pmf(np.array([0]))[0] == 0.0
        assert zipf.support[0] == 1

    def test_order_preserved(self):
        res = solved("nbinom(5, 0.3)", 2.0)
        order = np.argsort(res.p)
        assert np.all(np.diff(res.q[order]) >= 0)

    def test_class_weights(self):
        alpha = np.array([1.0, 3.0, 0.5])
        res = countable_minimizer(stats.poisson(3), 2.0, alpha=alpha)
        w = res.p * np.concatenate([alpha, np.ones(len(res.p) - 3)])
        # KKT: lam Q*/w = G(Q*)
        q = res.q
        g_of_q = (1 - q) ** 2 * (1 + 2 * q * -np.log(q) / (1 - q))
        np.testing.assert_allclose(res.multiplier * q / w, g_of_q, rtol=1e-12)
        scaled = countable_minimizer(stats.poisson(3), 2.0, alpha=4.0)
        plain = solved("poisson(3)", 2.0)
        np.testing.assert_allclose(scaled.q[: len(plain.q)], plain.q, rtol=1e-12)
        assert scaled.multiplier == pytest.approx(4 * plain.multiplier, rel=1e-12)

    def test_finite_support_equals_finite_minimizer(self):
        dist = stats.binom(12, 0.3)
        res = countable_minimizer(dist, 2.0)
        assert res.tail_bound == 0.0
        np.testing.assert_allclose(res.q, minimizer(dist.pmf(np.arange(13)), 2.0), rtol=1e-12)

    def test_user_pmf_and_loc(self):
        user = CountableDistribution(
            lambda x: 0.2 * 0.8 ** (x - 1.0), lambda n: 0.8**n, lower=1, name="geometric"
        )
        res = countable_minimizer(user, 2.0)
        np.testing.assert_allclose(res.q, solved("geom(0.2)", 2.0).q[: len(res.q)], rtol=1e-12)
        shifted = countable_minimizer(stats.poisson(3, loc=4), 2.0)
        assert shifted.support[0] == 4
        np.testing.assert_allclose(shifted.q, solved("poisson(3)", 2.0).q, rtol=1e-13)

    def test_max_terms_cap_warns_and_stays_honest(self):
        with pytest.warns(TruncationWarning, match="exceeds `tol`"):
            res = countable_minimizer(stats.zipf(2.5), 1.0, tol=1e-9, max_terms=500)
        assert len(res.support) == 500
        assert res.tail_bound > 1e-9
        longer = solved("zipf(2.5)", 1.0)
        outside = longer.q[500:].sum() + longer.tail_bound
        assert outside <= res.tail_bound

    def test_rejects_bad_input(self):
        with pytest.raises(TypeError, match=r"`dist` must be a frozen scipy\.stats discrete"):
            countable_minimizer([0.5, 0.5], 1.0)
        with pytest.raises(ValueError, match="`tol` must lie in"):
            countable_minimizer(stats.poisson(3), 1.0, tol=0.0)
        with pytest.raises(ValueError, match="`alpha` must be positive"):
            countable_minimizer(stats.poisson(3), 1.0, alpha=[1.0, -2.0])
        with pytest.raises(ValueError, match="support unbounded below"):
            countable_minimizer(stats.dlaplace(0.8), 1.0)
        with pytest.raises(ValueError, match="`gamma` must be a finite number"):
            countable_minimizer(stats.poisson(3), -1.0)
        with pytest.raises(ValueError, match=r"`tail` = .* is not summable"):
            CountableDistribution(lambda x: x, lambda n: n, tail=(1.0, 0.5))


# ---------------------------------------------------------------------------
# series: entropy and cross-entropy
# ---------------------------------------------------------------------------


def _mp_entropy(name, gamma):
    lam, q_ref = mp_reference(name, gamma)
    del lam
    return mp.fsum(_mp_pmf(name, x) * -((1 - q) ** gamma) * mp.log(q) for x, q in q_ref.items())


class TestCountableEntropy:
    @pytest.mark.parametrize("gamma", GAMMAS)
    @pytest.mark.parametrize("name", ["poisson(3)", "geom(0.2)", "nbinom(5, 0.3)"])
    def test_values_match_mpmath(self, name, gamma):
        value = countable_entropy(DISTS[name][0], gamma)
        ref = _mp_entropy(name, gamma)
        assert abs(value.value - ref) < 1e-12
        assert value.lower <= ref <= value.upper
        assert value.error_bound <= 1e-12
        assert value.finite is True

    def test_zipf_bracket_is_honest(self):
        coarse = countable_entropy(stats.zipf(2.5), 1.0, tol=1e-4)
        fine = countable_entropy(stats.zipf(2.5), 1.0, tol=1e-7)
        assert coarse.lower <= fine.lower <= fine.upper <= coarse.upper
        assert fine.error_bound <= 1e-7

    def test_shannon_entropy_at_gamma_zero(self):
        for dist in (stats.geom(0.2), stats.poisson(3)):
            value = countable_entropy(dist, 0.0)
            assert value.value == pytest.approx(float(dist.entropy()), abs=1e-10)
        h = countable_entropy(stats.geom(0.5), 0.0)
        assert abs(h.value - 2 * math.log(2)) <= h.error_bound

    def test_non_increasing_in_gamma(self):
        values = [countable_entropy(stats.nbinom(5, 0.3), g).value for g in (0, 0.5, 1, 2, 5)]
        assert np.all(np.diff(values) < 0)

    def test_divergent_user_pmf_returns_inf_with_warning(self):
        # p_n = c / (n log^2 n), n >= 2: summable, but H(P) = inf
        # (normalized to about 1e-8; the decision depends on the tail only)
        c = 1 / 2.10974280
        dist = CountableDistribution(
            lambda x: c / (x * np.log(x) ** 2),
            lambda n: c / math.log(n + 0.5),  # Euler-Maclaurin-accurate enough here
            lower=2,
            tail=(1, 2),
        )
        with pytest.warns(DivergenceWarning, match="H\\(P\\) = inf"):
            value = countable_entropy(dist, 2.0)
        assert value.value == math.inf
        assert value.finite is False
        with pytest.warns(DivergenceWarning):
            assert float(countable_entropy(dist, 0.0)) == math.inf

    def test_finiteness_from_tail_spec(self):
        dist = CountableDistribution(lambda x: 0.5 ** (x + 1.0), lambda n: 0.5 ** (n + 1.0))
        with pytest.warns(TruncationWarning, match="cannot be decided"):
            undecided = countable_entropy(dist, 1.0)
        assert undecided.finite is None
        assert undecided.upper == math.inf
        certified = CountableDistribution(
            lambda x: 0.5 ** (x + 1.0),
            lambda n: 0.5 ** (n + 1.0),
            entropy_tail=lambda n: (n + 3) * math.log(2) * 0.5 ** (n + 1),
        )
        value = countable_entropy(certified, 1.0)
        assert value.finite is True
        assert value.lower <= undecided.value * (1 + 1e-12)
        assert value.error_bound < 1e-10
        reference = countable_entropy(stats.geom(0.5, loc=-1), 1.0)
        assert value.value == pytest.approx(reference.value, abs=1e-11)

    def test_returns_series_value(self):
        value = countable_entropy(stats.poisson(3), 1.0)
        assert isinstance(value, SeriesValue)
        assert float(value) == value.value
        assert value.terms > 10


class TestCountableCrossEntropy:
    def test_equals_entropy_at_q_star_limit_and_exceeds_it(self):
        p = stats.poisson(3)
        h = countable_entropy(p, 1.0)
        for q in (stats.poisson(3), stats.poisson(4), stats.nbinom(5, 0.6)):
            value = countable_cross_entropy(p, q, 1.0)
            assert value.value > h.value
            assert value.error_bound <= 1e-12

    def test_matches_direct_sum(self):
        p, q = stats.geom(0.2), stats.geom(0.3)
        x = np.arange(1, 400)
        direct = math.fsum(p.pmf(x) * (1 - q.pmf(x)) ** 2 * -q.logpmf(x))
        value = countable_cross_entropy(p, q, 2.0)
        assert value.value == pytest.approx(direct, abs=1e-12)
        assert value.lower <= direct <= value.upper

    def test_zipf_against_geometric_decided_by_mean(self):
        # H(P, Q) = E_P[-log Q] with -log Q linear: finite iff E_P[X] < inf (a > 2)
        with pytest.warns(DivergenceWarning, match="E_P\\[X\\]"):
            value = countable_cross_entropy(stats.zipf(1.8), stats.geom(0.3), 1.0)
        assert value.value == math.inf
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TruncationWarning)
            finite = countable_cross_entropy(stats.zipf(3.5), stats.geom(0.3), 1.0, tol=1e-6)
        assert finite.finite is True
        assert finite.upper < math.inf

    def test_zero_of_q_on_support_of_p(self):
        with pytest.warns(DivergenceWarning, match="Q\\(x\\) = 0 where P\\(x\\) > 0"):
            value = countable_cross_entropy(stats.poisson(3), stats.geom(0.3), 1.0)
        assert value.value == math.inf

    def test_finite_support_q_against_infinite_p(self):
        with pytest.warns(DivergenceWarning, match="finite support"):
            countable_cross_entropy(stats.poisson(3), stats.binom(10, 0.3), 1.0)


def test_hurwitz_tail_helper_matches_direct_sum():
    # the reference's closed-form zipf tail agrees with brute force at gamma = 0
    k = 50
    ell = mp.mpf(0)
    tail, _ = _mp_zipf_tail(ell, mp.mpf(0), k)
    direct = 1 - sum(_mp_pmf("zipf(2.5)", x) for x in range(1, k + 1))
    assert abs(tail - direct) < mp.mpf(10) ** -40
    assert float(tail) == pytest.approx(float(special.zeta(2.5, k + 1) / special.zeta(2.5)))


def test_frozen_arguments_read_without_private_scipy_api():
    from scipy import stats

    from focalentropy._countable import _shape_args_and_loc

    assert _shape_args_and_loc(stats.nbinom(5, 0.3)) == ((5, 0.3), 0)
    assert _shape_args_and_loc(stats.nbinom(n=5, p=0.3, loc=2)) == ((5, 0.3), 2)
    assert _shape_args_and_loc(stats.poisson(3.0, 4)) == ((3.0,), 4)
    assert _shape_args_and_loc(stats.geom(p=0.2)) == ((0.2,), 0)
