"""The focal loss term, its derivative phi and the gradient weight G.

Definitions (arXiv:2603.02533):

* ``l(q) = -(1-q)^gamma log q``
* ``phi(q) = -l'(q) = (1-q)^gamma / q - gamma (1-q)^(gamma-1) log q``
* ``G(q) = q phi(q) = (1-q)^gamma (1 + gamma v(q))``, ``v(q) = q (-log q) / (1-q)``

The logit-coordinate helpers (``t = log(q / (1-q))``, in which both ``q``
and ``1-q`` stay exact) are in :mod:`focalentropy._logit`.
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _logit
from ._validation import (
    Gamma,
    as_float_array,
    check_gamma,
    check_probabilities,
    first_bad,
    warn_not_converged,
)

__all__ = ["gradient_weight", "loss", "max_gradient_weight", "phi", "phi_inverse"]


def _v_of_q(q: NDArray[np.float64], r: NDArray[np.float64]) -> NDArray[np.float64]:
    """``v = q (-log q) / (1 - q)`` with its limits v(0) = 0, v(1) = 1."""
    with np.errstate(divide="ignore", invalid="ignore"):
        v = q * -np.log(q) / r
    v = np.where(r == 0, 1.0, v)
    return np.where(q == 0, 0.0, v)


def loss(q: ArrayLike, gamma: Gamma) -> NDArray[np.float64]:
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


def phi(q: ArrayLike, gamma: Gamma) -> NDArray[np.float64]:
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
    return _phi_values(check_probabilities(q, "q"), g)


def _phi_values(q: NDArray[np.float64], g: float) -> NDArray[np.float64]:
    """``phi`` of a checked array ``q`` (no validation)."""
    with np.errstate(divide="ignore"):
        return _g_values(q, g) / q


def _g_values(q: NDArray[np.float64], g: float) -> NDArray[np.float64]:
    """``G = q phi(q) = (1-q)^gamma (1 + gamma v)`` of a checked array ``q``."""
    r = 1.0 - q
    return np.power(r, g) * (1.0 + g * _v_of_q(q, r))


def gradient_weight(q: ArrayLike, gamma: Gamma) -> NDArray[np.float64]:
    r"""The gradient weight ``G(q) = q phi(q)``.

    ``G(q) = (1-q)^gamma - gamma q (1-q)^(gamma-1) log q``. For the softmax
    focal loss, ``dL/dz = G(p_y) (softmax(z) - onehot(y))``: focal loss is
    cross-entropy with each sample's gradient scaled by ``G(p_y)``. For
    ``gamma > 0``, ``G(0+) = 1``, ``G`` rises to a single maximum
    ``G_max > 1`` and falls to ``G(1) = 0``; the minimizer amplifies class
    ``x`` iff ``G(P(x)) > lam`` (arXiv:2603.02533).

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
    return _g_values(check_probabilities(q, "q"), g)


def max_gradient_weight(gamma: Gamma) -> tuple[float, float]:
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


#: iteration cap of the golden-section search for G_max (it needs ~75 at most)
_GMAX_MAXITER = 200


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
    fa, fb = _logit.log_g(np.array(a), g), _logit.log_g(np.array(b), g)
    for _ in range(_GMAX_MAXITER):
        if fa >= fb:
            hi, b, fb = b, a, fa
            a = lo + (1 - inv_phi) * (hi - lo)
            fa = _logit.log_g(np.array(a), g)
        else:
            lo, a, fa = a, b, fb
            b = lo + inv_phi * (hi - lo)
            fb = _logit.log_g(np.array(b), g)
        if hi - lo < 1e-12:
            break
    else:
        warn_not_converged(
            f"max_gradient_weight (golden-section search, bracket width {hi - lo:.1e})",
            _GMAX_MAXITER, np.array([True]), np.array([g]), "gamma", stacklevel=3,
        )  # fmt: skip
    t = 0.5 * (lo + hi)
    return float(np.exp(_logit.log_g(np.array(t), g))), float(_logit.sigmoid(np.asarray(t)))


def phi_inverse(y: ArrayLike, gamma: Gamma) -> NDArray[np.float64]:
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
        raise ValueError(
            f"`y` must be >= {lower} (the range of phi for gamma = {g}); {first_bad(y, bad)}"
        )
    if g == 0:
        with np.errstate(divide="ignore"):
            return 1.0 / y
    with np.errstate(divide="ignore"):
        log_y = np.log(y)
    t = _logit.solve_logit(log_y, g)
    t = np.where(y == 0, np.inf, np.where(np.isposinf(y), -np.inf, t))
    return _logit.sigmoid(t)
