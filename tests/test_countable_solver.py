"""Tests of focalentropy.countable._solver: the minimizer Q* on the integers and its tail bound.

References: 50-digit mpmath solutions stored in tests/data/countable/minimizer.json
(``_countable_reference``; regenerate with scripts/make_countable_references.py).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import pickle
import re

import mpmath as mp
import numpy as np
import pytest
from scipy import stats

from _countable_reference import DISTS, GAMMAS, geometric_pmf, geometric_sf, mp_pmf, reference
from focalentropy import (
    ConvergenceWarning,
    CountableDistribution,
    CountableMinimizer,
    TruncationWarning,
    countable_minimizer,
    minimizer,
)
from focalentropy.countable import _adapters, _solver


@functools.cache
def solved(name: str, gamma: float) -> CountableMinimizer:
    dist, tol = DISTS[name]
    return countable_minimizer(dist, gamma, tol=tol)


def _g_of_q(q: np.ndarray, gamma: float) -> np.ndarray:
    """``G(q) = q phi(q) = (1-q)^gamma (1 + gamma q log(1/q) / (1-q))``, written out."""
    return (1 - q) ** gamma * (1 + gamma * q * -np.log(q) / (1 - q))


class TestAgainstMpmath:
    @pytest.mark.parametrize("gamma", GAMMAS)
    @pytest.mark.parametrize("name", list(DISTS))
    def test_values(self, name, gamma):
        res = solved(name, gamma)
        lam_ref, q_ref = reference(name, gamma)
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
        _, q_ref = reference(name, gamma)
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

    def test_tail_ratio_is_one_over_lam(self):
        res = solved("geom(0.2)", 2.0)
        lam_ref, q_ref = reference("geom(0.2)", 2.0)
        # Q*(x)/P(x) -> 1/lam: the last kept classes and a far one, against mp
        ratio = res.q[-5:] / stats.geom(0.2).pmf(res.support[-5:])
        np.testing.assert_allclose(ratio, float(1 / lam_ref), rtol=1e-9)
        assert res.tail_ratio == pytest.approx(float(1 / lam_ref), rel=1e-13)
        far = res.pmf(np.array([200]))[0]
        assert res.support[-1] < 200
        assert far == pytest.approx(float(q_ref[200]), rel=1e-13)

    @pytest.mark.parametrize("name", ["poisson(3)", "nbinom(5, 0.3)", "zipf(2.5)"])
    def test_pmf_beyond_the_support(self, name):
        res = solved(name, 1.0)
        _, q_ref = reference(name, 1.0)
        n = int(res.support[-1])
        x = np.array([n - 1, n, n + 1, n + 7, n + 20])
        x = x[x <= max(q_ref)] if name != "zipf(2.5)" else np.array([1, 2, 150, 200])
        np.testing.assert_allclose(res.pmf(x), [float(q_ref[int(v)]) for v in x], rtol=1e-12)
        # zero outside the distribution's support (zipf starts at 1)
        assert solved("zipf(2.5)", 1.0).pmf(np.array([0]))[0] == 0.0
        assert solved("zipf(2.5)", 1.0).support[0] == 1


class TestClosedForms:
    @pytest.mark.parametrize("name", ["poisson(3)", "geom(0.2)"])
    def test_gamma_zero_is_p(self, name):
        # gamma = 0: Q* = P exactly and lam = sum P = 1
        dist, tol = DISTS[name]
        res = countable_minimizer(dist, 0.0, tol=tol)
        exact = [float(mp_pmf(name, int(x))) for x in res.support]
        np.testing.assert_allclose(res.q, exact, rtol=1e-14)
        assert res.multiplier == pytest.approx(1.0, abs=1e-14)
        assert res.tail_bound == pytest.approx(dist.sf(res.support[-1]), rel=1e-12)

    def test_class_weights_satisfy_kkt(self):
        alpha = np.array([1.0, 3.0, 0.5])
        res = countable_minimizer(stats.poisson(3), 2.0, alpha=alpha)
        w = stats.poisson(3).pmf(res.support) * np.concatenate([alpha, np.ones(len(res.q) - 3)])
        # KKT: lam Q*/w = G(Q*)
        np.testing.assert_allclose(res.multiplier * res.q / w, _g_of_q(res.q, 2.0), rtol=1e-12)
        assert res.q.sum() + res.tail_bound == pytest.approx(1.0, abs=1e-12)
        # a scalar alpha only scales lam
        scaled = countable_minimizer(stats.poisson(3), 2.0, alpha=4.0)
        plain = solved("poisson(3)", 2.0)
        np.testing.assert_allclose(scaled.q[: len(plain.q)], plain.q, rtol=1e-12)
        assert scaled.multiplier == pytest.approx(4 * plain.multiplier, rel=1e-12)

    def test_order_preserved(self):
        res = solved("nbinom(5, 0.3)", 2.0)
        order = np.argsort(res.p)
        assert np.all(np.diff(res.q[order]) >= 0)

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
        _, q_ref = reference("geom(0.2)", 2.0)
        np.testing.assert_allclose(res.q, [float(q_ref[int(x)]) for x in res.support], rtol=1e-12)
        shifted = countable_minimizer(stats.poisson(3, loc=4), 2.0)
        assert shifted.support[0] == 4
        np.testing.assert_allclose(shifted.q, solved("poisson(3)", 2.0).q, rtol=1e-13)


class TestLimits:
    def test_max_terms_cap_warns_and_stays_honest(self):
        with pytest.warns(TruncationWarning, match="exceeds `tol`"):
            res = countable_minimizer(stats.zipf(2.5), 1.0, tol=1e-9, max_terms=500)
        assert len(res.support) == 500
        assert res.tail_bound > 1e-9
        longer = solved("zipf(2.5)", 1.0)
        outside = longer.q[500:].sum() + longer.tail_bound
        assert outside <= res.tail_bound

    def test_tiny_tol_on_a_heavy_tail_warns_instead_of_failing(self):
        # zipf(2.5) at tol = 1e-30 needs N ~ 1e20 > int64: the closed-form isf seed used to
        # overflow np.isfinite (TypeError); now the cap is reached and said so
        with pytest.warns(TruncationWarning, match="exceeds `tol`"):
            res = countable_minimizer(stats.zipf(2.5), 1.0, tol=1e-30, max_terms=1000)
        assert len(res.support) == 1000
        longer = solved("zipf(2.5)", 1.0)
        assert longer.q[1000:].sum() + longer.tail_bound <= res.tail_bound

    def test_head_solve_cap_warns(self, monkeypatch):
        monkeypatch.setattr(_solver, "_HEAD_MAXITER", 1)
        with pytest.warns(ConvergenceWarning, match=r"head solve .* did not converge in 1 iter"):
            countable_minimizer(stats.geom(0.3), 2.0)

    def test_rejects_bad_input(self):
        with pytest.raises(TypeError, match=r"`dist` must be a frozen scipy\.stats discrete"):
            countable_minimizer([0.5, 0.5], 1.0)
        with pytest.raises(ValueError, match="`tol` must lie in"):
            countable_minimizer(stats.poisson(3), 1.0, tol=0.0)
        with pytest.raises(TypeError, match="`tol` must be a real number"):
            countable_minimizer(stats.poisson(3), 1.0, tol="1e-3")
        with pytest.raises(ValueError, match=r"`alpha` must be positive.* at index 1"):
            countable_minimizer(stats.poisson(3), 1.0, alpha=[1.0, -2.0])
        with pytest.raises(ValueError, match="support unbounded below"):
            countable_minimizer(stats.dlaplace(0.8), 1.0)
        with pytest.raises(ValueError, match="`gamma` must be a finite number"):
            countable_minimizer(stats.poisson(3), -1.0)
        with pytest.raises(ValueError, match="`max_terms` must be >= 2"):
            countable_minimizer(stats.poisson(3), 1.0, max_terms=1)
        with pytest.raises(TypeError, match="`x` must be integers"):
            solved("poisson(3)", 1.0).pmf(np.array([1.5]))


class TestResultContract:
    """CountableMinimizer shows and takes only its documented, public fields."""

    PUBLIC = (
        "support",
        "q",
        "p",
        "multiplier",
        "multiplier_bounds",
        "tail_bound",
        "error_bound",
        "tail_mass",
        "gamma",
    )

    def test_constructor_and_repr_are_public(self):
        assert tuple(inspect.signature(CountableMinimizer).parameters) == self.PUBLIC
        shown = repr(solved("poisson(3)", 1.0))
        assert tuple(re.findall(r"(\w+)=", shown)) == self.PUBLIC
        for name in ("_source", "_weights", "_tail_weight", "Source"):
            assert name not in shown
        documented = inspect.getdoc(CountableMinimizer)
        assert all(f"{name} :" in documented for name in self.PUBLIC)

    def test_hand_built_instance_works_on_its_support_and_says_why_not_beyond(self):
        ref = solved("poisson(3)", 1.0)
        built = CountableMinimizer(**{name: getattr(ref, name) for name in self.PUBLIC})
        np.testing.assert_array_equal(built.pmf(ref.support[::-1]), ref.q[::-1])
        assert built.tail_ratio == ref.tail_ratio
        with pytest.raises(ValueError, match=r"`x` = 40 at index 1 lies outside .* built directly"):
            built.pmf(np.array([3, 40]))
        # dataclasses.replace keeps the public fields and loses the distribution alike
        moved = dataclasses.replace(ref, gamma=1.0)
        with pytest.raises(ValueError, match="built directly"):
            moved.pmf(np.array([40]))

    @pytest.mark.parametrize(
        "dist",
        [
            stats.poisson(3, loc=2),
            stats.nbinom(0.5, 0.3),
            stats.zipf(2.5),  # closed-form pmf/sf/isf in the source
            stats.geom(1.0),  # a point mass
            CountableDistribution(geometric_pmf, geometric_sf, lower=1, name="geometric"),
        ],
        ids=lambda d: f"{d.dist.name}{d.args}{d.kwds}" if hasattr(d, "dist") else d.name,
    )
    def test_pickle_round_trip(self, dist):
        # results come back from joblib/dask workers by pickle, distribution included
        ref = countable_minimizer(dist, 2.0, alpha=[1.0, 3.0, 0.5], tol=1e-6)
        back = pickle.loads(pickle.dumps(ref))
        assert type(back) is CountableMinimizer
        assert repr(back) == repr(ref)
        for name in self.PUBLIC:
            np.testing.assert_array_equal(getattr(back, name), getattr(ref, name), err_msg=name)
        assert back.tail_ratio == ref.tail_ratio
        # far beyond the kept support too: the distribution survived the trip
        x = np.arange(0, int(ref.support[-1]) + 500)
        np.testing.assert_array_equal(back.pmf(x), ref.pmf(x))
        assert back.pmf(x).sum() > 0
        # a hand-built instance pickles as well, and still says why not beyond its support
        built = CountableMinimizer(**{name: getattr(ref, name) for name in self.PUBLIC})
        built_back = pickle.loads(pickle.dumps(built))
        np.testing.assert_array_equal(built_back.pmf(ref.support), ref.q)
        with pytest.raises(ValueError, match="built directly"):
            built_back.pmf(ref.support[-1:] + 1)

    def test_equality_is_identity_and_never_raises(self):
        ref = solved("poisson(3)", 1.0)
        again = countable_minimizer(DISTS["poisson(3)"][0], 1.0, tol=DISTS["poisson(3)"][1])
        copied = pickle.loads(pickle.dumps(ref))
        same = ref
        assert ref == same
        assert (ref != same) is False
        for other in (again, copied, dataclasses.replace(ref), None, 1.0):
            assert ref != other
            assert (ref == other) is False
        assert len({ref, again, copied, ref}) == 3  # hashable (by identity)
        assert [again, copied].count(ref) == 0
        assert ref in [again, ref]
        # compare values field by field
        assert all(np.array_equal(getattr(ref, n), getattr(again, n)) for n in self.PUBLIC)

    @pytest.mark.parametrize(
        ("name", "dist", "gamma"),
        [
            ("geom(0.3)", stats.geom(0.3), 2.0),  # 3.4 KB before
            ("geom(0.001)", stats.geom(0.001), 0.5),  # ~27000 kept integers
            ("poisson(3)", stats.poisson(3), 1.0),
            ("poisson(0)", stats.poisson(0), 1.0),
        ],
    )
    def test_repr_is_short_and_shows_the_scalars(self, name, dist, gamma):
        res = countable_minimizer(dist, gamma)
        shown = repr(res)
        assert len(shown) <= 400, shown
        assert "\n" not in shown
        n = len(res.support)
        lo, hi = int(res.support[0]), int(res.support[-1])
        assert shown.startswith(
            f"CountableMinimizer(support={lo}..{hi} ({n} integer{'s' if n > 1 else ''}), q=["
        )
        assert f"multiplier={float(res.multiplier)!r}," in shown
        lam_lo, lam_hi = (float(b) for b in res.multiplier_bounds)
        assert f"multiplier_bounds=({lam_lo!r}, {lam_hi!r})," in shown
        assert f"tail_bound={res.tail_bound:.3g}, error_bound={res.error_bound:.3g}" in shown
        assert f"tail_mass={res.tail_mass:.3g}, gamma={gamma:g})" in shown
        assert tuple(re.findall(r"(\w+)=", shown)) == self.PUBLIC
        # the first and last three values of q and p, NumPy-summarized in between
        for field in ("q", "p"):
            values = getattr(res, field)
            inside = re.search(rf"\b{field}=\[([^\]]*)\]", shown).group(1).split(", ")
            if n > 6:
                assert inside[3] == "..."
                inside = inside[:3] + inside[4:]
                values = np.concatenate([values[:3], values[-3:]])
            np.testing.assert_allclose([float(v) for v in inside], values, rtol=5e-4)

    def test_truncated_solve_returns_named_fields(self):
        # geom(0.5) at gamma = 0: Q* = P, lam = sum P = 1, tail bound = P(X > N) / lam
        src = _adapters.as_source(stats.geom(0.5), "dist")
        sol = _solver._solve_truncated(src, 0.0, None, 1.0, 10, 1.0, 1.0)
        assert sol._fields == (
            "y",
            "p",
            "w",
            "q",
            "multiplier",
            "multiplier_bounds",
            "tail_bound",
            "error_bound",
            "tail_mass",
        )
        np.testing.assert_array_equal(sol.y, np.arange(1, 11))
        np.testing.assert_allclose(sol.q, 0.5 ** np.arange(1, 11), rtol=1e-15)
        assert sol.multiplier == pytest.approx(1.0, abs=1e-15)
        assert sol.tail_mass == pytest.approx(2.0**-10, rel=1e-15)
        assert sol.tail_bound == pytest.approx(2.0**-10, rel=1e-13)
