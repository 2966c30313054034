"""Tests of focalentropy.boosting: exact gradients/Hessians and the LightGBM/XGBoost adapters.

References are independent of the module: 50-digit mpmath derivatives
(``mpmath.diff`` of the loss written in mpmath), torch autograd through
``focalentropy.torch`` (gradients) and through a plain float64 formula
(Hessians), and the libraries' built-in log-loss objectives (gamma = 0).
"""

from __future__ import annotations

import inspect
import pickle
import subprocess
import sys

import mpmath as mp
import numpy as np
import pytest

import focalentropy as fe
from _mp_reference import mp_binary, mp_minimizer
from focalentropy.boosting import (
    focal_loss_from_raw,
    grad_hess,
    initial_score,
    lightgbm_metric,
    lightgbm_objective,
    probabilities_from_raw,
    recover_from_raw,
    xgboost_metric,
    xgboost_objective,
)

GAMMAS = (0.0, 0.1, 0.5, 1.0, 2.0, 5.0)
SATURATION_GAMMAS = (0.1, 0.5, 1.0, 2.0, 5.0)

# ---------------------------------------------------------------------------
# mpmath references (50 digits)
# ---------------------------------------------------------------------------


def _mp_sigmoid_loss(x, g, t, a1, a0):
    """``a1 t l(q) + a0 (1-t) l(1-q)`` with ``q = sigmoid(x)``, in mpmath."""
    q = 1 / (1 + mp.exp(-x))
    r = 1 / (1 + mp.exp(x))
    log_q = -mp.log1p(mp.exp(-x))
    log_r = -mp.log1p(mp.exp(x))
    return -(a1 * t * r**g * log_q + a0 * (1 - t) * q**g * log_r)


def _mp_softmax_loss(z, y, g, a):
    """``-a_y (1 - p_y)^g log p_y`` with ``1 - p_y`` summed over the other classes."""
    top = max(z)
    e = [mp.exp(v - top) for v in z]
    total = mp.fsum(e)
    log_py = z[y] - top - mp.log(total)
    rest = mp.fsum(e[k] for k in range(len(z)) if k != y) / total
    return -a[y] * rest**g * log_py


def _mp_g(q, r, g):
    """The gradient weight ``G(q) = r^g - g q r^(g-1) log q`` with ``r = 1 - q`` given."""
    return r**g - g * q * r ** (g - 1) * mp.log(q)


def _dps(spread):
    """Digits for ``mpmath.diff``: derivatives as small as ``e^-2|spread|`` times the loss."""
    return 50 + int(0.87 * float(spread))


SIGMOID_POINTS = (-700.0, -300.0, -40.0, -8.0, -2.5, -1.0, -0.1, 0.0, 0.3, 1.7, 6.0, 30.0, 300.0)


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("alpha", [None, 0.25])
def test_sigmoid_grad_hess_matches_mpmath(gamma, alpha):
    a1, a0 = (1, 1) if alpha is None else (mp.mpf(alpha), 1 - mp.mpf(alpha))
    worst = 0.0
    for t in (0.0, 1.0, 0.3):
        xs = np.array(SIGMOID_POINTS)
        grad, hess = grad_hess(xs, np.full(xs.shape, t), gamma, alpha=alpha)
        for x, g_ours, h_ours in zip(xs, grad, hess):
            with mp.workdps(_dps(abs(x))):
                xm = mp.mpf(float(x))

                def f(v, t=t):
                    return _mp_sigmoid_loss(v, gamma, mp.mpf(t), a1, a0)

                d1 = mp.diff(f, xm, 1)
                d2 = mp.diff(f, xm, 2)
                if abs(d1) < mp.mpf("1e-290"):
                    assert abs(g_ours) < 1e-280  # the value itself underflows
                else:
                    err = abs((g_ours - d1) / d1)
                    worst = max(worst, float(err))
                    assert err < 1e-12, (t, x, g_ours, d1)
                if abs(d2) < mp.mpf("1e-290"):
                    assert abs(h_ours) < 1e-280
                    continue
                # the Hessian is a difference of two terms (it changes sign):
                # its accuracy is relative to their size
                q = 1 / (1 + mp.exp(-xm))
                r = 1 / (1 + mp.exp(xm))
                tm = mp.mpf(t)
                frozen = (a1 * tm * _mp_g(q, r, gamma) + a0 * (1 - tm) * _mp_g(r, q, gamma)) * q * r
                scale = abs(frozen) + abs(d2 - frozen)
                err = abs(h_ours - d2)
                assert err <= 1e-12 * abs(d2) + 1e-13 * scale, (t, x, h_ours, d2)
    assert worst < 1e-12


SOFTMAX_ROWS = (
    (0.0, 0.0, 0.0, 0.0),
    (2.0, 0.5, -1.0, 0.1),
    (30.0, 0.0, -5.0, 2.0),
    (-40.0, 10.0, 9.5, 0.0),
    (12.0, 11.0, -3.0, -600.0),
    (300.0, -300.0, 0.0, 1.0),
)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0, 5.0])
def test_softmax_grad_hess_matches_mpmath(gamma):
    alpha = np.array([1.0, 0.5, 2.0, 1.5])
    z = np.array(SOFTMAX_ROWS)
    k = z.shape[1]
    for y in range(k):
        labels = np.full(z.shape[0], y)
        grad, hess = grad_hess(z, labels, gamma, alpha=alpha, kind="softmax")
        for i, row in enumerate(z):
            with mp.workdps(_dps(row.max() - row.min())):
                am = [mp.mpf(float(a)) for a in alpha]
                zm = [mp.mpf(float(v)) for v in row]

                def f(*v, y=y, am=am):
                    return _mp_softmax_loss(list(v), y, gamma, am)

                ref_loss = f(*zm)
                assert abs(
                    focal_loss_from_raw(row, y, gamma, alpha=alpha, kind="softmax") - ref_loss
                ) <= (1e-13 * abs(ref_loss) + 1e-300)
                for j in range(k):
                    order = tuple(1 if c == j else 0 for c in range(k))
                    d1 = mp.diff(f, zm, order)
                    d2 = mp.diff(f, zm, tuple(2 * o for o in order))
                    if abs(d1) > mp.mpf("1e-290"):
                        assert abs((grad[i, j] - d1) / d1) < 1e-12, (y, i, j, grad[i, j], d1)
                    else:
                        assert abs(grad[i, j]) < 1e-280
                    # scale: the fixed-weight part alpha_y G(p_y) p_j (1 - p_j)
                    if abs(d2) > mp.mpf("1e-290"):
                        top = max(zm)
                        e = [mp.exp(v - top) for v in zm]
                        p = [v / mp.fsum(e) for v in e]
                        rest_y = mp.fsum(p[c] for c in range(k) if c != y)
                        rest_j = mp.fsum(p[c] for c in range(k) if c != j)
                        frozen = am[y] * _mp_g(p[y], rest_y, gamma) * p[j] * rest_j
                        scale = abs(frozen) + abs(d2 - frozen)
                        assert abs(hess[i, j] - d2) <= 1e-12 * abs(d2) + 1e-13 * scale, (
                            y,
                            i,
                            j,
                            hess[i, j],
                            d2,
                        )
                    else:
                        assert abs(hess[i, j]) < 1e-280


# ---------------------------------------------------------------------------
# structure: gamma = 0, the positive Hessian, consistency with the library
# ---------------------------------------------------------------------------


def _complement(p):
    """``1 - p`` per class as the sum of the other classes (exact near 1)."""
    k = p.shape[-1]
    return np.stack([np.delete(p, j, axis=-1).sum(-1) for j in range(k)], axis=-1)


def test_gamma_zero_is_the_log_loss():
    rng = np.random.default_rng(0)
    x = rng.normal(scale=5, size=200)
    t = (rng.random(200) < 0.4).astype(float)
    q = 1 / (1 + np.exp(-x))
    # q - 1 = -1 / (1 + e^x) without cancellation
    ref = np.where(t == 1, -1 / (1 + np.exp(x)), q)
    for hessian in ("exact", "positive"):
        g, h = grad_hess(x, t, 0.0, hessian=hessian)
        np.testing.assert_allclose(g, ref, rtol=1e-13)
        np.testing.assert_allclose(h, q / (1 + np.exp(x)), rtol=1e-13)
    loss = np.where(t == 1, np.log1p(np.exp(-x)), np.log1p(np.exp(x)))  # softplus(-+x)
    np.testing.assert_allclose(focal_loss_from_raw(x, t, 0.0), loss, rtol=1e-12)
    z = rng.normal(scale=3, size=(100, 5))
    y = rng.integers(0, 5, 100)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    ref = p.copy()
    rows = np.arange(100)
    ref[rows, y] = -(p.sum(1) - p[rows, y])  # p_y - 1 = -(sum of the others)
    for hessian in ("exact", "positive"):
        g, h = grad_hess(z, y, 0.0, kind="softmax", hessian=hessian)
        np.testing.assert_allclose(g, ref, rtol=1e-12)
        np.testing.assert_allclose(h, p * _complement(p), rtol=1e-12)
    np.testing.assert_allclose(
        focal_loss_from_raw(z, y, 0.0, kind="softmax"),
        np.log1p(_complement(p)[rows, y] / p[rows, y]),  # -log p_y
        rtol=1e-12,
    )


@pytest.mark.parametrize("gamma", [0.5, 1.0, 2.0, 5.0])
def test_positive_hessian_is_max_of_exact_and_fixed_weight(gamma):
    rng = np.random.default_rng(1)
    # sigmoid: fixed-weight curvature G(q) q (1 - q) for label 1
    x = np.linspace(-12, 12, 241)
    q = 1 / (1 + np.exp(-x))
    _, h_exact = grad_hess(x, np.ones_like(x), gamma)
    _, h_pos = grad_hess(x, np.ones_like(x), gamma, hessian="positive")
    frozen = fe.gradient_weight(q, gamma) * q * (1 - q)
    np.testing.assert_allclose(h_pos, np.maximum(h_exact, frozen), rtol=1e-12, atol=1e-300)
    assert (h_exact < 0).any()  # the focal loss is not convex in the score
    assert (h_pos > 0).all()
    # the switch is at the maximum of G: exact for easy samples
    q_max = fe.max_gradient_weight(gamma)[1]
    easy = q > q_max * (1 + 1e-6)
    np.testing.assert_array_equal(h_pos[easy], h_exact[easy])
    # softmax: alpha_y G(p_y) p_j (1 - p_j)
    z = rng.normal(scale=4, size=(300, 4))
    y = rng.integers(0, 4, 300)
    alpha = np.array([1.0, 3.0, 0.5, 1.0])
    _, h_exact = grad_hess(z, y, gamma, alpha=alpha, kind="softmax")
    _, h_pos = grad_hess(z, y, gamma, alpha=alpha, kind="softmax", hessian="positive")
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    p_y = p[np.arange(300), y]
    frozen = (alpha[y] * fe.gradient_weight(p_y, gamma))[:, None] * p * _complement(p)
    np.testing.assert_allclose(h_pos, np.maximum(h_exact, frozen), rtol=1e-11, atol=1e-300)
    assert (h_exact < 0).any()
    assert (h_pos > 0).all()


def test_soft_targets_are_the_two_term_loss():
    rng = np.random.default_rng(2)
    x = rng.normal(scale=3, size=50)
    t = rng.random(50)
    g1, h1 = grad_hess(x, t, 2.0, alpha=0.3)
    gp, hp = grad_hess(x, np.ones(50), 2.0, alpha=0.3)
    gn, hn = grad_hess(x, np.zeros(50), 2.0, alpha=0.3)
    np.testing.assert_allclose(g1, t * gp + (1 - t) * gn, rtol=1e-12, atol=1e-17)
    np.testing.assert_allclose(h1, t * hp + (1 - t) * hn, rtol=1e-12, atol=1e-17)


@pytest.mark.parametrize("gamma", SATURATION_GAMMAS)
def test_finite_at_saturated_scores(gamma):
    big = np.array([-1e4, -1e3, -750.0, -40.0, 0.0, 40.0, 750.0, 1e3, 1e4])
    for t in (0.0, 1.0, 0.5):
        for hessian in ("exact", "positive"):
            g, h = grad_hess(big, np.full(big.shape, t), gamma, alpha=0.25, hessian=hessian)
            assert np.isfinite(g).all()
            assert np.isfinite(h).all()
            if hessian == "positive":
                assert (h >= 0).all()
        assert np.isfinite(focal_loss_from_raw(big, np.full(big.shape, t), gamma)).all()
    # a confidently wrong sample has gradient -1 (label 1) / +1 (label 0), exactly
    g, _ = grad_hess(np.array([-1e4, 1e4]), np.array([1.0, 0.0]), gamma)
    np.testing.assert_array_equal(g, [-1.0, 1.0])
    rows = np.array(
        [[1e4, 0.0, -1e4], [-1e4, 1e4, 1e4 - 1.0], [5e3, 5e3, -5e3], [1e4, 1e4 - 30.0, 0.0]]
    )
    for y in range(3):
        for hessian in ("exact", "positive"):
            g, h = grad_hess(rows, np.full(4, y), gamma, kind="softmax", hessian=hessian)
            assert np.isfinite(g).all()
            assert np.isfinite(h).all()
            np.testing.assert_allclose(g.sum(axis=1), 0.0, atol=1e-15)
    assert np.isfinite(recover_from_raw(rows, gamma, kind="softmax")).all()
    assert np.isfinite(recover_from_raw(big, gamma)).all()


def test_saturated_values_are_exact():
    """Close to saturation the values are not rounded away: compare with asymptotics."""
    gamma = 0.5
    # label 1, score 40: r = e^-40, grad = -r^(1.5) (1 + 0.5 v) with v -> 1
    g, h = grad_hess(np.array([40.0]), np.array([1.0]), gamma)
    r = np.exp(-40.0)
    np.testing.assert_allclose(g, -(r**1.5) * 1.5, rtol=1e-12)
    np.testing.assert_allclose(h, r**1.5 * (1 + 2 * gamma + gamma**2), rtol=1e-12)
    # softmax with the label dominating by 40: the same numbers
    g2, h2 = grad_hess(np.array([[40.0, 0.0]]), np.array([0]), gamma, kind="softmax")
    np.testing.assert_allclose(g2[0], [g[0], -g[0]], rtol=1e-12)
    np.testing.assert_allclose(h2[0], [h[0], h[0]], rtol=1e-12)


def test_two_class_softmax_equals_sigmoid_of_the_margin():
    rng = np.random.default_rng(3)
    z = rng.normal(scale=6, size=(200, 2))
    y = rng.integers(0, 2, 200)
    gs, hs = grad_hess(z, y, 2.0, kind="softmax")
    x = z[:, 1] - z[:, 0]
    gb, hb = grad_hess(x, y.astype(float), 2.0)
    np.testing.assert_allclose(gs[:, 1], gb, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(hs[:, 1], hb, rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(hs[:, 0], hb, rtol=1e-10, atol=1e-300)


def test_sample_weight_and_shapes():
    rng = np.random.default_rng(4)
    z = rng.normal(size=(2, 3, 4))
    y = rng.integers(0, 4, (2, 3))
    w = rng.random((2, 3))
    g, h = grad_hess(z, y, 1.0, kind="softmax", sample_weight=w)
    g1, h1 = grad_hess(z, y, 1.0, kind="softmax")
    assert g.shape == h.shape == z.shape
    np.testing.assert_allclose(g, g1 * w[..., None], rtol=1e-14)
    np.testing.assert_allclose(h, h1 * w[..., None], rtol=1e-14)
    x = rng.normal(size=(3, 5))
    t = (rng.random((3, 5)) < 0.5).astype(float)
    g, h = grad_hess(x, t, 1.0)
    assert g.shape == h.shape == (3, 5)
    # block boundaries do not matter
    x = rng.normal(scale=4, size=20_000)
    t = (rng.random(20_000) < 0.2).astype(float)
    g, h = grad_hess(x, t, 2.0)
    gs, hs = grad_hess(x[-7:], t[-7:], 2.0)
    np.testing.assert_array_equal(g[-7:], gs)
    np.testing.assert_array_equal(h[-7:], hs)


def test_loss_matches_library_loss():
    rng = np.random.default_rng(5)
    x = rng.normal(scale=3, size=100)
    q = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(
        focal_loss_from_raw(x, np.ones(100), 2.0), fe.loss(q, 2.0), rtol=1e-12
    )
    np.testing.assert_allclose(
        focal_loss_from_raw(x, np.zeros(100), 2.0, alpha=0.25),
        0.75 * fe.loss(1 - q, 2.0),
        rtol=1e-11,
    )


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_gradient_matches_finite_differences_of_the_loss(gamma):
    rng = np.random.default_rng(6)
    z = rng.normal(scale=2, size=(20, 3))
    y = rng.integers(0, 3, 20)
    g, h = grad_hess(z, y, gamma, kind="softmax")
    eps = 1e-5
    for j in range(3):
        dz = np.zeros(3)
        dz[j] = eps
        up = focal_loss_from_raw(z + dz, y, gamma, kind="softmax")
        down = focal_loss_from_raw(z - dz, y, gamma, kind="softmax")
        mid = focal_loss_from_raw(z, y, gamma, kind="softmax")
        np.testing.assert_allclose((up - down) / (2 * eps), g[:, j], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose((up - 2 * mid + down) / eps**2, h[:, j], rtol=1e-3, atol=1e-5)


# ---------------------------------------------------------------------------
# torch autograd
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("gamma", [0.0, 0.3, 1.0, 2.0, 5.0])
def test_gradients_match_torch_autograd(gamma):
    torch = pytest.importorskip("torch")
    from focalentropy.torch import focal_loss, sigmoid_focal_loss

    rng = np.random.default_rng(7)
    x = rng.normal(scale=4, size=64)
    t = (rng.random(64) < 0.4).astype(float)
    for alpha in (0.25, None):
        xt = torch.tensor(x, requires_grad=True)
        sigmoid_focal_loss(
            xt, torch.tensor(t), alpha=alpha, gamma=gamma, reduction="sum"
        ).backward()
        g, _ = grad_hess(x, t, gamma, alpha=alpha)
        np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-12, atol=1e-300)
    z = rng.normal(scale=4, size=(40, 5))
    y = rng.integers(0, 5, 40)
    alpha = rng.uniform(0.5, 2.0, 5)
    zt = torch.tensor(z, requires_grad=True)
    focal_loss(
        zt, torch.tensor(y), gamma=gamma, weight=torch.tensor(alpha), reduction="sum"
    ).backward()
    g, _ = grad_hess(z, y, gamma, alpha=alpha, kind="softmax")
    np.testing.assert_allclose(g, zt.grad.numpy(), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
def test_hessians_match_torch_autograd_of_a_plain_formula(gamma):
    torch = pytest.importorskip("torch")
    from torch.autograd.functional import hessian

    rng = np.random.default_rng(8)
    x = rng.normal(scale=3, size=30)
    t = (rng.random(30) < 0.5).astype(float)
    tt = torch.tensor(t)

    def sig_loss(v):
        q = torch.sigmoid(v)
        return -(
            0.25 * tt * (1 - q) ** gamma * torch.log(q)
            + 0.75 * (1 - tt) * q**gamma * torch.log(1 - q)
        ).sum()

    ref = torch.diagonal(hessian(sig_loss, torch.tensor(x))).numpy()
    _, h = grad_hess(x, t, gamma, alpha=0.25)
    np.testing.assert_allclose(h, ref, rtol=1e-10, atol=1e-14)

    z = rng.normal(scale=2, size=(12, 4))
    y = torch.tensor(rng.integers(0, 4, 12))
    alpha = torch.tensor([1.0, 2.0, 0.5, 1.0], dtype=torch.float64)

    def soft_loss(v):
        p = torch.softmax(v, dim=1)[torch.arange(12), y]
        return -(alpha[y] * (1 - p) ** gamma * torch.log(p)).sum()

    full = hessian(soft_loss, torch.tensor(z)).reshape(48, 48)
    ref = torch.diagonal(full).reshape(12, 4).numpy()
    _, h = grad_hess(z, y.numpy(), gamma, alpha=alpha.numpy(), kind="softmax")
    np.testing.assert_allclose(h, ref, rtol=1e-10, atol=1e-14)


# ---------------------------------------------------------------------------
# probabilities, recover, initial score
# ---------------------------------------------------------------------------


def test_probabilities_and_recover_match_the_library():
    rng = np.random.default_rng(9)
    z = rng.normal(scale=3, size=(50, 4))
    p = probabilities_from_raw(z, kind="softmax")
    np.testing.assert_allclose(p, np.exp(z) / np.exp(z).sum(1, keepdims=True), rtol=1e-13)
    alpha = np.array([1.0, 2.0, 0.5, 1.5])
    np.testing.assert_allclose(
        recover_from_raw(z, 2.0, alpha=alpha, kind="softmax"),
        fe.recover(p, 2.0, alpha=alpha),
        rtol=1e-10,
    )
    x = rng.normal(scale=3, size=50)
    q = probabilities_from_raw(x)
    np.testing.assert_allclose(
        recover_from_raw(x, 2.0, alpha=0.25),
        fe.recover(q, 2.0, alpha=0.25, kind="sigmoid"),
        rtol=1e-10,
    )
    np.testing.assert_allclose(recover_from_raw(x, 0.0), q, rtol=1e-14)


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_recover_inverts_the_minimizer_from_raw_scores(gamma):
    rng = np.random.default_rng(10)
    P = rng.dirichlet(np.ones(5), size=40)
    Q = fe.minimizer(P, gamma)
    np.testing.assert_allclose(recover_from_raw(np.log(Q), gamma, kind="softmax"), P, rtol=1e-9)
    # a saturated binary score: P = 1 - 1e-20 gives Q* with 1 - Q* far below eps
    p = np.array([1e-20, 0.01, 0.3, 0.5, 0.9, 1 - 1e-12])
    q = fe.minimizer(np.stack([p, 1 - p], -1), gamma)
    raw = np.log(q[:, 0]) - np.log(q[:, 1])
    back = recover_from_raw(raw, gamma)
    np.testing.assert_allclose(back, p, rtol=1e-9)
    np.testing.assert_allclose(1 - back[-1], 1e-12, rtol=1e-4)


def test_initial_score_is_the_best_constant():
    rng = np.random.default_rng(11)
    y = (rng.random(500) < 0.1).astype(float)
    w = rng.uniform(0.5, 2, 500)
    assert np.isclose(initial_score(y, 0.0), np.log(y.mean() / (1 - y.mean())), rtol=1e-12)
    for gamma, alpha in ((2.0, None), (1.0, 0.25)):
        s = initial_score(y, gamma, alpha=alpha, sample_weight=w)
        g, _ = grad_hess(np.full(500, s), y, gamma, alpha=alpha, sample_weight=w)
        assert abs(g.sum()) < 1e-10 * np.abs(g).sum()
    ym = rng.integers(0, 4, 600)
    alpha = np.array([1.0, 2.0, 1.0, 0.5])
    s = initial_score(ym, 2.0, alpha=alpha, kind="softmax", sample_weight=w.repeat(2)[:600])
    assert s.shape == (4,)
    g, _ = grad_hess(
        np.tile(s, (600, 1)), ym, 2.0, alpha=alpha, kind="softmax", sample_weight=w.repeat(2)[:600]
    )
    np.testing.assert_allclose(g.sum(0), 0.0, atol=1e-10 * np.abs(g).sum())


def test_initial_score_against_mpmath():
    """The best constant scores against the minimizer solved from scratch in mpmath."""
    y = np.array([1.0, 0.0, 0.0, 0.0, 0.3, 1.0, 0.0])
    w = np.array([1.0, 2.0, 0.5, 1.0, 3.0, 1.0, 1.0])
    pos, neg = float((w * y).sum()), float((w * (1 - y)).sum())
    for gamma, alpha in ((2.0, None), (0.5, 0.25), (5.0, 0.9)):
        a = 0.5 if alpha is None else alpha
        q, r, _ = mp_binary(a * pos, (1 - a) * neg, gamma)
        expected = float(mp.log(q) - mp.log(r))
        got = initial_score(y, gamma, alpha=alpha, sample_weight=w)
        assert got == pytest.approx(expected, rel=1e-13, abs=1e-15)
    labels = np.array([0, 2, 2, 1, 2, 0, 2])
    alpha = np.array([1.0, 3.0, 0.5])
    counts = np.bincount(labels, weights=w, minlength=3)
    for gamma in (0.0, 2.0):
        q_mp, _ = mp_minimizer(alpha * counts / counts.sum(), gamma)
        expected = np.array([float(mp.log(v)) for v in q_mp])
        got = initial_score(labels, gamma, alpha=alpha, kind="softmax", sample_weight=w)
        np.testing.assert_allclose(got, expected, rtol=1e-13)


def test_initial_score_checks_labels_and_num_class():
    with pytest.raises(TypeError, match="`num_class` must be an integer, got float"):
        initial_score([0, 1], 2.0, kind="softmax", num_class=2.0)
    with pytest.raises(TypeError, match="`num_class` must be an integer, got bool"):
        initial_score([0, 1], 2.0, kind="softmax", num_class=True)
    with pytest.raises(ValueError, match="`num_class` must be >= 2, got 1"):
        initial_score([0, 0], 2.0, kind="softmax")
    with pytest.raises(ValueError, match="`y` must be one-dimensional"):
        initial_score([[0, 1]], 2.0, kind="softmax")
    with pytest.raises(ValueError, match="class 3 has no samples"):
        initial_score([0, 1, 2], 2.0, kind="softmax", num_class=4)
    with pytest.raises(ValueError, match=r"integer class labels in \[0, 2\); found 2.0 at index 2"):
        initial_score([0, 1, 2], 2.0, kind="softmax", num_class=2)
    with pytest.raises(ValueError, match=r"`y` must contain targets in \[0, 1\]"):
        initial_score([0.5, 1.5], 2.0)


# ---------------------------------------------------------------------------
# input validation
# ---------------------------------------------------------------------------


def test_bad_input_names_the_argument_and_index():
    with pytest.raises(ValueError, match=r"`raw` must contain finite scores; found nan at index 2"):
        grad_hess([0.0, 1.0, np.nan], [0, 1, 1], 2.0)
    with pytest.raises(ValueError, match=r"`raw`.*inf at index \(1, 0\)"):
        grad_hess([[0.0, 1.0], [np.inf, 0.0]], [0, 1], 2.0, kind="softmax")
    with pytest.raises(ValueError, match=r"`raw` must contain finite scores; found nan$"):
        grad_hess(np.nan, 1, 2.0)
    with pytest.raises(TypeError, match="`raw` must be array-like of real numbers"):
        grad_hess("abc", [1], 2.0)
    with pytest.raises(
        ValueError, match=r"`y` must contain targets in \[0, 1\]; found 2.0 at index 1"
    ):
        grad_hess([0.0, 1.0], [0, 2], 2.0)
    with pytest.raises(ValueError, match=r"`y` must have the shape of `raw`"):
        grad_hess([0.0, 1.0], [0, 1, 1], 2.0)
    with pytest.raises(
        ValueError, match=r"`y` must contain integer class labels in \[0, 3\); found 3.0 at index 1"
    ):
        grad_hess(np.zeros((2, 3)), [0, 3], 2.0, kind="softmax")
    with pytest.raises(ValueError, match=r"found 0.5 at index 0"):
        grad_hess(np.zeros((2, 3)), [0.5, 1], 2.0, kind="softmax")
    with pytest.raises(ValueError, match=r"class axis .*length >= 2"):
        grad_hess(np.zeros((2, 1)), [0, 0], 2.0, kind="softmax")
    with pytest.raises(ValueError, match=r"`gamma` must be a finite number >= 0"):
        grad_hess([0.0], [1], -1.0)
    with pytest.raises(TypeError, match="`gamma` must be a real number"):
        grad_hess([0.0], [1], "2")
    with pytest.raises(ValueError, match="`kind` must be one of"):
        grad_hess([0.0], [1], 2.0, kind="tanh")
    with pytest.raises(ValueError, match="`hessian` must be one of"):
        grad_hess([0.0], [1], 2.0, hessian="gauss")
    with pytest.raises(ValueError, match=r"`alpha` must lie in \(0, 1\)"):
        grad_hess([0.0], [1], 2.0, alpha=1.5)
    with pytest.raises(ValueError, match=r"`alpha` must be a vector of 3 per-class weights"):
        grad_hess(np.zeros((2, 3)), [0, 1], 2.0, alpha=0.25, kind="softmax")
    with pytest.raises(
        ValueError, match=r"`alpha` must be positive and finite; found -1.0 at index 1"
    ):
        grad_hess(np.zeros((2, 3)), [0, 1], 2.0, alpha=[1.0, -1.0, 1.0], kind="softmax")
    with pytest.raises(
        ValueError, match=r"`sample_weight` must be finite and >= 0; found -1.0 at index 1"
    ):
        grad_hess([0.0, 0.0], [0, 1], 2.0, sample_weight=[1.0, -1.0])
    with pytest.raises(ValueError, match=r"`sample_weight` must have shape \(2,\)"):
        grad_hess([0.0, 0.0], [0, 1], 2.0, sample_weight=[1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="class 2 has no samples"):
        initial_score([0, 1, 3], 2.0, kind="softmax")
    with pytest.raises(ValueError, match="both outcomes"):
        initial_score([1, 1], 2.0)
    with pytest.raises(ValueError, match="`hessian_scale` must be positive"):
        lightgbm_objective(2.0, hessian_scale=0.0)
    with pytest.raises(ValueError, match="`alpha` is a scalar but the scores have 3 classes"):
        xgboost_objective(2.0, alpha=0.25)(np.array([0, 1]), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="`alpha` is a per-class vector but the scores are binary"):
        xgboost_objective(2.0, alpha=[1.0, 2.0])(np.array([0, 1]), np.zeros(2))


def test_import_does_not_load_the_boosting_libraries():
    code = (
        "import sys, focalentropy, focalentropy.boosting; "
        "print(any(m in sys.modules for m in ('lightgbm', 'xgboost', 'torch')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------------
# adapters without the libraries: layouts and weights
# ---------------------------------------------------------------------------


class _FakeData:
    def __init__(self, label, weight=None):
        self._label, self._weight = label, weight

    def get_label(self):
        return self._label

    def get_weight(self):
        return self._weight


def test_adapter_layouts_and_weights():
    rng = np.random.default_rng(12)
    n, k = 7, 3
    z = rng.normal(size=(n, k))
    y = rng.integers(0, k, n).astype(float)
    w = rng.random(n)
    ref_g, ref_h = grad_hess(z, y, 2.0, kind="softmax", hessian="positive", sample_weight=w)
    obj = lightgbm_objective(2.0)
    g, h = obj(z, _FakeData(y, w))  # lightgbm >= 4: 2-D scores
    np.testing.assert_array_equal(g, ref_g)
    np.testing.assert_array_equal(h, ref_h)
    g, h = obj(z.T.reshape(-1), _FakeData(y, w))  # older lightgbm: class-major flat
    np.testing.assert_array_equal(g, ref_g.T.reshape(-1))
    sq = z[:3]  # n == K: the layout must not be guessed from the shape
    g, _ = obj(sq.T.reshape(-1), _FakeData(y[:3], None))
    np.testing.assert_array_equal(g, grad_hess(sq, y[:3], 2.0, kind="softmax")[0].T.reshape(-1))
    g, h = obj(y, z, w)  # sklearn API
    np.testing.assert_array_equal(h, ref_h)
    xobj = xgboost_objective(2.0, hessian_scale=2.0)
    g, h = xobj(z.reshape(-1), _FakeData(y, np.array([])))  # row-major flat, no weights
    ref_g, ref_h = grad_hess(z, y, 2.0, kind="softmax", hessian="positive")
    np.testing.assert_array_equal(g, ref_g.reshape(-1))
    np.testing.assert_array_equal(h, 2.0 * ref_h.reshape(-1))
    g, h = xobj(y, z, sample_weight=w)
    np.testing.assert_allclose(g, ref_g * w[:, None], rtol=1e-15)
    # metrics: weighted mean of the per-sample loss
    loss = focal_loss_from_raw(z, y, 2.0, kind="softmax")
    name, value, higher = lightgbm_metric(2.0)(z, _FakeData(y, w))
    assert (name, higher) == ("focal_loss", False)
    assert np.isclose(value, np.sum(w * loss) / np.sum(w), rtol=1e-14)
    assert xgboost_metric(2.0)(z, _FakeData(y, None)) == (
        "focal_loss",
        pytest.approx(loss.mean(), rel=1e-14),
    )
    assert np.isclose(xgboost_metric(2.0)(y, z, sample_weight=w), value, rtol=1e-14)
    assert "gamma=2.0" in repr(obj)
    clone = pickle.loads(pickle.dumps(obj))  # models and sklearn clones carry the objective
    np.testing.assert_array_equal(clone(y, z, w)[1], obj(y, z, w)[1])


# ---------------------------------------------------------------------------
# training with LightGBM and XGBoost (small data, few rounds)
# ---------------------------------------------------------------------------


def _binary_data(n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3, 3, size=(n, 2))
    P = 1 / (1 + np.exp(-(2 * X[:, 0] - 1)))
    y = (rng.random(n) < P).astype(float)
    return X, y, P


def _multiclass_data(n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3, 3, size=(n, 2))
    Z = np.stack([2 * X[:, 0], X[:, 1] - X[:, 0], 0.5 * X[:, 1], np.full(n, -1.0)], -1)
    P = np.exp(Z) / np.exp(Z).sum(1, keepdims=True)
    y = (rng.random((n, 1)) > P.cumsum(1)).sum(1).astype(float)
    return X, y, P


_LGB = {
    "num_leaves": 8,
    "learning_rate": 0.1,
    "verbose": -1,
    "num_threads": 1,
    "deterministic": True,
}
_XGB = {"max_depth": 3, "eta": 0.1, "nthread": 1, "tree_method": "hist"}


def test_lightgbm_gamma0_matches_builtin_objectives():
    lgb = pytest.importorskip("lightgbm")
    X, y, _ = _binary_data(3000)
    n = len(y)
    log_b, log_c = {}, {}
    train_b = lgb.Dataset(X, y)
    lgb.train(
        {**_LGB, "objective": "binary", "metric": "binary_logloss"},
        train_b,
        30,
        valid_sets=[train_b],
        valid_names=["t"],
        callbacks=[lgb.record_evaluation(log_b)],
    )
    # the built-in starts from the log-odds: give the custom objective the same start
    train_c = lgb.Dataset(X, y, init_score=np.full(n, initial_score(y, 0.0)))
    lgb.train(
        {**_LGB, "objective": lightgbm_objective(0.0), "metric": "None"},
        train_c,
        30,
        valid_sets=[train_c],
        valid_names=["t"],
        feval=lightgbm_metric(0.0),
        callbacks=[lgb.record_evaluation(log_c)],
    )
    builtin = np.array(log_b["t"]["binary_logloss"])
    ours = np.array(log_c["t"]["focal_loss"])
    assert builtin[-1] < 0.9 * builtin[0]
    np.testing.assert_allclose(ours, builtin, rtol=1e-9)

    # multi-class: the built-in Hessian is K/(K-1) p (1-p)
    X, y, _ = _multiclass_data(1500)
    k = 4
    curves = {}
    for label, params, scale in (
        ("builtin", {"objective": "multiclass", "metric": "multi_logloss"}, None),
        ("scaled", {"metric": "None"}, k / (k - 1)),
        ("plain", {"metric": "None"}, 1.0),
    ):
        log = {}
        init = (
            None if scale is None else np.tile(initial_score(y, 0.0, kind="softmax"), (len(y), 1))
        )
        data = lgb.Dataset(X, y, init_score=init)
        if scale is not None:
            params = {**params, "objective": lightgbm_objective(0.0, hessian_scale=scale)}
        lgb.train(
            {**_LGB, **params, "num_class": k},
            data,
            15,
            valid_sets=[data],
            valid_names=["t"],
            feval=None if scale is None else lightgbm_metric(0.0),
            callbacks=[lgb.record_evaluation(log)],
        )
        curves[label] = np.array(next(iter(log["t"].values())))
    np.testing.assert_allclose(curves["scaled"], curves["builtin"], rtol=1e-9)
    assert np.max(np.abs(curves["plain"] / curves["builtin"] - 1)) > 1e-3


def _xgb_curve(xgb, params, d, rounds, metric, **kwargs):
    """The training curve of ``metric`` on ``d`` itself (evaluated every round)."""
    log = {}
    xgb.train(params, d, rounds, evals=[(d, "t")], evals_result=log, verbose_eval=False, **kwargs)
    return np.array(log["t"][metric])


def test_xgboost_gamma0_matches_builtin_objectives():
    xgb = pytest.importorskip("xgboost")
    X, y, _ = _binary_data(3000)
    n = len(y)
    d = xgb.DMatrix(X, y, base_margin=np.full(n, initial_score(y, 0.0)))
    builtin = _xgb_curve(
        xgb, {**_XGB, "objective": "binary:logistic", "eval_metric": "logloss"}, d, 30, "logloss"
    )
    ours = _xgb_curve(
        xgb,
        {**_XGB, "disable_default_eval_metric": 1},
        d,
        30,
        "focal_loss",
        obj=xgboost_objective(0.0),
        custom_metric=xgboost_metric(0.0),
    )
    assert builtin[-1] < 0.9 * builtin[0]
    # XGBoost hands float32 margins to custom metrics
    np.testing.assert_allclose(ours, builtin, rtol=1e-5)

    X, y, _ = _multiclass_data(1500)
    d = xgb.DMatrix(X, y, base_margin=np.tile(initial_score(y, 0.0, kind="softmax"), (len(y), 1)))
    common = {**_XGB, "num_class": 4}
    builtin = _xgb_curve(
        xgb, {**common, "objective": "multi:softprob", "eval_metric": "mlogloss"}, d, 15, "mlogloss"
    )
    ours = _xgb_curve(
        xgb,
        {**common, "disable_default_eval_metric": 1},
        d,
        15,
        "focal_loss",
        obj=xgboost_objective(0.0, hessian_scale=2.0),  # the built-in's 2 p (1-p)
        custom_metric=xgboost_metric(0.0),
    )
    np.testing.assert_allclose(ours, builtin, rtol=1e-5)


def _mean_abs(a, b):
    return float(np.mean(np.abs(a - b)))


def test_lightgbm_learns_the_focal_minimizer_and_recover_undoes_it():
    lgb = pytest.importorskip("lightgbm")
    gamma = 2.0
    X, y, P = _binary_data(10_000, seed=1)
    s0 = initial_score(y, gamma)
    data = lgb.Dataset(X, y, init_score=np.full(len(y), s0))
    log = {}
    booster = lgb.train(
        {**_LGB, "objective": lightgbm_objective(gamma), "metric": "None", "min_data_in_leaf": 100},
        data,
        100,
        valid_sets=[data],
        valid_names=["t"],
        feval=lightgbm_metric(gamma),
        callbacks=[lgb.record_evaluation(log)],
    )
    curve = np.array(log["t"]["focal_loss"])
    assert np.all(np.diff(curve) < 1e-12)  # the positive Hessian gives monotone descent here
    raw = booster.predict(X) + s0  # LightGBM's predict leaves out init_score
    q = probabilities_from_raw(raw)
    Q = fe.minimizer(P, gamma, kind="sigmoid")
    assert _mean_abs(q, Q) < 0.3 * _mean_abs(q, P)
    back = recover_from_raw(raw, gamma)
    assert _mean_abs(back, P) < 0.3 * _mean_abs(q, P)


def test_xgboost_learns_the_focal_minimizer_and_recover_undoes_it():
    xgb = pytest.importorskip("xgboost")
    gamma = 2.0
    alpha = np.array([1.0, 1.0, 2.0, 1.0])
    X, y, P = _multiclass_data(6000, seed=2)
    d = xgb.DMatrix(
        X, y, base_margin=np.tile(initial_score(y, gamma, alpha=alpha, kind="softmax"), (len(y), 1))
    )
    booster = xgb.train(
        {**_XGB, "num_class": 4, "min_child_weight": 5},
        d,
        80,
        obj=xgboost_objective(gamma, alpha=alpha),
    )
    raw = booster.predict(d, output_margin=True)
    q = probabilities_from_raw(raw, kind="softmax")
    Q = fe.minimizer(P, gamma, alpha=alpha)
    assert _mean_abs(q, Q) < 0.5 * _mean_abs(q, P)
    back = recover_from_raw(raw, gamma, alpha=alpha, kind="softmax")
    assert _mean_abs(back, P) < 0.5 * _mean_abs(q, P)


def test_sklearn_wrappers_with_weights_init_score_and_early_stopping():
    lgb = pytest.importorskip("lightgbm")
    xgb = pytest.importorskip("xgboost")
    X, ym, _ = _multiclass_data(2400, seed=3)
    ym = ym.astype(int)
    yb = (ym == 0).astype(int)
    w = np.random.default_rng(3).uniform(0.5, 2.0, len(ym))
    tr, va = slice(0, 1600), slice(1600, None)
    for y, alpha, kind in ((yb, 0.25, "sigmoid"), (ym, [1.0, 1.0, 2.0, 1.0], "softmax")):
        init = initial_score(y[tr], 2.0, alpha=alpha, kind=kind, sample_weight=w[tr])
        init_tr = np.broadcast_to(init, (1600, *np.shape(init))).copy()
        clf = lgb.LGBMClassifier(
            objective=lightgbm_objective(2.0, alpha=alpha),
            metric="None",
            n_estimators=300,
            learning_rate=0.2,
            num_leaves=8,
            verbose=-1,
            n_jobs=1,
        )
        # lightgbm 4.7 renamed eval_set to eval_X/eval_y
        if "eval_X" in inspect.signature(clf.fit).parameters:
            evals = {"eval_X": (X[va],), "eval_y": (y[va],)}
        else:  # pragma: no cover - older lightgbm 4.x
            evals = {"eval_set": [(X[va], y[va])]}
        clf.fit(
            X[tr],
            y[tr],
            sample_weight=w[tr],
            init_score=init_tr,
            **evals,
            eval_sample_weight=[w[va]],
            eval_init_score=[np.broadcast_to(init, (800, *np.shape(init))).copy()],
            eval_metric=lightgbm_metric(2.0, alpha=alpha),
            callbacks=[lgb.early_stopping(5, verbose=False)],
        )
        assert 0 < clf.best_iteration_ < 300
        raw = clf.predict(X[va], raw_score=True) + init
        assert raw.shape == ((800,) if kind == "sigmoid" else (800, 4))
        loss_va = (
            np.sum(w[va] * focal_loss_from_raw(raw, y[va], 2.0, alpha=alpha, kind=kind))
            / w[va].sum()
        )
        assert np.isclose(loss_va, clf.best_score_["valid_0"]["focal_loss"], rtol=1e-10)

        xclf = xgb.XGBClassifier(
            objective=xgboost_objective(2.0, alpha=alpha),
            eval_metric=xgboost_metric(2.0, alpha=alpha),
            disable_default_eval_metric=1,
            early_stopping_rounds=5,
            n_estimators=300,
            learning_rate=0.2,
            max_depth=3,
            n_jobs=1,
        )
        xclf.fit(
            X[tr],
            y[tr],
            sample_weight=w[tr],
            base_margin=init_tr,
            eval_set=[(X[va], y[va])],
            sample_weight_eval_set=[w[va]],
            base_margin_eval_set=[np.broadcast_to(init, (800, *np.shape(init))).copy()],
            verbose=False,
        )
        assert 0 < xclf.best_iteration < 299
        margin = xclf.predict(
            X[va], output_margin=True, base_margin=np.broadcast_to(init, (800, *np.shape(init)))
        )
        loss_va = (
            np.sum(w[va] * focal_loss_from_raw(margin, y[va], 2.0, alpha=alpha, kind=kind))
            / w[va].sum()
        )
        assert np.isclose(loss_va, xclf.best_score, rtol=1e-4)


@pytest.mark.parametrize("gamma", [0.5, 5.0])
def test_training_converges_for_small_and_large_gamma(gamma):
    lgb = pytest.importorskip("lightgbm")
    X, y, _ = _multiclass_data(2000, seed=4)
    for hessian in ("positive", "exact"):
        data = lgb.Dataset(X, y)
        log = {}
        lgb.train(
            {
                **_LGB,
                "objective": lightgbm_objective(gamma, hessian=hessian),
                "metric": "None",
                "num_class": 4,
            },
            data,
            40,
            valid_sets=[data],
            valid_names=["t"],
            feval=lightgbm_metric(gamma),
            callbacks=[lgb.record_evaluation(log)],
        )
        curve = np.array(log["t"]["focal_loss"])
        assert np.isfinite(curve).all()
        if hessian == "positive":
            assert curve[-1] < 0.8 * curve[0]
            assert np.all(np.diff(curve) < 1e-12)
