r"""Certified series: focal entropy and cross-entropy on the integers, with proven brackets.

Finiteness
----------
``H_gamma(P) < inf`` iff the Shannon entropy ``H(P) < inf``, and
``H_gamma(P, Q) < inf`` iff ``H(P, Q) < inf`` (docs/theory.rst, section "Countable
alphabets"). Divergence cannot be read off a partial sum, so it is decided from
the distribution's tail:

* the scipy families of the adapters' table (``poisson``, ``geom``,
  ``nbinom``, ``logser``, ``planck``, ``zipf``) and every family with finite
  support have finite Shannon entropy; for them ``-log P(x)`` and ``P(x)``
  have explicit envelopes, so the series tails have certified bounds;
* a user pmf may state its tail as ``p_n ~ C n^-s (log n)^-b``
  (``tail=(s, b)``): ``H(P) < inf`` iff ``s > 1`` or ``s = 1, b > 2``;
  with an ``entropy_tail`` bound the value is certified too;
* otherwise finiteness is undecidable from ``pmf`` and ``sf`` alone: the
  partial sum is a certified *lower* bound and the upper bound is ``inf``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._logit import logit_terms, solve_logit
from .._validation import Gamma, check_gamma
from ._adapters import Source, as_source
from ._common import (
    MAX_TERMS,
    ROUNDING,
    DivergenceWarning,
    TruncationWarning,
    check_alpha,
    check_tol,
    class_weights,
    gradient_weight_max,
)
from ._solver import CountableMinimizer, minimize
from ._tails import cross_tail, find_truncation, tail_factor, tail_max

__all__ = ["SeriesValue", "countable_cross_entropy", "countable_entropy"]


@dataclass(frozen=True)
class SeriesValue:
    r"""The value of a positive series with a proven bracket.

    Attributes
    ----------
    value : float
        Best estimate (``inf`` if the series diverges).
    lower, upper : float
        Proven bounds ``lower <= exact <= upper`` (``upper = inf`` when the
        tail cannot be bounded).
    error_bound : float
        ``max(value - lower, upper - value)``.
    finite : bool or None
        Whether the series converges, as decided from the tail; ``None``
        when this cannot be decided.
    terms : int
        Number of integers summed explicitly.
    reason : str
        How finiteness and the bounds were decided.
    """

    value: float
    lower: float
    upper: float
    finite: bool | None
    terms: int
    reason: str

    @property
    def error_bound(self) -> float:
        if math.isinf(self.value):
            return 0.0 if self.lower == math.inf else math.inf
        return max(self.value - self.lower, self.upper - self.value)

    def __float__(self) -> float:
        return float(self.value)


def _head_loss(t: NDArray[np.float64], g: float) -> NDArray[np.float64]:
    """``l(sigmoid(t)) = (1-q)^gamma (-log q)`` from logits, exact for q near 0 and 1."""
    _, _, neg_log_q, neg_log_r, _ = logit_terms(t)
    return np.exp(-g * neg_log_r) * neg_log_q


def _warn_divergent(what: str, why: str) -> SeriesValue:
    warnings.warn(f"{what} is infinite: {why}", DivergenceWarning, stacklevel=3)
    return SeriesValue(math.inf, math.inf, math.inf, False, 0, why)


def _finish(value: SeriesValue, tol: float, who: str) -> SeriesValue:
    if value.finite is None:
        warnings.warn(
            f"{who}: finiteness cannot be decided from a pmf and a tail mass alone "
            "(a partial sum that looks large proves nothing, nor does one that looks "
            "settled); returning the partial sum, a proven lower bound, with upper = inf. "
            "Pass `tail=(s, b)` or `entropy_tail` to CountableDistribution.",
            TruncationWarning,
            stacklevel=3,
        )
    elif value.error_bound > tol:
        warnings.warn(
            f"{who}: the certified error bound {value.error_bound:.3g} exceeds `tol` = "
            f"{tol:.3g} ({value.reason})",
            TruncationWarning,
            stacklevel=3,
        )
    return value


def countable_entropy(
    dist: Any,
    gamma: Gamma,
    *,
    alpha: ArrayLike | None = None,
    tol: float = 1e-12,
    max_terms: int = MAX_TERMS,
) -> SeriesValue:
    r"""Focal entropy ``H_gamma(P) = sum_x alpha_x P(x) l(Q*(x))`` on a countable alphabet.

    ``l(q) = -(1-q)^gamma log q`` and ``Q*`` from :func:`countable_minimizer`.
    ``H_gamma(P) < inf`` iff the Shannon entropy ``H(P) < inf``; divergence is
    decided from the tail of ``dist`` and returns ``inf`` with a
    :class:`DivergenceWarning`.

    Certified bracket. The head ``x <= N`` is summed at the ends of the
    multiplier bracket (``l(Q*(x))`` increases with ``lam``). On the tail,
    ``G_lo P/lam <= Q* <= G_hi P/lam`` and ``(1-q_max)^gamma (-log q) <=
    l(q) <= -log q`` give

        (1-q_max)^gamma [S log(lam/G_hi) + E_lo]  <=  tail
            <=  S log(lam/G_lo) + E_hi,

    with ``E_lo <= sum_{x>N} P(x) log(1/P(x)) <= E_hi`` from the family's
    envelopes (or the user's ``entropy_tail``). ``N`` grows until the
    bracket is narrower than ``2 tol`` or ``max_terms`` is reached.

    Parameters
    ----------
    dist : frozen scipy.stats discrete distribution, CountableDistribution or (pmf, sf)
    gamma : float
        ``gamma >= 0``; ``gamma = 0`` gives the Shannon entropy.
    alpha : None, float or array_like, optional
        Class weights as in :func:`countable_minimizer`.
    tol : float, optional
        Target for the error bound, in ``(0, 1)``. Default 1e-12.
    max_terms : int, optional
        Cap on the number of integers summed explicitly.

    Returns
    -------
    SeriesValue
        ``value``, ``lower``, ``upper``, ``error_bound``, ``finite``;
        ``float(result)`` is the value.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import stats
    >>> from focalentropy import countable_entropy
    >>> h = countable_entropy(stats.geom(0.5), 0.0)
    >>> bool(abs(h.value - 2 * np.log(2)) <= h.error_bound <= 1e-12)
    True
    >>> bool(countable_entropy(stats.poisson(3), 2.0).value < stats.poisson(3).entropy())
    True
    """
    g = check_gamma(gamma)
    tol = check_tol(tol)
    src = as_source(dist, "dist")
    alpha_head, a_tail = check_alpha(alpha)
    if src.finite_entropy is False:
        return _warn_divergent("the focal entropy", _why_infinite_entropy(src))
    n_floor = None
    for _ in range(12):
        res = minimize(src, g, alpha_head, a_tail, tol, max_terms, n_floor)
        value = _entropy_bracket(res, src, g, a_tail)
        n_trunc = int(res.support[-1]) - src.shift
        width = value.upper - value.lower
        at_cap = len(res.support) >= max_terms or n_trunc >= src.upper
        if width <= 2 * tol or at_cap or not math.isfinite(width):
            break
        # shrink the tail mass by the missing factor (the bracket scales with it)
        target = res.tail_mass * min(0.5, tol / width) ** 1.2
        n_floor = find_truncation(src, target, n_trunc + 1, src.lower + max_terms - 1)
    return _finish(value, tol, "countable_entropy")


def _why_infinite_entropy(src: Source) -> str:
    assert src.tail is not None  # finite_entropy is False only for a stated power tail
    s, b = src.tail[1:]
    return (
        f"H_gamma(P) < inf iff the Shannon entropy H(P) < inf, and the tail "
        f"p_n ~ C n^-{s:g} (log n)^-{b:g} of {src.name} has H(P) = inf "
        "(finite iff s > 1 or b > 2)"
    )


def _head_entropy(
    w: NDArray[np.float64], lams: tuple[float, float, float], g: float
) -> tuple[float, float, float]:
    """``sum_head w l(Q*)`` at ``lam`` and its bounds at ``(lam_lo, lam_hi)``."""
    w = w[w > 0]
    if g == 0:
        head = math.fsum(w * -np.log(w / lams[0]))
        return head, head * (1 - ROUNDING), head * (1 + ROUNDING)
    log_w = np.log(w)
    sums = [math.fsum(w * _head_loss(solve_logit(math.log(x) - log_w, g), g)) for x in lams]
    return sums[0], sums[1] * (1 - ROUNDING), sums[2] * (1 + ROUNDING)


def _entropy_bracket(res: CountableMinimizer, src: Source, g: float, a_tail: float) -> SeriesValue:
    lam, (lam_lo, lam_hi) = res.multiplier, res.multiplier_bounds
    terms = len(res.p)
    if lam == 0:  # one-hot Q*: l(1) = 0
        return SeriesValue(0.0, 0.0, 0.0, True, terms, "single class")
    assert res._weights is not None
    head, head_lo, head_hi = _head_entropy(res._weights, (lam, lam_lo, lam_hi), g)
    n_trunc = int(res.support[-1]) - src.shift
    s_tail = res.tail_mass
    if s_tail == 0:
        reason = "finite support" if n_trunc >= src.upper else "tail mass below 1e-308"
        return SeriesValue(head, head_lo, head_hi, True, terms, reason)
    e_lo, e_hi = cross_tail(src, src, n_trunc)
    g_max, p_max = gradient_weight_max(g)
    m_tail = tail_max(src, n_trunc, s_tail)
    g_lo, _, _ = tail_factor(lam_hi, g, a_tail, m_tail, g_max, p_max)
    _, g_hi, q_max = tail_factor(lam_lo, g, a_tail, m_tail, g_max, p_max)
    # -log Q*(x) = log(lam / (a G P(x))) on the tail
    tail_hi = a_tail * (s_tail * math.log(lam_hi / (a_tail * g_lo)) + e_hi)
    tail_lo = a_tail * (1 - q_max) ** g * (s_tail * math.log(lam_lo / (a_tail * g_hi)) + e_lo)
    lower = head_lo + max(tail_lo, 0.0)
    upper = head_hi + tail_hi
    if not math.isfinite(upper):
        reason = f"head of {terms} terms; the tail of {src.name} has no certified bound"
        return SeriesValue(lower, lower, upper, src.finite_entropy, terms, reason)
    tail_mid = a_tail * (s_tail * math.log(lam / a_tail) + 0.5 * (e_lo + e_hi))
    value = min(max(head + tail_mid, lower), upper)
    reason = f"head of {terms} terms, tail bounded by the envelopes of {src.name}"
    return SeriesValue(value, lower, upper, True, terms, reason)


def countable_cross_entropy(
    p_dist: Any,
    q_dist: Any,
    gamma: Gamma,
    *,
    alpha: ArrayLike | None = None,
    tol: float = 1e-12,
    max_terms: int = MAX_TERMS,
) -> SeriesValue:
    r"""Focal cross-entropy ``H_gamma(P, Q) = sum_x alpha_x P(x) l(Q(x))`` on the integers.

    ``H_gamma(P, Q) < inf`` iff the Shannon cross-entropy
    ``H(P, Q) = E_P[-log Q(X)] < inf``. Divergence is decided from the tails:
    ``P(x) > 0 = Q(x)`` anywhere gives ``inf``; otherwise, with ``-log Q(n)``
    growing like ``log n`` (zipf, power tails), ``n`` (geom, nbinom,
    logser, planck) or ``n log n`` (poisson), the series converges iff
    ``E_P[log X]``, ``E_P[X]`` resp. ``E_P[X log X]`` is finite, which for a
    tail ``P(n) ~ n^-s (log n)^-b`` means ``s > 1`` (or ``b > 2``),
    ``s > 2`` (or ``s = 2, b > 1``) resp. ``s > 2`` (or ``s = 2, b > 2``).

    The tail beyond the kept head is bracketed by
    ``(1 - Q_max)^gamma E_lo <= tail <= E_hi`` with
    ``E = sum_{x>N} P(x) (-log Q(x))`` bounded through the families'
    envelopes of ``P`` and ``-log Q``; ``N`` grows until the bracket is
    narrower than ``2 tol``.

    Parameters
    ----------
    p_dist, q_dist : frozen scipy.stats discrete distribution, CountableDistribution or (pmf, sf)
    gamma : float
        ``gamma >= 0``.
    alpha : None, float or array_like, optional
        Class weights as in :func:`countable_minimizer`.
    tol : float, optional
        Target for the error bound. Default 1e-12.
    max_terms : int, optional
        Cap on the number of integers summed explicitly.

    Returns
    -------
    SeriesValue

    Examples
    --------
    >>> from scipy import stats
    >>> from focalentropy import countable_cross_entropy, countable_entropy
    >>> p = stats.poisson(3)
    >>> h_pq = countable_cross_entropy(p, stats.geom(0.3, loc=-1), 1.0)
    >>> bool(h_pq.value > countable_entropy(p, 1.0).value)
    True
    """
    g = check_gamma(gamma)
    tol = check_tol(tol)
    p_src = as_source(p_dist, "p_dist")
    q_src = as_source(q_dist, "q_dist")
    alpha_head, a_tail = check_alpha(alpha)
    decided, why = _cross_finiteness(p_src, q_src)
    if decided is False:
        return _warn_divergent("the focal cross-entropy", why)
    n_trunc = find_truncation(p_src, tol, p_src.lower + 1, p_src.lower + max_terms - 1)
    for _ in range(12):
        value = _cross_bracket(p_src, q_src, g, alpha_head, a_tail, n_trunc, decided)
        if math.isinf(value.lower):
            return _warn_divergent(
                "the focal cross-entropy", f"Q(x) = 0 where P(x) > 0 ({value.reason})"
            )
        width = value.upper - value.lower
        at_cap = n_trunc >= p_src.lower + max_terms - 1 or n_trunc >= p_src.upper
        if width <= 2 * tol or at_cap or not math.isfinite(width):
            break
        target = p_src.sf(n_trunc) * min(0.5, tol / width) ** 1.2
        n_trunc = find_truncation(p_src, target, n_trunc + 1, p_src.lower + max_terms - 1)
    return _finish(value, tol, "countable_cross_entropy")


_GROWTH_NEEDS = {
    # -log Q growth -> (s_min, b_min at s = s_min) for sum n^-s (log n)^-b g(n) < inf
    "log": (1.0, 2.0),
    "linear": (2.0, 1.0),
    "xlogx": (2.0, 2.0),
}
_GROWTH_MOMENT = {"log": "E_P[log X]", "linear": "E_P[X]", "xlogx": "E_P[X log X]"}


def _cross_finiteness(p_src: Source, q_src: Source) -> tuple[bool | None, str]:
    if p_src.tail == ("finite",) and q_src.tail is not None:
        return True, "P has finite support"
    if q_src.tail == ("finite",):
        if p_src.tail == ("finite",):
            return (p_src.upper + p_src.shift <= q_src.upper + q_src.shift), "finite supports"
        return False, f"Q = {q_src.name} has finite support and P = {p_src.name} does not"
    if q_src.growth is None or p_src.tail is None:
        return None, "tail behaviour unknown"
    if p_src.tail == ("light",):
        return True, f"{p_src.name} has all moments finite"
    _, s, b = p_src.tail
    s_min, b_min = _GROWTH_NEEDS[q_src.growth]
    finite = s > s_min or (s == s_min and b > b_min)
    what = _GROWTH_MOMENT[q_src.growth]
    why = (
        f"H_gamma(P, Q) < inf iff H(P, Q) = E_P[-log Q(X)] < inf; -log Q(n) of {q_src.name} "
        f"grows like {q_src.growth}, so this needs {what} < inf, and P(n) ~ n^-{s:g} "
        f"(log n)^-{b:g} of {p_src.name} has {what} {'<' if finite else '='} inf"
    )
    return finite, why


def _cross_bracket(
    p_src: Source,
    q_src: Source,
    g: float,
    alpha_head: NDArray[np.float64] | None,
    a_tail: float,
    n_trunc: int,
    decided: bool | None,
) -> SeriesValue:
    y = np.arange(p_src.lower, n_trunc + 1)
    x = y + p_src.shift
    p = np.asarray(p_src.pmf(y), dtype=float)
    yq = x - q_src.shift
    inside_q = (yq >= q_src.lower) & (yq <= q_src.upper)
    q = np.where(inside_q, np.asarray(q_src.pmf(yq), dtype=float), 0.0)
    positive = p > 0
    missing = positive & (q <= 0)
    if missing.any():
        bad = int(x[np.argmax(missing)])
        return SeriesValue(math.inf, math.inf, math.inf, False, len(p), f"first at x = {bad}")
    w = (p * class_weights(y, p_src.shift, alpha_head, a_tail))[positive]
    qp = q[positive]
    with np.errstate(divide="ignore"):
        terms = w * np.power(1.0 - qp, g) * -np.log(qp)
    head = math.fsum(terms)
    head_lo, head_hi = head * (1 - ROUNDING), head * (1 + ROUNDING)
    if n_trunc >= p_src.upper:
        return SeriesValue(head, head_lo, head_hi, True, len(p), "finite support")
    n_common = n_trunc + p_src.shift - q_src.shift
    e_lo, e_hi = cross_tail(p_src, q_src, n_trunc)
    q_max = min(1.0, q_src.sf(n_common))
    lower = head_lo + a_tail * (1 - q_max) ** g * e_lo
    upper = head_hi + a_tail * e_hi
    if not math.isfinite(upper):
        reason = f"head of {len(p)} terms; no certified tail bound for this pair"
        return SeriesValue(lower, lower, upper, decided, len(p), reason)
    value = head + a_tail * 0.5 * ((1 - q_max) ** g * e_lo + e_hi)
    reason = f"head of {len(p)} terms, tail bounded by the envelopes of {p_src.name}"
    return SeriesValue(value, lower, upper, True, len(p), reason)
