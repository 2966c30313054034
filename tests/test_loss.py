"""loss, phi, G, G_max and phi_inverse against 50-digit mpmath values.

docs/theory.rst, sections "Definitions", "The loss term" and "The gradient identity":
every function is compared with its formula evaluated in 50 digits
(``tests/_mp_reference.py``), never with another function of the library.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

import focalentropy as fe
from _mp_reference import (
    mp_gradient_weight,
    mp_loss,
    mp_phi,
    mp_phi_inverse_logit,
    rel_err,
)

GAMMAS = [0.0, 0.25, 0.5, 1.0, 2.5, 20.0]
POINTS = [1e-300, 1e-200, 1e-20, 1e-5, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.999, 1 - 1e-9, 1 - 2**-52]


def _assert_close_mp(values, refs, rtol):
    tiny = np.finfo(float).tiny
    for v, r in zip(np.ravel(values), refs):
        if abs(r) < tiny:  # below the normal range: only an absolute statement is possible
            assert abs(v - r) <= tiny, (v, r)
        else:
            assert float(rel_err(v, r)) <= rtol, (v, r)


class TestLoss:
    @pytest.mark.parametrize("gamma", GAMMAS)
    def test_against_mpmath(self, gamma):
        _assert_close_mp(fe.loss(POINTS, gamma), [mp_loss(q, gamma) for q in POINTS], 1e-14)

    def test_endpoints(self):
        assert fe.loss(0.0, 2.0) == np.inf
        assert fe.loss(0.0, 0.0) == np.inf
        assert fe.loss(1.0, 0.5) == 0.0
        assert fe.loss(1.0, 0.0) == 0.0

    def test_gamma_zero_is_log_loss(self):
        q = np.linspace(0.01, 1, 50)
        np.testing.assert_array_equal(fe.loss(q, 0.0), -np.log(q))

    def test_shape_and_dtype(self):
        q = np.full((2, 3), 0.5, dtype=np.float16)
        out = fe.loss(q, 2.0)
        assert out.shape == (2, 3)
        assert out.dtype == np.float64


class TestPhi:
    @pytest.mark.parametrize("gamma", GAMMAS)
    def test_against_mpmath(self, gamma):
        points = [q for q in POINTS if q < 1]
        _assert_close_mp(fe.phi(points, gamma), [mp_phi(q, gamma) for q in points], 1e-13)

    @pytest.mark.parametrize("gamma", [0.1, 0.5, 0.9])
    def test_no_nan_at_one_for_small_gamma(self, gamma):
        # the naive (1-q)^(gamma-1) log q is inf * 0 at q = 1
        assert fe.phi(1.0, gamma) == 0.0
        assert np.isfinite(fe.phi(1 - 1e-16, gamma))

    def test_is_minus_derivative_of_loss(self):
        gamma = 1.7
        for q in [0.05, 0.4, 0.93]:
            deriv = mp.diff(lambda s: mp_loss(s, gamma), q)
            assert float(rel_err(fe.phi(q, gamma), -deriv)) <= 1e-12


class TestGradientWeight:
    @pytest.mark.parametrize("gamma", GAMMAS)
    def test_is_q_times_phi(self, gamma):
        points = [q for q in POINTS if q < 1]
        refs = [mp.mpf(q) * mp_phi(q, gamma) for q in points]
        _assert_close_mp(fe.gradient_weight(points, gamma), refs, 1e-13)

    @pytest.mark.parametrize("gamma", GAMMAS)
    def test_closed_form(self, gamma):
        # G(p) = (1-p)^gamma - gamma p (1-p)^(gamma-1) log p, G(0) = 1, G(1) = 0 (gamma > 0)
        points = [0.0, *POINTS, 1.0]
        refs = [mp_gradient_weight(q, gamma) for q in points]
        _assert_close_mp(fe.gradient_weight(points, gamma), refs, 1e-13)

    @pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
    @pytest.mark.parametrize("y", [0, 2])
    def test_softmax_gradient_identity(self, gamma, y):
        # theory page, "The gradient identity": for L(z) = l(softmax(z)_y),
        # dL/dz = G(p_y) (softmax(z) - onehot(y)); derivatives taken in 50 digits
        z = [mp.mpf("0.3"), mp.mpf("-1.2"), mp.mpf("2.0"), mp.mpf("0.1")]

        def focal(*zz):
            p_y = mp.exp(zz[y]) / mp.fsum(mp.exp(v) for v in zz)
            return mp_loss(p_y, gamma)

        grad = [mp.diff(focal, z, tuple(int(i == j) for i in range(4))) for j in range(4)]
        p = np.array([float(mp.exp(v) / mp.fsum(mp.exp(u) for u in z)) for v in z])
        expected = fe.gradient_weight(p[y], gamma) * (p - np.eye(4)[y])
        _assert_close_mp(expected, grad, 1e-13)

    @pytest.mark.parametrize("gamma", [0.25, 0.5, 1.0, 2.0, 5.0, 20.0])
    def test_maximum(self, gamma):
        g_max, p_max = fe.max_gradient_weight(gamma)

        def mp_g(p):
            return p * mp_phi(p, gamma)

        p_ref = mp.findroot(lambda p: mp.diff(mp_g, p), p_max)
        assert float(rel_err(p_max, p_ref)) <= 1e-7  # a flat maximum: p is ill-conditioned
        assert float(rel_err(g_max, mp_g(p_ref))) <= 1e-14
        assert g_max > 1

    def test_gamma_zero_rejected_for_max(self):
        with pytest.raises(ValueError, match="`gamma` must be > 0"):
            fe.max_gradient_weight(0.0)


class TestPhiInverse:
    @pytest.mark.parametrize("gamma", GAMMAS)
    def test_roundtrip(self, gamma):
        q = np.array([q for q in POINTS if q < 1 - 1e-10])
        np.testing.assert_allclose(fe.phi_inverse(fe.phi(q, gamma), gamma), q, rtol=1e-13)

    @pytest.mark.parametrize("gamma", GAMMAS)
    def test_against_mpmath(self, gamma):
        # the q with phi(q) = y, solved in the logit in 50 digits (psi is decreasing)
        if gamma == 0:  # phi(q) = 1/q
            y = np.array([1.0, 1.5, 3.0, 1e3, 1e20, 1e300])
            refs = [1 / mp.mpf(v) for v in y]
        else:
            y = np.logspace(-290, 300, 25)
            refs = [1 / (1 + mp.exp(-mp_phi_inverse_logit(mp.log(v), gamma))) for v in y]
        _assert_close_mp(fe.phi_inverse(y, gamma), refs, 1e-13)

    def test_endpoints(self):
        assert fe.phi_inverse(np.inf, 2.0) == 0.0
        assert fe.phi_inverse(0.0, 2.0) == 1.0

    def test_range_checked(self):
        with pytest.raises(ValueError, match=r"`y` must be >= 1"):
            fe.phi_inverse([2.0, 0.5], 0.0)
        with pytest.raises(ValueError, match=r"index 1"):
            fe.phi_inverse([2.0, -1.0], 1.0)
