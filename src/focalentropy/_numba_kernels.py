"""numba implementation of the minimizer's fused Newton iteration.

Imported only through :mod:`focalentropy._kernels` (numba is optional and
slow to import). Functions are module-level so that ``cache=True`` stores the
compiled code on disk and later processes skip compilation.
"""

from __future__ import annotations

import math

import numba
import numpy as np

#: rows per parallel work item of :func:`table_rows`
ROW_CHUNK = 64


@numba.njit(inline="always")
def psi_terms(t, g):
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
def newton_rows(w, g, maxiter, tol, q_out, lam_out, ok_out):
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
            tx = t[x]
            if tx >= 0:
                e = math.exp(-tx)
                q_out[i, x] = 1.0 - e / (1.0 + e)  # rounds correctly for e < eps
            else:
                e = math.exp(tx)
                q_out[i, x] = e / (1.0 + e)
        lam_out[i] = math.exp(ell)
        ok_out[i] = converged


@numba.njit(inline="always")
def solve_top(y, t, g):
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
def table_q(y, coef, y_lo, inv_h, h, y_hi):
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


# "contract" only (fused multiply-adds): the safeguards rely on inf and nan
@numba.njit(parallel=True, cache=True, nogil=True, fastmath={"contract"})
def table_rows(w, log_w, g, coef, y_lo, inv_h, y_hi, psi0, maxiter, tol, q_out, lam_out, ok_out):
    """Safeguarded Newton on ``ell`` for rows of ``w`` (a one-positive row: one-hot, lam = 0).

    Solves ``f(ell) = log S(ell) - log(1 - q_m(ell)) = 0`` with ``S`` the sum
    of the other classes' ``q_x = q(ell - log w_x)`` from the table and the
    dominant class ``m`` exact (so ``1 - q_m`` is exact when tiny). The
    iterate is the top logit ``t_m`` with ``ell = psi(t_m) + log w_m``, so
    a step costs one exact ``psi`` per row. ``f`` decreases; the bracket
    ``log w_2 + psi(0) <= ell <= log w_m + psi(-log(n - 1))`` (runner-up
    ``q <= 1/2``, top ``q >= 1/n``) keeps the other classes in the table
    (``t <= 0``); steps leaving it bisect. A step below ``tol`` leaves an
    error ~``tol^2`` (quadratic convergence), so the last pass's ``q`` is
    updated to first order instead of evaluated again.
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
            m = 0
            n_pos = 0
            for x in range(k):
                if row[x] > 0:
                    n_pos += 1
                if row[x] > row[m]:
                    m = x
            if n_pos == 1:
                # one-hot minimizer; phi(1) = 0 gives lam = 0
                for x in range(k):
                    q_out[i, x] = 1.0 if row[x] > 0 else 0.0
                lam_out[i] = 0.0
                ok_out[i] = True
                continue
            w2 = 0.0
            others = 0.0
            for x in range(k):
                if x != m:
                    others += row[x]
                    if row[x] > w2:
                        w2 = row[x]
            lw_m = lw[m]
            lo = math.log(w2) + psi0
            hi = math.inf
            # start: the top class at q = P (logit exact through the others' sum)
            t_m = lw_m - math.log(others)
            psi, dpsi_m, q_m, _, nlr_m = psi_terms(t_m, g)
            ell = psi + lw_m
            ok_m = True
            if not ell > lo:
                ell = lo
                t_m, q_m, nlr_m, dpsi_m, ok_m = solve_top(ell - lw_m, t_m, g)
            converged = False
            d = 0.0
            for _ in range(maxiter):
                s_q = 0.0
                s_dq = 0.0
                for x in range(k):
                    if x != m and row[x] > 0:
                        qx, dqx = table_q(ell - lw[x], coef, y_lo, inv_h, h, y_hi)
                        q_out[i, x] = qx
                        dq[x] = dqx
                        s_q += qx
                        s_dq += dqx
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
                if not (target > lo and target < hi):
                    if hi == math.inf:
                        hi = lw_m + psi_terms(-math.log(n_pos - 1.0), g)[0]
                    target = 0.5 * (lo + hi)
                # Newton on t_m (first-order inverse of ell = psi(t_m) + log w_m)
                t_new = t_m + (target - ell) / dpsi_m
                psi, dpsi_new, q_new, _, nlr_new = psi_terms(t_new, g)
                ell_new = psi + lw_m
                if ell_new > lo and ell_new < hi:
                    t_m, dpsi_m, q_m, nlr_m, ell = t_new, dpsi_new, q_new, nlr_new, ell_new
                else:
                    ell = target
                    t_m, q_m, nlr_m, dpsi_m, ok_m = solve_top(ell - lw_m, t_m, g)
                if hi - lo <= 4e-15 * max(1.0, abs(ell)):
                    converged = True
                    d = 0.0
                    break
            if converged and d != 0.0:
                ell += d
                t_m += d / dpsi_m
                for x in range(k):
                    if x != m and row[x] > 0:
                        q_out[i, x] += dq[x] * d
            elif converged:
                for x in range(k):
                    if x != m and row[x] > 0:
                        q_out[i, x] = table_q(ell - lw[x], coef, y_lo, inv_h, h, y_hi)[0]
            if t_m >= 0:
                e_m = math.exp(-t_m)
                q_top = 1.0 - e_m / (1.0 + e_m)  # rounds correctly for e_m < eps
            else:
                e = math.exp(t_m)
                q_top = e / (1.0 + e)
            top = row[m]
            for x in range(k):
                if row[x] == top:
                    q_out[i, x] = q_top  # tied top classes are bitwise equal
                elif not row[x] > 0:
                    q_out[i, x] = 0.0
            lam_out[i] = math.exp(ell)
            ok_out[i] = converged and ok_m
