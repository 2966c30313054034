"""Accuracy of minimizer / multiplier / recover against 50-digit mpmath references.

References (``tests/_mp_reference.py``): fixed cases solved from scratch in mpmath
(stored in ``tests/data/mp_references.json``), two-class and sigmoid problems
solved live as one scalar equation, and random rows Newton-polished in 50 digits
until the polish step itself is negligible. Both solvers (NumPy and the numba
kernel, a hard dependency) are checked against them.
"""

from __future__ import annotations

from typing import Any, Literal

import mpmath as mp
import numpy as np
import pytest

import focalentropy as fe
from _mp_reference import (
    SMALL_CASES,
    SMALL_GAMMAS,
    SOFTMAX_CASES,
    case_weights,
    mp_binary,
    mp_minimizer,
    mp_phi,
    mp_polish,
    mp_sigmoid_minimizer,
    mp_weighted_loss,
    reference,
    rel_err,
)
from focalentropy import _minimizer

#: docs/theory.rst, "Computing the minimizer": below 1e-13 relative per entry
RTOL = 1e-13
#: the bracketed fallback solver and gamma > 20: a few ulp times |log Q*(x)| (up to ~700)
LOOSE_RTOL = 2e-13
METHODS = ["numpy", "numba"]


def _solve(p, gamma, method):
    q, lam = _minimizer._solve_rows(np.atleast_2d(np.asarray(p, dtype=float)), gamma, method)
    return q[0], lam[0]


def _max_rel_err(values, refs):
    return max(float(rel_err(v, r)) for v, r in zip(values, refs))


def _assert_accurate(p, gamma, q, lam, q_ref, lam_ref, r_ref=None, rtol=RTOL):
    assert _max_rel_err(q, q_ref) <= rtol, (p, gamma)
    assert float(rel_err(lam, lam_ref)) <= rtol
    if r_ref is not None:
        # 1 - Q*(top) is resolved to full relative precision through the others' sum
        top = int(np.argmax(q))
        others = mp.fsum(mp.mpf(x) for i, x in enumerate(q) if i != top)
        assert float(rel_err(others, r_ref[top])) <= rtol


class TestFromScratchReference:
    """Independent route: ``log lam`` the root of ``sum_x phi^{-1}(lam / w_x) = 1``, in mp."""

    @pytest.mark.parametrize("method", METHODS)
    @pytest.mark.parametrize("name", sorted(SOFTMAX_CASES))
    def test_stored_cases(self, name, method):
        case = SOFTMAX_CASES[name]
        q_ref, lam_ref, r_ref = reference(name)
        p = np.asarray(case["p"])
        q, lam = fe.minimizer(p, case["gamma"], alpha=case["alpha"], return_multiplier=True,
                              method=method)  # fmt: skip
        _assert_accurate(p, case["gamma"], q, lam, q_ref, lam_ref, r_ref)
        np.testing.assert_array_equal(q[p == 0], 0.0)

    @pytest.mark.parametrize("name", ["small0-gamma2", "small2-gamma20", "weighted"])
    def test_stored_file_is_what_mpmath_computes(self, name):
        # guards tests/data/mp_references.json against edits: a few cases redone live
        case = SOFTMAX_CASES[name]
        q, lam, r = mp_minimizer(case_weights(case), case["gamma"], return_complement=True)
        q_ref, lam_ref, r_ref = reference(name)
        assert rel_err(lam, lam_ref) < 1e-40
        for values, refs in ((q, q_ref), (r, r_ref)):
            assert all(rel_err(v, ref) < 1e-40 for v, ref in zip(values, refs, strict=True))

    @pytest.mark.parametrize("i", range(len(SMALL_CASES)))
    @pytest.mark.parametrize("gamma", SMALL_GAMMAS)
    def test_entropy(self, i, gamma):
        p = SMALL_CASES[i]
        q_ref, _, r_ref = reference(f"small{i}-gamma{gamma:g}")
        h_ref = mp_weighted_loss(p, q_ref, r_ref, gamma)
        assert float(rel_err(fe.entropy(p, gamma), h_ref)) <= RTOL

    @pytest.mark.parametrize("gamma", [0.0, 1e-3, 0.5, 2.0, 20.0, 300.0])
    @pytest.mark.parametrize("p1", [0.5, 0.9, 0.1, 1e-5, 1 - 2**-40, 1e-300])
    def test_binary_scalar_equation(self, p1, gamma):
        # two classes: w_1 phi(q) = w_2 phi(1 - q), one scalar equation in the logit
        p = np.array([p1, 1.0 - p1])
        q_ref, r_ref, lam_ref = mp_binary(p[0], p[1], gamma)
        q, lam = fe.minimizer(p, gamma, return_multiplier=True)
        assert float(rel_err(q[0], q_ref)) <= RTOL
        assert float(rel_err(q[1], r_ref)) <= RTOL
        assert float(rel_err(lam, lam_ref)) <= RTOL


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
        q_ref, lam_ref = mp_polish(p, 2.0, q)
        _assert_accurate(p, 2.0, q, lam, q_ref, lam_ref)
        assert np.all(q[p == 0] == 0)

    @pytest.mark.parametrize("method", METHODS)
    @pytest.mark.parametrize("gamma", [1e4, 1e6, 1e8])
    def test_huge_gamma(self, method, gamma):
        # docs/theory.rst, "Computing the minimizer": gamma up to 1e8 converges; the
        # multiplier underflows to 0 (it is below 1e-1000 here), Q* does not
        rows = [[0.5, 0.3, 0.15, 0.05], [1.0, 1e-300, 1e-200, 1e-20], [0.6, 0.0, 0.3, 0.1]]
        for p in rows:
            q, lam = _solve(p, gamma, method)
            q_ref, lam_ref = mp_polish(p, gamma, q)
            assert lam_ref < mp.mpf("1e-1000")
            assert lam == 0.0
            assert _max_rel_err(q, q_ref) <= RTOL

    def test_fallback_solver(self, monkeypatch):
        """Rows the Newton iteration does not finish go to the bracketed solver."""
        monkeypatch.setattr(_minimizer, "_NEWTON_MAXITER", 1)
        rng = np.random.default_rng(3)
        for gamma in [0.05, 2.0, 20.0]:
            for _name, p in _random_cases(rng, 6):
                q, lam = _solve(p, gamma, "numpy")
                q_ref, lam_ref = mp_polish(p, gamma, q, steps=2)
                _assert_accurate(p, gamma, q, lam, q_ref, lam_ref, rtol=LOOSE_RTOL)


class TestMultiplierEquation:
    @pytest.mark.parametrize("gamma", [0.5, 2.0, 20.0])
    def test_multiplier_is_the_root_of_f(self, gamma):
        # theory page, "The minimizer": lam is the root of the strictly decreasing
        # F(lam) = sum_x phi^{-1}(lam / w_x) - 1, and Q*(x) = phi^{-1}(lam / w_x)
        p = np.array([0.5, 0.3, 0.15, 0.05, 0.0])
        q, lam = fe.minimizer(p, gamma, return_multiplier=True)
        w = p[p > 0]

        def f(m):
            return fe.phi_inverse(m / w, gamma).sum() - 1

        np.testing.assert_allclose(fe.phi_inverse(lam / w, gamma), q[p > 0], rtol=1e-13)
        assert abs(f(lam)) <= 1e-15
        grid = lam * np.exp(np.linspace(-2, 2, 41))
        values = np.array([f(m) for m in grid])
        assert np.all(np.diff(values) < 0)
        assert values[0] > 0 > values[-1]


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

    @pytest.mark.parametrize("gamma", [0.0, 0.5, 2.5, 20.0])
    def test_recover_against_mpmath(self, gamma):
        # theory page, "The inverse map": P(x) = (1/(alpha_x phi(Q(x)))) / sum_y (...)
        q = [0.5, 0.3, 0.15, 0.05 - 1e-250, 1e-250]
        alpha = [1.0, 0.5, 2.0, 3.0, 0.25]
        for a in (None, alpha):
            inv = [1 / ((1 if a is None else mp.mpf(a[i])) * mp_phi(x, gamma))
                   for i, x in enumerate(q)]  # fmt: skip
            ref = [v / mp.fsum(inv) for v in inv]
            assert _max_rel_err(fe.recover(q, gamma, alpha=a), ref) <= RTOL

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
    """theory page, "The sigmoid form": one scalar equation per entry, solved in mp."""

    @pytest.mark.parametrize("alpha", [None, 0.25, 0.9])
    @pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 20.0])
    def test_against_reference(self, alpha, gamma):
        p = np.array([1e-300, 1e-20, 0.01, 0.3, 0.7, 1 - 1e-9, 1 - 2**-52])
        q = fe.minimizer(p, gamma, kind="sigmoid", alpha=alpha)
        for pi, qi in zip(p, q, strict=True):
            assert float(rel_err(qi, mp_sigmoid_minimizer(pi, gamma, alpha))) <= RTOL

    @pytest.mark.parametrize("alpha", [None, 0.25, 0.9])
    @pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 20.0])
    def test_recover_closed_form(self, alpha, gamma):
        # p = (1-a) phi(1-q) / (a phi(q) + (1-a) phi(1-q)), evaluated in mp
        a = mp.mpf(0.5 if alpha is None else alpha)
        q = np.array([1e-200, 1e-6, 0.2, 0.5, 0.8, 1 - 1e-6])
        back = fe.recover(q, gamma, kind="sigmoid", alpha=alpha)
        for qi, got in zip(q, back, strict=True):
            qm = mp.mpf(qi)
            neg = (1 - a) * mp_phi(1 - qm, gamma)
            assert float(rel_err(got, neg / (a * mp_phi(qm, gamma) + neg))) <= RTOL

    def test_theory_page_example(self):
        # docs/theory.rst, "The sigmoid form": 0.578 and 0.477 for p = 0.7, gamma = 2
        for alpha, printed in ((None, "0.578"), (0.25, "0.477")):
            q_ref = mp_sigmoid_minimizer(0.7, 2.0, alpha)
            assert mp.nstr(q_ref, 3) == printed
            q = fe.minimizer(np.array([0.7]), 2.0, kind="sigmoid", alpha=alpha)[0]
            assert float(rel_err(q, q_ref)) <= RTOL

    def test_endpoints_and_shape(self):
        p = np.array([[0.0, 1.0], [0.5, 0.2]])
        q = fe.minimizer(p, 2.0, kind="sigmoid")
        assert q.shape == p.shape
        assert q[0, 0] == 0.0
        assert q[0, 1] == 1.0
        assert q[1, 0] == pytest.approx(0.5, rel=1e-15)


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
            rtol = RTOL if gamma <= 20 else LOOSE_RTOL
            if lam_ref < 1e-300:  # huge gamma: lam underflows, Q* does not
                assert _max_rel_err(q, q_ref) <= rtol
            else:
                _assert_accurate(p, gamma, q, lam, q_ref, lam_ref, r_ref, rtol=rtol)

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


class TestSolverClaims:
    """docs/theory.rst, "Computing the minimizer": the claims about the solvers."""

    @pytest.mark.parametrize("gamma", [0.1, 0.5, 2.0])
    def test_newton_steps_from_logit_p(self, gamma, monkeypatch):
        # "from t = logit(P) three or four steps reach machine precision": with four
        # steps and one more to confirm (its size bounds the error left), no row
        # needs the bracketed fallback (for gamma up to ~2; gamma = 20 takes ~7)
        monkeypatch.setattr(_minimizer, "_NEWTON_MAXITER", 5)

        def no_fallback(w, g, ok, *args):
            assert ok.all(), "a row needed the bracketed solver"

        monkeypatch.setattr(_minimizer, "_finish_rows", no_fallback)
        rng = np.random.default_rng(0)
        for concentration in (1.0, 0.1):
            p = rng.dirichlet(np.full(10, concentration), size=300)
            q = _minimizer._solve_rows(p, gamma, "numpy")[0]
            assert np.all(np.abs(q.sum(axis=-1) - 1) < 1e-15)

    def test_auto_uses_the_kernel_from_a_million_entries(self):
        # "Large problems (over 10^6 entries) run a parallel numba kernel"
        assert _minimizer._use_kernel(10**6, "auto")
        assert not _minimizer._use_kernel(10**6 - 1, "auto")
        assert _minimizer._use_kernel(1, "numba")
        assert not _minimizer._use_kernel(10**7, "numpy")


def _stored_batch(gamma: float) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The stored cases of one ``gamma`` as one batch: ``(names, p, alpha)``.

    Each row is zero-padded to the longest case (a class with ``P = 0`` has ``Q* = 0`` and
    leaves ``Q*`` and ``lam`` of the others unchanged), with weight 1 where a case has none;
    a last row is one-hot (``Q* = P`` exactly, ``lam = 0``).
    """
    names = sorted(n for n, c in SOFTMAX_CASES.items() if c["gamma"] == gamma)
    k = max(len(SOFTMAX_CASES[n]["p"]) for n in names) + 1
    p = np.zeros((len(names) + 1, k))
    alpha = np.ones_like(p)
    for i, name in enumerate(names):
        case = SOFTMAX_CASES[name]
        p[i, : len(case["p"])] = case["p"]
        alpha[i, : len(case["p"])] = case["alpha"] or 1.0
    p[-1, k // 2] = 1.0
    return names, p, alpha


def _count_calls(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> list[str]:
    """Wrap ``module.name`` for the test; the list collects one entry per call."""
    calls: list[str] = []
    original = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


class TestPublicMethodAndBlocks:
    @pytest.mark.parametrize("method", METHODS)
    @pytest.mark.parametrize("gamma", sorted({c["gamma"] for c in SOFTMAX_CASES.values()}))
    def test_each_method_against_stored_references(
        self, method: Literal["numpy", "numba"], gamma: float, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # the public ``method=`` on one batch of stored cases, each method checked on its
        # own against the 50-digit from-scratch references (not against the other method)
        from focalentropy import _kernels

        kernel_calls = _count_calls(monkeypatch, _kernels, "table_rows")
        kernel_calls += _count_calls(monkeypatch, _kernels, "newton_rows")
        numpy_calls = _count_calls(monkeypatch, _minimizer, "_newton_block")
        names, p, alpha = _stored_batch(gamma)
        q, lam = fe.minimizer(p, gamma, alpha=alpha, return_multiplier=True, method=method)
        # the method asked for is the one that ran (a small batch: "auto" would be NumPy)
        assert bool(kernel_calls) == (method == "numba")
        assert bool(numpy_calls) == (method == "numpy")
        assert q.shape == p.shape
        assert lam.shape == (len(names) + 1,)
        for i, name in enumerate(names):
            q_ref, lam_ref, r_ref = reference(name)
            k = len(q_ref)
            _assert_accurate(p[i, :k], gamma, q[i, :k], lam[i], q_ref, lam_ref, r_ref)
            np.testing.assert_array_equal(q[i][p[i] == 0], 0.0)
        np.testing.assert_array_equal(q[-1], p[-1])
        assert lam[-1] == 0.0

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


class TestNumbaLoading:
    """numba is a required dependency imported lazily; the opt-out and a broken numba are
    explicit (no silent fallback)."""

    def test_disable_env_keeps_numpy_and_refuses_numba(self, monkeypatch):
        from focalentropy import _kernels

        monkeypatch.setenv("FOCALENTROPY_DISABLE_NUMBA", "1")
        assert not _kernels.kernel_available()
        p = np.full((10**6 // 4, 4), 0.25)  # large enough for the kernel
        q = fe.minimizer(p, 2.0)  # auto: the NumPy path
        np.testing.assert_allclose(q, 0.25, rtol=1e-15)
        with pytest.raises(ImportError, match="FOCALENTROPY_DISABLE_NUMBA"):
            fe.minimizer([0.5, 0.5], 2.0, method="numba")

    def test_broken_numba_is_an_error(self, monkeypatch):
        from focalentropy import _kernels

        monkeypatch.delenv("FOCALENTROPY_DISABLE_NUMBA", raising=False)
        monkeypatch.setattr(_kernels, "_KERNEL", None)

        def broken():
            raise ImportError("simulated")

        monkeypatch.setattr(_kernels, "_load_kernels", broken)
        with pytest.raises(ImportError, match=r"needs numba.*simulated.*FOCALENTROPY_DISABLE"):
            fe.minimizer([0.5, 0.5], 2.0, method="numba")

    def test_import_does_not_load_numba(self):
        import subprocess
        import sys

        code = "import sys, focalentropy; print('numba' in sys.modules)"
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == "False"
