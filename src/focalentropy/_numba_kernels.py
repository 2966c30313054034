"""numba implementation of the minimizer's fused Newton iteration.

Imported lazily, only through :mod:`focalentropy._kernels` (numba is a
dependency, but slow to import: ``import focalentropy`` does not load it).
Functions are module-level so that ``cache=True`` stores the compiled code on
disk and later processes skip compilation; the small helpers are inlined
(``inline="always"``) into the two parallel kernels.
"""

from __future__ import annotations

import math

import numba
import numpy as np

#: rows per parallel work item of :func:`table_rows`
ROW_CHUNK = 64


@numba.njit(inline="always")
def sigmoid(t: float) -> float:
    """``1 / (1 + e^-t)``, correctly rounded near 1 (``1 - e/(1+e)`` for ``e < eps``)."""
    if t >= 0:
        e = math.exp(-t)
        return 1.0 - e / (1.0 + e)
    e = math.exp(t)
    return e / (1.0 + e)


@numba.njit(inline="always")
def psi_terms(t: float, g: float) -> tuple[float, float, float, float, float]:
    """``log phi(sigmoid(t))``, its derivative, ``q``, ``1 - q`` and ``-log(1 - q)``."""
    e = math.exp(-abs(t))
    lp = math.log1p(e)
    if t >= 0:
        q = 1.0 / (1.0 + e)
        r = e / (1.0 + e)
        nlq = lp
        nlr = lp + t
        v = lp / e if e > 0 else 1.0
    else:
        q = e / (1.0 + e)
        r = 1.0 / (1.0 + e)
        nlq = lp - t
        nlr = lp
        v = e * nlq
    ogv = 1.0 + g * v
    psi = nlq - g * nlr + math.log(ogv)
    dpsi = -g * q - r + g * (v - q) / ogv
    return psi, dpsi, q, r, nlr


@numba.njit(parallel=True, cache=True, nogil=True)
def newton_rows(
    w: np.ndarray,
    g: float,
    maxiter: int,
    tol: float,
    q_out: np.ndarray,
    lam_out: np.ndarray,
    ok_out: np.ndarray,
) -> None:
    n, k = w.shape
    for i in numba.prange(n):
        row = w[i]
        m = 0
        total = 0.0
        for x in range(k):
            total += row[x]
            if row[x] > row[m]:
                m = x
        others = 0.0
        for x in range(k):
            if x != m:
                others += row[x]
        t = np.empty(k)
        log_w = np.empty(k)
        res = np.empty(k)
        dps = np.empty(k)
        for x in range(k):
            if row[x] > 0:
                log_w[x] = math.log(row[x])
                comp = others if (x == m and row[m] > 0.5 * total) else total - row[x]
                t[x] = log_w[x] - math.log(comp)
            else:
                t[x] = -math.inf
        ell = 0.0
        converged = False
        for _ in range(maxiter):
            sum_c = 0.0
            sum_cres = 0.0
            q_others = 0.0
            r_top = 0.0
            for x in range(k):
                if row[x] > 0:
                    psi, dpsi, q, r, _ = psi_terms(t[x], g)
                    rs = psi + log_w[x] - ell
                    c = q * r / dpsi
                    res[x] = rs
                    dps[x] = dpsi
                    sum_c += c
                    sum_cres += c * rs
                    if x == m:
                        r_top = r
                    else:
                        q_others += q
            d_ell = (sum_cres - (q_others - r_top)) / sum_c
            step = 0.0
            t_max = 1.0
            for x in range(k):
                if row[x] > 0:
                    d_t = (d_ell - res[x]) / dps[x]
                    t[x] += d_t
                    step = max(step, abs(d_t))
                    t_max = max(t_max, abs(t[x]))
            ell += d_ell
            if not math.isfinite(ell):
                break
            # Newton converges quadratically: after a relative step of 1e-10
            # the remaining error is ~1e-20, so no further evaluation is needed
            if step <= tol * t_max and abs(d_ell) <= tol * max(1.0, abs(ell)):
                converged = True
                break
        for x in range(k):
            q_out[i, x] = sigmoid(t[x])
        lam_out[i] = math.exp(ell)
        ok_out[i] = converged


@numba.njit(inline="always")
def solve_top(y: float, t: float, g: float) -> tuple[float, float, float, float, bool]:
    """``t`` with ``psi(t) = y`` (Newton from ``t``), with q, -log(1-q), psi' there.

    The last step is applied to ``-log(1-q)`` to first order (its error is
    the square of a step below 1e-9).
    """
    ok = False
    q = 0.5
    nlr = 0.0
    dpsi = -1.0
    for _ in range(100):
        psi, dpsi, q, _, nlr = psi_terms(t, g)
        step = (psi - y) / dpsi
        step = min(max(step, -50.0), 50.0)
        t -= step
        nlr -= q * step
        if abs(step) <= 1e-9:
            ok = True
            break
    return t, q, nlr, dpsi, ok


@numba.njit(inline="always")
def table_q(
    y: float, coef: np.ndarray, y_lo: float, inv_h: float, h: float, y_hi: float
) -> tuple[float, float]:
    """``q(y)`` and ``dq/dy`` from the degree-9 table (``exp(-y)`` beyond it).

    Estrin's scheme: short dependency chains, so consecutive elements overlap.
    """
    if y >= y_hi:
        q = math.exp(-y)
        return q, -q
    j = int((y - y_lo) * inv_h)
    j = min(max(j, 0), coef.shape[0] - 1)
    s = (y - (y_lo + j * h)) * (2.0 * inv_h) - 1.0
    c0 = coef[j, 0]
    c1 = coef[j, 1]
    c2 = coef[j, 2]
    c3 = coef[j, 3]
    c4 = coef[j, 4]
    c5 = coef[j, 5]
    c6 = coef[j, 6]
    c7 = coef[j, 7]
    c8 = coef[j, 8]
    c9 = coef[j, 9]
    s2 = s * s
    s4 = s2 * s2
    s8 = s4 * s4
    q = (
        (c0 + c1 * s)
        + s2 * (c2 + c3 * s)
        + s4 * ((c4 + c5 * s) + s2 * (c6 + c7 * s))
        + s8 * (c8 + c9 * s)
    )
    dq = (
        (c1 + 2.0 * c2 * s)
        + s2 * (3.0 * c3 + 4.0 * c4 * s)
        + s4 * ((5.0 * c5 + 6.0 * c6 * s) + s2 * (7.0 * c7 + 8.0 * c8 * s))
        + s8 * (9.0 * c9)
    )
    return q, dq * (2.0 * inv_h)


@numba.njit(inline="always")
def dominant_class(row: np.ndarray) -> tuple[int, int]:
    """The index of the largest weight (the first of tied ones) and the number of positives."""
    m = 0
    n_pos = 0
    for x in range(row.shape[0]):
        if row[x] > 0:
            n_pos += 1
        if row[x] > row[m]:
            m = x
    return m, n_pos


@numba.njit(inline="always")
def one_hot_row(row: np.ndarray, q_row: np.ndarray) -> None:
    """The minimizer of a row with one positive weight (its multiplier is 0: phi(1) = 0)."""
    for x in range(row.shape[0]):
        q_row[x] = 1.0 if row[x] > 0 else 0.0


@numba.njit(inline="always")
def table_start(
    row: np.ndarray, lw: np.ndarray, m: int, g: float, psi0: float
) -> tuple[float, float, float, float, float, float, bool]:
    """Bracket floor and first iterate: ``(lo, ell, t_m, q_m, -log(1-q_m), psi'_m, ok)``.

    ``lo = log w_2 + psi(0)`` (the runner-up at ``q <= 1/2``); the iterate
    puts the top class at ``q = P`` (logit exact through the others' sum),
    or at the floor if that is below it.
    """
    w2 = 0.0
    others = 0.0
    for x in range(row.shape[0]):
        if x != m:
            others += row[x]
            if row[x] > w2:
                w2 = row[x]
    lw_m = lw[m]
    lo = math.log(w2) + psi0
    t_m = lw_m - math.log(others)
    psi, dpsi_m, q_m, _, nlr_m = psi_terms(t_m, g)
    ell = psi + lw_m
    ok_m = True
    if not ell > lo:
        ell = lo
        t_m, q_m, nlr_m, dpsi_m, ok_m = solve_top(ell - lw_m, t_m, g)
    return lo, ell, t_m, q_m, nlr_m, dpsi_m, ok_m


@numba.njit(inline="always")
def table_others(
    ell: float,
    row: np.ndarray,
    lw: np.ndarray,
    m: int,
    coef: np.ndarray,
    y_lo: float,
    inv_h: float,
    h: float,
    y_hi: float,
    q_row: np.ndarray,
    dq: np.ndarray,
) -> tuple[float, float]:
    """``q`` and ``dq/dy`` of the positive classes but ``m`` (into ``q_row``, ``dq``); sums."""
    s_q = 0.0
    s_dq = 0.0
    for x in range(row.shape[0]):
        if x != m and row[x] > 0:
            qx, dqx = table_q(ell - lw[x], coef, y_lo, inv_h, h, y_hi)
            q_row[x] = qx
            dq[x] = dqx
            s_q += qx
            s_dq += dqx
    return s_q, s_dq


@numba.njit(inline="always")
def move_top(
    target: float,
    ell: float,
    t_m: float,
    dpsi_m: float,
    lw_m: float,
    lo: float,
    hi: float,
    g: float,
) -> tuple[float, float, float, float, float, bool]:
    """Move ``ell`` to ``target`` through the top logit: ``(ell, t_m, q_m, nlr_m, dpsi_m, ok)``.

    One Newton step on ``t_m`` (first-order inverse of ``ell = psi(t_m) +
    log w_m``) if the ``ell`` it reaches stays inside ``(lo, hi)``; else
    ``ell = target`` exactly, with ``t_m`` solved for it.
    """
    t_new = t_m + (target - ell) / dpsi_m
    psi, dpsi_new, q_new, _, nlr_new = psi_terms(t_new, g)
    ell_new = psi + lw_m
    if ell_new > lo and ell_new < hi:
        return ell_new, t_new, q_new, nlr_new, dpsi_new, True
    t_m, q_m, nlr_m, dpsi_m, ok_m = solve_top(target - lw_m, t_m, g)
    return target, t_m, q_m, nlr_m, dpsi_m, ok_m


@numba.njit(inline="always")
def table_newton(
    row: np.ndarray,
    lw: np.ndarray,
    m: int,
    g: float,
    coef: np.ndarray,
    y_lo: float,
    inv_h: float,
    h: float,
    y_hi: float,
    psi0: float,
    maxiter: int,
    tol: float,
    q_row: np.ndarray,
    dq: np.ndarray,
) -> tuple[float, float, float, float, bool, bool]:
    """Safeguarded Newton on ``ell`` for a row with >= 2 positives (see :func:`table_rows`).

    Returns ``(ell, t_m, psi'_m, d, converged, ok_m)``, with ``d`` the last
    Newton step, not yet applied; ``q_row`` and ``dq`` hold the other
    classes' ``q`` and ``dq/dy`` at ``ell``.
    """
    lo, ell, t_m, q_m, nlr_m, dpsi_m, ok_m = table_start(row, lw, m, g, psi0)
    hi = math.inf
    converged = False
    d = 0.0
    for _ in range(maxiter):
        s_q, s_dq = table_others(ell, row, lw, m, coef, y_lo, inv_h, h, y_hi, q_row, dq)
        if not ok_m:
            break
        if s_q == 0.0:
            # every other class underflowed: ell far too large
            f = -math.inf
            d = -math.inf
        else:
            f = math.log(s_q) + nlr_m
            d = -f / (s_dq / s_q + q_m / dpsi_m)
        if abs(d) <= tol:
            converged = True
            break
        if f > 0:
            lo = ell
        else:
            hi = ell
        target = ell + d
        # bisect when Newton leaves the bracket. hi is finite here: while it
        # is inf every f was > 0, so d > tol and target > lo = ell
        if not (target > lo and target < hi):
            target = 0.5 * (lo + hi)
        ell, t_m, q_m, nlr_m, dpsi_m, ok_m = move_top(target, ell, t_m, dpsi_m, lw[m], lo, hi, g)
        if hi - lo <= 4e-15 * max(1.0, abs(ell)):
            converged = True
            d = 0.0
            break
    return ell, t_m, dpsi_m, d, converged, ok_m


@numba.njit(inline="always")
def table_finish(
    row: np.ndarray,
    lw: np.ndarray,
    m: int,
    ell: float,
    t_m: float,
    dpsi_m: float,
    d: float,
    converged: bool,
    coef: np.ndarray,
    y_lo: float,
    inv_h: float,
    h: float,
    y_hi: float,
    q_row: np.ndarray,
    dq: np.ndarray,
) -> float:
    """Apply the last step ``d`` to first order (or evaluate ``q`` at a closed bracket),
    place the top class (tied top classes bitwise equal) and zero the others; ``ell``."""
    k = row.shape[0]
    if converged and d != 0.0:
        ell += d
        t_m += d / dpsi_m
        for x in range(k):
            if x != m and row[x] > 0:
                q_row[x] += dq[x] * d
    elif converged:
        for x in range(k):
            if x != m and row[x] > 0:
                q_row[x] = table_q(ell - lw[x], coef, y_lo, inv_h, h, y_hi)[0]
    q_top = sigmoid(t_m)
    top = row[m]
    for x in range(k):
        if row[x] == top:
            q_row[x] = q_top
        elif not row[x] > 0:
            q_row[x] = 0.0
    return ell


# "contract" only (fused multiply-adds): the safeguards rely on inf and nan
@numba.njit(parallel=True, cache=True, nogil=True, fastmath={"contract"})
def table_rows(
    w: np.ndarray,
    log_w: np.ndarray,
    g: float,
    coef: np.ndarray,
    y_lo: float,
    inv_h: float,
    y_hi: float,
    psi0: float,
    maxiter: int,
    tol: float,
    q_out: np.ndarray,
    lam_out: np.ndarray,
    ok_out: np.ndarray,
) -> None:
    """Safeguarded Newton on ``ell`` for rows of ``w`` (a one-positive row: one-hot, lam = 0).

    Solves ``f(ell) = log S(ell) - log(1 - q_m(ell)) = 0`` with ``S`` the sum
    of the other classes' ``q_x = q(ell - log w_x)`` from the table and the
    dominant class ``m`` exact (so ``1 - q_m`` is exact when tiny). The
    iterate is the top logit ``t_m`` with ``ell = psi(t_m) + log w_m``, so
    a step costs one exact ``psi`` per row. ``f`` decreases; the bracket
    ``log w_2 + psi(0) <= ell`` (runner-up ``q <= 1/2``) keeps the other
    classes in the table (``t <= 0``), and the upper end is the first
    ``ell`` with ``f <= 0``; steps leaving the bracket bisect. A step below
    ``tol`` leaves an error ~``tol^2`` (quadratic convergence), so the last
    pass's ``q`` is updated to first order instead of evaluated again.
    """
    n, k = w.shape
    h = 1.0 / inv_h
    n_chunks = (n + ROW_CHUNK - 1) // ROW_CHUNK
    # rows in chunks: one scratch row per chunk, not one allocation per row
    for c in numba.prange(n_chunks):
        dq = np.empty(k)
        for i in range(c * ROW_CHUNK, min(n, (c + 1) * ROW_CHUNK)):
            row = w[i]
            lw = log_w[i]
            q_row = q_out[i]
            m, n_pos = dominant_class(row)
            if n_pos == 1:
                one_hot_row(row, q_row)
                lam_out[i] = 0.0
                ok_out[i] = True
                continue
            ell, t_m, dpsi_m, d, converged, ok_m = table_newton(
                row, lw, m, g, coef, y_lo, inv_h, h, y_hi, psi0, maxiter, tol, q_row, dq
            )
            ell = table_finish(
                row, lw, m, ell, t_m, dpsi_m, d, converged, coef, y_lo, inv_h, h, y_hi, q_row, dq
            )
            lam_out[i] = math.exp(ell)
            ok_out[i] = converged and ok_m
