"""numba implementation of the minimizer's fused Newton iteration.

Imported only through :mod:`focalentropy._kernels` (numba is optional and
slow to import). Functions are module-level so that ``cache=True`` stores the
compiled code on disk and later processes skip compilation.
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(inline="always")
def psi_terms(t, g):
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
    return psi, dpsi, q, r


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
                    psi, dpsi, q, r = psi_terms(t[x], g)
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
                q_out[i, x] = 1.0 / (1.0 + math.exp(-tx))
            else:
                e = math.exp(tx)
                q_out[i, x] = e / (1.0 + e)
        lam_out[i] = math.exp(ell)
        ok_out[i] = converged
