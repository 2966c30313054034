"""The focal loss term, its derivative phi and the gradient weight G.

THEORY.md section 1-2 and 4:

* ``l(q) = -(1-q)^gamma log q``
* ``phi(q) = -l'(q) = (1-q)^gamma / q - gamma (1-q)^(gamma-1) log q``
* ``G(q) = q phi(q) = (1-q)^gamma (1 + gamma v(q))``, ``v(q) = q (-log q) / (1-q)``

The private helpers work in the logit ``t = log(q / (1-q))`` so that both
``q`` and ``1-q`` (and their logarithms) stay exact for classes near 0 and
near 1; the minimizer iterates in this variable.
"""

from __future__ import annotations

import functools

import numpy as np

from ._validation import as_float_array, check_gamma, check_probabilities

__all__ = ["gradient_weight", "loss", "max_gradient_weight", "phi", "phi_inverse"]


def _v_of_q(q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``v = q (-log q) / (1 - q)`` with its limits v(0) = 0, v(1) = 1."""
    with np.errstate(divide="ignore", invalid="ignore"):
        v = q * -np.log(q) / r
    v = np.where(r == 0, 1.0, v)
    return np.where(q == 0, 0.0, v)


def loss(q, gamma):
    r"""Focal loss term ``l(q) = -(1-q)^gamma log q``, elementwise.

    Parameters
    ----------
    q : array_like
        Probabilities assigned to the observed class, in ``[0, 1]``.
    gamma : float
        Focusing parameter, ``gamma >= 0``; ``gamma = 0`` is the log loss.

    Returns
    -------
    ndarray
        Same shape as ``q``, float64; ``l(0) = +inf`` and ``l(1) = 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from focalentropy import loss
    >>> bool(np.isclose(loss(0.5, 2.0), 0.25 * np.log(2)))
    True
    >>> bool(float(loss(0.3, 0.0)) == -np.log(0.3))
    True
    """
    g = check_gamma(gamma)
    q = check_probabilities(q, "q")
    with np.errstate(divide="ignore"):
        log_q = np.log(q)
    # (1-q)^gamma is 1 where q = 0, so the product is +inf there, never NaN.
    return -np.power(1.0 - q, g) * log_q


def phi(q, gamma):
    r"""Negative derivative of the loss, ``phi(q) = -l'(q)``.

    ``phi(q) = (1-q)^gamma / q - gamma (1-q)^(gamma-1) log q``: positive and
    strictly decreasing on ``(0, 1)``, ``phi(0+) = +inf``, ``phi(1) = 0`` for
    ``gamma > 0`` (``phi(1) = 1`` for ``gamma = 0``). It is evaluated as
    ``(1-q)^gamma (1 + gamma v) / q`` with ``v = q(-log q)/(1-q)``, which has
    no 0 * inf at ``q = 1`` even for ``0 < gamma < 1``.

    Parameters
    ----------
    q : array_like
        Probabilities in ``[0, 1]``.
    gamma : float
        Focusing parameter, ``gamma >= 0``.

    Returns
    -------
    ndarray
        Same shape as ``q``.

    Examples
    --------
    >>> from focalentropy import phi
    >>> float(phi(0.25, 0.0))
    4.0
    """
    g = check_gamma(gamma)
    q = check_probabilities(q, "q")
    r = 1.0 - q
    with np.errstate(divide="ignore"):
        return np.power(r, g) * (1.0 + g * _v_of_q(q, r)) / q


def gradient_weight(q, gamma):
    r"""The gradient weight ``G(q) = q phi(q)``.

    ``G(q) = (1-q)^gamma - gamma q (1-q)^(gamma-1) log q``. For the softmax
    focal loss, ``dL/dz = G(p_y) (softmax(z) - onehot(y))``: focal loss is
    cross-entropy with each sample's gradient scaled by ``G(p_y)``. For
    ``gamma > 0``, ``G(0+) = 1``, ``G`` rises to a single maximum
    ``G_max > 1`` and falls to ``G(1) = 0``; the minimizer amplifies class
    ``x`` iff ``G(P(x)) > lam`` (THEORY.md section 4).

    Parameters
    ----------
    q : array_like
        Probabilities in ``[0, 1]``.
    gamma : float
        Focusing parameter, ``gamma >= 0``.

    Returns
    -------
    ndarray
        Same shape as ``q``, values in ``[0, G_max]``.

    Examples
    --------
    >>> from focalentropy import gradient_weight
    >>> float(gradient_weight(0.0, 2.0)), float(gradient_weight(1.0, 2.0))
    (1.0, 0.0)
    """
    g = check_gamma(gamma)
    q = check_probabilities(q, "q")
    r = 1.0 - q
    return np.power(r, g) * (1.0 + g * _v_of_q(q, r))


def max_gradient_weight(gamma):
    r"""Maximum of ``G`` on ``(0, 1)`` and where it is attained.

    Parameters
    ----------
    gamma : float
        Focusing parameter, ``gamma > 0``.

    Returns
    -------
    g_max : float
        ``max_p G(p) > 1``.
    p_max : float
        The maximizer.

    Examples
    --------
    >>> from focalentropy import max_gradient_weight
    >>> g_max, p_max = max_gradient_weight(2.0)
    >>> bool(g_max > 1 and 0 < p_max < 1)
    True
    """
    g = check_gamma(gamma)
    if g == 0:
        raise ValueError("`gamma` must be > 0: G is identically 1 for gamma = 0")
    return _max_gradient_weight(g)


@functools.lru_cache(maxsize=256)
def _max_gradient_weight(g: float) -> tuple[float, float]:
    # G is unimodal; golden-section search on log G over the logit, where the
    # peak is well scaled for every gamma (it sits near p ~ 1/gamma for large
    # gamma). The maximum is flat, so the value is exact to rounding while the
    # location is determined only to ~sqrt(eps).
    lo = -4.0 - 2.0 * np.log1p(g)
    hi = 4.0
    inv_phi = (np.sqrt(5.0) - 1.0) / 2.0
    a, b = lo + (1 - inv_phi) * (hi - lo), lo + inv_phi * (hi - lo)
    fa, fb = _log_g_of_t(np.array(a), g), _log_g_of_t(np.array(b), g)
    for _ in range(200):
        if fa >= fb:
            hi, b, fb = b, a, fa
            a = lo + (1 - inv_phi) * (hi - lo)
            fa = _log_g_of_t(np.array(a), g)
        else:
            lo, a, fa = a, b, fb
            b = lo + inv_phi * (hi - lo)
            fb = _log_g_of_t(np.array(b), g)
        if hi - lo < 1e-12:
            break
    t = 0.5 * (lo + hi)
    return float(np.exp(_log_g_of_t(np.array(t), g))), float(_sigmoid(np.asarray(t)))


# ---------------------------------------------------------------------------
# logit-coordinate machinery (private)
# ---------------------------------------------------------------------------


def _sigmoid(t: np.ndarray) -> np.ndarray:
    # for t >= 0, 1 - e/(1+e) rounds correctly even when e < eps, where
    # 1/(1+e) would round 1+e to 1 first
    e = np.exp(-np.abs(t))
    small = e / (1.0 + e)
    return np.where(t >= 0, 1.0 - small, small)


def _logit_terms(t: np.ndarray):
    """Return ``q, 1-q, -log q, -log(1-q), v`` for logits ``t`` (t = +-inf ok)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        e = np.exp(-np.abs(t))
        lp = np.log1p(e)
        one_plus = 1.0 + e
        pos = t >= 0
        q = np.where(pos, 1.0 / one_plus, e / one_plus)
        r = np.where(pos, e / one_plus, 1.0 / one_plus)
        neg_log_q = np.where(pos, lp, lp - t)
        neg_log_r = np.where(pos, lp + t, lp)
        # v = e^t (-log q): for t >= 0 it is log1p(e)/e -> 1 as e -> 0.
        v = np.where(pos, np.where(e > 0, lp / np.where(e > 0, e, 1.0), 1.0), e * neg_log_q)
    return q, r, neg_log_q, neg_log_r, v


def _psi_fast(t: np.ndarray, g: float):
    """``_psi`` for the minimizer's inner loop: the same values, fewer passes.

    Every entry is first computed with the ``t < 0`` formulas, using the
    SIMD ``log(1 + e)`` (enough there: the terms it feeds need absolute, not
    relative, accuracy); the few entries with ``t > 0`` (at most one class
    per row has q > 1/2) are then redone exactly with ``log1p``.
    """
    e = np.exp(-np.abs(t))
    inv = 1.0 / (1.0 + e)
    lp = np.log(1.0 + e)
    q = e * inv
    r = inv
    nlq = lp - np.minimum(t, 0.0)
    nlr = lp + np.maximum(t, 0.0)
    v = e * nlq
    pos = t > 0
    if pos.any():
        e_pos = e[pos]
        lp_pos = np.log1p(e_pos)
        inv_pos = inv[pos]
        q[pos] = inv_pos
        r[pos] = e_pos * inv_pos
        t_pos = t[pos]
        nlq[pos] = lp_pos
        nlr[pos] = lp_pos + t_pos
        with np.errstate(divide="ignore", invalid="ignore"):
            v[pos] = np.where(e_pos > 0, lp_pos / e_pos, 1.0)
    one_gv = 1.0 + g * v
    psi = nlq - g * nlr + np.log(one_gv)
    dpsi = (g * (v - q)) / one_gv - g * q - r
    return psi, dpsi, q, r


def _log_g_of_t(t: np.ndarray, g: float) -> np.ndarray:
    """``log G(q)`` at ``q = sigmoid(t)``."""
    _, _, _, neg_log_r, v = _logit_terms(t)
    return -g * neg_log_r + np.log1p(g * v)


def _psi(t: np.ndarray, g: float):
    """``psi(t) = log phi(sigmoid(t))`` and ``psi'(t)``, plus q and 1-q.

    ``log phi = gamma log(1-q) - log q + log(1 + gamma v)`` and
    ``psi' = -gamma q - (1-q) + gamma (v - q) / (1 + gamma v)``, which lies
    between ``-max(1, gamma)`` and ``-min(1, gamma)`` in practice.
    """
    q, r, neg_log_q, neg_log_r, v = _logit_terms(t)
    one_gv = 1.0 + g * v
    psi = neg_log_q - g * neg_log_r + np.log(one_gv)
    dpsi = -g * q - r + g * (v - q) / one_gv
    return psi, dpsi, q, r


def _initial_logit(y: np.ndarray, g: float) -> np.ndarray:
    """Start for ``psi(t) = y`` from the two asymptotes of psi.

    ``psi(t) ~ -t`` as t -> -inf and ``psi(t) ~ log(1+gamma) - gamma t`` as
    t -> +inf; the solution is close to the inverse of the nearer envelope of
    the two lines.
    """
    left = -y
    if g == 0:
        return left
    right = (np.log1p(g) - y) / g
    # psi is convex-like between its asymptotes for gamma < 1 (it lies above
    # both lines) and concave-like for gamma > 1 (below both): invert the
    # envelope it is closest to
    return np.maximum(left, right) if g <= 1 else np.minimum(left, right)


def _solve_logit(y: np.ndarray, g: float, t0: np.ndarray | None = None, maxiter: int = 100):
    """Solve ``psi(t) = y`` elementwise by safeguarded Newton iteration."""
    t = _initial_logit(y, g) if t0 is None else t0.copy()
    finite = np.isfinite(y)
    t = np.where(finite, t, 0.0)
    for _ in range(maxiter):
        psi, dpsi, _, _ = _psi(t, g)
        step = (psi - y) / dpsi
        step = np.where(finite, np.clip(step, -50.0, 50.0), 0.0)
        t = t - step
        if np.all(np.abs(step) <= 1e-15 * np.maximum(1.0, np.abs(t))):
            break
    return t


def phi_inverse(y, gamma):
    r"""Inverse of ``phi`` on ``(0, 1)``: the ``q`` with ``phi(q) = y``.

    Parameters
    ----------
    y : array_like
        Values in ``[0, inf]`` (for ``gamma = 0``: in ``[1, inf]``);
        ``y = inf`` gives ``q = 0`` and ``y = 0`` gives ``q = 1``.
    gamma : float
        Focusing parameter, ``gamma >= 0``.

    Returns
    -------
    ndarray
        ``q`` with ``phi(q, gamma) = y``, same shape as ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> from focalentropy import phi, phi_inverse
    >>> q = np.array([1e-200, 0.3, 0.999])
    >>> bool(np.allclose(phi_inverse(phi(q, 2.0), 2.0), q, rtol=1e-13, atol=0))
    True
    """
    g = check_gamma(gamma)
    y = as_float_array(y, "y")
    lower = 0.0 if g > 0 else 1.0
    bad = ~(y >= lower)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"`y` must be >= {lower} (the range of phi for gamma = {g}); "
            f"found {y[idx]!r} at index {idx if len(idx) != 1 else idx[0]}"
        )
    if g == 0:
        with np.errstate(divide="ignore"):
            return 1.0 / y
    with np.errstate(divide="ignore"):
        log_y = np.log(y)
    t = _solve_logit(log_y, g)
    t = np.where(y == 0, np.inf, np.where(np.isposinf(y), -np.inf, t))
    return _sigmoid(t)
