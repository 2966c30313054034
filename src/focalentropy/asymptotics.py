"""Asymptotic expansions of the minimizer Q* (docs/theory.rst, section "Asymptotics").

Three limits, each a closed form that needs no root finding (except
:func:`tail_ratio`, which is the multiplier of the exact solution):

* small gamma: ``Q*(x) = P(x) + gamma d(x) + O(gamma^2)``,
  ``d(x) = P(x) [c(x) - mu]``, ``c(p) = log(1-p) - p log p / (1-p)``,
  ``mu = sum_y P(y) c(y)``;
* large gamma (support of size K): ``Q*(x) = 1/K + ((K-1)/(K gamma))
  (log P(x) - mean_y log P(y)) + O(1/gamma^2)``, the mean taken over the
  support;
* small probabilities: ``Q*(x) / P(x) -> 1 / lam`` as ``P(x) -> 0``.

With class weights ``alpha`` the minimizer only depends on
``w = normalize(alpha * P)`` (section "The minimizer"), so the expansions are those of
``w``: the small-gamma leading term is ``w``, not ``P``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._minimizer import _minimizer_of_weights
from ._validation import Gamma, check_distribution, check_gamma, weighted

__all__ = ["Expansion", "large_gamma", "small_gamma", "tail_ratio"]


@dataclass(frozen=True)
class Expansion:
    r"""A first-order expansion ``Q*(gamma) ~ leading + coefficient * gamma**order``.

    Calling the expansion with a ``gamma`` returns the approximation; the
    error of that approximation is ``O(gamma**remainder_order)``.

    Attributes
    ----------
    leading : ndarray, shape (..., K, ...)
        The limit of ``Q*`` (``gamma -> 0``: ``normalize(alpha P)``;
        ``gamma -> inf``: uniform on the support).
    coefficient : ndarray, shape (..., K, ...)
        The first-order coefficient; it sums to 0 along the class axis.
    order : int
        ``1`` (expansion in ``gamma``) or ``-1`` (in ``1/gamma``).
    remainder_order : int
        ``2`` or ``-2``: the approximation error is ``O(gamma**remainder_order)``.
    """

    leading: NDArray[np.float64]
    coefficient: NDArray[np.float64]
    order: int
    remainder_order: int

    def __call__(self, gamma: Gamma) -> NDArray[np.float64]:
        """The approximation ``leading + coefficient * gamma**order``."""
        g = check_gamma(gamma)
        if self.order < 0 and g == 0:
            raise ValueError("`gamma` must be > 0 for the large-gamma expansion, got 0")
        return self.leading + self.coefficient * g**self.order


def _weights(
    p: ArrayLike, alpha: ArrayLike | None, axis: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Normalized weights ``w = normalize(alpha P)`` with the class axis last, and ``P``."""
    arr = check_distribution(p, "p", axis)
    if alpha is None:
        return arr, arr
    w = weighted(arr, alpha, axis)
    return w / w.sum(axis=-1, keepdims=True), arr


def small_gamma(p: ArrayLike, *, alpha: ArrayLike | None = None, axis: int = -1) -> Expansion:
    r"""First-order expansion of ``Q*`` in ``gamma`` around ``gamma = 0``.

    .. math::

        Q^*(x) = P(x) + \gamma\, d(x) + O(\gamma^2), \qquad
        d(x) = P(x)\,[c(x) - \mu], \qquad \mu = \sum_y P(y)\, c(y),

        c(p) = \log(1 - p) - \frac{p \log p}{1 - p}.

    Derivation: ``log phi(q) = -log q + gamma c(q) + O(gamma^2)``; inserting
    ``Q* = P + gamma d`` and ``lam = 1 + gamma mu`` in the KKT condition
    ``log P(x) + log phi(Q*(x)) = log lam`` and matching the ``gamma`` terms
    gives ``d = P (c - mu)``, with ``mu`` fixed by ``sum_x d(x) = 0``.
    Classes with ``P(x) = 0`` get ``d(x) = 0``; a single-class support gives
    ``d = 0`` (``Q*`` is one-hot for every ``gamma``).

    Parameters
    ----------
    p : array_like, shape (..., K, ...)
        Distributions along ``axis``.
    alpha : None, float or array_like, optional
        Class weights; the expansion is that of ``normalize(alpha * P)``.
    axis : int, optional
        The class axis. Default -1.

    Returns
    -------
    Expansion
        ``leading = P`` (or ``normalize(alpha P)``), ``coefficient = d``,
        ``order = 1``, ``remainder_order = 2``; call it with ``gamma`` for
        ``P + gamma d``.

    Examples
    --------
    >>> import numpy as np
    >>> from focalentropy.asymptotics import small_gamma
    >>> from focalentropy import minimizer
    >>> p = np.array([0.6, 0.3, 0.1])
    >>> expansion = small_gamma(p)
    >>> bool(abs(expansion.coefficient.sum()) < 1e-15)
    True
    >>> bool(np.abs(expansion(1e-3) - minimizer(p, 1e-3)).max() < 1e-6)
    True
    """
    w, _ = _weights(p, alpha, axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.log1p(-w) - np.where(w > 0, w * np.log(w), 0.0) / (1.0 - w)
    single = (w > 0).sum(axis=-1, keepdims=True) == 1
    c = np.where((w > 0) & ~single, c, 0.0)
    mu = (w * c).sum(axis=-1, keepdims=True)
    d = np.where(single, 0.0, w * (c - mu))
    return Expansion(np.moveaxis(w, -1, axis), np.moveaxis(d, -1, axis), 1, 2)


def large_gamma(p: ArrayLike, *, alpha: ArrayLike | None = None, axis: int = -1) -> Expansion:
    r"""First-order expansion of ``Q*`` in ``1/gamma`` as ``gamma -> inf``.

    On the support ``S = {x : P(x) > 0}`` of size ``K``:

    .. math::

        Q^*(x) = \frac1K + \frac{K-1}{K\gamma}\Big(\log P(x)
        - \frac1K \sum_{y \in S} \log P(y)\Big) + O(\gamma^{-2}),

    and ``Q*(x) = 0`` off the support. Derivation: for large ``gamma``,
    ``log phi(q) = gamma log(1-q) + log gamma + h(q) + O(1/gamma)`` with
    ``h`` smooth; with ``Q* = 1/K + e/gamma`` the KKT condition
    ``log P(x) + log phi(Q*(x)) = log lam`` reads
    ``log P(x) - e(x) K/(K-1) = const + O(1/gamma)``, and ``sum_x e(x) = 0``
    fixes the constant.

    Parameters
    ----------
    p : array_like, shape (..., K, ...)
        Distributions along ``axis``.
    alpha : None, float or array_like, optional
        Class weights; ``log P`` is replaced by ``log(alpha P)``.
    axis : int, optional
        The class axis. Default -1.

    Returns
    -------
    Expansion
        ``leading`` uniform on the support, ``coefficient`` as above,
        ``order = -1``, ``remainder_order = -2``.

    Examples
    --------
    >>> import numpy as np
    >>> from focalentropy.asymptotics import large_gamma
    >>> from focalentropy import minimizer
    >>> p = np.array([0.6, 0.3, 0.1, 0.0])
    >>> expansion = large_gamma(p)
    >>> expansion.leading
    array([0.33333333, 0.33333333, 0.33333333, 0.        ])
    >>> bool(np.abs(expansion(1e3) - minimizer(p, 1e3)).max() < 1e-5)
    True
    """
    w, _ = _weights(p, alpha, axis)
    support = w > 0
    k = support.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore"):
        log_w = np.where(support, np.log(w), 0.0)
    mean = log_w.sum(axis=-1, keepdims=True) / k
    leading = np.where(support, 1.0 / k, 0.0)
    coefficient = np.where(support, (k - 1.0) / k * (log_w - mean), 0.0)
    return Expansion(np.moveaxis(leading, -1, axis), np.moveaxis(coefficient, -1, axis), -1, -2)


def tail_ratio(
    p: ArrayLike, gamma: Gamma, *, alpha: ArrayLike | None = None, axis: int = -1
) -> NDArray[np.float64]:
    r"""The limit ``1 / lam`` of ``Q*(x) / P(x)`` for classes with ``P(x) -> 0``.

    Near 0, ``phi(q) = 1/q + O(log q)``, so the KKT condition
    ``w_x phi(Q*(x)) = lam`` gives ``Q*(x) = (w_x / lam)(1 + O(P(x) log P(x)))``
    (exactly: ``lam Q*(x) / w_x = G(Q*(x))`` with ``G(0+) = 1``). A class of
    weight ``alpha_x`` and vanishing probability therefore has
    ``Q*(x) / P(x) -> alpha_x / lam``. ``1/lam < 1`` means the rare classes
    are over-suppressed (docs/theory.rst, section "Regimes"). A class added with
    vanishing probability does not change ``lam`` in the limit.

    Parameters
    ----------
    p : array_like, shape (..., K, ...)
        Distributions along ``axis`` (at least two classes in each support
        when ``gamma > 0``, else ``lam = 0`` and the ratio is ``inf``).
    gamma : float
        Focusing parameter, ``gamma >= 0``.
    alpha : None, float or array_like, optional
        Class weights, as in :func:`~focalentropy.minimizer`.
    axis : int, optional
        The class axis. Default -1.

    Returns
    -------
    ndarray
        ``1 / lam``, shape of ``p`` without ``axis``. For a countable
        alphabet use ``1 / countable_minimizer(...).multiplier``.

    Examples
    --------
    >>> import numpy as np
    >>> from focalentropy.asymptotics import tail_ratio
    >>> from focalentropy import minimizer
    >>> p = np.array([0.3, 0.3, 0.3, 0.1 - 1e-9, 1e-9])
    >>> q = minimizer(p, 2.0)
    >>> bool(np.isclose(q[-1] / p[-1], tail_ratio(p, 2.0), rtol=1e-7))
    True
    """
    g = check_gamma(gamma)
    _, lam = _minimizer_of_weights(weighted(check_distribution(p, "p", axis), alpha, axis), g)
    with np.errstate(divide="ignore"):
        return 1.0 / lam
