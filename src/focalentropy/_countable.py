r"""Focal entropy on countably infinite alphabets (the non-negative integers).

The theory page (docs/theory.rst, sections "The loss term" to "Regimes") holds
verbatim for a countable alphabet: the minimizer
is ``Q*(x) = phi^{-1}(lam / w_x)`` with ``w_x = alpha_x P(x)``, and the
multiplier ``lam`` is the root of ``sum_x phi^{-1}(lam / w_x) = 1``, the sum
running over *all* integers -- the tail beyond any truncation carries
``Q*``-mass ``~ P-mass / lam`` and cannot be dropped or renormalized away.

Tail bound (the derivation behind :func:`countable_minimizer`)
---------------------------------------------------------------
Write ``G(q) = q phi(q)``: ``G(0+) = 1``, ``G`` has a single maximum
``G_max`` at ``p_max`` and decreases to ``G(1) = 0`` (section "Regimes"). The KKT
condition is the exact identity

    lam Q*(x) = w_x G(Q*(x)).                                        (1)

1. A priori: ``G <= G_max`` gives ``Q*(x) <= G_max w_x / lam`` for every x.
   On the tail ``T = {x > N}`` every ``P(x) <= S = P(X > N)``, so
   ``Q*(x) <= q_max := min(1, G_max a S / lam)`` (``a`` the tail weight).
2. On ``(0, q_max]`` the unimodal ``G`` satisfies
   ``G_lo := min(1, G(q_max)) <= G(q) <= G_hi`` with ``G_hi = G(q_max)`` if
   ``q_max <= p_max`` and ``G_max`` otherwise. By (1),
   ``G_lo w_x / lam <= Q*(x) <= G_hi w_x / lam`` on ``T``, hence

       G_lo a S / lam  <=  Q*(T)  <=  G_hi a S / lam.                (2)

3. With ``H(lam) = sum_{x <= N} phi^{-1}(lam / w_x)`` (computable) the true
   ``lam*`` solves ``H(lam) + Q*(T)(lam) = 1``. All terms decrease in
   ``lam``, so ``lam*`` lies between the roots ``lam_lo`` of
   ``H + G_lo a S / lam = 1`` and ``lam_hi`` of ``H + G_hi a S / lam = 1``;
   the code verifies the sign of both at the returned ends of the bracket.
4. ``tail_bound = G_hi(lam_lo) a S / lam_lo`` (``q_max`` evaluated at
   ``lam_lo``) is then a proven upper bound on ``Q*(T)``; ``N`` is increased
   until it is ``<= tol``. Head entries ``Q*(x)`` decrease with ``lam``, so
   they lie between their values at ``lam_hi`` and ``lam_lo``
   (``error_bound``). Since ``G(q) = 1 + gamma q (log(1/q) - 1) + ...``, the
   bracket (2) is very narrow: the tail barely moves ``lam``.

The bounds are exact statements about real numbers; floating-point rounding
of the head sum is covered by a margin of a few hundred ulps. For
``gamma = 0``, ``G = 1`` and everything is exact: ``lam = sum_x w_x``.

Finiteness
----------
``H_gamma(P) < inf`` iff the Shannon entropy ``H(P) < inf``, and
``H_gamma(P, Q) < inf`` iff ``H(P, Q) < inf`` (section "Countable alphabets"). Divergence cannot
be read off a partial sum, so it is decided from the distribution's tail:

* the scipy families handled here (``poisson``, ``geom``, ``nbinom``,
  ``logser``, ``planck``, ``zipf`` and every family with finite support)
  have finite Shannon entropy; for them ``-log P(x)`` and ``P(x)`` have
  explicit envelopes, so the series tails have certified bounds;
* a user pmf may state its tail as ``p_n ~ C n^-s (log n)^-b``
  (``tail=(s, b)``): ``H(P) < inf`` iff ``s > 1`` or ``s = 1, b > 2``;
  with an ``entropy_tail`` bound the value is certified too;
* otherwise finiteness is undecidable from ``pmf`` and ``sf`` alone: the
  partial sum is a certified *lower* bound and the upper bound is ``inf``.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ._loss import _logit_terms, _max_gradient_weight, _psi, _sigmoid, _solve_logit
from ._validation import ConvergenceWarning, as_float_array, check_gamma

__all__ = [
    "CountableDistribution",
    "CountableMinimizer",
    "DivergenceWarning",
    "SeriesValue",
    "TruncationWarning",
    "countable_cross_entropy",
    "countable_entropy",
    "countable_minimizer",
]

#: default cap on the number of explicitly kept integers (8 MB per array)
MAX_TERMS = 1 << 20
#: relative margin covering rounding in the head sums (about a hundred ulps)
_ROUNDING = 2e-14


class DivergenceWarning(UserWarning):
    """The series is infinite (decided from the tail of the distribution)."""


class TruncationWarning(UserWarning):
    """The requested tolerance could not be met or certified."""


# ---------------------------------------------------------------------------
# distributions
# ---------------------------------------------------------------------------


class CountableDistribution:
    r"""A distribution on the integers ``>= lower`` given by its pmf and tail mass.

    Parameters
    ----------
    pmf : callable
        ``pmf(x)`` for an integer ndarray ``x`` returns ``P(x)`` (ndarray).
    sf : callable
        ``sf(n)`` returns the tail mass ``P(X > n)`` for an integer ``n``; it
        must be accurate in relative terms for tiny values (not ``1 - cdf``).
    lower : int, optional
        Smallest integer of the support, ``>= 0``. Default 0.
    tail : tuple (s, b), optional
        Asymptotic tail ``p_n ~ C n^-s (log n)^-b`` with ``s >= 1`` (and
        ``b > 1`` if ``s = 1``). Decides finiteness: ``H(P) < inf`` iff
        ``s > 1`` or ``b > 2``. An asymptotic statement cannot certify a
        value; it is used only to decide divergence.
    entropy_tail : callable, optional
        ``entropy_tail(n)``: a proven upper bound on the Shannon tail
        ``sum_{x > n} P(x) log(1/P(x))``; makes entropy values certified.
    name : str, optional
        Used in messages.

    Examples
    --------
    >>> import numpy as np
    >>> from focalentropy import CountableDistribution
    >>> geometric = CountableDistribution(
    ...     lambda x: 0.5 ** (x + 1.0), lambda n: 0.5 ** (n + 1.0), tail=(np.inf, 0)
    ... )
    >>> float(geometric.sf(3))
    0.0625
    """

    def __init__(self, pmf, sf, *, lower=0, tail=None, entropy_tail=None, name=None):
        if not callable(pmf):
            raise TypeError(f"`pmf` must be callable, got {type(pmf).__name__}")
        if not callable(sf):
            raise TypeError(f"`sf` must be callable, got {type(sf).__name__}")
        if entropy_tail is not None and not callable(entropy_tail):
            raise TypeError(
                f"`entropy_tail` must be callable or None, got {type(entropy_tail).__name__}"
            )
        if isinstance(lower, bool) or not isinstance(lower, numbers.Integral) or lower < 0:
            raise ValueError(f"`lower` must be an integer >= 0, got {lower!r}")
        if tail is not None:
            try:
                s, b = (float(v) for v in tail)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"`tail` must be a pair (s, b) of numbers, got {tail!r}") from exc
            if not (s > 1 or (s == 1 and b > 1)) or math.isnan(b):
                raise ValueError(
                    f"`tail` = {tail!r} is not summable: p_n ~ n^-s (log n)^-b needs s > 1, "
                    "or s = 1 and b > 1"
                )
            tail = (s, b)
        self.pmf = pmf
        self.sf = sf
        self.lower = int(lower)
        self.tail = tail
        self.entropy_tail = entropy_tail
        self.name = name or "user pmf"

    def __repr__(self) -> str:
        return f"CountableDistribution({self.name}, lower={self.lower}, tail={self.tail})"


@dataclass
class _Source:
    """Internal view of a distribution, in family coordinates ``y = x - shift``."""

    name: str
    shift: int
    lower: int  # in y
    upper: float  # in y (inf for infinite support)
    pmf: Callable
    sf: Callable
    isf: Callable | None = None
    finite_entropy: bool | None = None
    tail: tuple | None = None  # ("light",) or ("power", s, b) or ("finite",)
    growth: str | None = None  # growth of -log P: "finite", "log", "linear", "xlogx"
    ratio: Callable | None = None  # N -> sup_{y > N} P(y+1)/P(y) (geometric envelope)
    power: tuple | None = None  # (A, s): P(y) = A y^-s exactly
    log_coeffs: tuple | None = None  # -log P(y) <= c0 + c1 log y + c2 y + c3 y log y
    log_exact: bool = False  # the bound above is an identity
    entropy_tail: Callable | None = None
    extra: dict = field(default_factory=dict)


def _shape_args_and_loc(dist) -> tuple[tuple, float]:
    """Shape parameters (in the family's order) and ``loc`` of a frozen distribution.

    From the public ``dist.args``/``dist.kwds`` and ``family.shapes``
    (scipy.stats' private ``_parse_args`` does the same).
    """
    family = dist.dist
    names = [n.strip() for n in family.shapes.split(",")] if family.shapes else []
    given = dict(zip([*names, "loc"], dist.args, strict=False))
    for key, value in dist.kwds.items():
        if key in given:
            raise ValueError(f"`dist` has `{key}` both positionally and by keyword")
        given[key] = value
    missing = [n for n in names if n not in given]
    if missing:
        raise ValueError(f"`dist` ({family.name}) lacks shape parameter(s) {missing}")
    return tuple(given[n] for n in names), given.get("loc", 0)


def _scipy_source(dist) -> _Source:
    from scipy import special  # deferred: keeps `import focalentropy` fast

    family = dist.dist
    name = family.name
    args, loc = _shape_args_and_loc(dist)
    if loc != int(loc):
        raise ValueError(f"`dist` must have an integer `loc`, got {loc!r}")
    loc = int(loc)
    lo, hi = dist.support()
    if not np.isfinite(lo):
        raise ValueError(
            f"`dist` ({name}) has support unbounded below; only distributions on "
            "integers >= some lower end are supported"
        )
    src = _Source(
        name=f"{name}{tuple(float(a) for a in args)}",
        shift=loc,
        lower=int(lo) - loc,
        upper=float(hi) - loc,
        pmf=lambda y: dist.pmf(np.asarray(y) + loc),
        sf=lambda n: float(dist.sf(n + loc)),
        isf=lambda s: dist.isf(s) - loc,
    )
    if np.isfinite(hi):
        src.finite_entropy, src.tail, src.growth = True, ("finite",), "finite"
        return src
    src.finite_entropy = True
    src.tail = ("light",)
    if name == "poisson":
        (mu,) = (float(a) for a in args)
        src.ratio = lambda n: mu / (n + 2.0)  # mu/(y+1) is decreasing
        src.growth = "xlogx"
        # log y! <= y log y - y + log(2 pi)/2 + (log y)/2 + 1/12 (Robbins)
        src.log_coeffs = (mu + 0.5 * math.log(2 * math.pi) + 1 / 12, 0.5, -1 - math.log(mu), 1.0)
    elif name == "geom":
        (p,) = (float(a) for a in args)
        src.ratio = lambda n: 1.0 - p
        src.growth = "linear"
        src.log_coeffs = (-math.log(p) + math.log1p(-p), 0.0, -math.log1p(-p), 0.0)
        src.log_exact = True
    elif name == "planck":
        (lam,) = (float(a) for a in args)
        src.ratio = lambda n: math.exp(-lam)
        src.growth = "linear"
        src.log_coeffs = (-math.log(-math.expm1(-lam)), 0.0, lam, 0.0)
        src.log_exact = True
    elif name == "nbinom":
        n_, p = (float(a) for a in args)
        # ratio (y+n)(1-p)/(y+1) is monotone in y with limit 1-p
        src.ratio = lambda n: max((n + 1.0 + n_) * (1 - p) / (n + 2.0), 1.0 - p)
        src.growth = "linear"
        # -log P = log y! - log Gamma(y+n) + log Gamma(n) - n log p - y log(1-p), and
        # Gamma(y+1)/Gamma(y+n) <= 1 (n >= 1) or <= (2y)^(1-n) (n < 1, Wendel)
        c1 = max(0.0, 1.0 - n_)
        c0 = special.gammaln(n_) - n_ * math.log(p) + c1 * math.log(2.0)
        src.log_coeffs = (c0, c1, -math.log1p(-p), 0.0)
    elif name == "logser":
        (p,) = (float(a) for a in args)
        src.ratio = lambda n: p  # p y/(y+1) increases to p
        src.growth = "linear"
        src.log_coeffs = (math.log(-math.log1p(-p)), 1.0, -math.log(p), 0.0)
        src.log_exact = True
    elif name == "zipf":
        (a,) = (float(v) for v in args)
        z = float(special.zeta(a))
        src.tail = ("power", a, 0.0)
        src.power = (1.0 / z, a)
        # closed forms (scipy sums the cdf term by term): P(X > n) = zeta(a, n+1) / zeta(a)
        log_z = math.log(z)
        src.pmf = lambda y: np.where(
            np.asarray(y) >= 1, np.exp(-a * np.log(np.maximum(y, 1)) - log_z), 0.0
        )
        src.sf = lambda n: float(special.zeta(a, max(n, 0) + 1.0)) / z if n >= 0 else 1.0
        src.isf = lambda s: math.ceil((s * z * (a - 1)) ** (-1 / (a - 1)))
        src.growth = "log"
        src.log_coeffs = (math.log(z), a, 0.0, 0.0)
        src.log_exact = True
    else:
        src.finite_entropy, src.tail, src.growth = None, None, None
    return src


def _user_source(dist: CountableDistribution) -> _Source:
    src = _Source(
        name=dist.name,
        shift=0,
        lower=dist.lower,
        upper=math.inf,
        pmf=lambda y: np.asarray(dist.pmf(np.asarray(y)), dtype=float),
        sf=lambda n: float(dist.sf(int(n))),
        entropy_tail=dist.entropy_tail,
    )
    if dist.tail is not None:
        s, b = dist.tail
        src.tail = ("light",) if math.isinf(s) else ("power", s, b)
        src.finite_entropy = s > 1 or b > 2
        src.growth = "linear" if math.isinf(s) else "log"
    elif dist.entropy_tail is not None:
        src.finite_entropy = True
    return src


def _as_source(dist, name: str) -> _Source:
    if isinstance(dist, CountableDistribution):
        return _user_source(dist)
    from scipy import stats  # deferred: keeps `import focalentropy` fast

    if hasattr(dist, "dist") and isinstance(dist.dist, stats.rv_discrete):
        return _scipy_source(dist)
    if isinstance(dist, tuple) and len(dist) == 2 and all(callable(f) for f in dist):
        return _user_source(CountableDistribution(*dist))
    raise TypeError(
        f"`{name}` must be a frozen scipy.stats discrete distribution, a "
        f"CountableDistribution or a (pmf, sf) pair of callables; got {type(dist).__name__}"
    )


# ---------------------------------------------------------------------------
# the minimizer
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CountableMinimizer:
    r"""``Q*`` on a countable alphabet: values on a kept support and a tail bound.

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
    """

    support: np.ndarray
    q: np.ndarray
    p: np.ndarray
    multiplier: float
    multiplier_bounds: tuple
    tail_bound: float
    error_bound: float
    tail_mass: float
    gamma: float
    _tail_weight: float = 1.0
    _source: _Source | None = field(default=None, repr=False)
    _weights: np.ndarray | None = field(default=None, repr=False)

    @property
    def tail_ratio(self) -> float:
        """``1 / lam``: the limit of ``Q*(x) / P(x)`` as ``x -> inf``."""
        return 1.0 / self.multiplier if self.multiplier > 0 else math.inf

    def pmf(self, x) -> np.ndarray:
        """``Q*(x)`` at any integers ``x`` (also beyond ``support``), elementwise.

        Computed as ``phi^{-1}(lam / w_x)`` from the multiplier; beyond the
        support the class weight is the tail weight.
        """
        x = np.asarray(x)
        if x.dtype.kind not in "iu":
            raise TypeError(f"`x` must be integers, got dtype {x.dtype}")
        src = self._source
        y = x - src.shift
        out = np.zeros(x.shape)
        inside = (y >= src.lower) & (y <= src.upper)
        keep = (x >= self.support[0]) & (x <= self.support[-1])
        out[keep] = self.q[x[keep] - self.support[0]]
        rest = inside & ~keep
        if rest.any():
            w = self._tail_weight * src.pmf(y[rest])
            out[rest] = _q_of_weights(w, self.multiplier, self.gamma)
        return out


def _q_of_weights(w: np.ndarray, lam: float, g: float) -> np.ndarray:
    if g == 0:
        return w / lam
    with np.errstate(divide="ignore"):
        t = _solve_logit(math.log(lam) - np.log(w), g)
    return np.where(w > 0, _sigmoid(t), 0.0)


def _check_tol(tol) -> float:
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real):
        raise TypeError(f"`tol` must be a real number, got {type(tol).__name__}")
    if not 0 < tol < 1:
        raise ValueError(f"`tol` must lie in (0, 1), got {tol!r}")
    return float(tol)


def _check_alpha(alpha) -> tuple[np.ndarray | None, float]:
    """Head weights (indexed by the integer x) and the weight beyond them."""
    if alpha is None:
        return None, 1.0
    arr = as_float_array(alpha, "alpha")
    if arr.ndim > 1:
        raise ValueError(f"`alpha` must be a scalar or 1-D, got shape {arr.shape}")
    bad = ~((arr > 0) & np.isfinite(arr))
    if bad.any():
        i = int(np.argwhere(bad.reshape(-1))[0][0])
        raise ValueError(
            f"`alpha` must be positive and finite; found {arr.reshape(-1)[i]!r} at index {i}"
        )
    if arr.ndim == 0:
        return None, float(arr)
    return arr, 1.0


def _find_truncation(src: _Source, target: float, n_min: int, n_max: int) -> int:
    """Smallest ``N`` in ``[n_min, n_max]`` with ``sf(N) <= target`` (``n_max`` if none)."""
    if src.sf(n_min) <= target:
        return n_min
    if src.isf is not None:
        guess = src.isf(target)
        if np.isfinite(guess):
            n = int(min(max(guess, n_min), n_max))
            while n > n_min and src.sf(n - 1) <= target:
                n -= 1
            while n < n_max and src.sf(n) > target:
                n += 1
            return n
    lo, step = n_min, 1
    while lo + step < n_max and src.sf(lo + step) > target:
        lo, step = lo + step, step * 2
    hi = min(lo + step, n_max)
    if src.sf(hi) > target:
        return n_max
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if src.sf(mid) <= target:
            hi = mid
        else:
            lo = mid
    return hi


class _Head:
    """The head problem ``F(ell) = sum_{x<=N} q_x(ell) + c S e^-ell - 1`` for ``ell = log lam``."""

    def __init__(self, w: np.ndarray, g: float):
        self.g = g
        self.pos = np.flatnonzero(w > 0)
        self.log_w = np.log(w[self.pos])
        self.m = int(np.argmax(self.log_w))
        self.t = None

    def evaluate(self, ell: float):
        """Logits and ``sum q - 1`` (without the tail) at ``ell``; cancellation-free."""
        t = _solve_logit(ell - self.log_w, self.g, t0=self.t)
        self.t = t
        _, dpsi, q, r = _psi(t, self.g)
        others = q.sum() - q[self.m]
        return t, others - r[self.m], float((q * r / dpsi).sum())


def _tail_factor(lam, g, a_tail, m_tail, g_max, p_max):
    """``(G_lo, G_hi, q_max)`` for the tail bracket (2) at multiplier ``lam``.

    ``m_tail`` bounds every tail probability ``P(x)``, ``x > N``.
    """
    if g == 0 or m_tail == 0:
        return 1.0, 1.0, 0.0
    q_max = min(1.0, g_max * a_tail * m_tail / lam * (1 + _ROUNDING))
    g_q = float(_g_value(q_max, g))
    g_hi = g_q if q_max <= p_max else g_max
    return min(1.0, g_q) * (1 - _ROUNDING), g_hi * (1 + _ROUNDING), q_max


def _tail_max(src: _Source, n_trunc: int, s_tail: float) -> float:
    """An upper bound on ``P(y)`` for ``y > N``: ``P(N+1)`` where the pmf is
    known to be non-increasing beyond ``N``, else the tail mass."""
    if s_tail == 0:
        return 0.0
    decreasing = src.power is not None or (src.ratio is not None and src.ratio(n_trunc) <= 1)
    if decreasing:
        return min(s_tail, float(src.pmf(np.array([n_trunc + 1]))[0]))
    return s_tail


def _g_value(q: float, g: float) -> float:
    if q >= 1:
        return 0.0
    v = q * -math.log(q) / (1 - q) if q > 0 else 0.0
    return (1 - q) ** g * (1 + g * v)


#: iteration cap of the head solve (bracketed Newton; it needs a few dozen at most)
_HEAD_MAXITER = 200


def _solve_head(head: _Head, tail_mass: float, ell0: float) -> float:
    """Root of ``F(ell) = sum_head q(ell) - 1 + tail_mass e^-ell`` by bracketed Newton."""
    ell, lo, hi = ell0, -math.inf, math.inf
    for _ in range(_HEAD_MAXITER):
        _, fh, slope = head.evaluate(ell)
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


def _head_weights(src, alpha_head, a_tail, y):
    p = np.asarray(src.pmf(y), dtype=float)
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError(f"the pmf of `dist` ({src.name}) returned negative or non-finite values")
    w = p * a_tail
    if alpha_head is not None:
        x = y + src.shift
        inside = (x >= 0) & (x < len(alpha_head))
        w[inside] = p[inside] * alpha_head[x[inside]]
    return p, w


def _solve_truncated(src, g, alpha_head, a_tail, n_trunc, g_max, p_max, ell0=None):
    """Everything about ``Q*`` with the head ``lower..N`` kept explicitly."""
    y = np.arange(src.lower, n_trunc + 1)
    p, w = _head_weights(src, alpha_head, a_tail, y)
    s_tail = src.sf(n_trunc) if n_trunc < src.upper else 0.0
    m_tail = _tail_max(src, n_trunc, s_tail)
    mass = a_tail * s_tail
    if g == 0:
        total = math.fsum(w) + mass
        q = w / total
        bounds = (total * (1 - _ROUNDING), total * (1 + _ROUNDING))
        tail_bound = mass / bounds[0]
        return y, p, w, q, total, bounds, tail_bound, _ROUNDING * float(q.max()), s_tail
    positive = int((w > 0).sum())
    if positive == 0:
        raise ValueError(f"the pmf of `dist` ({src.name}) is zero on the kept support")
    if positive == 1 and s_tail == 0:
        q = (w > 0).astype(float)
        return y, p, w, q, 0.0, (0.0, 0.0), 0.0, 0.0, 0.0
    head = _Head(w, g)
    if ell0 is None:
        ell0 = math.log(max(math.fsum(w) + mass, 1e-300))
    # point estimate of the tail: the middle of the bracket (2) at the start
    g_lo0, g_hi0, _ = _tail_factor(math.exp(ell0), g, a_tail, m_tail, g_max, p_max)
    ell = _solve_head(head, 0.5 * (g_lo0 + g_hi0) * mass, ell0)
    t_mid = head.t

    def bracket_value(ell_end, which):
        _, fh, slope = head.evaluate(ell_end)
        lam_end = math.exp(ell_end)
        g_lo, g_hi, _ = _tail_factor(lam_end, g, a_tail, m_tail, g_max, p_max)
        tail = (g_lo if which == "lo" else g_hi) * mass / lam_end
        return fh + tail, slope - tail

    # Bracket ends: a Newton step of the bounding equations from ell, plus a
    # rounding margin; the signs are then verified and the step widened if needed.
    margin = 2 * _ROUNDING
    ends = []
    for which, sign in (("lo", 1.0), ("hi", -1.0)):
        val, slope = bracket_value(ell, which)
        step = abs(val / slope) * 1.5 + 4 * margin / abs(slope) + 4e-16 * max(1.0, abs(ell))
        for _ in range(80):
            end = ell - sign * step
            val, _ = bracket_value(end, which)
            if sign * val > margin:
                break
            step *= 2
        else:  # pragma: no cover - F is strictly monotone
            raise RuntimeError("countable_minimizer: could not bracket the multiplier")
        ends.append((end, head.t))
    (ell_lo, t_lo), (ell_hi, t_hi) = ends
    lam, lam_lo, lam_hi = math.exp(ell), math.exp(ell_lo), math.exp(ell_hi)
    _, g_hi_lo, _ = _tail_factor(lam_lo, g, a_tail, m_tail, g_max, p_max)
    tail_bound = g_hi_lo * mass / lam_lo
    q = np.zeros_like(w)
    q[head.pos] = _sigmoid(t_mid)
    error = float(np.abs(_sigmoid(t_lo) - _sigmoid(t_hi)).max()) + _ROUNDING * float(q.max())
    return y, p, w, q, lam, (lam_lo, lam_hi), tail_bound, error, s_tail


def countable_minimizer(dist, gamma, *, alpha=None, tol=1e-12, max_terms=MAX_TERMS):
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
    and ``tail_bound = G_hi a S / lam_lo``. The module docstring has the
    details; the bound is far tighter than the crude ``G_max S / lam``
    because ``G(q) = 1 + gamma q (log(1/q) - 1) + ...`` for small ``q``.

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
    tol = _check_tol(tol)
    if isinstance(max_terms, bool) or not isinstance(max_terms, numbers.Integral):
        raise TypeError(f"`max_terms` must be an integer, got {type(max_terms).__name__}")
    if max_terms < 2:
        raise ValueError(f"`max_terms` must be >= 2, got {max_terms!r}")
    src = _as_source(dist, "dist")
    alpha_head, a_tail = _check_alpha(alpha)
    return _minimize(src, g, alpha_head, a_tail, tol, int(max_terms))


def _minimize(src, g, alpha_head, a_tail, tol, max_terms, n_at_least=None):
    g_max, p_max = _max_gradient_weight(g) if g > 0 else (1.0, 1.0)
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
    n_trunc = _find_truncation(src, tol / (g_max * a_tail), n_min, n_cap)
    out = _solve_truncated(src, g, alpha_head, a_tail, min(n_trunc, n_min + 4096), g_max, p_max)
    ell0 = math.log(out[4]) if out[4] > 0 else None
    target = tol * out[5][0] / (a_tail * (1 + 1e-3))
    for _ in range(8):
        if out[6] <= tol or int(out[0][-1]) >= n_cap:
            break
        n_trunc = max(int(out[0][-1]) + 1, _find_truncation(src, target, n_min, n_cap))
        out = _solve_truncated(src, g, alpha_head, a_tail, n_trunc, g_max, p_max, ell0)
        target *= min(0.5, tol / out[6]) if out[6] > 0 else 0.5
    y, p, w, q, lam, bounds, tail_bound, error, s_tail = out
    if tail_bound > tol:
        warnings.warn(
            f"countable_minimizer: the tail bound {tail_bound:.3g} exceeds `tol` = {tol:.3g} "
            f"after keeping `max_terms` = {max_terms} integers of {src.name}; raise "
            "`max_terms` or `tol` (the values kept are still accurate)",
            TruncationWarning,
            stacklevel=3,
        )
    return CountableMinimizer(
        support=y + src.shift,
        q=q,
        p=p,
        multiplier=lam,
        multiplier_bounds=bounds,
        tail_bound=tail_bound,
        error_bound=error,
        tail_mass=s_tail,
        gamma=g,
        _tail_weight=a_tail,
        _source=src,
        _weights=w,
    )


# ---------------------------------------------------------------------------
# series values with certified brackets
# ---------------------------------------------------------------------------


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


def _geometric_sums(b: float, rho: float, y0: float) -> dict:
    """Upper bounds of ``sum_k b rho^k f(y0 + k)`` for ``f = log y, y, y log y``."""
    if rho >= 1:
        return {"log": math.inf, "y": math.inf, "ylog": math.inf}
    s0 = 1 / (1 - rho)
    s1 = rho / (1 - rho) ** 2
    s2 = rho * (1 + rho) / (1 - rho) ** 3
    ly = math.log(y0)
    # log(y0 + k) <= log y0 + k / y0 (concavity)
    return {
        "log": b * (ly * s0 + s1 / y0),
        "y": b * (y0 * s0 + s1),
        "ylog": b * (y0 * ly * s0 + (ly + 1) * s1 + s2 / y0),
    }


def _power_integral(m: float, s: float, kind: str) -> float:
    """``int_m^inf t^-s f(t) dt`` for ``f = log t, t, t log t``."""
    lm = math.log(m)
    if kind == "log":
        return m ** (1 - s) * (lm / (s - 1) + 1 / (s - 1) ** 2)
    if s <= 2:
        return math.inf
    if kind == "y":
        return m ** (2 - s) / (s - 2)
    return m ** (2 - s) * (lm / (s - 2) + 1 / (s - 2) ** 2)


def _tail_moments(src: _Source, n_trunc: int) -> tuple[dict, dict] | None:
    """Bounds ``(lower, upper)`` on ``sum_{y > N} P(y) f(y)`` for ``f = log y, y, y log y``."""
    y0 = float(n_trunc + 1)
    s_tail = src.sf(n_trunc)
    lower = {"log": s_tail * math.log(y0), "y": s_tail * y0, "ylog": s_tail * y0 * math.log(y0)}
    if src.ratio is not None:
        rho = src.ratio(n_trunc)
        b = float(src.pmf(np.array([n_trunc + 1]))[0])
        return lower, _geometric_sums(b, rho, y0)
    if src.power is not None:
        a_const, s = src.power
        # t^-s f(t) is decreasing for t >= e^(1/(s-1)) (f = t log t), e^(1/s) (log)
        if n_trunc < math.exp(1 / (s - 1)) + 1:
            return None
        upper = {k: a_const * _power_integral(float(n_trunc), s, k) for k in lower}
        exact_lower = {k: a_const * _power_integral(y0, s, k) for k in lower}
        lower = {k: max(lower[k], exact_lower[k]) for k in lower}
        return lower, upper
    return None


def _cross_tail(p_src: _Source, q_src: _Source, n_trunc: int) -> tuple[float, float]:
    """Bracket of ``sum_{y > N} P(y) (-log Q(y))`` (``upper = inf`` if not certifiable).

    ``N`` and ``y`` are in the coordinates of ``P``.
    """
    s_p = p_src.sf(n_trunc)
    if s_p == 0:
        return 0.0, 0.0
    s_q = q_src.sf(n_trunc + p_src.shift - q_src.shift)
    if s_q == 0:
        return math.inf, math.inf
    # every tail Q(y) <= sf_Q(N), so -log Q(y) >= -log sf_Q(N)
    generic_lower = s_p * max(0.0, -math.log(min(1.0, s_q)))
    if p_src is q_src and p_src.entropy_tail is not None:
        return generic_lower, float(p_src.entropy_tail(n_trunc + p_src.shift))
    if q_src.log_coeffs is None:
        return generic_lower, math.inf
    moments = _tail_moments(p_src, n_trunc)
    if moments is None:
        return generic_lower, math.inf
    low_m, up_m = moments
    c0, c_log, c_y, c_ylog = q_src.log_coeffs
    exact = q_src.log_exact
    d = p_src.shift - q_src.shift  # y_Q = y_P + d on the tail
    if d != 0:
        if n_trunc + 1 + d < 1:
            return generic_lower, math.inf
        # log(y + d) <= log y + max(d, 0)/(N+1); (y + d) log(y + d) expanded alike
        e = max(d, 0) / (n_trunc + 1)
        c0, c_log, c_y = c0 + c_y * d + c_log * e + c_ylog * max(d, 0) * e, c_log, c_y
        c_log, c_y = c_log + c_ylog * max(d, 0), c_y + c_ylog * e
        exact = False
    upper = c0 * s_p
    lower = c0 * s_p
    for c, key in ((c_log, "log"), (c_y, "y"), (c_ylog, "ylog")):
        if c == 0:
            continue
        upper += c * (up_m[key] if c > 0 else low_m[key])
        lower += c * (low_m[key] if c > 0 else up_m[key])
    if not exact:
        lower = generic_lower
    return max(lower, generic_lower), upper


def _head_loss(t: np.ndarray, g: float) -> np.ndarray:
    """``l(sigmoid(t)) = (1-q)^gamma (-log q)`` from logits, exact for q near 0 and 1."""
    _, _, neg_log_q, neg_log_r, _ = _logit_terms(t)
    return np.exp(-g * neg_log_r) * neg_log_q


def _warn_divergent(what: str, why: str) -> SeriesValue:
    warnings.warn(f"{what} is infinite: {why}", DivergenceWarning, stacklevel=3)
    return SeriesValue(math.inf, math.inf, math.inf, False, 0, why)


def countable_entropy(dist, gamma, *, alpha=None, tol=1e-12, max_terms=MAX_TERMS):
    r"""Focal entropy ``H_gamma(P) = sum_x alpha_x P(x) l(Q*(x))`` on a countable alphabet.

    ``l(q) = -(1-q)^gamma log q`` and ``Q*`` from :func:`countable_minimizer`.
    ``H_gamma(P) < inf`` iff the Shannon entropy ``H(P) < inf``; divergence is
    decided from the tail of ``dist`` (module docstring) and returns ``inf``
    with a :class:`DivergenceWarning`.

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
    tol = _check_tol(tol)
    src = _as_source(dist, "dist")
    alpha_head, a_tail = _check_alpha(alpha)
    if src.finite_entropy is False:
        s, b = src.tail[1:]
        return _warn_divergent(
            "the focal entropy",
            f"H_gamma(P) < inf iff the Shannon entropy H(P) < inf, and the tail "
            f"p_n ~ C n^-{s:g} (log n)^-{b:g} of {src.name} has H(P) = inf "
            "(finite iff s > 1 or b > 2)",
        )
    n_floor = None
    for _ in range(12):
        res = _minimize(src, g, alpha_head, a_tail, tol, max_terms, n_floor)
        value = _entropy_bracket(res, src, g, a_tail)
        n_trunc = int(res.support[-1]) - src.shift
        width = value.upper - value.lower
        at_cap = len(res.support) >= max_terms or n_trunc >= src.upper
        if width <= 2 * tol or at_cap or not math.isfinite(width):
            break
        # shrink the tail mass by the missing factor (the bracket scales with it)
        target = res.tail_mass * min(0.5, tol / width) ** 1.2
        n_floor = _find_truncation(src, target, n_trunc + 1, src.lower + max_terms - 1)
    return _finish(value, tol, "countable_entropy")


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


def _entropy_bracket(res: CountableMinimizer, src: _Source, g: float, a_tail: float):
    p = res.p
    lam, (lam_lo, lam_hi) = res.multiplier, res.multiplier_bounds
    if lam == 0:  # one-hot Q*: l(1) = 0
        return SeriesValue(0.0, 0.0, 0.0, True, len(p), "single class")
    head_w = res._weights
    positive = head_w > 0
    log_w = np.log(head_w[positive])
    if g == 0:
        q = head_w[positive] / lam
        terms = head_w[positive] * -np.log(q)
        head = math.fsum(terms)
        head_lo, head_hi = head * (1 - _ROUNDING), head * (1 + _ROUNDING)
    else:
        t_lo = _solve_logit(math.log(lam_lo) - log_w, g)
        t_hi = _solve_logit(math.log(lam_hi) - log_w, g)
        t_mid = _solve_logit(math.log(lam) - log_w, g)
        head = math.fsum(head_w[positive] * _head_loss(t_mid, g))
        head_lo = math.fsum(head_w[positive] * _head_loss(t_lo, g)) * (1 - _ROUNDING)
        head_hi = math.fsum(head_w[positive] * _head_loss(t_hi, g)) * (1 + _ROUNDING)
    n_trunc = int(res.support[-1]) - src.shift
    s_tail = res.tail_mass
    if s_tail == 0:
        reason = "finite support" if n_trunc >= src.upper else "tail mass below 1e-308"
        return SeriesValue(head, head_lo, head_hi, True, len(p), reason)
    e_lo, e_hi = _cross_tail(src, src, n_trunc)
    g_max, p_max = _max_gradient_weight(g) if g > 0 else (1.0, 1.0)
    m_tail = _tail_max(src, n_trunc, s_tail)
    g_lo, _, _ = _tail_factor(lam_hi, g, a_tail, m_tail, g_max, p_max)
    _, g_hi, q_max = _tail_factor(lam_lo, g, a_tail, m_tail, g_max, p_max)
    # -log Q*(x) = log(lam / (a G P(x))) on the tail
    tail_hi = a_tail * (s_tail * math.log(lam_hi / (a_tail * g_lo)) + e_hi)
    tail_lo = a_tail * (1 - q_max) ** g * (s_tail * math.log(lam_lo / (a_tail * g_hi)) + e_lo)
    tail_lo = max(tail_lo, 0.0)
    lower = head_lo + tail_lo
    upper = head_hi + tail_hi
    if math.isfinite(upper):
        tail_mid = a_tail * (s_tail * math.log(lam / a_tail) + 0.5 * (e_lo + e_hi))
        value = min(max(head + tail_mid, lower), upper)
        reason = f"head of {len(p)} terms, tail bounded by the envelopes of {src.name}"
    else:
        value = lower
        reason = f"head of {len(p)} terms; the tail of {src.name} has no certified bound"
    finite = src.finite_entropy if src.finite_entropy is not None else None
    if math.isfinite(upper):
        finite = True
    return SeriesValue(value, lower, upper, finite, len(p), reason)


def countable_cross_entropy(p_dist, q_dist, gamma, *, alpha=None, tol=1e-12, max_terms=MAX_TERMS):
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
    tol = _check_tol(tol)
    p_src = _as_source(p_dist, "p_dist")
    q_src = _as_source(q_dist, "q_dist")
    alpha_head, a_tail = _check_alpha(alpha)
    decided, why = _cross_finiteness(p_src, q_src)
    if decided is False:
        return _warn_divergent("the focal cross-entropy", why)
    n_trunc = _find_truncation(p_src, tol, p_src.lower + 1, p_src.lower + max_terms - 1)
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
        n_trunc = _find_truncation(p_src, target, n_trunc + 1, p_src.lower + max_terms - 1)
    return _finish(value, tol, "countable_cross_entropy")


_GROWTH_NEEDS = {
    # -log Q growth -> (s_min, b_min at s = s_min) for sum n^-s (log n)^-b g(n) < inf
    "log": (1.0, 2.0),
    "linear": (2.0, 1.0),
    "xlogx": (2.0, 2.0),
}


def _cross_finiteness(p_src: _Source, q_src: _Source) -> tuple[bool | None, str]:
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
    what = {"log": "E_P[log X]", "linear": "E_P[X]", "xlogx": "E_P[X log X]"}[q_src.growth]
    why = (
        f"H_gamma(P, Q) < inf iff H(P, Q) = E_P[-log Q(X)] < inf; -log Q(n) of {q_src.name} "
        f"grows like {q_src.growth}, so this needs {what} < inf, and P(n) ~ n^-{s:g} "
        f"(log n)^-{b:g} of {p_src.name} has {what} {'<' if finite else '='} inf"
    )
    return finite, why


def _cross_bracket(p_src, q_src, g, alpha_head, a_tail, n_trunc, decided) -> SeriesValue:
    y = np.arange(p_src.lower, n_trunc + 1)
    x = y + p_src.shift
    p = np.asarray(p_src.pmf(y), dtype=float)
    yq = x - q_src.shift
    q = np.where(
        (yq >= q_src.lower) & (yq <= q_src.upper), np.asarray(q_src.pmf(yq), dtype=float), 0.0
    )
    a = np.full(p.shape, a_tail)
    if alpha_head is not None:
        inside = (x >= 0) & (x < len(alpha_head))
        a[inside] = alpha_head[x[inside]]
    positive = p > 0
    if np.any(positive & (q <= 0)):
        bad = int(x[np.argmax(positive & (q <= 0))])
        return SeriesValue(math.inf, math.inf, math.inf, False, len(p), f"first at x = {bad}")
    qp = q[positive]
    with np.errstate(divide="ignore"):
        terms = a[positive] * p[positive] * np.power(1.0 - qp, g) * -np.log(qp)
    head = math.fsum(terms)
    head_lo, head_hi = head * (1 - _ROUNDING), head * (1 + _ROUNDING)
    if n_trunc >= p_src.upper:
        return SeriesValue(head, head_lo, head_hi, True, len(p), "finite support")
    n_common = n_trunc + p_src.shift - q_src.shift
    e_lo, e_hi = _cross_tail(p_src, q_src, n_trunc)
    q_max = min(1.0, q_src.sf(n_common))
    lower = head_lo + a_tail * (1 - q_max) ** g * e_lo
    upper = head_hi + a_tail * e_hi
    if math.isfinite(upper):
        value = head + a_tail * 0.5 * ((1 - q_max) ** g * e_lo + e_hi)
        reason = f"head of {len(p)} terms, tail bounded by the envelopes of {p_src.name}"
        finite = True
    else:
        value = lower
        reason = f"head of {len(p)} terms; no certified tail bound for this pair"
        finite = decided
    return SeriesValue(value, lower, upper, finite, len(p), reason)
