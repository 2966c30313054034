"""Accuracy of minimizer / multiplier / recover against 50-digit mpmath references."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

import focalentropy as fe
from _mp_reference import mp_minimizer, mp_polish, rel_err
from focalentropy import _minimizer
from focalentropy._kernels import kernel_available

RTOL = 1e-12
METHODS = ["numpy", pytest.param("numba", marks=pytest.mark.skipif(
    not kernel_available(), reason="numba not installed"))]  # fmt: skip


def _solve(p, gamma, method):
    q, lam = _minimizer._solve_rows(np.atleast_2d(np.asarray(p, dtype=float)), gamma, method)
    return q[0], lam[0]


def _max_rel_err(values, refs):
    return max(float(rel_err(v, r)) for v, r in zip(values, refs))


def _assert_accurate(p, gamma, q, lam, q_ref, lam_ref, r_ref=None):
    assert _max_rel_err(q, q_ref) <= RTOL, (p, gamma)
    assert float(rel_err(lam, lam_ref)) <= RTOL
    if r_ref is not None:
        # 1 - Q*(top) is resolved to full relative precision through the others' sum
        top = int(np.argmax(p))
        others = mp.fsum(mp.mpf(x) for i, x in enumerate(q) if i != top)
        assert float(rel_err(others, r_ref[top])) <= RTOL


SMALL_CASES = [
    [0.7, 0.2, 0.08, 0.02],
    [0.5, 0.5],
    [1.0, 1e-300, 1e-200],
    [0.6, 0.0, 0.3, 0.1],
]


class TestFromScratchReference:
    """Independent route: bisection on lam with every phi^{-1} solved in mp."""

    @pytest.mark.parametrize("p", SMALL_CASES)
    @pytest.mark.parametrize("gamma", [0.1, 2.0, 20.0])
    def test_small_alphabets(self, p, gamma):
        q, lam = fe.minimizer(p, gamma, return_multiplier=True)
        q_ref, lam_ref = mp_minimizer(p, gamma)
        _assert_accurate(p, gamma, q, lam, q_ref, lam_ref)

    def test_entropy_matches_reference(self):
        p = [0.7, 0.2, 0.08, 0.02]
        q_ref, _ = mp_minimizer(p, 2.0)
        h_ref = mp.fsum(-mp.mpf(pi) * (1 - qi) ** 2 * mp.log(qi) for pi, qi in zip(p, q_ref))
        assert float(rel_err(fe.entropy(p, 2.0), h_ref)) <= RTOL


def _random_cases(rng, n_classes):
    yield "dirichlet1", rng.dirichlet(np.ones(n_classes))
    yield "sparse", rng.dirichlet(np.full(n_classes, 0.05))
    x = 10.0 ** rng.uniform(-300, 0, size=n_classes)
    yield "log-uniform to 1e-300", x / x.sum()
    x = rng.dirichlet(np.ones(n_classes))
    x[: n_classes // 2] = 0.0
    yield "half zeros", x / x.sum()
    x = np.full(n_classes, 1e-300)
    x[0] = 1.0
    yield "dominant", x


class TestPolishedReference:
    """Newton-polished 50-digit solution of the KKT system (any K)."""

    @pytest.mark.parametrize("method", METHODS)
    @pytest.mark.parametrize("gamma", [1e-3, 0.3, 1.0, 2.0, 7.0, 20.0])
    @pytest.mark.parametrize("n_classes", [2, 3, 17])
    def test_random_rows(self, method, gamma, n_classes):
        rng = np.random.default_rng(n_classes * 100 + int(gamma * 10))
        for _name, p in _random_cases(rng, n_classes):
            if (p > 0).sum() < 2:
                continue
            q, lam = _solve(p, gamma, method)
            q_ref, lam_ref, r_ref = mp_polish(p, gamma, q, steps=2, return_complement=True)
            _assert_accurate(p, gamma, q, lam, q_ref, lam_ref, r_ref)

    @pytest.mark.slow
    def test_ten_thousand_classes(self):
        rng = np.random.default_rng(7)
        p = rng.dirichlet(np.full(10_000, 0.3))
        p[::7] = 0.0
        p[1] = 1e-300
        p /= p.sum()
        q, lam = fe.minimizer(p, 2.0, return_multiplier=True)
        q_ref, lam_ref = mp_polish(p, 2.0, q, steps=1)
        _assert_accurate(p, 2.0, q, lam, q_ref, lam_ref)
        assert np.all(q[p == 0] == 0)

    def test_fallback_solver(self, monkeypatch):
        """Rows the Newton iteration does not finish go to the bracketed solver."""
        monkeypatch.setattr(_minimizer, "_NEWTON_MAXITER", 1)
        rng = np.random.default_rng(3)
        for gamma in [0.05, 2.0, 20.0]:
            for _name, p in _random_cases(rng, 6):
                q, lam = _solve(p, gamma, "numpy")
                q_ref, lam_ref = mp_polish(p, gamma, q, steps=2)
                _assert_accurate(p, gamma, q, lam, q_ref, lam_ref)


class TestExactCases:
    def test_gamma_zero_is_identity(self):
        p = np.array([0.5, 0.25, 0.125, 0.125])
        q, lam = fe.minimizer(p, 0.0, return_multiplier=True)
        assert np.array_equal(q, p)
        assert lam == 1.0

    @pytest.mark.parametrize("gamma", [0.5, 2.0, 20.0])
    def test_uniform_is_fixed(self, gamma):
        p = np.full(7, 1 / 7)
        np.testing.assert_allclose(fe.minimizer(p, gamma), p, rtol=1e-15)

    @pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
    def test_single_class_support(self, gamma):
        q, lam = fe.minimizer([0.0, 1.0, 0.0], gamma, alpha=3.0, return_multiplier=True)
        assert q.tolist() == [0.0, 1.0, 0.0]
        assert lam == (3.0 if gamma == 0 else 0.0)

    def test_one_class_alphabet(self):
        q, lam = fe.minimizer([1.0], 2.0, return_multiplier=True)
        assert q.tolist() == [1.0]
        assert lam == 0.0

    @pytest.mark.parametrize("gamma", [0.5, 2.0, 20.0])
    def test_sum_to_one_within_ulps(self, gamma):
        rng = np.random.default_rng(11)
        p = rng.dirichlet(np.ones(50), size=200)
        q = fe.minimizer(p, gamma)
        assert np.all(np.abs(q.sum(axis=-1) - 1) <= 50 * np.finfo(float).eps)

    def test_scalar_alpha_scales_multiplier(self):
        p = [0.7, 0.2, 0.1]
        q1, lam1 = fe.minimizer(p, 2.0, return_multiplier=True)
        q2, lam2 = fe.minimizer(p, 2.0, alpha=0.25, return_multiplier=True)
        np.testing.assert_allclose(q1, q2, rtol=1e-15)
        np.testing.assert_allclose(lam2, 0.25 * lam1, rtol=1e-14)


class TestMethodsAgree:
    @pytest.mark.skipif(not kernel_available(), reason="numba not installed")
    def test_numba_equals_numpy(self):
        rng = np.random.default_rng(2)
        p = rng.dirichlet(np.full(30, 0.5), size=500)
        for gamma in [0.25, 2.0, 9.0]:
            q_np, lam_np = _minimizer._solve_rows(p, gamma, "numpy")
            q_nb, lam_nb = _minimizer._solve_rows(p, gamma, "numba")
            np.testing.assert_allclose(q_nb, q_np, rtol=1e-13)
            np.testing.assert_allclose(lam_nb, lam_np, rtol=1e-13)


class TestRecover:
    @pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 20.0])
    def test_roundtrip_p_to_q_to_p(self, gamma):
        rng = np.random.default_rng(5)
        p = rng.dirichlet(np.full(12, 0.7), size=100)
        p[:, 3] = 0.0
        p /= p.sum(axis=-1, keepdims=True)
        back = fe.recover(fe.minimizer(p, gamma), gamma)
        np.testing.assert_allclose(back, p, rtol=1e-12, atol=0)

    @pytest.mark.parametrize("gamma", [0.5, 2.0, 5.0])
    def test_roundtrip_q_to_p_to_q(self, gamma):
        rng = np.random.default_rng(6)
        q = rng.dirichlet(np.ones(8), size=100)
        again = fe.minimizer(fe.recover(q, gamma), gamma)
        np.testing.assert_allclose(again, q, rtol=1e-12, atol=0)

    def test_recover_against_mpmath(self):
        q = [0.5, 0.3, 0.15, 0.05]
        gamma = 2.5
        inv = [1 / ((1 - mp.mpf(x)) ** gamma / x - gamma * (1 - mp.mpf(x)) ** (gamma - 1)
                    * mp.log(x)) for x in q]  # fmt: skip
        ref = [v / mp.fsum(inv) for v in inv]
        assert _max_rel_err(fe.recover(q, gamma), ref) <= RTOL

    def test_tiny_entries_roundtrip(self):
        p = np.array([1.0, 1e-300, 1e-150, 1e-20])
        p /= p.sum()
        back = fe.recover(fe.minimizer(p, 2.0), 2.0)
        np.testing.assert_allclose(back, p, rtol=1e-12, atol=0)

    def test_recover_with_alpha(self):
        p = np.array([0.6, 0.3, 0.1])
        alpha = np.array([0.2, 1.0, 3.0])
        q = fe.minimizer(p, 2.0, alpha=alpha)
        np.testing.assert_allclose(fe.recover(q, 2.0, alpha=alpha), p, rtol=1e-13)


class TestSigmoidKind:
    @pytest.mark.parametrize("alpha", [None, 0.25, 0.9])
    @pytest.mark.parametrize("gamma", [0.5, 2.0])
    def test_against_reference(self, alpha, gamma):
        a = 0.5 if alpha is None else alpha
        for p in [0.01, 0.3, 0.7, 1 - 1e-9]:
            q = fe.minimizer(p, gamma, kind="sigmoid", alpha=alpha)
            q_ref, _ = mp_minimizer([a * p, (1 - a) * (1 - p)], gamma)
            assert float(rel_err(q, q_ref[0])) <= RTOL
            np.testing.assert_allclose(
                fe.recover(q, gamma, kind="sigmoid", alpha=alpha), p, rtol=1e-12
            )

    def test_endpoints_and_shape(self):
        p = np.array([[0.0, 1.0], [0.5, 0.2]])
        q = fe.minimizer(p, 2.0, kind="sigmoid")
        assert q.shape == p.shape
        assert q[0, 0] == 0.0
        assert q[0, 1] == 1.0
        assert q[1, 0] == pytest.approx(0.5, rel=1e-15)


@pytest.mark.skipif(not kernel_available(), reason="numba not installed")
class TestTableKernel:
    """The compiled path: Newton on ell with a piecewise-polynomial table of q(y)."""

    @pytest.mark.parametrize("gamma", [1e-3, 0.5, 2.0, 20.0, 100.0])
    def test_table_against_mpmath(self, gamma):
        from _mp_reference import mp_phi_inverse_logit
        from focalentropy._kernels import TABLE_STEP, inverse_table

        coef, y_lo, y_hi = inverse_table(gamma)
        rng = np.random.default_rng(int(gamma * 1000))
        y = np.concatenate([rng.uniform(y_lo, y_hi, 40), [y_lo, y_hi - 1e-9]])
        j = np.minimum(((y - y_lo) / TABLE_STEP).astype(int), len(coef) - 1)
        s = (y - (y_lo + j * TABLE_STEP)) * (2 / TABLE_STEP) - 1
        q = np.polynomial.polynomial.polyval(s, coef[j].T, tensor=False)
        ref = [1 / (1 + mp.exp(-mp_phi_inverse_logit(v, gamma))) for v in y]
        assert _max_rel_err(q, ref) <= 2e-14

    @pytest.mark.parametrize("gamma", [1e-3, 0.3, 2.0, 20.0, 100.0, 1e4])
    def test_extreme_rows(self, gamma):
        rows = [
            [0.5, 0.3, 0.15, 0.05],
            [1.0, 1e-300, 1e-200, 1e-20],
            [0.6, 0.0, 0.3, 0.1],
            [0.5, 0.5, 0.0, 0.0],
            [0.4, 0.4, 0.2 - 1e-200, 1e-200],
        ]
        for p in rows:
            q, lam = _solve(p, gamma, "numba")
            q_ref, lam_ref, r_ref = mp_polish(p, gamma, q, steps=2, return_complement=True)
            if lam_ref < 1e-300:  # huge gamma: lam underflows, Q* does not
                assert _max_rel_err(q, q_ref) <= RTOL
            else:
                _assert_accurate(p, gamma, q, lam, q_ref, lam_ref, r_ref)

    def test_many_rows_against_numpy(self):
        rng = np.random.default_rng(9)
        p = rng.dirichlet(np.full(40, 0.3), size=300)
        p[::5, :7] = 0.0
        p[1::5, 0] = 1e6  # dominant classes
        p[2::5] = 10.0 ** rng.uniform(-300, 0, size=(60, 40))
        p /= p.sum(axis=-1, keepdims=True)
        for gamma in [1e-3, 0.7, 3.0, 30.0]:
            q_np, lam_np = _minimizer._solve_rows(p, gamma, "numpy")
            q_nb, lam_nb = _minimizer._solve_rows(p, gamma, "numba")
            # entries near 1e-300 have |log w| ~ 700: each method is within
            # ~700 ulp of the truth there (conditioning), hence 3e-13
            np.testing.assert_allclose(q_nb, q_np, rtol=3e-13, atol=0)
            np.testing.assert_allclose(lam_nb, lam_np, rtol=1e-13)
            assert np.all(q_nb[p == 0] == 0)

    def test_ties_bitwise_equal(self):
        p = np.array([[0.3, 0.3, 0.2, 0.2], [0.25, 0.25, 0.25, 0.25]])
        q, _ = _minimizer._solve_rows(p, 2.0, "numba")
        assert q[0, 0] == q[0, 1]
        assert q[0, 2] == q[0, 3]
        np.testing.assert_allclose(q[1], 0.25, rtol=1e-15)

    def test_unconverged_rows_are_flagged(self):
        from focalentropy._kernels import table_rows

        p = np.random.default_rng(4).dirichlet(np.ones(10), size=50)
        _, _, ok = table_rows(p, 2.0, 1, 1e-8)
        assert not ok.any()
        _, _, ok = table_rows(p, 2.0, 60, 1e-8)
        assert ok.all()


class TestPublicMethodAndBlocks:
    @pytest.mark.parametrize("method", METHODS)
    def test_methods_agree(self, method):
        rng = np.random.default_rng(11)
        p = rng.dirichlet(np.full(30, 0.3), size=40)
        p[0] = 0.0
        p[0, 3] = 1.0  # a one-hot row
        q = fe.minimizer(p, 2.0, method=method)
        np.testing.assert_allclose(q, fe.minimizer(p, 2.0, method="auto"), rtol=1e-13, atol=0)
        np.testing.assert_array_equal(q[0], p[0])

    def test_recover_blocks_and_saturated_rows(self, monkeypatch):
        rng = np.random.default_rng(12)
        q = rng.dirichlet(np.ones(7), size=50)
        q[5] = [0.0, 1.0, 0, 0, 0, 0, 0]  # Q = 1 exactly: phi = 0, P one-hot
        alpha = rng.uniform(0.5, 2.0, size=7)
        whole = fe.recover(q, 2.0, alpha=alpha)
        monkeypatch.setattr(_minimizer, "_RECOVER_BLOCK_ELEMENTS", 20)  # 2 rows per block
        np.testing.assert_array_equal(fe.recover(q, 2.0, alpha=alpha), whole)
        np.testing.assert_array_equal(whole[5], q[5])
        np.testing.assert_allclose(whole.sum(axis=-1), 1.0, rtol=1e-15)
        np.testing.assert_allclose(fe.minimizer(whole, 2.0, alpha=alpha), q, rtol=1e-12, atol=0)
