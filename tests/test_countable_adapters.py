"""Tests of focalentropy.countable._adapters: scipy families and user pmfs -> one source.

The per-family envelopes (the table ``FAMILIES``) are checked against scipy's
``logpmf`` and ``pmf`` and against closed forms: they are what makes the
series tails certified, so a wrong coefficient would make a bound dishonest.
"""

from __future__ import annotations

import functools
import math
import pickle
import subprocess
import sys
import warnings

import mpmath as mp
import numpy as np
import pytest
from scipy import stats

from _countable_reference import geometric_pmf, geometric_sf
from focalentropy import (
    CountableDistribution,
    DivergenceWarning,
    TruncationWarning,
    countable_cross_entropy,
    countable_entropy,
    countable_minimizer,
)
from focalentropy.countable import _adapters
from focalentropy.countable._adapters import FAMILIES, Envelope, as_source, shape_args_and_loc

mp.mp.dps = 50

#: one or two parameter sets per tabulated family (both signs of every coefficient)
FAMILY_CASES = [
    stats.poisson(3.0),
    stats.poisson(0.2),  # mu < 1/e: the coefficient of y is positive
    stats.geom(0.2),
    stats.planck(0.7),
    stats.nbinom(5, 0.3),
    stats.nbinom(0.5, 0.3),  # n < 1: the Wendel bound
    stats.logser(0.9),
    stats.zipf(2.5),
]


def _case_id(dist) -> str:
    return f"{dist.dist.name}{dist.args}"


def test_table_covers_the_documented_families():
    assert set(FAMILIES) == {"poisson", "geom", "planck", "nbinom", "logser", "zipf"}
    tabulated = {dist.dist.name for dist in FAMILY_CASES}
    assert tabulated == set(FAMILIES)


def check_envelope(dist, env: Envelope) -> None:
    """The envelope's claims about ``dist`` hold on ``y = 1..2000``."""
    y = np.arange(1, 2001)
    neg_log_p = -dist.logpmf(y)
    ok = neg_log_p < 700  # scipy's logpmf loses digits where the pmf is subnormal
    y, neg_log_p = y[ok], neg_log_p[ok]
    c0, c1, c2, c3 = env.log_coeffs
    bound = c0 + c1 * np.log(y) + c2 * y + c3 * y * np.log(y)
    slack = 1e-12 * np.maximum(1.0, np.abs(neg_log_p))
    assert np.all(neg_log_p <= bound + slack), "-log P above its envelope"
    if env.log_exact:
        np.testing.assert_allclose(bound, neg_log_p, rtol=1e-12, atol=1e-12)
    if env.ratio is not None:
        ratios = np.exp(-neg_log_p[1:] + neg_log_p[:-1])  # P(y+1)/P(y) at y = 1, 2, ...
        for n in (n for n in (0, 1, 5, 50, 500) if n < len(ratios)):
            assert ratios[n:].max() <= env.ratio(n) * (1 + 1e-12), f"ratio at N = {n}"
    if env.power is not None:
        a_const, s = env.power
        np.testing.assert_allclose(a_const * y**-s, np.exp(-neg_log_p), rtol=1e-12)


@pytest.mark.parametrize("dist", FAMILY_CASES, ids=_case_id)
def test_family_envelopes_hold(dist):
    args, _ = shape_args_and_loc(dist)
    check_envelope(dist, FAMILIES[dist.dist.name](*(float(a) for a in args)))


def test_zipf_closed_forms_against_mpmath():
    env = FAMILIES["zipf"](2.5)
    a, z = mp.mpf("2.5"), mp.zeta(mp.mpf("2.5"))
    for n in (3, 100, 10**6, 10**9):
        exact = mp.zeta(a, n + 1) / z  # P(X > n)
        assert env.sf(n) == pytest.approx(float(exact), rel=1e-13)
        # isf seeds the truncation search: its N has sf(N) within a factor 2 of s
        s = float(exact)
        assert 0.5 * s <= env.sf(int(env.isf(s))) <= 2 * s
    np.testing.assert_allclose(env.pmf(np.array([0, 1, 7])), [0, 1 / float(z), 7**-2.5 / float(z)])


def test_adding_a_family_is_one_row(monkeypatch):
    # yulesimon(alpha): P(y) = alpha B(y, alpha + 1) ~ C y^-(1 + alpha). Wendel's
    # Gamma(y+1+alpha)/Gamma(y+1) <= (y+1)^alpha <= (2y)^alpha (0 < alpha <= 1) gives
    # -log P(y) <= alpha log 2 - log(alpha Gamma(alpha+1)) + (1 + alpha) log y.
    def yulesimon(alpha: float) -> Envelope:
        c0 = alpha * math.log(2) - math.log(alpha * math.gamma(alpha + 1))
        return Envelope("log", (c0, 1 + alpha, 0.0, 0.0), tail=("power", 1 + alpha, 0.0))

    p, q = stats.yulesimon(0.5), stats.geom(0.3)
    # without its row the family is read from pmf and sf alone: undecided
    with pytest.warns(TruncationWarning, match="cannot be decided"):
        undecided = countable_cross_entropy(p, q, 1.0, max_terms=2000)
    assert undecided.finite is None
    monkeypatch.setitem(FAMILIES, "yulesimon", yulesimon)
    check_envelope(p, yulesimon(0.5))
    # with it, the tail y^-1.5 decides: E_P[X] = inf, and -log Q grows linearly
    with pytest.warns(DivergenceWarning, match=r"E_P\[X\]"):
        value = countable_cross_entropy(p, q, 1.0)
    assert value.value == math.inf
    assert as_source(p, "dist").finite_entropy is True


def test_generic_scipy_isf_failure_is_not_fatal():
    # scipy's generic isf (ppf(1 - s), a search on the cdf) can raise (logser(0.9) at
    # s = 6.3e-14: "updating stopped, endless loop", which countable_entropy hit below);
    # it only seeds the truncation search, which then falls back to bisection on sf
    class Raising:
        def isf(self, s):
            raise RuntimeError("updating stopped, endless loop")

    assert _adapters._scipy_isf(Raising(), 1e-13) == math.inf
    value = countable_entropy(stats.logser(0.9), 0.0, tol=1e-6)
    # Shannon entropy of logser(p), P(y) = -p^y / (y log(1-p)), summed in 50 digits
    p, c = mp.mpf("0.9"), -1 / mp.log1p(-mp.mpf("0.9"))
    exact = mp.fsum(c * p**y / y * -mp.log(c * p**y / y) for y in range(1, 1500))
    assert value.lower <= exact <= value.upper
    assert value.error_bound <= 1e-6


def test_frozen_arguments_read_without_private_scipy_api():
    assert shape_args_and_loc(stats.nbinom(5, 0.3)) == ((5, 0.3), 0)
    assert shape_args_and_loc(stats.nbinom(n=5, p=0.3, loc=2)) == ((5, 0.3), 2)
    assert shape_args_and_loc(stats.poisson(3.0, 4)) == ((3.0,), 4)
    assert shape_args_and_loc(stats.geom(p=0.2)) == ((0.2,), 0)


def test_sources_of_scipy_user_and_pair_agree():
    pmf = lambda x: 0.2 * 0.8 ** (x - 1.0)  # noqa: E731
    sf = lambda n: 0.8**n  # noqa: E731
    scipy_src = as_source(stats.geom(0.2), "dist")
    user_src = as_source(CountableDistribution(pmf, sf, lower=1), "dist")
    pair_src = as_source((pmf, sf), "dist")
    y = np.arange(1, 60)
    exact = 0.2 * 0.8 ** (y - 1.0)
    for src in (scipy_src, user_src, pair_src):
        np.testing.assert_allclose(src.pmf(y), exact, rtol=1e-13)
        assert src.sf(40) == pytest.approx(0.8**40, rel=1e-13)
    assert (scipy_src.lower, user_src.lower, pair_src.lower) == (1, 1, 0)
    shifted = as_source(stats.poisson(3, loc=4), "dist")
    assert (shifted.shift, shifted.lower) == (4, 0)
    assert shifted.pmf(np.array([2]))[0] == pytest.approx(stats.poisson(3).pmf(2))
    finite = as_source(stats.binom(12, 0.3), "dist")
    assert (finite.upper, finite.tail, finite.finite_entropy) == (12.0, ("finite",), True)


def test_user_tail_spec_decides_finiteness():
    def src_of(tail):
        return as_source(CountableDistribution(lambda x: x, lambda n: n, tail=tail), "d")

    assert src_of((np.inf, 0)).tail == ("light",)
    assert src_of((2.5, 0)).finite_entropy is True
    assert src_of((1, 3)).finite_entropy is True  # s = 1: finite iff b > 2
    assert src_of((1, 2)).finite_entropy is False
    assert src_of(None).finite_entropy is None


def test_countable_distribution_rejects_bad_input():
    with pytest.raises(ValueError, match=r"`tail` = .* is not summable"):
        CountableDistribution(lambda x: x, lambda n: n, tail=(1.0, 0.5))
    with pytest.raises(TypeError, match="`tail` must be a pair"):
        CountableDistribution(lambda x: x, lambda n: n, tail=3.0)
    with pytest.raises(TypeError, match="`pmf` must be callable"):
        CountableDistribution([0.5], lambda n: n)
    with pytest.raises(TypeError, match="`sf` must be callable"):
        CountableDistribution(lambda x: x, None)
    with pytest.raises(TypeError, match="`entropy_tail` must be callable"):
        CountableDistribution(lambda x: x, lambda n: n, entropy_tail=1.0)
    with pytest.raises(ValueError, match="`lower` must be an integer >= 0"):
        CountableDistribution(lambda x: x, lambda n: n, lower=-1)
    with pytest.raises(ValueError, match="integer `loc`"):
        as_source(stats.poisson(3, loc=0.5), "dist")
    with pytest.raises(TypeError, match=r"`q_dist` must be a frozen scipy\.stats discrete"):
        as_source("poisson", "q_dist")
    assert "user pmf" in repr(CountableDistribution(lambda x: x, lambda n: n))


def test_import_focalentropy_imports_no_scipy():
    code = "import sys, focalentropy; print(sorted(m for m in sys.modules if m == 'scipy'))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


# ---------------------------------------------------------------------------
# point masses: the tabulated families at a degenerate parameter
# ---------------------------------------------------------------------------

#: (distribution, the integer carrying all the mass); every family of the table
#: whose valid parameters include a point mass
POINT_MASSES = [
    (stats.poisson(0), 0),
    (stats.poisson(0.0, loc=5), 5),
    (stats.geom(1.0), 1),
    (stats.geom(1, loc=-1), 0),
    (stats.nbinom(3, 1.0), 0),
    (stats.nbinom(0.5, 1.0), 0),  # n < 1 (the Wendel branch of the row)
    (stats.nbinom(n=2, p=1, loc=2), 2),
]


def _point_id(case) -> str:
    dist, at = case
    return f"{dist.dist.name}{dist.args}{dist.kwds}@{at}"


@pytest.mark.parametrize("case", POINT_MASSES, ids=_point_id)
def test_point_mass_rows_make_a_single_point_support(case):
    dist, at = case
    args, _ = shape_args_and_loc(dist)
    assert FAMILIES[dist.dist.name](*(float(a) for a in args)) is _adapters.POINT_MASS
    src = as_source(dist, "dist")
    assert src.lower + src.shift == at
    assert (src.upper, src.tail, src.growth, src.finite_entropy) == (
        float(src.lower),
        ("finite",),
        "finite",
        True,
    )
    y = np.arange(src.lower - 3, src.lower + 4)
    np.testing.assert_array_equal(src.pmf(y), (y == src.lower).astype(float))
    assert (src.sf(src.lower - 1), src.sf(src.lower), src.sf(src.lower + 7)) == (1.0, 0.0, 0.0)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("case", POINT_MASSES, ids=_point_id)
def test_point_mass_minimizer_and_entropy_are_exact(case, gamma):
    dist, at = case
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # exact: no truncation or divergence warning
        res = countable_minimizer(dist, gamma)
        h = countable_entropy(dist, gamma)
        h_self = countable_cross_entropy(dist, dist, gamma)
        weighted = countable_minimizer(dist, gamma, alpha=[3.0, 0.5, 2.0, 7.0, 1.5, 4.0])
    # Q* = P = delta_at: one kept integer, no tail
    np.testing.assert_array_equal(res.support, [at])
    np.testing.assert_array_equal(res.q, [1.0])
    np.testing.assert_array_equal(res.p, [1.0])
    assert (res.tail_bound, res.tail_mass) == (0.0, 0.0)
    assert res.error_bound <= 2e-14  # the rounding margin of the gamma = 0 closed form
    x = np.arange(at - 5, at + 300)
    np.testing.assert_array_equal(res.pmf(x), (x == at).astype(float))
    np.testing.assert_array_equal(weighted.pmf(x), (x == at).astype(float))
    # the same answer as the finite point masses of scipy (bernoulli(1) at 1, binom(4, 0) at 0)
    same = stats.bernoulli(1, loc=at - 1)
    h_same, res_same = countable_entropy(same, gamma), countable_minimizer(same, gamma)
    assert res.multiplier == res_same.multiplier == (1.0 if gamma == 0 else 0.0)
    assert res.multiplier_bounds == res_same.multiplier_bounds
    assert res.error_bound == res_same.error_bound
    # H_gamma(delta) = l(1) = 0 exactly, certified
    for value in (h, h_self):
        assert (value.value, value.lower, value.upper, value.finite) == (0.0, 0.0, 0.0, True)
    assert h.reason == h_same.reason == ("finite support" if gamma == 0 else "single class")


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_point_mass_cross_entropies_against_mpmath(gamma):
    g = mp.mpf(gamma)
    # H_gamma(delta_0, poisson(3)) = l(e^-3) = (1 - e^-3)^gamma * 3
    value = countable_cross_entropy(stats.poisson(0), stats.poisson(3), gamma)
    exact = (1 - mp.exp(-3)) ** g * 3
    assert value.lower <= exact <= value.upper
    assert abs(value.value - exact) <= value.error_bound <= 1e-12
    # H_gamma(delta_1, geom(0.3)) = l(0.3)
    value = countable_cross_entropy(stats.geom(1.0), stats.geom(0.3), gamma)
    exact = (1 - mp.mpf("0.3")) ** g * -mp.log(mp.mpf("0.3"))
    assert value.lower <= exact <= value.upper
    assert abs(value.value - exact) <= value.error_bound <= 1e-12
    # a point mass cannot carry an infinite-support P
    with pytest.warns(DivergenceWarning, match="has finite support"):
        value = countable_cross_entropy(stats.poisson(3), stats.nbinom(3, 1.0), gamma)
    assert value.value == math.inf


@pytest.mark.parametrize(
    "dist",
    [
        stats.logser(0.0),
        stats.logser(1.0),
        stats.zipf(1.0),
        stats.planck(0.0),
        stats.geom(0.0),
        stats.nbinom(3, 0.0),
        stats.poisson(-1.0),
    ],
    ids=_case_id,
)
def test_invalid_shape_parameters_are_named(dist):
    # outside scipy's parameter domain (logser(0) would be a point mass in the limit, but
    # scipy rejects it): a clear message instead of "support unbounded below"
    with pytest.raises(ValueError, match=rf"`dist` \({dist.dist.name}\) has invalid shape"):
        countable_minimizer(dist, 1.0)
    with pytest.raises(ValueError, match="invalid shape parameters"):
        countable_entropy(dist, 1.0)


# ---------------------------------------------------------------------------
# sources hold no lambda or closure (a CountableMinimizer keeps its source)
# ---------------------------------------------------------------------------


def _callables(src: _adapters.Source) -> dict[str, object]:
    return {
        name: getattr(src, name)
        for name in ("pmf", "sf", "isf", "ratio", "entropy_tail")
        if getattr(src, name) is not None
    }


def _module_level(func: object) -> bool:
    while isinstance(func, functools.partial):
        func = func.func
    qualname = getattr(func, "__qualname__", "")
    return "<lambda>" not in qualname and "<locals>" not in qualname


@pytest.mark.parametrize(
    "dist",
    [
        *FAMILY_CASES,
        *(d for d, _ in POINT_MASSES),
        stats.binom(12, 0.3),
        stats.yulesimon(0.5),  # no row: scipy's own pmf/sf/isf
        CountableDistribution(geometric_pmf, geometric_sf, lower=1, tail=(math.inf, 0)),
    ],
    ids=lambda d: _case_id(d) if hasattr(d, "dist") else repr(d),
)
def test_sources_pickle_and_hold_only_module_level_callables(dist):
    src = as_source(dist, "dist")
    funcs = _callables(src)
    assert {"pmf", "sf"} <= set(funcs)
    bad = [name for name, func in funcs.items() if not _module_level(func)]
    assert not bad, f"lambdas or closures in the source: {bad}"
    back = pickle.loads(pickle.dumps(src))
    y = np.arange(src.lower, src.lower + 50)
    np.testing.assert_array_equal(back.pmf(y), src.pmf(y))
    assert [back.sf(n) for n in (src.lower, src.lower + 9)] == [
        src.sf(n) for n in (src.lower, src.lower + 9)
    ]
    if src.ratio is not None:
        assert back.ratio(7) == src.ratio(7)
