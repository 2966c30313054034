r"""The truncated solver of the minimizer ``Q*`` on a countable alphabet.

``Q*(x) = phi^{-1}(lam / w_x)`` with ``w_x = alpha_x P(x)``; the integers
``lower..N`` are kept explicitly and the multiplier ``lam`` is bracketed with
the proven tail bound of ``_tails.py`` (its module docstring has the
derivation).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._logit import psi, sigmoid, solve_logit
from .._validation import ConvergenceWarning, Gamma, _first_index, _format_index, check_gamma
from ._adapters import Source, as_source
from ._common import (
    MAX_TERMS,
    ROUNDING,
    TruncationWarning,
    check_alpha,
    check_max_terms,
    check_tol,
    class_weights,
    gradient_weight_max,
)
from ._tails import find_truncation, tail_factor, tail_max

__all__ = ["CountableMinimizer", "countable_minimizer", "minimize"]


@dataclass(frozen=True, eq=False, repr=False)
class CountableMinimizer:
    r"""``Q*`` on a countable alphabet: values on a kept support and a tail bound.

    Returned by :func:`countable_minimizer`, which also attaches the
    distribution so that :meth:`pmf` can evaluate ``Q*`` beyond the kept
    support. An instance built directly from its fields has no distribution:
    its :meth:`pmf` answers on the kept support only.

    Attributes
    ----------
    support : ndarray of int, shape (n,)
        The integers kept, ``lower, lower+1, ..., N``.
    q : ndarray, shape (n,)
        ``Q*`` on ``support``.
    p : ndarray, shape (n,)
        ``P`` on ``support``.
    multiplier : float
        ``lam`` (for ``w = alpha P``); ``Q*(x)/(alpha_x P(x)) -> 1/lam``.
    multiplier_bounds : tuple of float
        ``(lam_lo, lam_hi)``, a proven bracket of the exact multiplier.
    tail_bound : float
        Proven upper bound on ``sum_{x > N} Q*(x)``.
    error_bound : float
        Bound on ``max |q - Q*|`` over the support (bracket of ``lam`` plus
        rounding).
    tail_mass : float
        ``P(X > N)``.
    gamma : float

    Notes
    -----
    Equality is identity (``eq=False``), as for other result objects holding
    arrays: compare fields with ``numpy.array_equal`` to compare values. The
    repr is short (support range and size, the first and last ``q`` and
    ``p`` values, the scalars); the arrays are the fields. An instance can be
    pickled (e.g. returned from joblib or dask workers), distribution
    included, whenever the distribution can: every frozen scipy.stats
    distribution can, a :class:`CountableDistribution` when its callables
    are module-level functions.
    """

    support: NDArray[np.int64]
    q: NDArray[np.float64]
    p: NDArray[np.float64]
    multiplier: float
    multiplier_bounds: tuple[float, float]
    tail_bound: float
    error_bound: float
    tail_mass: float
    gamma: float
    # set by countable_minimizer only (see `_attach`): neither arguments nor shown
    _source: Source | None = field(default=None, init=False, repr=False, compare=False)
    _weights: NDArray[np.float64] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _tail_weight: float = field(default=1.0, init=False, repr=False, compare=False)

    def _attach(self, src: Source, weights: NDArray[np.float64], tail_weight: float) -> None:
        object.__setattr__(self, "_source", src)
        object.__setattr__(self, "_weights", weights)
        object.__setattr__(self, "_tail_weight", tail_weight)

    def __repr__(self) -> str:
        n = len(self.support)
        span = f"{self.support[0]}..{self.support[-1]} " if n else ""
        lo, hi = (float(b) for b in self.multiplier_bounds)
        return (
            f"CountableMinimizer(support={span}({n} integer{'' if n == 1 else 's'}), "
            f"q={_short(self.q)}, p={_short(self.p)}, multiplier={float(self.multiplier)!r}, "
            f"multiplier_bounds=({lo!r}, {hi!r}), tail_bound={self.tail_bound:.3g}, "
            f"error_bound={self.error_bound:.3g}, tail_mass={self.tail_mass:.3g}, "
            f"gamma={self.gamma:g})"
        )

    @property
    def tail_ratio(self) -> float:
        """``1 / lam``: the limit of ``Q*(x) / P(x)`` as ``x -> inf``."""
        return 1.0 / self.multiplier if self.multiplier > 0 else math.inf

    def pmf(self, x: ArrayLike) -> NDArray[np.float64]:
        """``Q*(x)`` at any integers ``x`` (also beyond ``support``), elementwise.

        Computed as ``phi^{-1}(lam / w_x)`` from the multiplier; beyond the
        support the class weight is the tail weight. An instance built
        directly (not by :func:`countable_minimizer`) knows ``Q*`` on
        ``support`` only and raises ``ValueError`` elsewhere.
        """
        x = np.asarray(x)
        if x.dtype.kind not in "iu":
            raise TypeError(f"`x` must be integers, got dtype {x.dtype}")
        keep = (x >= self.support[0]) & (x <= self.support[-1])
        out = np.zeros(x.shape)
        out[keep] = self.q[x[keep] - self.support[0]]
        src = self._source
        if src is None:
            if not keep.all():
                raise ValueError(self._outside_message(x, keep))
            return out
        y = x - src.shift
        rest = (y >= src.lower) & (y <= src.upper) & ~keep
        if rest.any():
            w = self._tail_weight * src.pmf(y[rest])
            out[rest] = _q_of_weights(w, self.multiplier, self.gamma)
        return out

    def _outside_message(self, x: NDArray[np.integer], keep: NDArray[np.bool_]) -> str:
        idx = _first_index(~keep)
        return (
            f"`x` = {x[idx].item()!r} at index {_format_index(idx)} lies outside the kept support "
            f"{self.support[0]}..{self.support[-1]}, and this CountableMinimizer was built "
            "directly, without its distribution: use countable_minimizer() to evaluate Q* "
            "beyond the support"
        )


#: values shown at each end of an array in the repr of CountableMinimizer
_REPR_EDGEITEMS = 3


def _short(values: NDArray[np.float64]) -> str:
    """NumPy's summarized form: at most ``_REPR_EDGEITEMS`` values at each end, 4 digits."""
    return np.array2string(
        np.asarray(values),
        formatter={"float_kind": "{:.4g}".format},
        threshold=2 * _REPR_EDGEITEMS,
        edgeitems=_REPR_EDGEITEMS,
        separator=", ",
        max_line_width=10_000,
    )


def _q_of_weights(w: NDArray[np.float64], lam: float, g: float) -> NDArray[np.float64]:
    if g == 0:
        return w / lam
    with np.errstate(divide="ignore"):
        t = solve_logit(math.log(lam) - np.log(w), g)
    return np.where(w > 0, sigmoid(t), 0.0)


class _Head:
    """The head problem ``F(ell) = sum_{x<=N} q_x(ell) + c S e^-ell - 1`` for ``ell = log lam``."""

    def __init__(self, w: NDArray[np.float64], g: float) -> None:
        self.g = g
        self.pos = np.flatnonzero(w > 0)
        self.log_w = np.log(w[self.pos])
        self.m = int(np.argmax(self.log_w))
        self.t: NDArray[np.float64] | None = None

    def evaluate(self, ell: float) -> tuple[float, float]:
        """``sum q - 1`` (without the tail) and its slope in ``ell``; cancellation-free.

        The logits are kept in ``self.t`` (warm start of the next call).
        """
        t = solve_logit(ell - self.log_w, self.g, t0=self.t)
        self.t = t
        _, dpsi, q, r = psi(t, self.g)
        others = q.sum() - q[self.m]
        return float(others - r[self.m]), float((q * r / dpsi).sum())


#: iteration cap of the head solve (bracketed Newton; it needs a few dozen at most)
_HEAD_MAXITER = 200


def _solve_head(head: _Head, tail_mass: float, ell0: float) -> float:
    """Root of ``F(ell) = sum_head q(ell) - 1 + tail_mass e^-ell`` by bracketed Newton."""
    # by hand rather than scipy.optimize: every step warm-starts the per-class logit
    # solve from the previous logits (`_Head.t`), which a black-box root finder cannot
    ell, lo, hi = ell0, -math.inf, math.inf
    for _ in range(_HEAD_MAXITER):
        fh, slope = head.evaluate(ell)
        tail = tail_mass * math.exp(-ell)
        val, slope = fh + tail, slope - tail
        if val == 0:
            break
        if val > 0:
            lo = ell
        else:
            hi = ell
        new = ell - val / slope if slope < 0 else math.nan
        if not lo < new < hi:
            new = 0.5 * (lo + hi) if math.isfinite(lo + hi) else ell + (4.0 if val > 0 else -4.0)
        if abs(new - ell) <= 4e-16 * max(1.0, abs(ell)):
            ell = new
            break
        ell = new
    else:
        warnings.warn(
            f"countable_minimizer: the head solve for the multiplier did not converge in "
            f"{_HEAD_MAXITER} iterations (last lam = {math.exp(ell)!r}, bracket of log lam "
            f"[{lo!r}, {hi!r}]); the last iterate is used",
            ConvergenceWarning,
            stacklevel=2,
        )
    head.evaluate(ell)
    return ell


class _Truncation(NamedTuple):
    """Everything about ``Q*`` with the head ``lower..N`` (family coordinates) kept."""

    y: NDArray[np.int64]
    p: NDArray[np.float64]
    w: NDArray[np.float64]  # alpha P
    q: NDArray[np.float64]
    multiplier: float
    multiplier_bounds: tuple[float, float]
    tail_bound: float
    error_bound: float
    tail_mass: float


class _TailModel(NamedTuple):
    """The tail bracket's inputs: tail weight ``a``, ``a S``, ``max P`` beyond ``N``, G_max."""

    a_tail: float
    mass: float
    m_tail: float
    g_max: float
    p_max: float

    def factors(self, lam: float, g: float) -> tuple[float, float, float]:
        return tail_factor(lam, g, self.a_tail, self.m_tail, self.g_max, self.p_max)


def _head_weights(
    src: Source, alpha_head: NDArray[np.float64] | None, a_tail: float, y: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    p = np.asarray(src.pmf(y), dtype=float)
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError(f"the pmf of `dist` ({src.name}) returned negative or non-finite values")
    return p, p * class_weights(y, src.shift, alpha_head, a_tail)


def _solve_truncated(
    src: Source,
    g: float,
    alpha_head: NDArray[np.float64] | None,
    a_tail: float,
    n_trunc: int,
    g_max: float,
    p_max: float,
    ell0: float | None = None,
) -> _Truncation:
    """``Q*`` with the head ``lower..N`` kept explicitly, and the proven bracket of ``lam``."""
    y = np.arange(src.lower, n_trunc + 1)
    p, w = _head_weights(src, alpha_head, a_tail, y)
    s_tail = src.sf(n_trunc) if n_trunc < src.upper else 0.0
    model = _TailModel(a_tail, a_tail * s_tail, tail_max(src, n_trunc, s_tail), g_max, p_max)
    if g == 0:  # Q* = w / sum(w): exact up to rounding
        total = math.fsum(w) + model.mass
        bounds = (total * (1 - ROUNDING), total * (1 + ROUNDING))
        q = w / total
        error = ROUNDING * float(q.max())
        return _Truncation(y, p, w, q, total, bounds, model.mass / bounds[0], error, s_tail)
    positive = int((w > 0).sum())
    if positive == 0:
        raise ValueError(f"the pmf of `dist` ({src.name}) is zero on the kept support")
    if positive == 1 and s_tail == 0:  # a single class: Q* one-hot, lam = 0
        q = (w > 0).astype(float)
        return _Truncation(y, p, w, q, 0.0, (0.0, 0.0), 0.0, 0.0, 0.0)
    head = _Head(w, g)
    if ell0 is None:
        ell0 = math.log(max(math.fsum(w) + model.mass, 1e-300))
    # point estimate of the tail: the middle of the bracket (2) at the start
    g_lo0, g_hi0, _ = model.factors(math.exp(ell0), g)
    ell = _solve_head(head, 0.5 * (g_lo0 + g_hi0) * model.mass, ell0)
    t_mid = head.t
    assert t_mid is not None
    (ell_lo, t_lo), (ell_hi, t_hi) = (_bracket_end(head, model, ell, end) for end in ("lo", "hi"))
    lam, lam_lo, lam_hi = math.exp(ell), math.exp(ell_lo), math.exp(ell_hi)
    tail_bound = model.factors(lam_lo, g)[1] * model.mass / lam_lo
    q = np.zeros_like(w)
    q[head.pos] = sigmoid(t_mid)
    error = float(np.abs(sigmoid(t_lo) - sigmoid(t_hi)).max()) + ROUNDING * float(q.max())
    return _Truncation(y, p, w, q, lam, (lam_lo, lam_hi), tail_bound, error, s_tail)


def _bracket_end(
    head: _Head, model: _TailModel, ell: float, which: Literal["lo", "hi"]
) -> tuple[float, NDArray[np.float64]]:
    """The end ``log lam_lo`` (``which = "lo"``) or ``log lam_hi`` of the bracket, and its logits.

    A Newton step of the bounding equation ``H + G_lo a S / lam = 1`` (resp. ``G_hi``)
    from ``ell`` plus a rounding margin; the sign is then verified and the step
    widened if needed.
    """
    sign = 1.0 if which == "lo" else -1.0

    def value(ell_end: float) -> tuple[float, float]:
        fh, slope = head.evaluate(ell_end)
        lam_end = math.exp(ell_end)
        g_lo, g_hi, _ = model.factors(lam_end, head.g)
        tail = (g_lo if which == "lo" else g_hi) * model.mass / lam_end
        return fh + tail, slope - tail

    margin = 2 * ROUNDING
    val, slope = value(ell)
    step = abs(val / slope) * 1.5 + 4 * margin / abs(slope) + 4e-16 * max(1.0, abs(ell))
    for _ in range(80):
        end = ell - sign * step
        val, _ = value(end)
        if sign * val > margin:
            assert head.t is not None
            return end, head.t
        step *= 2
    raise RuntimeError("countable_minimizer: could not bracket the multiplier")  # pragma: no cover


def countable_minimizer(
    dist: Any,
    gamma: Gamma,
    *,
    alpha: ArrayLike | None = None,
    tol: float = 1e-12,
    max_terms: int = MAX_TERMS,
) -> CountableMinimizer:
    r"""The minimizer ``Q*`` of ``H_gamma(P, .)`` on a countable alphabet.

    ``Q*(x) = phi^{-1}(lam / w_x)`` with ``w_x = alpha_x P(x)``, where ``lam``
    solves ``sum_{x >= lower} phi^{-1}(lam / w_x) = 1`` over *all* integers.
    The integers ``lower..N`` are kept, with ``N`` the smallest truncation
    whose proven tail bound is ``<= tol``.

    Tail bound. From the exact identity ``lam Q*(x) = w_x G(Q*(x))``,
    ``G(q) = q phi(q)``: (i) ``G <= G_max`` gives ``Q*(x) <= G_max w_x/lam
    <= q_max := G_max a S/lam`` on the tail ``x > N`` (tail weight ``a``,
    ``S = P(X > N)``, each tail ``P(x) <= S``); (ii) ``G`` is unimodal with
    ``G(0+) = 1``, so on ``(0, q_max]``,
    ``min(1, G(q_max)) <= G <= G(q_max)`` (if ``q_max <= p_max``, else
    ``G_max``); (iii) summing, ``G_lo a S/lam <= Q*(tail) <= G_hi a S/lam``.
    Inserting both ends into ``H(lam) + Q*(tail) = 1`` (``H`` the head sum,
    decreasing) brackets the exact multiplier, ``lam_lo <= lam <= lam_hi``,
    and ``tail_bound = G_hi a S / lam_lo``; the bound is far tighter than the
    crude ``G_max S / lam`` because ``G(q) = 1 + gamma q (log(1/q) - 1) + ...``
    for small ``q``.

    Parameters
    ----------
    dist : frozen scipy.stats discrete distribution, CountableDistribution or (pmf, sf)
        ``P``, supported on the integers ``>= lower`` (e.g. ``poisson(3)``,
        ``geom(0.2)``, ``zipf(2.5)``, ``nbinom(5, 0.3)``, ``logser(0.9)``).
    gamma : float
        Focusing parameter, ``gamma >= 0``.
    alpha : None, float or array_like, optional
        Class weights: ``alpha[x]`` for the integers ``x < len(alpha)``
        (weight 1 beyond), or one scalar for all classes (it only scales
        ``lam``). The support kept always covers ``len(alpha)`` integers.
    tol : float, optional
        Required tail bound, in ``(0, 1)``. Default 1e-12.
    max_terms : int, optional
        Cap on the number of kept integers (memory). If ``tol`` needs more, a
        :class:`TruncationWarning` is issued and ``tail_bound > tol`` is
        returned honestly; :meth:`CountableMinimizer.pmf` still evaluates
        ``Q*`` anywhere.

    Returns
    -------
    CountableMinimizer
        ``support``, ``q``, ``p``, ``multiplier`` (lam), ``multiplier_bounds``,
        ``tail_bound``, ``error_bound``, ``tail_mass``.

    Notes
    -----
    A heavy tail needs many terms: for ``zipf(a)``, ``P(X > N) ~ N^(1-a)``,
    so ``tol = 1e-12`` needs ``N ~ 6e7`` for ``a = 2.5`` (use a larger
    ``tol`` or :meth:`~CountableMinimizer.pmf`). If ``H(P) = inf`` no ``Q``
    has finite focal cross-entropy; ``Q*`` is then the unique solution of
    the stationarity (KKT) conditions, still well defined.

    Examples
    --------
    >>> from scipy import stats
    >>> from focalentropy import countable_minimizer
    >>> res = countable_minimizer(stats.poisson(3), 2.0)
    >>> bool(res.tail_bound <= 1e-12), int(res.support[-1])
    (True, 22)
    >>> float(round(res.q.sum() + res.tail_bound, 12))
    1.0
    >>> bool(res.q[-1] / res.p[-1] > 0.99 * res.tail_ratio)
    True
    """
    g = check_gamma(gamma)
    tol = check_tol(tol)
    max_terms = check_max_terms(max_terms)
    src = as_source(dist, "dist")
    alpha_head, a_tail = check_alpha(alpha)
    return minimize(src, g, alpha_head, a_tail, tol, max_terms)


def minimize(
    src: Source,
    g: float,
    alpha_head: NDArray[np.float64] | None,
    a_tail: float,
    tol: float,
    max_terms: int,
    n_at_least: int | None = None,
) -> CountableMinimizer:
    """The solver behind :func:`countable_minimizer` (checked arguments; ``N >= n_at_least``)."""
    g_max, p_max = gradient_weight_max(g)
    n_cap = src.lower + max_terms - 1
    if np.isfinite(src.upper):
        n_cap = min(n_cap, int(src.upper))
    n_min = src.lower + 1
    if alpha_head is not None:
        n_min = max(n_min, len(alpha_head) - 1 - src.shift)
    if n_at_least is not None:
        n_min = max(n_min, n_at_least)
    n_min = min(n_min, n_cap)
    # Pilot solve on a short head (lam hardly depends on the truncation), then
    # the truncation that makes the bound (about a S / lam_lo) fall below tol.
    n_trunc = find_truncation(src, tol / (g_max * a_tail), n_min, n_cap)
    sol = _solve_truncated(src, g, alpha_head, a_tail, min(n_trunc, n_min + 4096), g_max, p_max)
    ell0 = math.log(sol.multiplier) if sol.multiplier > 0 else None
    target = tol * sol.multiplier_bounds[0] / (a_tail * (1 + 1e-3))
    for _ in range(8):
        if sol.tail_bound <= tol or int(sol.y[-1]) >= n_cap:
            break
        n_trunc = max(int(sol.y[-1]) + 1, find_truncation(src, target, n_min, n_cap))
        sol = _solve_truncated(src, g, alpha_head, a_tail, n_trunc, g_max, p_max, ell0)
        target *= min(0.5, tol / sol.tail_bound) if sol.tail_bound > 0 else 0.5
    if sol.tail_bound > tol:
        warnings.warn(
            f"countable_minimizer: the tail bound {sol.tail_bound:.3g} exceeds `tol` = "
            f"{tol:.3g} after keeping `max_terms` = {max_terms} integers of {src.name}; raise "
            "`max_terms` or `tol` (the values kept are still accurate)",
            TruncationWarning,
            stacklevel=3,
        )
    res = CountableMinimizer(
        support=sol.y + src.shift,
        q=sol.q,
        p=sol.p,
        multiplier=sol.multiplier,
        multiplier_bounds=sol.multiplier_bounds,
        tail_bound=sol.tail_bound,
        error_bound=sol.error_bound,
        tail_mass=sol.tail_mass,
        gamma=g,
    )
    res._attach(src, sol.w, a_tail)
    return res
