"""Tests of focalentropy.countable._series: certified entropy and cross-entropy on the integers.

References: the 50-digit H_gamma(P) of tests/data/countable/minimizer.json
(scripts/make_countable_references.py), closed forms at gamma = 0, and
cross-entropies summed here in 50-digit mpmath.
"""

from __future__ import annotations

import math
import warnings

import mpmath as mp
import numpy as np
import pytest
from scipy import stats

from _countable_reference import GAMMAS, mp_pmf, reference_entropy
from focalentropy import (
    CountableDistribution,
    DivergenceWarning,
    SeriesValue,
    TruncationWarning,
    countable_cross_entropy,
    countable_entropy,
)

LIGHT = {
    "poisson(3)": stats.poisson(3),
    "geom(0.2)": stats.geom(0.2),
    "nbinom(5, 0.3)": stats.nbinom(5, 0.3),
}


def _assert_certified(value: SeriesValue, exact, tol: float) -> None:
    assert value.lower <= exact <= value.upper
    assert abs(value.value - exact) <= value.error_bound <= tol


class TestEntropy:
    @pytest.mark.parametrize("gamma", GAMMAS)
    @pytest.mark.parametrize("name", list(LIGHT))
    def test_values_match_mpmath(self, name, gamma):
        value = countable_entropy(LIGHT[name], gamma)
        _assert_certified(value, reference_entropy(name, gamma), 1e-12)
        assert value.finite is True

    def test_zipf_bracket_is_honest(self):
        coarse = countable_entropy(stats.zipf(2.5), 1.0, tol=1e-4)
        fine = countable_entropy(stats.zipf(2.5), 1.0, tol=1e-7)
        assert coarse.lower <= fine.lower <= fine.upper <= coarse.upper
        exact = reference_entropy("zipf(2.5)", 1.0)
        _assert_certified(coarse, exact, 1e-4)
        _assert_certified(fine, exact, 1e-7)

    def test_shannon_entropy_at_gamma_zero(self):
        # geom(p): H = (-(1-p) log(1-p) - p log p) / p; geom(0.5): 2 log 2
        for p in (0.2, 0.5):
            exact = (-(1 - p) * math.log1p(-p) - p * math.log(p)) / p
            _assert_certified(countable_entropy(stats.geom(p), 0.0), exact, 1e-12)
        # poisson(3): summed in 50 digits
        exact = mp.fsum(
            -mp_pmf("poisson(3)", x) * mp.log(mp_pmf("poisson(3)", x)) for x in range(80)
        )
        value = countable_entropy(stats.poisson(3), 0.0)
        _assert_certified(value, exact, 1e-12)
        assert value.value == pytest.approx(float(stats.poisson(3).entropy()), abs=1e-10)

    def test_decreasing_in_gamma(self):
        values = [countable_entropy(stats.nbinom(5, 0.3), g).value for g in (0, 0.5, 1, 2, 5)]
        assert np.all(np.diff(values) < 0)

    def test_class_weights_scale(self):
        # a scalar alpha scales every term: H = alpha H_1 exactly
        scaled = countable_entropy(stats.poisson(3), 2.0, alpha=3.0)
        _assert_certified(scaled, 3 * reference_entropy("poisson(3)", 2.0), 1e-12)

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
        assert value.error_bound == 0.0
        with pytest.warns(DivergenceWarning):
            assert float(countable_entropy(dist, 0.0)) == math.inf

    def test_finiteness_from_tail_spec(self):
        pmf, sf = (lambda x: 0.5 ** (x + 1.0)), (lambda n: 0.5 ** (n + 1.0))
        with pytest.warns(TruncationWarning, match="cannot be decided"):
            undecided = countable_entropy(CountableDistribution(pmf, sf), 1.0)
        assert undecided.finite is None
        assert undecided.upper == math.inf
        certified = CountableDistribution(
            pmf, sf, entropy_tail=lambda n: (n + 3) * math.log(2) * 0.5 ** (n + 1)
        )
        value = countable_entropy(certified, 1.0)
        assert value.finite is True
        assert value.lower <= undecided.value * (1 + 1e-12)
        # P(x) = 2^-(x+1), x >= 0, is geom(0.5) shifted by one: the 50-digit reference
        _assert_certified(value, reference_entropy("geom(0.5)", 1.0), 1e-10)

    def test_returns_series_value(self):
        value = countable_entropy(stats.poisson(3), 1.0)
        assert isinstance(value, SeriesValue)
        assert float(value) == value.value
        assert value.terms > 10
        assert value.error_bound == max(value.value - value.lower, value.upper - value.value)


def mp_cross_entropy(p_pmf, q_pmf, gamma, xs) -> mp.mpf:
    g = mp.mpf(gamma)
    return mp.fsum(p_pmf(x) * (1 - q_pmf(x)) ** g * -mp.log(q_pmf(x)) for x in xs)


def _mp_geom(p: str):
    return lambda x: mp.mpf(p) * (1 - mp.mpf(p)) ** (x - 1)


class TestCrossEntropy:
    @pytest.mark.parametrize("gamma", [0.0, 2.0])
    def test_geometric_pair_against_mpmath(self, gamma):
        # terms beyond x = 600 are below 1e-55
        exact = mp_cross_entropy(_mp_geom("0.2"), _mp_geom("0.3"), gamma, range(1, 600))
        value = countable_cross_entropy(stats.geom(0.2), stats.geom(0.3), gamma)
        _assert_certified(value, exact, 1e-12)
        if gamma == 0:
            # H(P, Q) = -log q - (E_P[X] - 1) log(1 - q), E_P[X] = 1/p
            closed = -mp.log(mp.mpf("0.3")) - (1 / mp.mpf("0.2") - 1) * mp.log(mp.mpf("0.7"))
            _assert_certified(value, closed, 1e-12)

    def test_poisson_against_shifted_geometric(self):
        # Q(x) = 0.3 * 0.7^x for x >= 0 (geom(0.3, loc=-1))
        exact = mp_cross_entropy(
            lambda x: mp_pmf("poisson(3)", x), lambda x: _mp_geom("0.3")(x + 1), 1.0, range(90)
        )
        value = countable_cross_entropy(stats.poisson(3), stats.geom(0.3, loc=-1), 1.0)
        _assert_certified(value, exact, 1e-12)
        assert value.value > float(reference_entropy("poisson(3)", 1.0))

    def test_exceeds_the_entropy(self):
        p = stats.poisson(3)
        h = reference_entropy("poisson(3)", 1.0)
        for q in (stats.poisson(3), stats.poisson(4), stats.nbinom(5, 0.6)):
            value = countable_cross_entropy(p, q, 1.0)
            assert value.lower > h
            assert value.error_bound <= 1e-12

    def test_zipf_against_geometric_decided_by_mean(self):
        # H(P, Q) = E_P[-log Q] with -log Q linear: finite iff E_P[X] < inf (a > 2)
        with pytest.warns(DivergenceWarning, match="E_P\\[X\\]"):
            value = countable_cross_entropy(stats.zipf(1.8), stats.geom(0.3), 1.0)
        assert value.value == math.inf
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TruncationWarning)
            finite = countable_cross_entropy(stats.zipf(3.5), stats.geom(0.3), 1.0, tol=1e-6)
        assert finite.finite is True
        # gamma = 1 is below the Shannon value E_P[-log Q], in closed form with zeta
        a, z = mp.mpf("3.5"), mp.zeta(mp.mpf("3.5"))
        shannon = -mp.log(mp.mpf("0.3")) - mp.log(mp.mpf("0.7")) * (mp.zeta(a - 1) / z - 1)
        assert finite.lower < finite.upper < shannon

    def test_zero_of_q_on_support_of_p(self):
        with pytest.warns(DivergenceWarning, match="Q\\(x\\) = 0 where P\\(x\\) > 0"):
            value = countable_cross_entropy(stats.poisson(3), stats.geom(0.3), 1.0)
        assert value.value == math.inf

    def test_finite_support_q_against_infinite_p(self):
        with pytest.warns(DivergenceWarning, match="finite support"):
            countable_cross_entropy(stats.poisson(3), stats.binom(10, 0.3), 1.0)

    def test_finite_supports(self):
        p, q = stats.binom(6, 0.4), stats.binom(8, 0.5)
        exact = mp_cross_entropy(
            lambda x: mp.binomial(6, x) * mp.mpf("0.4") ** x * mp.mpf("0.6") ** (6 - x),
            lambda x: mp.binomial(8, x) / mp.mpf(2) ** 8,
            2.0,
            range(7),
        )
        value = countable_cross_entropy(p, q, 2.0)
        _assert_certified(value, exact, 1e-13)
        assert value.reason == "finite support"
