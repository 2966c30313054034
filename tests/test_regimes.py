"""Where focal loss amplifies and where it suppresses (docs/theory.rst, section "Regimes").

The gradient weight G, the criterion ``Q*(x) > P(x) iff G(P(x)) > lam``, the
identity ``lam Q*/P = G(Q*)``, the tail ratio ``Q*/P -> 1/lam``, the worked
examples of the theory page (against the stored 50-digit minimizers of
``tests/_mp_reference.py``) and the RegimesResult object. ``G`` is checked against
its closed form in 50 digits, the crossings as roots of that closed form.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from _mp_reference import SOFTMAX_CASES, mp_gradient_weight, reference, rel_err
from _strategies import distributions, gammas, kkt_products, positive_gammas
from focalentropy import (
    LABELS,
    RegimesResult,
    gradient_weight,
    max_gradient_weight,
    minimizer,
    regimes,
)

RTOL = 1e-12


def _mp_g(p, gamma):
    return mp_gradient_weight(mp.mpf(float(p)), gamma)


def _slope(x, y):
    return np.polyfit(np.log(x), np.log(y), 1)[0]


def _rare_class(k, eps):
    return np.array([(1 - eps) / (k - 1)] * (k - 1) + [eps])


class TestGradientWeight:
    @given(positive_gammas)
    def test_shape_of_g(self, gamma):
        assert gradient_weight(0.0, gamma) == 1.0
        assert gradient_weight(1.0, gamma) == 0.0
        assert gradient_weight(1e-300, gamma) == pytest.approx(1.0, abs=1e-290)
        # G rises above 1 near 0, has a single maximum, then falls to 0
        t = np.linspace(-30, 30, 2001)
        p = 1 / (1 + np.exp(-t))
        g = gradient_weight(p, gamma)
        signs = np.sign(np.diff(g))
        signs = signs[signs != 0]
        assert signs[0] == 1
        assert signs[-1] == -1
        assert np.count_nonzero(np.diff(signs)) == 1
        g_max, p_max = max_gradient_weight(gamma)
        assert g_max > 1
        assert g_max >= g.max() * (1 - 1e-12)
        assert gradient_weight(p_max, gamma) == pytest.approx(g_max, rel=1e-12)

    @given(gammas, st.floats(0.0, 1.0))
    def test_closed_form(self, gamma, p):
        # G(p) = (1-p)^gamma - gamma p (1-p)^(gamma-1) log p, in 50 digits
        ref = _mp_g(p, gamma)
        got = gradient_weight(p, gamma)
        if ref < 1e-290:  # (1-p)^gamma underflows
            assert got <= 1e-290
        else:
            # near p = 1 the float p carries 1 - p only to ~eps / (1 - p)
            tol = 1e-13 + gamma * 2.2e-16 * p / max(1 - p, 1e-300)
            assert float(rel_err(got, ref)) <= tol

    @pytest.mark.parametrize("gamma", [0.5, 1.0, 2.0, 5.0])
    def test_expansion_near_zero(self, gamma):
        # G(p) = 1 + gamma p (log(1/p) - 1) + O(p^2 log p)
        p = np.logspace(-6, -3, 7)
        lead = gamma * p * (np.log(1 / p) - 1)
        err = np.abs(gradient_weight(p, gamma) - 1 - lead)
        assert np.all(err < 0.05 * lead)

    def test_gamma_zero_is_one(self):
        np.testing.assert_array_equal(gradient_weight([0.0, 0.3, 1.0], 0.0), 1.0)


class TestCriterion:
    @given(distributions(), positive_gammas)
    def test_amplified_iff_g_above_lam(self, p, gamma):
        q, lam = minimizer(p, gamma, return_multiplier=True)
        g = gradient_weight(p, gamma)
        clear = (p > 0) & (np.abs(g / lam - 1) > 1e-8) if lam > 0 else p > 0
        np.testing.assert_array_equal((q > p)[clear], (g > lam)[clear])

    @given(distributions(), positive_gammas)
    def test_identity_lam_ratio_is_g_of_q(self, p, gamma):
        # lam Q*(x) / P(x) = G(Q*(x)), i.e. P(x) phi(Q*(x)) = lam, in 50 digits
        q, lam = minimizer(p, gamma, return_multiplier=True)
        if lam < 1e-290:
            return
        for value in kkt_products(p, q, gamma).values():
            assert abs(value / mp.mpf(float(lam)) - 1) < 1e-12

    @pytest.mark.parametrize("gamma", [0.5, 2.0, 5.0])
    def test_tail_ratio_tends_to_inverse_lam(self, gamma):
        head = np.array([0.5, 0.3, 0.2])
        eps = np.logspace(-12, -6, 7)
        deviations = []
        for e in eps:
            p = np.append(head * (1 - e), e)
            q, lam = minimizer(p, gamma, return_multiplier=True)
            deviations.append(abs(q[-1] / p[-1] * lam - 1))
        dev = np.array(deviations)
        assert dev[0] < 1e-9
        # the deviation G(Q*) - 1 is of order eps log(1/eps)
        assert _slope(eps, dev) == pytest.approx(0.95, abs=0.08)


class TestExamples:
    @pytest.mark.parametrize("k", [3, 4, 5, 6, 10, 20])
    def test_rare_class_lam_limit(self, k):
        r = regimes(_rare_class(k, 1e-12), 2.0)
        lam = float(r.multiplier)
        g_ref = _mp_g(1 / (k - 1), 2.0)
        # lam -> G(1/(K-1)) as eps -> 0, with an error O(eps log(1/eps))
        assert float(rel_err(lam, g_ref)) <= 1e-9
        assert (lam > 1) == (k >= 5)
        assert bool(r.over_suppression) == (k >= 5)
        # rare class: Q* ~ eps / lam
        assert r.minimizer[-1] == pytest.approx(1e-12 / lam, rel=1e-9)
        expected = "over-suppressed" if k >= 5 else "amplified"
        assert r.labels[-1] == expected
        if k >= 5:
            assert r.minimizer[-1] < 1e-12
            assert float(r.p_low) > 1e-12

    def test_g_of_one_over_k_minus_one_exceeds_one_iff_k_at_least_5(self):
        # theory page, "Regimes": G(1/(K-1)) > 1 exactly when K >= 5 (gamma = 2)
        for k in range(2, 400):
            assert (_mp_g(1 / (k - 1), 2.0) > 1) == (k >= 5), k

    @pytest.mark.parametrize("k", [3, 4, 5, 6, 10])
    def test_theory_page_table(self, k):
        # the table of the theory page (eps = 1e-6), against the 50-digit minimizer
        q_ref, lam_ref, _ = reference(f"rare-K{k}")
        r = regimes(np.array(SOFTMAX_CASES[f"rare-K{k}"]["p"]), 2.0)
        assert float(rel_err(r.multiplier, lam_ref)) <= RTOL
        assert float(rel_err(r.minimizer[-1], q_ref[-1])) <= RTOL
        assert (r.labels[-1] == "over-suppressed") == (k >= 5)
        # lam and G(1/(K-1)) agree to the printed 4 digits
        assert mp.nstr(lam_ref, 4) == mp.nstr(_mp_g(1 / (k - 1), 2.0), 4)

    def test_finite_imbalance_example(self):
        # theory page: P = (0.2495 x 4, 0.002): lam = 1.083, p_low = 0.0124, last over-suppressed
        p = np.array(SOFTMAX_CASES["rare-K5-finite"]["p"])
        _, lam_ref, _ = reference("rare-K5-finite")
        r = regimes(p, 2.0)
        assert r.labels.tolist() == ["amplified"] * 4 + ["over-suppressed"]
        assert float(rel_err(r.multiplier, lam_ref)) <= RTOL
        # p_low: the left root of G(p) = lam, in 50 digits
        p_low = mp.findroot(
            lambda x: mp_gradient_weight(x, 2.0) - lam_ref, (1e-6, 0.1), solver="anderson"
        )
        assert float(rel_err(r.p_low, p_low)) <= 1e-9
        assert round(float(r.multiplier), 4) == 1.083
        assert round(float(r.p_low), 4) == 0.0124

    @given(st.floats(1e-300, 0.49), positive_gammas)
    def test_binary_amplifies_minority(self, eps, gamma):
        p = np.array([1 - eps, eps])
        r = regimes(p, gamma)
        assert r.multiplier < 1
        assert r.minimizer[1] > p[1]
        assert r.labels[1] == "amplified"
        # for tiny eps, Q*(top) / P(top) rounds to 1
        # (ratios within 1e-12 of 1 count as unchanged)
        assert r.labels[0] == ("suppressed" if r.ratio[0] < 1 - 1e-12 else "unchanged")

    def test_top_of_31_classes_amplified(self):
        p = np.array(SOFTMAX_CASES["top-of-31"]["p"])
        q_ref, _, _ = reference("top-of-31")
        r = regimes(p, 1.0)
        assert float(rel_err(r.minimizer[0], q_ref[0])) <= RTOL
        assert mp.nstr(q_ref[0], 4) == "0.2073"  # the theory page's number
        assert r.labels[0] == "amplified"
        assert r.minimizer[0] > 0.2

    def test_binary_theory_example(self):
        # theory page: minimizer([0.9, 0.1], 2) = [0.6942 0.3058]
        from _mp_reference import mp_binary

        q_ref, r_ref, _ = mp_binary(0.9, 0.1, 2.0)
        assert mp.nstr(q_ref, 4) == "0.6942"
        r = regimes(np.array([0.9, 0.1]), 2.0)
        assert float(rel_err(r.minimizer[0], q_ref)) <= RTOL
        assert float(rel_err(r.minimizer[1], r_ref)) <= RTOL

    def test_docstring_example(self):
        r = regimes([0.7, 0.2, 0.08, 0.02], 2.0)
        assert r.labels.tolist() == ["suppressed", "amplified", "amplified", "amplified"]
        assert not r.over_suppression
        assert np.isnan(r.p_low)
        assert 0.2 < r.p_high < 0.7


class TestRegimesResult:
    @given(distributions(min_support=1), gammas)
    def test_fields_consistent(self, p, gamma):
        r = regimes(p, gamma)
        assert isinstance(r, RegimesResult)
        q, lam = minimizer(p, gamma, return_multiplier=True)
        # regimes() solves for the renormalized p: ~eps * |log q| apart for tiny q
        np.testing.assert_allclose(r.minimizer, q, rtol=1e-12, atol=0)
        assert r.multiplier == pytest.approx(lam, rel=1e-12, abs=1e-300)
        assert set(r.labels.tolist()) <= set(LABELS)
        support = p > 0
        np.testing.assert_allclose(r.p, p, rtol=2.3e-16 * (p.size + 2), atol=0)
        ratio = r.minimizer[support] / r.p[support]
        np.testing.assert_allclose(r.ratio[support], ratio, rtol=1e-15)
        assert np.all(np.isnan(r.ratio[~support]))
        assert np.all(r.labels[~support] == "unchanged")
        amplified = r.labels == "amplified"
        suppressed = (r.labels == "suppressed") | (r.labels == "over-suppressed")
        assert np.all(q[amplified] > p[amplified])
        assert np.all(q[suppressed] < p[suppressed])
        if gamma > 0:
            assert bool(r.over_suppression) == (r.multiplier > 1)

    def test_gamma_zero_never_over_suppresses(self):
        r = regimes([0.48, 0.2, 0.18, 0.14], 0.0)
        assert not r.over_suppression
        assert "over-suppressed" not in repr(r)

    @given(distributions(), positive_gammas)
    def test_crossings(self, p, gamma):
        r = regimes(p, gamma)
        lam = float(r.multiplier)
        if 0 < lam < r.g_max:
            p_high = float(r.p_high)
            # G at a float p near 1 is blurred by rounding 1 - p
            if p_high < 1:
                tol = 1e-9 + 4 * gamma * 1.1e-16 / (1 - p_high)
                assert float(rel_err(_mp_g(p_high, gamma), lam)) <= tol
            # every class above p_high is suppressed, below it not
            clear = np.abs(p / p_high - 1) > 1e-6
            high = (p > p_high) & clear
            assert np.all(r.labels[high] == "suppressed")
        if 1 < lam < r.g_max:
            p_low = float(r.p_low)
            assert p_low < float(r.p_high)
            assert float(rel_err(_mp_g(p_low, gamma), lam)) <= 1e-9
            below = (p > 0) & (p < p_low * (1 - 1e-6))
            assert np.all(r.labels[below] == "over-suppressed")
            middle = (p > p_low * (1 + 1e-6)) & (p < float(r.p_high) * (1 - 1e-6))
            assert np.all(r.labels[middle] == "amplified")
        else:
            assert np.isnan(r.p_low)
            assert not np.any(r.labels == "over-suppressed")

    def test_gamma_zero_unchanged(self):
        r = regimes([0.6, 0.3, 0.1], 0.0)
        assert r.labels.tolist() == ["unchanged"] * 3
        assert r.g_max == 1.0
        assert float(r.multiplier) == pytest.approx(1.0)

    def test_weights_normalize_p(self):
        p, alpha = np.array([0.6, 0.3, 0.1]), np.array([1.0, 2.0, 6.0])
        r = regimes(p, 2.0, alpha=alpha)
        w = alpha * p
        np.testing.assert_allclose(r.p, w / w.sum(), rtol=1e-15)
        np.testing.assert_allclose(r.minimizer, minimizer(p, 2.0, alpha=alpha), rtol=1e-13)

    def test_table(self):
        p = np.array([0.7, 0.2, 0.08, 0.02])
        r = regimes(p, 2.0, class_names=["cat", "dog", "fox", "owl"])
        table = r.table()
        assert [row["class"] for row in table] == ["cat", "dog", "fox", "owl"]
        assert set(table[0]) == {"class", "p", "q_star", "ratio", "G(p)", "label"}
        for k, row in enumerate(table):
            assert row["p"] == r.p[k]
            assert row["q_star"] == r.minimizer[k]
            assert row["ratio"] == r.ratio[k]
            assert float(rel_err(row["G(p)"], _mp_g(p[k], 2.0))) <= 1e-14
            assert row["label"] == r.labels[k]

    def test_repr_single(self):
        text = repr(regimes([0.7, 0.2, 0.08, 0.02], 2.0, class_names=["a", "b", "c", "d"]))
        assert text.startswith("RegimesResult(")
        assert "suppressed" in text
        assert "amplified" in text
        assert "lam = 0.692072" in text
        assert "G_max = 1.22463" in text
        lines = text.splitlines()
        assert len(lines) == 1 + 1 + 4 + 1 + 1  # header, column names, rows, summary, ")"
        assert lines[2].split()[0] == "a"

    def test_repr_over_suppression(self):
        text = repr(regimes(_rare_class(6, 1e-4), 2.0))
        assert "over-suppressed" in text
        assert "lam > 1" in text

    def test_repr_and_table_batched(self):
        p = np.array([[0.7, 0.2, 0.1], _rare_class(3, 0.1), [0.5, 0.3, 0.2]])
        r = regimes(p, 2.0)
        text = repr(r)
        assert "3 distributions of 3 classes" in text
        assert "batch shape (3,)" in text
        assert [row["p"] for row in r.table(2)] == [0.5, 0.3, 0.2]
        with pytest.raises(ValueError, match="`row`"):
            r.table()

    def test_axis(self):
        rng = np.random.default_rng(3)
        p = rng.dirichlet(np.ones(5), size=4)
        r0, r1 = regimes(p.T, 2.0, axis=0), regimes(p, 2.0)
        np.testing.assert_array_equal(r0.minimizer, r1.minimizer)
        np.testing.assert_array_equal(r0.labels, r1.labels)

    def test_per_class_alpha_with_axis(self):
        rng = np.random.default_rng(4)
        p = rng.dirichlet(np.ones(4), size=3)
        alpha = np.array([1.0, 2.0, 3.0, 4.0])
        r0, r1 = regimes(p.T, 2.0, alpha=alpha, axis=0), regimes(p, 2.0, alpha=alpha)
        np.testing.assert_allclose(r0.minimizer, r1.minimizer, rtol=1e-14)
        np.testing.assert_array_equal(r0.labels, r1.labels)

    def test_class_names_length_checked(self):
        with pytest.raises(ValueError, match="`class_names` has 2 entries but `p` has 3"):
            regimes([0.5, 0.3, 0.2], 2.0, class_names=["a", "b"])


def test_repr_of_many_classes_is_summarized():
    p = np.random.default_rng(0).dirichlet(np.ones(100_000))
    text = repr(regimes(p, 2.0))
    assert len(text) < 3000
    assert "99980 more classes" in text
    assert len(regimes(p, 2.0).table()) == 100_000
