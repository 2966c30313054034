r"""Tail bounds: what the integers beyond a truncation ``N`` can contribute, proven.

Tail bound of the minimizer (used by ``_solver.py``)
----------------------------------------------------
Write ``G(q) = q phi(q)``: ``G(0+) = 1``, ``G`` has a single maximum
``G_max`` at ``p_max`` and decreases to ``G(1) = 0`` (docs/theory.rst, section
"Regimes"). The KKT condition is the exact identity

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
   the solver verifies the sign of both at the returned ends of the bracket.
4. ``tail_bound = G_hi(lam_lo) a S / lam_lo`` (``q_max`` evaluated at
   ``lam_lo``) is then a proven upper bound on ``Q*(T)``; ``N`` is increased
   until it is ``<= tol``. Head entries ``Q*(x)`` decrease with ``lam``, so
   they lie between their values at ``lam_hi`` and ``lam_lo``
   (``error_bound``). Since ``G(q) = 1 + gamma q (log(1/q) - 1) + ...``, the
   bracket (2) is very narrow: the tail barely moves ``lam``.

The bounds are exact statements about real numbers; floating-point rounding
of the head sum is covered by a margin of a few hundred ulps. For
``gamma = 0``, ``G = 1`` and everything is exact: ``lam = sum_x w_x``.

Tails of the series (used by ``_series.py``)
--------------------------------------------
``sum_{y > N} P(y) (-log Q(y))`` is bracketed from the envelopes of the
families (``_adapters.Envelope``): ``-log Q(y) <= c0 + c1 log y + c2 y + c3 y
log y`` and the moments ``sum_{y > N} P(y) f(y)``, ``f = log y, y, y log y``,
bounded by geometric sums (``P(y+1) <= rho P(y)``) or integrals (``P(y) = A
y^-s``).
"""

from __future__ import annotations

import math

import numpy as np

from ._adapters import Source
from ._common import ROUNDING

__all__ = ["cross_tail", "find_truncation", "g_value", "tail_factor", "tail_max"]


def find_truncation(src: Source, target: float, n_min: int, n_max: int) -> int:
    """Smallest ``N`` in ``[n_min, n_max]`` with ``sf(N) <= target`` (``n_max`` if none)."""
    # Searched on sf itself, by hand: scipy's generic rv_discrete.isf is ppf(1 - s), which
    # has no digits left below s ~ 1e-16; isf only seeds the search where it is a closed form.
    if src.sf(n_min) <= target:
        return n_min
    if src.isf is not None:
        guess = float(src.isf(target))
        if math.isfinite(guess):
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


def g_value(q: float, g: float) -> float:
    """``G(q) = (1-q)^gamma (1 + gamma q log(1/q) / (1-q))`` for one float ``q`` in [0, 1]."""
    # a scalar in math: called twice per bracket end, where the validated, allocating
    # array function `gradient_weight` would dominate the cost
    if q >= 1:
        return 0.0
    v = q * -math.log(q) / (1 - q) if q > 0 else 0.0
    return (1 - q) ** g * (1 + g * v)


def tail_factor(
    lam: float, g: float, a_tail: float, m_tail: float, g_max: float, p_max: float
) -> tuple[float, float, float]:
    """``(G_lo, G_hi, q_max)`` for the tail bracket (2) at multiplier ``lam``.

    ``m_tail`` bounds every tail probability ``P(x)``, ``x > N``.
    """
    if g == 0 or m_tail == 0:
        return 1.0, 1.0, 0.0
    q_max = min(1.0, g_max * a_tail * m_tail / lam * (1 + ROUNDING))
    g_q = g_value(q_max, g)
    g_hi = g_q if q_max <= p_max else g_max
    return min(1.0, g_q) * (1 - ROUNDING), g_hi * (1 + ROUNDING), q_max


def tail_max(src: Source, n_trunc: int, s_tail: float) -> float:
    """An upper bound on ``P(y)`` for ``y > N``: ``P(N+1)`` where the pmf is
    known to be non-increasing beyond ``N``, else the tail mass."""
    if s_tail == 0:
        return 0.0
    decreasing = src.power is not None or (src.ratio is not None and src.ratio(n_trunc) <= 1)
    if decreasing:
        return min(s_tail, float(src.pmf(np.array([n_trunc + 1]))[0]))
    return s_tail


def _geometric_sums(b: float, rho: float, y0: float) -> dict[str, float]:
    """Upper bounds of ``sum_k b rho^k f(y0 + k)`` for ``f = log y, y, y log y``."""
    # closed forms of sum rho^k, k rho^k, k^2 rho^k: no series summed numerically
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
    # antiderivatives in closed form (scipy.integrate.quad would give no proven bound)
    lm = math.log(m)
    if kind == "log":
        return m ** (1 - s) * (lm / (s - 1) + 1 / (s - 1) ** 2)
    if s <= 2:
        return math.inf
    if kind == "y":
        return m ** (2 - s) / (s - 2)
    return m ** (2 - s) * (lm / (s - 2) + 1 / (s - 2) ** 2)


def _tail_moments(src: Source, n_trunc: int) -> tuple[dict, dict] | None:
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


def _shifted_coeffs(
    coeffs: tuple[float, float, float, float], d: int, n_trunc: int
) -> tuple[float, float, float, float]:
    """Coefficients in ``y`` of the envelope of ``-log Q`` at ``y_Q = y + d``, ``y > N``.

    ``log(y + d) <= log y + max(d, 0)/(N+1)``; ``(y + d) log(y + d)`` expanded alike.
    The coefficients of ``log`` and ``y log y`` are non-negative in every family.
    """
    c0, c_log, c_y, c_ylog = coeffs
    dp = max(d, 0)
    e = dp / (n_trunc + 1)
    return (
        c0 + c_y * d + c_log * e + c_ylog * dp * e,
        c_log + c_ylog * dp,
        c_y + c_ylog * e,
        c_ylog,
    )


def cross_tail(p_src: Source, q_src: Source, n_trunc: int) -> tuple[float, float]:
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
    coeffs, exact = q_src.log_coeffs, q_src.log_exact
    d = p_src.shift - q_src.shift  # y_Q = y_P + d on the tail
    if d != 0:
        if n_trunc + 1 + d < 1:
            return generic_lower, math.inf
        coeffs, exact = _shifted_coeffs(coeffs, d, n_trunc), False
    c0, c_log, c_y, c_ylog = coeffs
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
