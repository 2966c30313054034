r"""Distribution adapters: scipy.stats discrete distributions and user pmfs -> one ``_Source``.

A ``_Source`` is what the solver and the series need of ``P``: the pmf and the
tail mass in *family coordinates* ``y = x - shift`` (``shift`` the scipy
``loc``), the support, and what is known of the tail -- whether ``H(P)`` is
finite, and the explicit envelopes of ``P(y)`` and ``-log P(y)`` that make the
series tails certifiable (``_tails.py``).

The scipy families with an infinite support are read through the table
``FAMILIES`` (family name -> function of the shape parameters returning an
``Envelope``); adding a family is one row there. Families with a finite
support need no row; an infinite-support family without a row still works,
but its series values are not certified (finiteness undecided). A row returns
``POINT_MASS`` for the parameters that make its family a point mass at the
lower end of its support (``poisson(0)``, ``geom(1)``, ``nbinom(n, 1)``).

Every callable stored in a ``Source`` is a module-level function or a
``functools.partial`` of one (never a lambda or closure), so a
``CountableMinimizer``, which keeps its ``Source``, can be pickled whenever the
distribution can (every frozen scipy.stats distribution can; a
``CountableDistribution`` can when its own callables can).
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "FAMILIES",
    "POINT_MASS",
    "CountableDistribution",
    "Envelope",
    "Source",
    "as_source",
    "shape_args_and_loc",
]


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

    def __init__(
        self,
        pmf: Callable[[NDArray[np.int64]], ArrayLike],
        sf: Callable[[int], float],
        *,
        lower: int = 0,
        tail: tuple[float, float] | None = None,
        entropy_tail: Callable[[int], float] | None = None,
        name: str | None = None,
    ) -> None:
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
        self.pmf: Callable[[NDArray[np.int64]], ArrayLike] = pmf
        self.sf: Callable[[int], float] = sf
        self.lower: int = int(lower)
        self.tail: tuple[float, float] | None = None if tail is None else _check_tail(tail)
        self.entropy_tail: Callable[[int], float] | None = entropy_tail
        self.name: str = name or "user pmf"

    def __repr__(self) -> str:
        return f"CountableDistribution({self.name}, lower={self.lower}, tail={self.tail})"


def _check_tail(tail: object) -> tuple[float, float]:
    try:
        s, b = (float(v) for v in tail)  # type: ignore[attr-defined]
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`tail` must be a pair (s, b) of numbers, got {tail!r}") from exc
    if not (s > 1 or (s == 1 and b > 1)) or math.isnan(b):
        raise ValueError(
            f"`tail` = {tail!r} is not summable: p_n ~ n^-s (log n)^-b needs s > 1, "
            "or s = 1 and b > 1"
        )
    return s, b


@dataclass
class Source:
    """Internal view of a distribution, in family coordinates ``y = x - shift``."""

    name: str
    shift: int
    lower: int  # in y
    upper: float  # in y (inf for infinite support)
    pmf: Callable[[Any], NDArray[np.float64]]
    sf: Callable[[int], float]
    isf: Callable[[float], float] | None = None
    finite_entropy: bool | None = None
    tail: tuple | None = None  # ("light",) or ("power", s, b) or ("finite",)
    growth: str | None = None  # growth of -log P: "finite", "log", "linear", "xlogx"
    ratio: Callable[[int], float] | None = None  # N -> sup_{y > N} P(y+1)/P(y)
    power: tuple[float, float] | None = None  # (A, s): P(y) = A y^-s exactly
    log_coeffs: tuple[float, float, float, float] | None = None  # see Envelope
    log_exact: bool = False  # the bound above is an identity
    entropy_tail: Callable[[int], float] | None = None


# ---------------------------------------------------------------------------
# the per-family table of scipy.stats families with an infinite support
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Envelope:
    """What is known of one family's tail, for given shape parameters.

    ``log_coeffs = (c0, c1, c2, c3)`` bounds ``-log P(y) <= c0 + c1 log y + c2 y
    + c3 y log y`` for ``y >= 1`` (an identity if ``log_exact``); ``ratio(N)``
    bounds ``P(y+1)/P(y)`` for all ``y > N`` (geometric envelope); ``power =
    (A, s)`` states ``P(y) = A y^-s`` exactly. ``pmf``/``sf``/``isf`` replace
    scipy's where a closed form is more accurate or faster.
    """

    growth: str  # growth of -log P(y): "log", "linear", "xlogx"; "finite" for POINT_MASS
    log_coeffs: tuple[float, float, float, float]
    log_exact: bool = False
    ratio: Callable[[int], float] | None = None
    tail: tuple = ("light",)
    power: tuple[float, float] | None = None
    pmf: Callable[[Any], NDArray[np.float64]] | None = None
    sf: Callable[[int], float] | None = None
    isf: Callable[[float], float] | None = None


#: the "envelope" of a family whose parameters make it a point mass at the lower end of
#: its support: the source becomes that single point (exactly, as a finite support)
POINT_MASS = Envelope("finite", (0.0, 0.0, 0.0, 0.0), log_exact=True, tail=("finite",))


def _constant_ratio(rho: float, n: int) -> float:
    return rho


def _poisson_ratio(mu: float, n: int) -> float:
    return mu / (n + 2.0)


def _poisson(mu: float) -> Envelope:
    if mu == 0:  # P = delta_0
        return POINT_MASS
    # -log P = mu - y log mu + log y!, and log y! <= y log y - y + log(2 pi)/2 + (log y)/2
    # + 1/12 (Robbins); mu/(y+1) is decreasing
    c0 = mu + 0.5 * math.log(2 * math.pi) + 1 / 12
    coeffs = (c0, 0.5, -1 - math.log(mu), 1.0)
    return Envelope("xlogx", coeffs, ratio=functools.partial(_poisson_ratio, mu))


def _geom(p: float) -> Envelope:
    if p == 1:  # P = delta_1
        return POINT_MASS
    # P = p (1-p)^(y-1)
    coeffs = (-math.log(p) + math.log1p(-p), 0.0, -math.log1p(-p), 0.0)
    return Envelope(
        "linear", coeffs, log_exact=True, ratio=functools.partial(_constant_ratio, 1.0 - p)
    )


def _planck(lam: float) -> Envelope:
    # P = (1 - e^-lam) e^(-lam y)
    coeffs = (-math.log(-math.expm1(-lam)), 0.0, lam, 0.0)
    rho = math.exp(-lam)
    return Envelope("linear", coeffs, log_exact=True, ratio=functools.partial(_constant_ratio, rho))


def _nbinom_ratio(n_: float, p: float, n: int) -> float:
    # the ratio (y+n)(1-p)/(y+1) is monotone in y with limit 1-p
    return max((n + 1.0 + n_) * (1 - p) / (n + 2.0), 1.0 - p)


def _nbinom(n_: float, p: float) -> Envelope:
    from scipy import special  # deferred: keeps `import focalentropy` free of scipy

    if p == 1:  # P = delta_0, whatever n
        return POINT_MASS
    # -log P = log y! - log Gamma(y+n) + log Gamma(n) - n log p - y log(1-p), and
    # Gamma(y+1)/Gamma(y+n) <= 1 (n >= 1) or <= (2y)^(1-n) (n < 1, Wendel)
    c1 = max(0.0, 1.0 - n_)
    c0 = float(special.gammaln(n_)) - n_ * math.log(p) + c1 * math.log(2.0)
    coeffs = (c0, c1, -math.log1p(-p), 0.0)
    return Envelope("linear", coeffs, ratio=functools.partial(_nbinom_ratio, n_, p))


def _logser(p: float) -> Envelope:
    # P = -p^y / (y log(1-p)); the ratio p y/(y+1) increases to p
    coeffs = (math.log(-math.log1p(-p)), 1.0, -math.log(p), 0.0)
    return Envelope("linear", coeffs, log_exact=True, ratio=functools.partial(_constant_ratio, p))


def _zipf_pmf(a: float, log_z: float, y: Any) -> NDArray[np.float64]:
    y = np.asarray(y)
    return np.where(y >= 1, np.exp(-a * np.log(np.maximum(y, 1)) - log_z), 0.0)


def _zipf_sf(a: float, z: float, n: int) -> float:
    from scipy import special  # deferred: keeps `import focalentropy` free of scipy

    # closed form: scipy sums the cdf term by term; P(X > n) = zeta(a, n+1) / zeta(a)
    return float(special.zeta(a, max(n, 0) + 1.0)) / z if n >= 0 else 1.0


def _zipf_isf(a: float, z: float, s: float) -> float:
    # P(X > n) <= int_n^inf t^-a dt / z = n^(1-a) / (z (a-1)): a seed, not exact
    n = (s * z * (a - 1)) ** (-1 / (a - 1)) if s > 0 else math.inf
    return float(math.ceil(n)) if n < 1e300 else math.inf


def _zipf(a: float) -> Envelope:
    from scipy import special  # deferred: keeps `import focalentropy` free of scipy

    z = float(special.zeta(a))
    log_z = math.log(z)
    return Envelope(
        "log",
        (log_z, a, 0.0, 0.0),
        log_exact=True,
        tail=("power", a, 0.0),
        power=(1.0 / z, a),
        pmf=functools.partial(_zipf_pmf, a, log_z),
        sf=functools.partial(_zipf_sf, a, z),
        isf=functools.partial(_zipf_isf, a, z),
    )


#: scipy family name -> envelope of its tail as a function of the shape parameters
FAMILIES: dict[str, Callable[..., Envelope]] = {
    "poisson": _poisson,
    "geom": _geom,
    "planck": _planck,
    "nbinom": _nbinom,
    "logser": _logser,
    "zipf": _zipf,
}


# ---------------------------------------------------------------------------
# adapters
# ---------------------------------------------------------------------------


def shape_args_and_loc(dist: Any) -> tuple[tuple, float]:
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


def _scipy_source(dist: Any) -> Source:
    name = dist.dist.name
    args, loc = shape_args_and_loc(dist)
    if loc != int(loc):
        raise ValueError(f"`dist` must have an integer `loc`, got {loc!r}")
    loc = int(loc)
    lo, hi = dist.support()
    if np.isnan(lo) or np.isnan(hi):
        raise ValueError(
            f"`dist` ({name}) has invalid shape parameters {tuple(args)!r} "
            "(scipy.stats reports its support as nan)"
        )
    if not np.isfinite(lo):
        raise ValueError(
            f"`dist` ({name}) has support unbounded below; only distributions on "
            "integers >= some lower end are supported"
        )
    src = Source(
        name=f"{name}{tuple(float(a) for a in args)}",
        shift=loc,
        lower=int(lo) - loc,
        upper=float(hi) - loc,
        pmf=functools.partial(_scipy_pmf, dist, loc),
        sf=functools.partial(_scipy_sf, dist, loc),
        isf=functools.partial(_scipy_isf_at, dist, loc),
    )
    if np.isfinite(hi):
        src.finite_entropy, src.tail, src.growth = True, ("finite",), "finite"
    elif name in FAMILIES:
        _apply_envelope(src, FAMILIES[name](*(float(a) for a in args)))
    return src


def _scipy_pmf(dist: Any, loc: int, y: Any) -> NDArray[np.float64]:
    return np.asarray(dist.pmf(np.asarray(y) + loc), dtype=np.float64)


def _scipy_sf(dist: Any, loc: int, n: int) -> float:
    return float(dist.sf(n + loc))


def _scipy_isf(dist: Any, s: float) -> float:
    """scipy's ``isf``, or ``inf`` where its generic search fails (it only seeds a search)."""
    try:
        with np.errstate(all="ignore"):  # e.g. geom's ppf(1 - s) at 1 - s == 1
            return float(dist.isf(s))
    except (RuntimeError, ValueError, OverflowError):  # e.g. logser: "endless loop"
        return math.inf


def _scipy_isf_at(dist: Any, loc: int, s: float) -> float:
    """:func:`_scipy_isf` in family coordinates ``y = x - loc``."""
    return _scipy_isf(dist, s) - loc


def _point_pmf(at: int, y: Any) -> NDArray[np.float64]:
    return np.where(np.asarray(y) == at, 1.0, 0.0)


def _point_sf(at: int, n: int) -> float:
    return 1.0 if n < at else 0.0


def _point_isf(at: int, s: float) -> float:
    return float(at) if s < 1 else float(at - 1)


def _apply_envelope(src: Source, env: Envelope) -> None:
    if env.growth == "finite":  # POINT_MASS: the single point `lower`, exactly
        src.upper = float(src.lower)
        src.finite_entropy, src.tail, src.growth = True, ("finite",), "finite"
        src.pmf = functools.partial(_point_pmf, src.lower)
        src.sf = functools.partial(_point_sf, src.lower)
        src.isf = functools.partial(_point_isf, src.lower)
        return
    src.finite_entropy = True  # every tabulated family has H(P) < inf
    src.tail, src.growth, src.ratio, src.power = env.tail, env.growth, env.ratio, env.power
    src.log_coeffs, src.log_exact = env.log_coeffs, env.log_exact
    src.pmf = env.pmf or src.pmf
    src.sf = env.sf or src.sf
    src.isf = env.isf or src.isf


def _user_pmf(pmf: Callable[[NDArray[np.int64]], ArrayLike], y: Any) -> NDArray[np.float64]:
    return np.asarray(pmf(np.asarray(y)), dtype=np.float64)


def _user_sf(sf: Callable[[int], float], n: int) -> float:
    return float(sf(int(n)))


def _user_source(dist: CountableDistribution) -> Source:
    src = Source(
        name=dist.name,
        shift=0,
        lower=dist.lower,
        upper=math.inf,
        pmf=functools.partial(_user_pmf, dist.pmf),
        sf=functools.partial(_user_sf, dist.sf),
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


def as_source(dist: Any, name: str) -> Source:
    """The ``Source`` of a frozen scipy.stats discrete distribution, a
    ``CountableDistribution`` or a ``(pmf, sf)`` pair; ``name`` is the argument's name."""
    if isinstance(dist, CountableDistribution):
        return _user_source(dist)
    from scipy import stats  # deferred: keeps `import focalentropy` free of scipy

    if hasattr(dist, "dist") and isinstance(dist.dist, stats.rv_discrete):
        return _scipy_source(dist)
    if isinstance(dist, tuple) and len(dist) == 2 and all(callable(f) for f in dist):
        return _user_source(CountableDistribution(*dist))
    raise TypeError(
        f"`{name}` must be a frozen scipy.stats discrete distribution, a "
        f"CountableDistribution or a (pmf, sf) pair of callables; got {type(dist).__name__}"
    )
