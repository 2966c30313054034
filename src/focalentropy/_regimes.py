"""Where focal loss amplifies and where it suppresses (arXiv:2603.02533).

With ``G(p) = p phi(p)`` and the multiplier ``lam`` of the minimizer, the
exact identity ``lam Q*(x) / P(x) = G(Q*(x))`` gives ``Q*(x) > P(x)`` iff
``G(P(x)) > lam``. ``G`` rises from ``G(0+) = 1`` to a single maximum
``G_max`` and falls to ``G(1) = 0``, so the line ``G = lam`` cuts it once
(``lam < 1``: ``p_high``) or twice (``1 < lam < G_max``: ``p_low < p_high``).
Classes below ``p_low`` are *over-suppressed*: pushed further towards 0.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._logit import log_g, sigmoid
from ._loss import _max_gradient_weight
from ._minimizer import _minimizer_of_weights
from ._validation import Gamma, check_distribution, check_gamma, weighted

__all__ = ["LABELS", "RegimesResult", "regimes"]

#: The per-class labels returned by :func:`regimes`.
LABELS = ("amplified", "suppressed", "over-suppressed", "unchanged")
_AMPLIFIED, _SUPPRESSED, _OVER_SUPPRESSED, _UNCHANGED = LABELS

#: ratios within this relative distance of 1 count as "unchanged"
_UNCHANGED_RTOL = 1e-12


@dataclass(frozen=True, repr=False)
class RegimesResult:
    """Result of :func:`regimes`; all arrays have the class axis last.

    Attributes
    ----------
    p : ndarray, shape (..., K)
        The distribution the loss targets: ``P``, or ``normalize(alpha * P)``
        when class weights are given.
    gamma : float
    minimizer : ndarray, shape (..., K)
        ``Q*``.
    ratio : ndarray, shape (..., K)
        ``Q* / p`` (NaN where ``p = 0``; ``Q*`` is 0 there too).
    multiplier : ndarray, shape (...)
        ``lam`` of the problem for ``p`` (``lam Q*/p = G(Q*)``).
    p_low, p_high : ndarray, shape (...)
        Crossings of ``G(p) = lam`` (NaN where absent).
    g_max : float
        ``max G`` (1 for ``gamma = 0``).
    labels : ndarray of str, shape (..., K)
        ``"amplified"`` (``Q* > p``), ``"suppressed"``, ``"over-suppressed"``
        (suppressed and below ``p_low``) or ``"unchanged"``.
    over_suppression : ndarray of bool, shape (...)
        ``lam > 1``: some small classes would be over-suppressed.
    """

    p: NDArray[np.float64]
    gamma: float
    minimizer: NDArray[np.float64]
    ratio: NDArray[np.float64]
    multiplier: NDArray[np.float64]
    p_low: NDArray[np.float64]
    p_high: NDArray[np.float64]
    g_max: float
    labels: NDArray[np.str_]
    over_suppression: NDArray[np.bool_]
    class_names: tuple[Hashable, ...] | None = field(default=None)

    def table(self, row: int | tuple[int, ...] = ()) -> list[dict[str, Any]]:
        """The per-class table of one row as a list of dicts.

        Keys: ``class``, ``p``, ``q_star``, ``ratio``, ``G(p)``, ``label``.
        """
        from ._loss import gradient_weight

        idx = tuple(np.atleast_1d(row)) if row != () else ()
        p = self.p[idx]
        if p.ndim != 1:
            raise ValueError(f"`row` must select a single distribution; got index {row!r}")
        names = self.class_names or tuple(range(p.shape[0]))
        g_of_p = gradient_weight(p, self.gamma)
        return [
            {
                "class": names[k],
                "p": float(p[k]),
                "q_star": float(self.minimizer[idx][k]),
                "ratio": float(self.ratio[idx][k]),
                "G(p)": float(g_of_p[k]),
                "label": str(self.labels[idx][k]),
            }
            for k in range(p.shape[0])
        ]

    def summary(self, row: int | tuple[int, ...] = (), edgeitems: int = 10) -> str:
        """One row's regimes as a plain-text table.

        Beyond ``2 * edgeitems`` classes only the first and last ``edgeitems``
        are listed (as NumPy summarizes long arrays); :meth:`table` has all.
        """
        idx = tuple(np.atleast_1d(row)) if row != () else ()
        lines = [
            f"{'class':>8}  {'P':>11}  {'Q*':>11}  {'Q*/P':>8}  {'G(P)':>8}  label",
        ]
        records = self.table(row)
        k = len(records)
        shown = records if k <= 2 * edgeitems else records[:edgeitems] + records[-edgeitems:]
        for i, rec in enumerate(shown):
            if k > 2 * edgeitems and i == edgeitems:
                lines.append(f"{'...':>8}  ({k - 2 * edgeitems} more classes; .table() has all)")
            lines.append(
                f"{rec['class']!s:>8}  {rec['p']:>11.4g}  {rec['q_star']:>11.4g}  "
                f"{rec['ratio']:>8.4f}  {rec['G(p)']:>8.4f}  {rec['label']}"
            )
        lam = float(self.multiplier[idx])
        p_low, p_high = float(self.p_low[idx]), float(self.p_high[idx])
        lines.append(
            f"gamma = {self.gamma:g}   lam = {lam:.6g}   G_max = {self.g_max:.6g}   "
            f"p_low = {p_low:.4g}   p_high = {p_high:.4g}"
        )
        if bool(self.over_suppression[idx]):
            lines.append("lam > 1: classes below p_low are over-suppressed (Q* < P)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        lead = self.p.shape[:-1]
        if not lead:
            return f"RegimesResult(\n{self.summary()}\n)"
        n = int(np.prod(lead))
        first = tuple(int(i) for i in np.unravel_index(0, lead))
        return (
            f"RegimesResult({n} distributions of {self.p.shape[-1]} classes, batch shape "
            f"{lead}; over-suppression in {int(self.over_suppression.sum())}; first:\n"
            f"{self.summary(first)}\n)"
        )


def _crossings(
    lam: NDArray[np.float64], g: float, t_max: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Solve ``log G(sigmoid(t)) = log lam`` on each side of the maximum, by bisection."""
    log_lam = np.log(np.where(lam > 0, lam, np.nan))
    # G(0+) = 1: the left crossing exists iff 1 < lam < G_max
    left = _bisect_crossing(log_lam, g, -745.0, t_max, rising=True)
    right = _bisect_crossing(log_lam, g, t_max, 745.0, rising=False)
    return left, right


def _bisect_crossing(
    log_lam: NDArray[np.float64], g: float, t_lo: float, t_hi: float, *, rising: bool
) -> NDArray[np.float64]:
    """``sigmoid(t)`` at the ``t`` in ``[t_lo, t_hi]`` where ``log G(sigmoid(t))`` crosses
    ``log_lam``; ``G`` is rising (left of its maximum) or falling on the interval.

    110 halvings of an interval of width <= 1490 reach the spacing of doubles.
    """
    lo = np.full(log_lam.shape, t_lo)
    hi = np.full(log_lam.shape, t_hi)
    for _ in range(110):
        mid = 0.5 * (lo + hi)
        crossing_left_of_mid = (log_g(mid, g) > log_lam) == rising
        hi = np.where(crossing_left_of_mid, mid, hi)
        lo = np.where(crossing_left_of_mid, lo, mid)
    return sigmoid(0.5 * (lo + hi))


def regimes(
    p: ArrayLike,
    gamma: Gamma,
    *,
    alpha: ArrayLike | None = None,
    axis: int = -1,
    class_names: Sequence[Hashable] | None = None,
) -> RegimesResult:
    r"""Classify each class as amplified, suppressed or over-suppressed by focal loss.

    For ``p`` (``normalize(alpha * P)`` with weights) and its minimizer
    ``Q*`` with multiplier ``lam``:

    * ``Q*(x) > p(x)`` iff ``G(p(x)) > lam``, ``G(p) = p phi(p)``;
    * ``lam < 1``: one crossing ``p_high``; classes below it are amplified,
      classes above it suppressed;
    * ``1 < lam < G_max``: crossings ``p_low < p_high``; mid-range classes
      are amplified, high ones suppressed, and classes below ``p_low``
      over-suppressed; as ``p(x) -> 0``, ``Q*(x)/p(x) -> 1/lam``.

    Parameters
    ----------
    p : array_like, shape (..., K)
        Data distribution(s); rows along ``axis`` sum to 1.
    gamma : float
        Focusing parameter, ``gamma >= 0``.
    alpha : None, float or array_like, optional
        Positive class weights broadcastable to ``p``.
    axis : int, optional
        Class axis. Default -1. Arrays in the result have the class axis last.
    class_names : sequence, optional
        Names for the table (default: 0..K-1).

    Returns
    -------
    RegimesResult
        Dataclass with ``minimizer``, ``ratio``, ``multiplier``, ``p_low``,
        ``p_high``, ``g_max``, ``labels``, ``over_suppression``; printing it
        shows the table.

    Examples
    --------
    >>> from focalentropy import regimes
    >>> r = regimes([0.7, 0.2, 0.08, 0.02], 2.0)
    >>> r.labels.tolist()
    ['suppressed', 'amplified', 'amplified', 'amplified']
    >>> eps = 1e-4
    >>> r = regimes([(1 - eps) / 5] * 5 + [eps], 2.0)
    >>> bool(r.over_suppression), str(r.labels[-1])
    (True, 'over-suppressed')
    """
    g = check_gamma(gamma)
    w = weighted(check_distribution(p, "p", axis), alpha, axis)
    p_eff = w / w.sum(axis=-1, keepdims=True)
    q, lam = _minimizer_of_weights(p_eff, g)
    lam = np.asarray(lam)
    if g == 0:
        lam = np.ones_like(lam)  # sum(p_eff) may round to 1 + eps: G = 1 = lam exactly
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(p_eff > 0, q / p_eff, np.nan)
    if g == 0:
        g_max, t_peak = 1.0, 0.0
        p_low = np.full(lam.shape, np.nan)
        p_high = np.full(lam.shape, np.nan)
    else:
        g_max, p_peak = _max_gradient_weight(g)
        t_peak = float(np.log(p_peak) - np.log1p(-p_peak))
        left, right = _crossings(lam, g, t_peak)
        p_low = np.where((lam > 1) & (lam < g_max), left, np.nan)
        p_high = np.where((lam > 0) & (lam < g_max), right, np.nan)
    labels = np.full(p_eff.shape, _UNCHANGED, dtype="<U15")
    changed = ~(np.abs(ratio - 1) <= _UNCHANGED_RTOL)
    changed &= p_eff > 0
    labels[changed & (ratio > 1)] = _AMPLIFIED
    suppressed = changed & (ratio < 1)
    labels[suppressed] = _SUPPRESSED
    low = np.nan_to_num(p_low, nan=0.0)[..., None]
    labels[suppressed & (p_eff < low)] = _OVER_SUPPRESSED
    names = tuple(class_names) if class_names is not None else None
    if names is not None and len(names) != p_eff.shape[-1]:
        raise ValueError(
            f"`class_names` has {len(names)} entries but `p` has {p_eff.shape[-1]} classes"
        )
    return RegimesResult(
        p=p_eff,
        gamma=g,
        minimizer=q,
        ratio=ratio,
        multiplier=lam[()],
        p_low=p_low[()],
        p_high=p_high[()],
        g_max=float(g_max),
        labels=labels,
        over_suppression=(lam > 1)[()],
        class_names=names,
    )
