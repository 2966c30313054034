"""Arbitrary-precision (mpmath, 50 digits) references for the focal-entropy quantities.

Two independent routes to the minimizer:

* ``mp_minimizer``: from scratch — bisection on ``log lam`` of
  ``sum_x phi^{-1}(lam / w_x) - 1`` with every ``phi^{-1}`` solved by
  bisection in the logit (slow, for small K);
* ``mp_polish``: Newton steps on the KKT system in 50-digit arithmetic,
  started from a candidate solution; with quadratic convergence two steps
  from a 1e-13-accurate start are exact to far beyond double precision (used
  for large K).
"""

from __future__ import annotations

import mpmath as mp

mp.mp.dps = 50


def mp_loss(q, gamma):
    q = mp.mpf(q)
    if q == 0:
        return mp.inf
    return -((1 - q) ** gamma) * mp.log(q)


def mp_phi(q, gamma):
    q = mp.mpf(q)
    return (
        (1 - q) ** gamma / q - gamma * (1 - q) ** (gamma - 1) * mp.log(q)
        if q < 1
        else (mp.mpf(0) if gamma > 0 else mp.mpf(1))
    )


def mp_psi_of_logit(t, gamma):
    """log phi(sigmoid(t)) and q, 1-q in mp."""
    t = mp.mpf(t)
    q = 1 / (1 + mp.exp(-t))
    r = 1 / (1 + mp.exp(t))
    log_q = -mp.log1p(mp.exp(-t))
    log_r = -mp.log1p(mp.exp(t))
    v = mp.exp(t) * (-log_q)
    return gamma * log_r - log_q + mp.log(1 + gamma * v), q, r


def mp_dpsi(t, gamma):
    """d/dt log phi(sigmoid(t)), from the closed form (only steers Newton's method:
    the references are defined by the KKT residuals, which the tests check)."""
    t = mp.mpf(t)
    q = 1 / (1 + mp.exp(-t))
    r = 1 / (1 + mp.exp(t))
    v = mp.exp(t) * mp.log1p(mp.exp(-t))
    return -gamma * q - r + gamma * (v - q) / (1 + gamma * v)


def mp_phi_inverse_logit(y, gamma):
    """The logit t with log phi(sigmoid(t)) = y: bracket, then Illinois (psi is decreasing)."""
    y = mp.mpf(y)
    lo, hi = -abs(y) - 10, abs(y) + 10
    while mp_psi_of_logit(lo, gamma)[0] < y:
        lo = 2 * lo - 10
    while mp_psi_of_logit(hi, gamma)[0] > y:
        hi = 2 * hi + 10
    return mp.findroot(lambda s: mp_psi_of_logit(s, gamma)[0] - y, (lo, hi), solver="illinois")


def mp_minimizer(w, gamma):
    """Q* and lam for weights ``w`` (floats, >= 0), solved from scratch in mp:
    the multiplier is the root of sum_x phi^{-1}(lam / w_x) - 1 (bracketed)."""
    w = [mp.mpf(x) for x in w]
    gamma = mp.mpf(gamma)
    support = [i for i, x in enumerate(w) if x > 0]
    if gamma == 0:
        total = mp.fsum(w)
        return [x / total for x in w], total
    if len(support) == 1:
        return [mp.mpf(1) if x > 0 else mp.mpf(0) for x in w], mp.mpf(0)

    top = max(support, key=lambda i: w[i])

    def logits(ell):
        return {i: mp_phi_inverse_logit(ell - mp.log(w[i]), gamma) for i in support}

    def excess(ell):
        # sum_{x != top} q_x - (1 - q_top): no cancellation near a dominant class
        t = logits(ell)
        others = mp.fsum(1 / (1 + mp.exp(-t[i])) for i in support if i != top)
        return others - 1 / (1 + mp.exp(t[top]))

    lo, hi = mp.mpf(-5), mp.mpf(5)
    while excess(lo) < 0:
        lo = 2 * lo - 10
    while excess(hi) > 0:
        hi = 2 * hi + 10
    while hi - lo > mp.mpf(10) ** (-28) * max(1, abs(lo)):
        mid = (lo + hi) / 2
        if excess(mid) > 0:
            lo = mid
        else:
            hi = mid
    ell = (lo + hi) / 2
    t = logits(ell)
    q = [mp.mpf(0)] * len(w)
    for i in support:
        q[i] = 1 / (1 + mp.exp(-t[i]))
    return q, mp.exp(ell)


def mp_polish(w, gamma, q0, steps=2, return_complement=False):
    """Newton-polish a candidate Q* (floats) in 50-digit arithmetic.

    Returns ``(q, lam)``, or ``(q, lam, one_minus_q)`` with
    ``return_complement=True`` (``1 - q`` computed from the logit, exact even
    where ``q`` rounds to 1 at 50 digits).
    """
    gamma = mp.mpf(gamma)
    w = [mp.mpf(x) for x in w]
    support = [i for i, x in enumerate(w) if x > 0]
    t = {i: mp.log(mp.mpf(q0[i])) - mp.log1p(-mp.mpf(q0[i])) for i in support}
    # the candidate's 1-q of the top class is more accurate as the others' sum
    top = max(support, key=lambda i: w[i])
    others = mp.fsum(mp.mpf(q0[i]) for i in support if i != top)
    t[top] = mp.log(1 - others) - mp.log(others)
    ell = mp.log(w[top]) + mp_psi_of_logit(t[top], gamma)[0]
    for _ in range(steps):
        psi = {i: mp_psi_of_logit(t[i], gamma) for i in support}
        dpsi = {i: mp_dpsi(t[i], gamma) for i in support}
        resid = {i: psi[i][0] + mp.log(w[i]) - ell for i in support}
        c = {i: psi[i][1] * psi[i][2] / dpsi[i] for i in support}
        s = mp.fsum(psi[i][1] for i in support) - 1
        d_ell = (mp.fsum(c[i] * resid[i] for i in support) - s) / mp.fsum(c.values())
        for i in support:
            t[i] += (d_ell - resid[i]) / dpsi[i]
        ell += d_ell
    q = [mp.mpf(0)] * len(w)
    r = [mp.mpf(1)] * len(w)
    for i in support:
        q[i] = 1 / (1 + mp.exp(-t[i]))
        r[i] = 1 / (1 + mp.exp(t[i]))
    if return_complement:
        return q, mp.exp(ell), r
    return q, mp.exp(ell)


def mp_cross_entropy(p, q, gamma, alpha=None):
    total = mp.mpf(0)
    for i, (pi, qi) in enumerate(zip(p, q, strict=False)):
        if pi == 0:
            continue
        a = 1 if alpha is None else mp.mpf(alpha[i])
        total += a * mp.mpf(pi) * mp_loss(qi, gamma)
    return total


def rel_err(x, ref):
    """|x - ref| / |ref| (0 if both are 0)."""
    ref = mp.mpf(ref)
    if ref == 0:
        return abs(mp.mpf(x))
    return abs((mp.mpf(x) - ref) / ref)
