"""Property-based tests of the loss, phi, the minimizer and the inverse map.

docs/theory.rst, sections "The loss term", "The minimizer", "The inverse map" and
"The sigmoid form", checked on random distributions (K = 2..50,
entries from exact zeros through 1e-300 to 1, ties) and gamma in [0, 20].
The KKT identity is verified in 50-digit arithmetic (``kkt_products``); the
asymptotic statements by fitting the order of the error.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from _mp_reference import mp_binary, mp_sigmoid_minimizer, rel_err
from _strategies import (
    distributions,
    gammas,
    kkt_products,
    moderate_distributions,
    mp_phi_qr,
    positive_gammas,
)
from focalentropy import cross_entropy, loss, minimizer, phi, recover


def _weights(k):
    return st.lists(st.floats(0.01, 100.0), min_size=k, max_size=k)


def _slope(x, y):
    return np.polyfit(np.log(x), np.log(y), 1)[0]


def _assert_rel_close(actual, expected, rtol):
    actual, expected = np.asarray(actual), np.asarray(expected)
    np.testing.assert_array_equal(actual == 0, expected == 0)
    nz = expected != 0
    err = np.abs(actual[nz] - expected[nz]) / np.abs(expected[nz])
    assert err.max(initial=0.0) <= rtol, f"max relative error {err.max():.3e} > {rtol:.1e}"


# ---------------------------------------------------------------------------
# theory page, "The loss term": the loss term and phi
# ---------------------------------------------------------------------------

_open_unit = st.floats(1e-300, 1.0, exclude_max=True)
_GRID = np.concatenate([np.logspace(-300, -1, 300), np.linspace(0.1, 0.9, 81)[1:-1]])
_GRID = np.concatenate([_GRID, 1.0 - np.logspace(-1, -13, 100)])


class TestLossTerm:
    @given(_open_unit, _open_unit, gammas)
    def test_decreasing(self, a, b, gamma):
        lo, hi = min(a, b), max(a, b)
        assume(hi > lo * (1 + 1e-6))
        assert loss(lo, gamma) > loss(hi, gamma)

    @given(_open_unit, _open_unit, gammas)
    def test_midpoint_convex(self, a, b, gamma):
        mid = 0.5 * (a + b)
        chord = 0.5 * (loss(a, gamma) + loss(b, gamma))
        assert loss(mid, gamma) <= chord * (1 + 1e-14)

    @pytest.mark.parametrize("gamma", [0.0, 0.3, 1.0, 2.0, 7.5, 20.0])
    def test_strictly_convex_and_decreasing_on_grid(self, gamma):
        q = np.linspace(0.02, 0.98, 49)
        values = loss(q, gamma)
        assert np.all(np.diff(values) < 0)
        assert np.all(np.diff(values, 2) > 0)

    @pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
    def test_endpoints(self, gamma):
        assert loss(0.0, gamma) == np.inf
        assert loss(1.0, gamma) == 0.0

    @given(_open_unit, gammas, gammas)
    def test_non_increasing_in_gamma(self, q, g1, g2):
        lo, hi = min(g1, g2), max(g1, g2)
        assert loss(q, hi) <= loss(q, lo)

    def test_float_input_types(self):
        q32 = np.array([0.25, 0.5], dtype=np.float32)
        out = loss(q32, 2.0)
        assert out.dtype == np.float64
        np.testing.assert_allclose(out, loss([0.25, 0.5], 2.0), rtol=1e-15)


class TestPhi:
    @given(gammas)
    def test_positive_and_strictly_decreasing(self, gamma):
        values = phi(_GRID, gamma)
        assert np.all(values > 0)
        assert np.all(np.diff(values) < 0)

    @given(positive_gammas)
    def test_limits(self, gamma):
        assert phi(1.0, gamma) == 0.0
        assert phi(0.0, gamma) == np.inf
        assert phi(1.0, 0.0) == 1.0

    @given(gammas, st.floats(1e-12, 0.5))
    def test_is_minus_derivative_of_loss(self, gamma, q):
        # central difference in mpmath of the float loss formula
        h = mp.mpf(q) * mp.mpf("1e-20")

        def ell(x):
            return -((1 - x) ** gamma) * mp.log(x)

        derivative = (ell(mp.mpf(q) + h) - ell(mp.mpf(q) - h)) / (2 * h)
        assert float(phi(q, gamma)) == pytest.approx(float(-derivative), rel=1e-13)

    @pytest.mark.parametrize("gamma", [0.5, 2.0, 5.0])
    def test_expansion_near_zero(self, gamma):
        # phi(q) = 1/q - gamma log q - gamma + O(q log q); the leading remainder is
        # gamma (gamma - 1) q log q (it vanishes for gamma = 1, where the expansion is exact)
        q = np.logspace(-5, -3, 7)
        err = np.abs(phi(q, gamma) - (1 / q - gamma * np.log(q) - gamma))
        assert np.all(err <= 1.5 * gamma * abs(gamma - 1) * q * np.abs(np.log(q)))
        # the error is of order q log q: log-log slope 1 - 1/log(1/q) ~ 0.9
        assert _slope(q, err) == pytest.approx(1.0, abs=0.15)

    def test_expansion_exact_for_gamma_one(self):
        q = np.logspace(-5, -1, 9)
        np.testing.assert_allclose(phi(q, 1.0), 1 / q - np.log(q) - 1, rtol=1e-15)

    @pytest.mark.parametrize("gamma", [0.5, 1.0, 2.0, 5.0])
    def test_expansion_near_one(self, gamma):
        # phi(q) ~ (1 + gamma) (1 - q)^gamma, relative error O(1 - q)
        r = np.logspace(-6, -3, 7)
        rel = np.abs(phi(1.0 - r, gamma) / ((1 + gamma) * r**gamma) - 1)
        assert _slope(r, rel) == pytest.approx(1.0, abs=0.05)
        assert rel.max() < 1e-2


# ---------------------------------------------------------------------------
# theory page, "The minimizer": the minimizer
# ---------------------------------------------------------------------------


class TestMinimizerKKT:
    @given(distributions(), gammas)
    def test_kkt_identity(self, p, gamma):
        q, lam = minimizer(p, gamma, return_multiplier=True)
        products = kkt_products(p, q, gamma)
        for value in products.values():
            if lam > 1e-290:  # lam itself is a normal float
                assert abs(value / mp.mpf(float(lam)) - 1) < 1e-12
        values = list(products.values())
        # the products agree with each other even when lam underflows
        assert max(values) / min(values) - 1 < 2e-12

    @given(distributions(min_support=1), gammas)
    def test_zero_off_support_and_sum(self, p, gamma):
        q = minimizer(p, gamma)
        assert q.dtype == np.float64
        np.testing.assert_array_equal(q[p == 0], 0.0)
        assert np.all(q[p > 0] > 0)
        assert np.all(q <= 1)
        assert abs(q.sum() - 1) <= 4e-16 * np.sqrt(p.size)

    @given(distributions(), gammas)
    def test_top_complement_consistent(self, p, gamma):
        # sum of the others equals 1 - Q(top) without cancellation in the top class
        q = minimizer(p, gamma)
        top = np.argmax(q)
        others = np.delete(q, top).sum()
        assert abs((1.0 - q[top]) - others) <= 2.2e-16 + 1e-14 * others

    @given(distributions(), gammas)
    def test_order_preserving(self, p, gamma):
        q = minimizer(p, gamma)
        order = np.argsort(p, kind="stable")
        ps, qs = p[order], q[order]
        # weakly monotone up to the solver's accuracy (a few ulp: classes whose
        # P differs by an ulp may swap), strictly where P differs clearly
        assert np.all(np.diff(qs) >= -1e-14 * qs[1:])
        clear = ps[1:] > ps[:-1] * (1 + 1e-9)
        assert np.all(np.diff(qs)[clear] > 0)
        assert p[np.argmax(q)] >= p.max() * (1 - 1e-14)

    @given(distributions(), gammas)
    def test_ties_give_equal_values(self, p, gamma):
        q = minimizer(p, gamma)
        for value in np.unique(p[p < p.max()]):
            assert np.ptp(q[p == value]) == 0
        # the top class is solved through its complement; tied top classes too
        top = q[p == p.max()]
        assert np.ptp(top) == 0

    def test_ties_in_top_class(self):
        p = np.array([0.4, 0.4, 0.2 - 1e-200, 1e-200])
        for gamma in (0.5, 3.0, 20.0):
            q = minimizer(p, gamma)
            assert q[0] == q[1]

    def test_tied_top_classes_exact(self):
        # a case where the tied top classes once came out 1 ulp apart
        p = [0.3804323255687857, 0.3804323255687857, 0.13081192929742774, 0.10832341956500087]
        q = minimizer(p, 1.51)
        assert q[0] == q[1]


class TestMinimizerOptimality:
    @given(distributions(), gammas, st.data())
    def test_beats_random_q(self, p, gamma, data):
        q = data.draw(distributions(p.size, p.size, min_support=1))
        q_star = minimizer(p, gamma)
        h_star = cross_entropy(p, q_star, gamma)
        # rounding: an entry of Q near 1 is known only to ~eps absolutely, so
        # log Q(top) (and H) carries an absolute error of a few eps
        assert h_star <= cross_entropy(p, q, gamma) * (1 + 1e-13) + 4.5e-16

    @given(
        distributions(),
        gammas,
        st.integers(0, 2**32 - 1),
        st.sampled_from([1e-4, 1e-3, 1e-2, 0.1]),
    )
    def test_beats_perturbations(self, p, gamma, seed, t):
        # multiplicative perturbations keep Q on the simplex and inside the support
        q_star = minimizer(p, gamma)
        h_star = cross_entropy(p, q_star, gamma)
        z = np.random.default_rng(seed).standard_normal(p.size)
        for step in (t, -t):
            q = q_star * np.exp(step * z)
            q /= q.sum()
            # rounding: a dominant class contributes ~eps absolutely (log of a q near 1)
            assert cross_entropy(p, q, gamma) >= h_star - (1e-14 * h_star + 1e-15)


class TestMinimizerSpecialCases:
    @given(distributions(min_support=1))
    def test_gamma_zero_is_identity(self, p):
        q, lam = minimizer(p, 0.0, return_multiplier=True)
        # Q* = P / sum(P), and the drawn P sums to 1 only up to K rounding errors
        _assert_rel_close(q, p, 2.3e-16 * (p.size + 2))
        assert lam == pytest.approx(1.0, abs=1e-14)

    @given(st.integers(1, 50), gammas)
    def test_uniform_is_fixed(self, k, gamma):
        p = np.full(k, 1.0 / k)
        _assert_rel_close(minimizer(p, gamma), p, 1e-14)

    @given(st.integers(1, 50), positive_gammas, st.floats(0.1, 10.0), st.data())
    def test_single_class_support(self, k, gamma, a, data):
        j = data.draw(st.integers(0, k - 1))
        p = np.zeros(k)
        p[j] = 1.0
        q, lam = minimizer(p, gamma, return_multiplier=True)
        np.testing.assert_array_equal(q, p)
        assert lam == 0.0
        q0, lam0 = minimizer(p, 0.0, alpha=a, return_multiplier=True)
        np.testing.assert_array_equal(q0, p)
        assert lam0 == pytest.approx(a, rel=1e-15)

    @given(moderate_distributions(), gammas, st.data())
    def test_alpha_enters_through_w(self, p, gamma, data):
        alpha = np.array(
            data.draw(st.lists(st.floats(0.01, 100.0), min_size=p.size, max_size=p.size))
        )
        w = alpha * p
        _assert_rel_close(minimizer(p, gamma, alpha=alpha), minimizer(w / w.sum(), gamma), 1e-12)

    @given(distributions(), gammas, st.floats(1e-3, 1e3))
    def test_scalar_alpha_scales_multiplier(self, p, gamma, a):
        q1, lam1 = minimizer(p, gamma, return_multiplier=True)
        q2, lam2 = minimizer(p, gamma, alpha=a, return_multiplier=True)
        _assert_rel_close(q2, q1, 1e-12)
        if lam1 > 1e-290:
            assert lam2 == pytest.approx(a * lam1, rel=1e-12)

    def test_docstring_example(self):
        q, lam = minimizer([0.7, 0.2, 0.08, 0.02], 2.0, return_multiplier=True)
        np.testing.assert_allclose(q, [0.5345, 0.292, 0.1402, 0.0333], atol=5e-5)
        assert lam == pytest.approx(0.6921, abs=5e-5)


class TestRecover:
    @given(distributions(), gammas)
    def test_recover_inverts_minimizer(self, p, gamma):
        _assert_rel_close(recover(minimizer(p, gamma), gamma), p, 1e-12)

    @given(distributions(min_support=1), gammas)
    def test_minimizer_inverts_recover(self, q, gamma):
        p = recover(q, gamma)
        np.testing.assert_array_equal(p[q == 0], 0.0)
        # the inverse can underflow for a dominant class and large gamma; the lost
        # mass (< 1e-280) does not show in the other classes
        normal = p > 1e-290
        assert normal.any()
        _assert_rel_close(minimizer(p, gamma)[normal], q[normal], 1e-12)

    @given(distributions(), gammas)
    def test_preserves_argmax_and_zeros(self, q, gamma):
        p = recover(q, gamma)
        # tied top classes of q may come back 1 ulp apart
        assert p[np.argmax(q)] >= p.max() * (1 - 1e-14)
        assert q[np.argmax(p)] >= q.max() * (1 - 1e-14)
        np.testing.assert_array_equal(p[q == 0], 0.0)
        assert abs(p.sum() - 1) < 1e-14

    @given(moderate_distributions(), gammas, st.data())
    def test_weighted_round_trip(self, p, gamma, data):
        alpha = np.array(
            data.draw(st.lists(st.floats(0.01, 100.0), min_size=p.size, max_size=p.size))
        )
        q = minimizer(p, gamma, alpha=alpha)
        _assert_rel_close(recover(q, gamma, alpha=alpha), p, 1e-12)

    @given(distributions())
    def test_gamma_zero_is_identity(self, q):
        # recover works in log space: relative error ~ eps * |log q| (~1e-13 at 1e-300)
        p = recover(q, 0.0)
        np.testing.assert_array_equal(p == 0, q == 0)
        s = q > 0
        assert np.all(np.abs(p[s] - q[s]) <= 2.2e-16 * (4 + 2 * np.abs(np.log(q[s]))) * q[s])

    def test_one_hot_gamma_zero(self):
        np.testing.assert_array_equal(recover([0.0, 1.0, 0.0], 0.0), [0.0, 1.0, 0.0])

    @pytest.mark.parametrize("gamma", [0.5, 2.0, 20.0])
    @pytest.mark.parametrize("q", [[1.0], [0.0, 1.0, 0.0]])
    def test_one_hot(self, q, gamma):
        # the minimizer of a one-hot P is that one-hot, so recover must return it
        # (phi(1) = 0 for gamma > 0: an inf - inf trap in a log-sum-exp)
        np.testing.assert_array_equal(recover(q, gamma), q)
        np.testing.assert_array_equal(recover(np.array([q, q]), gamma), [q, q])


# ---------------------------------------------------------------------------
# theory page, "The sigmoid form": sigmoid (one-vs-rest) kind
# ---------------------------------------------------------------------------

# subnormal p have no relative precision to check against
_sigmoid_p = st.one_of(
    st.floats(1e-300, 1.0, exclude_max=True),
    st.floats(0.0, 1.0, allow_subnormal=False),
    st.sampled_from([0.0, 1.0]),
)


class TestSigmoid:
    @given(st.lists(_sigmoid_p, min_size=1, max_size=20), gammas, st.floats(0.01, 0.99))
    def test_solves_bernoulli_condition(self, ps, gamma, a):
        p = np.array(ps)
        q = minimizer(p, gamma, kind="sigmoid", alpha=a)
        assert q.shape == p.shape
        assert np.all((q >= 0) & (q <= 1))
        np.testing.assert_array_equal(q[p == 0], 0.0)
        np.testing.assert_array_equal(q[p == 1], 1.0)
        for pi, qi in zip(p, q, strict=True):
            if pi in (0.0, 1.0):
                continue
            if qi in (0.0, 1.0):
                # Q* itself rounds to the boundary (e.g. 1 - 3e-17 rounds to 1):
                # no float q can satisfy the condition, only check the rounding
                pm = mp.mpf(float(pi))
                odds = a * pm / ((1 - a) * (1 - pm))
                if qi == 1.0:
                    assert gamma > 0 or 1 / (1 + odds) <= 2**-53
                else:
                    assert gamma > 0 or odds / (1 + odds) <= 2**-1074
                continue
            qm, rm = mp.mpf(float(qi)), 1 - mp.mpf(float(qi))
            lhs = a * mp.mpf(float(pi)) * mp_phi_qr(qm, rm, gamma)
            rhs = (1 - a) * (1 - mp.mpf(float(pi))) * mp_phi_qr(rm, qm, gamma)
            # rounding q to a float moves 1 - q by eps * q / (1 - q) relatively
            tol = 1e-13 * (2 + gamma) * (1 + float(qm / rm))
            assert abs(lhs / rhs - 1) < tol

    @given(st.lists(_sigmoid_p, min_size=1, max_size=20), gammas, st.floats(0.01, 0.99))
    def test_recover_inverts(self, ps, gamma, a):
        p = np.array(ps)
        q = minimizer(p, gamma, kind="sigmoid", alpha=a)
        inner = (q > 0) & (q < 1)
        assume(inner.any())
        back = recover(q, gamma, kind="sigmoid", alpha=a)
        # where Q* rounds to 0 or 1 the inverse returns that boundary: p was
        # within rounding of it
        np.testing.assert_allclose(back[~inner], p[~inner], rtol=0, atol=2.3e-16)
        # relative accuracy for small p; near 1 a float resolves 1 - p only to ~eps
        err = np.abs(back - p)[inner]
        assert np.all(err <= 1e-12 * p[inner] + 4.5e-16 * (p[inner] > 0.25))

    @pytest.mark.parametrize("gamma", [1e-300])
    def test_tiny_gamma_unnormalized_weights(self, gamma):
        q = minimizer([1e-300], gamma, kind="sigmoid", alpha=0.01171875)
        assert np.isfinite(q).all()
        # gamma -> 0: q -> a p / (a p + (1 - a)(1 - p))
        assert q[0] == pytest.approx(0.01171875e-300 / (1 - 0.01171875), rel=1e-12)
        p = np.array([1.1857707509881424e-302, 1.0])
        np.testing.assert_allclose(minimizer(p, gamma, alpha=0.98828125), p, rtol=1e-12)

    @given(st.floats(0.5, 1.0), gammas)
    def test_symmetric_without_alpha(self, p, gamma):
        # 1 - p is exact for p in [0.5, 1]
        q = minimizer(np.array([p, 1.0 - p]), gamma, kind="sigmoid")
        assert abs(q[0] + q[1] - 1) <= 4.5e-16
        assert minimizer([0.5], gamma, kind="sigmoid")[0] == pytest.approx(0.5, abs=1e-16)

    @given(st.floats(0.0, 1.0), gammas)
    def test_alpha_half_is_unweighted(self, p, gamma):
        q_none = minimizer([p], gamma, kind="sigmoid")
        q_half = minimizer([p], gamma, kind="sigmoid", alpha=0.5)
        np.testing.assert_allclose(q_half, q_none, rtol=1e-15)

    @given(st.floats(1e-300, 1.0, exclude_max=True), gammas, st.floats(0.01, 0.99))
    def test_against_scalar_reference(self, p, gamma, a):
        # one Bernoulli problem: a p phi(q) = (1-a)(1-p) phi(1-q), solved in 50 digits
        q_ref = mp_sigmoid_minimizer(p, gamma, a)
        q = minimizer([p], gamma, kind="sigmoid", alpha=a)[0]
        assume(q_ref > 1e-300)  # below the normal doubles only absolute accuracy is defined
        assert float(rel_err(q, q_ref)) <= 1e-12

    @given(st.floats(1e-300, 0.5), gammas)
    def test_binary_softmax_against_scalar_reference(self, p, gamma):
        # two classes: Q*(0) is the same scalar equation with w = (p, 1 - p)
        w = np.array([p, 1.0 - p])
        q_ref, r_ref, lam_ref = mp_binary(w[0], w[1], gamma)
        q, lam = minimizer(w, gamma, return_multiplier=True)
        assert float(rel_err(q[0], q_ref)) <= 1e-12
        assert float(rel_err(q[1], r_ref)) <= 1e-12
        assert float(rel_err(lam, lam_ref)) <= 1e-12

    @given(st.floats(0.01, 0.99), st.floats(0.01, 0.99))
    def test_gamma_zero_closed_form(self, p, a):
        q = minimizer([p], 0.0, kind="sigmoid", alpha=a)[0]
        assert q == pytest.approx(a * p / (a * p + (1 - a) * (1 - p)), rel=1e-14)

    def test_batched_shape(self):
        p = np.linspace(0.0, 1.0, 24).reshape(2, 3, 4)
        q = minimizer(p, 2.0, kind="sigmoid", alpha=0.25)
        assert q.shape == p.shape
        flat = minimizer(p.ravel(), 2.0, kind="sigmoid", alpha=0.25)
        np.testing.assert_array_equal(q.ravel(), flat)


# ---------------------------------------------------------------------------
# batching, axis and alpha broadcasting
# ---------------------------------------------------------------------------


def _batch(seed, shape=(3, 4, 6)):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(shape[-1], 0.5), size=shape[:-1])
    p[0, 0, :2] = 0.0  # a row with zeros
    p[0, 0] /= p[0, 0].sum()
    p[1, 2] = np.eye(shape[-1])[3]  # a one-hot row
    return p


class TestBatching:
    @pytest.mark.parametrize("gamma", [0.0, 0.7, 2.0, 20.0])
    def test_rows_equal_single_calls(self, gamma):
        p = _batch(0)
        q, lam = minimizer(p, gamma, return_multiplier=True)
        assert q.shape == p.shape
        assert lam.shape == p.shape[:-1]
        for idx in np.ndindex(p.shape[:-1]):
            q1, lam1 = minimizer(p[idx], gamma, return_multiplier=True)
            np.testing.assert_allclose(q[idx], q1, rtol=1e-14, atol=0)
            assert lam[idx] == pytest.approx(lam1, rel=1e-14, abs=0)

    @pytest.mark.parametrize("gamma", [0.0, 2.0])
    def test_recover_rows_equal_single_calls(self, gamma):
        q = _batch(1)
        p = recover(q, gamma)
        for idx in np.ndindex(q.shape[:-1]):
            np.testing.assert_allclose(p[idx], recover(q[idx], gamma), rtol=1e-14, atol=0)

    @pytest.mark.parametrize("func", [minimizer, recover])
    def test_axis_zero_is_transpose(self, func):
        batch = _batch(3)
        p = batch[0]  # (4, 6)
        expected = func(p, 2.0)
        np.testing.assert_array_equal(func(p.T, 2.0, axis=0), expected.T)
        np.testing.assert_array_equal(func(p.T, 2.0, axis=-2), expected.T)
        moved = np.moveaxis(batch, -1, 1)  # class axis in the middle
        back = np.moveaxis(func(moved, 2.0, axis=1), 1, -1)
        np.testing.assert_array_equal(back, func(batch, 2.0))

    def test_scalar_alpha(self):
        p = _batch(4)
        np.testing.assert_allclose(minimizer(p, 2.0, alpha=3.0), minimizer(p, 2.0), rtol=1e-13)

    def test_per_class_alpha(self):
        p = _batch(5)
        alpha = np.array([1.0, 2.0, 0.5, 4.0, 1.0, 0.25])
        q = minimizer(p, 2.0, alpha=alpha)
        for idx in np.ndindex(p.shape[:-1]):
            q1 = minimizer(p[idx], 2.0, alpha=alpha)
            np.testing.assert_allclose(q[idx], q1, rtol=1e-14, atol=0)

    def test_full_alpha_array(self):
        p = _batch(6)
        alpha = np.random.default_rng(6).uniform(0.1, 10.0, size=p.shape)
        q = minimizer(p, 2.0, alpha=alpha)
        for idx in np.ndindex(p.shape[:-1]):
            q1 = minimizer(p[idx], 2.0, alpha=alpha[idx])
            np.testing.assert_allclose(q[idx], q1, rtol=1e-14, atol=0)
        back = recover(q, 2.0, alpha=alpha)
        np.testing.assert_allclose(back, p, rtol=1e-12, atol=1e-300)

    def test_alpha_with_class_axis_zero_in_original_layout(self):
        # alpha laid out like p (class axis first) broadcasts as numpy would
        p = _batch(7)[0]  # (4, 6), class axis last
        alpha = np.array([1.0, 2.0, 0.5, 4.0, 1.0, 0.25])
        expected = minimizer(p, 2.0, alpha=alpha)
        np.testing.assert_array_equal(minimizer(p.T, 2.0, alpha=alpha[:, None], axis=0), expected.T)

    def test_per_class_alpha_follows_class_axis(self):
        # docstring: "a 1-D array is aligned with the class axis"
        p = _batch(8)[0]  # (4, 6)
        alpha = np.array([1.0, 2.0, 0.5, 4.0, 1.0, 0.25])
        expected = minimizer(p, 2.0, alpha=alpha)
        np.testing.assert_allclose(minimizer(p.T, 2.0, alpha=alpha, axis=0), expected.T, rtol=1e-14)
        back = recover(expected.T, 2.0, alpha=alpha, axis=0)
        np.testing.assert_allclose(back, p.T, rtol=1e-12)

    def test_per_class_alpha_square_batch(self):
        # K == batch size: a misaligned vector would broadcast silently
        rng = np.random.default_rng(9)
        p = rng.dirichlet(np.ones(3), size=3)
        alpha = np.array([1.0, 5.0, 10.0])
        expected = minimizer(p, 2.0, alpha=alpha)
        np.testing.assert_allclose(minimizer(p.T, 2.0, alpha=alpha, axis=0), expected.T, rtol=1e-14)


# ---------------------------------------------------------------------------
# edge cases
# ---------------------------------------------------------------------------


class TestEdgeCases:
    def test_single_class(self):
        q, lam = minimizer([1.0], 2.0, return_multiplier=True)
        np.testing.assert_array_equal(q, [1.0])
        assert lam == 0.0
        np.testing.assert_array_equal(recover([1.0], 0.0), [1.0])
        np.testing.assert_array_equal(recover([1.0], 2.0), [1.0])

    @pytest.mark.parametrize("gamma", [20.0, 1e3])
    def test_huge_gamma_near_uniform_on_support(self, gamma):
        p = np.array([0.5, 0.3, 0.0, 0.15, 0.05])
        q = minimizer(p, gamma)
        support = p > 0
        log_p = np.log(p[support])
        spread = np.abs(log_p - log_p.mean()).max()
        # theory "Asymptotics": Q* = 1/K + ((K-1)/(K gamma)) (log P - mean log P) + O(1/gamma^2)
        assert np.abs(q[support] - 0.25).max() <= 0.75 * spread / gamma * 1.5
        assert q[2] == 0.0
        products = kkt_products(p, q, gamma)
        values = list(products.values())
        assert max(values) / min(values) - 1 < 1e-11

    @pytest.mark.parametrize(("eps", "gamma"), [(1e-250, 1e-22), (1e-300, 1e-19), (1e-307, 1e-20)])
    def test_tiny_gamma_dominant_class(self, eps, gamma):
        # gamma -> 0: Q* -> P (no overflow in starting values such as 1/gamma)
        p = np.array([eps, 1.0 - eps])
        np.testing.assert_allclose(minimizer(p, gamma), p, rtol=1e-12)

    @pytest.mark.parametrize("gamma", [0.5, 1.0, 2.0])
    @pytest.mark.parametrize("eps", [1e-10, 1e-20, 1e-40])
    def test_dominant_class_kkt(self, eps, gamma):
        # a tiny class next to a dominant one: Q*(tiny) ~ sqrt-like in eps, far from eps
        p = np.array([1.0 - eps, eps])
        q = minimizer(p, gamma)
        values = list(kkt_products(p, q, gamma).values())
        assert max(values) / min(values) - 1 < 1e-12

    def test_huge_gamma_extreme_spread(self):
        # lam underflows, but Q* is still the exact KKT solution
        p = np.array([1 - 2e-300, 1e-300, 1e-300])
        q = minimizer(p, 1e3)
        assert abs(q.sum() - 1) < 1e-15
        values = list(kkt_products(p, q, 1e3).values())
        assert max(values) / min(values) - 1 < 1e-11

    @pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 20.0])
    def test_tiny_entries(self, gamma):
        p = np.array([0.6, 0.4 - 3e-300, 1e-300, 2e-300])
        q, lam = minimizer(p, gamma, return_multiplier=True)
        assert np.all(q > 0)
        # Q*(x) / P(x) -> 1 / lam for tiny P (exact to rounding at 1e-300)
        np.testing.assert_allclose(q[2:] / p[2:], 1 / lam, rtol=1e-13)
        assert q[3] == pytest.approx(2 * q[2], rel=1e-14)

    @pytest.mark.parametrize("dtype", [np.float16, np.float32])
    def test_low_precision_input(self, dtype):
        p = np.array([0.5, 0.25, 0.125, 0.125], dtype=dtype)
        q = minimizer(p, 2.0)
        assert q.dtype == np.float64
        np.testing.assert_array_equal(q, minimizer(p.astype(np.float64), 2.0))
        back = recover(np.array([0.5, 0.25, 0.125, 0.125], dtype=dtype), 2.0)
        assert back.dtype == np.float64

    def test_list_input(self):
        expected = minimizer(np.array([0.7, 0.2, 0.1]), 2.0)
        np.testing.assert_array_equal(minimizer([0.7, 0.2, 0.1], 2.0), expected)
        np.testing.assert_array_equal(minimizer((0.7, 0.2, 0.1), 2), expected)

    def test_integer_input(self):
        np.testing.assert_array_equal(minimizer([0, 1, 0], 2.0), [0.0, 1.0, 0.0])

    @pytest.mark.parametrize("func", [minimizer, recover])
    def test_zero_dim_rejected(self, func):
        with pytest.raises(ValueError, match=r"`(p|q)` must have at least one dimension"):
            func(1.0, 2.0)

    def test_multiplier_scalar_for_1d(self):
        _, lam = minimizer([0.5, 0.5], 2.0, return_multiplier=True)
        assert np.ndim(lam) == 0
