"""Focal cross-entropy, focal entropy and focal divergence (arXiv:2603.02533).

* ``H_gamma(P, Q) = sum_x alpha_x P(x) l(Q(x))``  (0 * inf = 0)
* ``H_gamma(P) = min_Q H_gamma(P, Q) = H_gamma(P, Q*)``
* ``D_gamma(P || Q) = H_gamma(P, Q) - H_gamma(P) >= 0``, zero iff ``Q = Q*``.

With ``gamma = 0`` these are the Shannon cross-entropy, entropy and the KL
divergence (in nats).

A row's dominant class (mass > 1/2) has mass ``1 - (sum of the others)``, in
``P`` and in ``Q`` alike, and its loss term is evaluated from that complement
(``_logit.loss_terms``), so that the quantities keep their relative accuracy
where the dominant mass rounds to 1.0.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._logit import loss_terms, top_complement
from ._loss import _phi_values
from ._minimizer import _minimizer_of_weights
from ._validation import Gamma, check_distribution, check_gamma, weighted

__all__ = ["cross_entropy", "divergence", "entropy"]


def _broadcast_pair(
    p: NDArray[np.float64], q: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    try:
        p_b, q_b = np.broadcast_arrays(p, q)
        return p_b, q_b
    except ValueError as exc:
        raise ValueError(
            f"`p` and `q` must have broadcastable shapes (class axis last); "
            f"got {p.shape} and {q.shape}"
        ) from exc


def _weighted_sum(w: NDArray[np.float64], terms: NDArray[np.float64]) -> NDArray[np.float64]:
    # 0 * inf = 0: classes outside the support of P contribute nothing
    with np.errstate(invalid="ignore"):
        prod = np.where(w > 0, w * terms, 0.0)
    return prod.sum(axis=-1)[()]


def cross_entropy(
    p: ArrayLike, q: ArrayLike, gamma: Gamma, *, alpha: ArrayLike | None = None, axis: int = -1
) -> NDArray[np.float64]:
    r"""Focal cross-entropy ``H_gamma(P, Q) = sum_x alpha_x P(x) l(Q(x))``.

    ``l(q) = -(1-q)^gamma log q`` is the focal loss of a model that assigns
    probability ``q`` to the observed class, so ``H_gamma(P, Q)`` is the
    expected focal loss of the model ``Q`` under data drawn from ``P`` (the
    population version of the loss with soft targets ``P``).

    Parameters
    ----------
    p : array_like, shape (..., K)
        Data distribution(s); each slice along ``axis`` sums to 1.
    q : array_like, shape (..., K)
        Model distribution(s); broadcastable against ``p``.
    gamma : float
        Focusing parameter, ``gamma >= 0``.
    alpha : None, float or array_like, optional
        Positive class weights broadcastable to ``p``.
    axis : int, optional
        Class axis. Default -1.

    Returns
    -------
    ndarray or float
        Shape of the broadcast inputs without the class axis. ``+inf`` where
        some class has ``P(x) > 0 = Q(x)``.

    Notes
    -----
    ``cross_entropy(p, q) = entropy(p) + divergence(p, q)``.
    ``H_gamma(P, Q) <= H(P, Q)`` (Shannon), non-increasing in ``gamma``, and
    convex in ``Q`` (strictly on the support of ``P``).

    Examples
    --------
    >>> import numpy as np
    >>> from focalentropy import cross_entropy
    >>> p = np.array([0.5, 0.5])
    >>> bool(np.isclose(cross_entropy(p, p, 0.0), np.log(2)))
    True
    >>> bool(cross_entropy(p, [0.9, 0.1], 2.0) < cross_entropy(p, [0.9, 0.1], 0.0))
    True
    """
    g = check_gamma(gamma)
    p_arr = check_distribution(p, "p", axis)
    q_arr = check_distribution(q, "q", axis)
    p_arr, q_arr = _broadcast_pair(p_arr, q_arr)
    w = weighted(p_arr, alpha, axis)
    return _weighted_sum(w, loss_terms(q_arr, g))


def entropy(
    p: ArrayLike, gamma: Gamma, *, alpha: ArrayLike | None = None, axis: int = -1
) -> NDArray[np.float64]:
    r"""Focal entropy ``H_gamma(P) = min_Q H_gamma(P, Q) = H_gamma(P, Q*)``.

    Parameters
    ----------
    p : array_like, shape (..., K)
        Distribution(s); each slice along ``axis`` sums to 1.
    gamma : float
        Focusing parameter, ``gamma >= 0``; ``gamma = 0`` gives the Shannon
        entropy in nats.
    alpha : None, float or array_like, optional
        Positive class weights broadcastable to ``p``.
    axis : int, optional
        Class axis. Default -1.

    Returns
    -------
    ndarray or float
        Shape of ``p`` without the class axis.

    Notes
    -----
    The minimizer ``Q*`` is not ``P`` for ``gamma > 0`` (see
    :func:`minimizer`), so ``H_gamma(P) < H_gamma(P, P)`` in general.

    Examples
    --------
    >>> import numpy as np
    >>> from focalentropy import entropy, cross_entropy
    >>> p = np.array([0.7, 0.2, 0.1])
    >>> bool(np.isclose(entropy(p, 0.0), -(p * np.log(p)).sum()))
    True
    >>> bool(entropy(p, 2.0) < cross_entropy(p, p, 2.0))
    True
    """
    g = check_gamma(gamma)
    p_arr = check_distribution(p, "p", axis)
    w = weighted(p_arr, alpha, axis)
    q_star, _ = _minimizer_of_weights(w, g)
    return _weighted_sum(w, loss_terms(q_star, g))


def _dominant_bregman(
    terms: NDArray[np.float64],
    q: NDArray[np.float64],
    q_star: NDArray[np.float64],
    loss_q: NDArray[np.float64],
    loss_star: NDArray[np.float64],
    g: float,
) -> None:
    """Redo the Bregman term of each row's dominant class of ``Q*`` from complements (in place).

    With ``r* = 1 - Q*(m)`` the others' sum, ``phi(Q*(m)) = r*^gamma (1/(1 - r*)
    + gamma (-log1p(-r*)) / r*)`` and ``Q(m) - Q*(m) = r* - r`` (``r`` the
    others' sum of ``Q`` when ``Q(m) > 1/2`` too): no term loses its
    relative accuracy where ``Q*(m)`` rounds to 1.
    """
    m, r_star = top_complement(q_star)
    dominant = np.take_along_axis(q_star, m, axis=-1) > 0.5
    if not dominant.any():
        return
    q_m = np.take_along_axis(q, m, axis=-1)
    _, r_q = top_complement(q, m)
    diff = np.where(q_m > 0.5, r_star - r_q, q_m - (1.0 - r_star))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(r_star > 0, -np.log1p(-r_star) / np.where(r_star > 0, r_star, 1.0), 1.0)
        slope = np.power(r_star, g) * (1.0 / (1.0 - r_star) + g * ratio)
        term = np.take_along_axis(loss_q, m, -1) - np.take_along_axis(loss_star, m, -1)
        term = np.maximum(term + slope * diff, 0.0)
    term = np.where(np.isposinf(np.take_along_axis(loss_q, m, -1)), np.inf, term)
    np.put_along_axis(terms, m, np.where(dominant, term, np.take_along_axis(terms, m, -1)), -1)


def divergence(
    p: ArrayLike, q: ArrayLike, gamma: Gamma, *, alpha: ArrayLike | None = None, axis: int = -1
) -> NDArray[np.float64]:
    r"""Focal divergence ``D_gamma(P || Q) = H_gamma(P, Q) - H_gamma(P) >= 0``.

    It vanishes iff ``Q = Q*`` (the minimizer), not iff ``Q = P``. It is
    computed as a sum of Bregman terms of the convex loss ``l``,

    .. math::

        D = \sum_x w_x \left[ l(Q(x)) - l(Q^*(x)) + \phi(Q^*(x)) (Q(x) - Q^*(x)) \right],

    plus ``lam * Q(outside the support of P)``, which equals the difference
    above because ``w_x phi(Q*(x)) = lam`` on the support; every term is
    >= 0, so rounding cannot make ``D`` negative.

    Parameters
    ----------
    p, q : array_like, shape (..., K)
        Data and model distributions (broadcastable).
    gamma : float
        Focusing parameter, ``gamma >= 0``; ``gamma = 0`` gives ``KL(P || Q)``.
    alpha : None, float or array_like, optional
        Positive class weights broadcastable to ``p``.
    axis : int, optional
        Class axis. Default -1.

    Returns
    -------
    ndarray or float
        Shape of the broadcast inputs without the class axis.

    Examples
    --------
    >>> import numpy as np
    >>> from focalentropy import divergence, minimizer
    >>> p = np.array([0.7, 0.2, 0.1])
    >>> float(divergence(p, minimizer(p, 2.0), 2.0)) < 1e-15
    True
    >>> bool(np.isclose(divergence(p, [0.5, 0.3, 0.2], 0.0),
    ...                 (p * np.log(p / [0.5, 0.3, 0.2])).sum()))
    True
    """
    g = check_gamma(gamma)
    p_arr = check_distribution(p, "p", axis)
    q_arr = check_distribution(q, "q", axis)
    p_b, q_b = _broadcast_pair(p_arr, q_arr)
    q_star, lam = _minimizer_of_weights(weighted(p_arr, alpha, axis), g)
    q_star = np.broadcast_to(q_star, p_b.shape)
    lam = np.broadcast_to(lam, p_b.shape[:-1])
    w = weighted(p_b, alpha, axis)
    loss_q = loss_terms(q_b, g)
    loss_star = loss_terms(q_star, g)
    with np.errstate(invalid="ignore"):
        slope = _phi_values(q_star, g)
        terms = loss_q - loss_star + slope * (q_b - q_star)
    terms = np.where(np.isposinf(loss_q), np.inf, np.maximum(terms, 0.0))
    if terms.shape[-1] > 1:
        _dominant_bregman(terms, q_b, q_star, loss_q, loss_star, g)
    # the linear terms sum to -lam * (mass of Q outside the support of w)
    outside = np.where(w > 0, 0.0, q_b).sum(axis=-1)
    bregman = _weighted_sum(w, terms) + lam * outside
    # The Bregman sum is accurate when Q is close to Q* (no cancellation
    # between two nearly equal entropies); far from Q* the plain difference
    # is, because it does not need phi at a Q* rounded near 1.
    cross = _weighted_sum(w, loss_q)
    with np.errstate(invalid="ignore"):
        difference = cross - _weighted_sum(w, loss_star)
        far = np.isfinite(cross) & (difference > 1e-6 * np.abs(cross))
    return np.where(far, difference, bregman)[()]
