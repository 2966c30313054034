"""Arbitrary-precision (mpmath, 50 digits) references for the focal-entropy quantities.

Nothing here calls ``focalentropy``: every value is computed from the formulas of
docs/theory.rst in 50-digit arithmetic. Routes to the minimizer ``Q*``:

* ``mp_binary``: two classes (and the sigmoid kind, one Bernoulli problem per
  entry): the KKT condition is one scalar equation in the logit ``t`` of the
  first class, ``log w_1 + psi(t) = log w_2 + psi(-t)`` (``psi = log phi o
  sigmoid``), solved by a bracketed ``mpmath.findroot``; fast enough to run live
  inside property-based tests;
* ``mp_minimizer``: from scratch for any K: ``log lam`` is the root of
  ``sum_x phi^{-1}(lam / w_x) - 1`` (one-dimensional ``findroot``, each
  ``phi^{-1}`` a bracketed ``findroot`` in the logit). Too slow to run every
  time (~0.1-1 s a case): its values for the fixed cases of
  :data:`SOFTMAX_CASES` are stored in ``tests/data/mp_references.json`` by
  ``scripts/make_reference_data.py`` and read back with :func:`reference`;
* ``mp_polish``: Newton's method on the KKT system in 50 digits, started from
  a candidate (for large K and random rows). It iterates until its own step is
  below ``1e-20`` (quadratic convergence: the error left is then ~1e-40), so
  the reference does not depend on how good the start was; a start it cannot
  polish raises ``MpReferenceError``.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import mpmath as mp
import numpy as np

#: an mpmath number (mpmath has no type stubs)
Mpf = Any
#: anything ``mp.mpf`` accepts: Python and NumPy floats, ints, decimal strings, mpf
MpLike = Any
#: a vector of such numbers: a list or a 1-D NumPy array
Vector = Sequence[Any] | np.ndarray

mp.mp.dps = 50

#: where ``scripts/make_reference_data.py`` writes the precomputed references
DATA_FILE = Path(__file__).resolve().parent / "data" / "mp_references.json"
REGENERATE = "`.venv/bin/python scripts/make_reference_data.py`"
#: bump when the stored quantities change meaning
FORMAT_VERSION = 1


class MpReferenceError(AssertionError):
    """A 50-digit reference could not be established (it never silently degrades)."""


# ---------------------------------------------------------------------------
# the loss term, phi, G
# ---------------------------------------------------------------------------


def mp_loss(q: MpLike, gamma: MpLike) -> Mpf:
    q = mp.mpf(q)
    if q == 0:
        return mp.inf
    return -((1 - q) ** gamma) * mp.log(q)


def mp_phi(q: MpLike, gamma: MpLike) -> Mpf:
    q = mp.mpf(q)
    return (
        (1 - q) ** gamma / q - gamma * (1 - q) ** (gamma - 1) * mp.log(q)
        if q < 1
        else (mp.mpf(0) if gamma > 0 else mp.mpf(1))
    )


def mp_gradient_weight(q: MpLike, gamma: MpLike) -> Mpf:
    """``G(q) = (1-q)^gamma - gamma q (1-q)^(gamma-1) log q`` (theory page, closed form)."""
    q, gamma = mp.mpf(q), mp.mpf(gamma)
    if q == 0:
        return mp.mpf(1)
    if q == 1:
        return mp.mpf(0) if gamma > 0 else mp.mpf(1)
    return (1 - q) ** gamma - gamma * q * (1 - q) ** (gamma - 1) * mp.log(q)


def mp_psi_of_logit(t: MpLike, gamma: MpLike) -> tuple[Mpf, Mpf, Mpf]:
    """log phi(sigmoid(t)) and q, 1-q in mp."""
    t = mp.mpf(t)
    q = 1 / (1 + mp.exp(-t))
    r = 1 / (1 + mp.exp(t))
    log_q = -mp.log1p(mp.exp(-t))
    log_r = -mp.log1p(mp.exp(t))
    v = mp.exp(t) * (-log_q)
    return gamma * log_r - log_q + mp.log(1 + gamma * v), q, r


def _bracketed_root(f: Callable[[Mpf], Mpf], lo: MpLike, hi: MpLike) -> Mpf:
    """Root of a decreasing ``f``: widen ``[lo, hi]`` until it brackets, then Illinois."""
    lo, hi = mp.mpf(lo), mp.mpf(hi)
    while f(lo) < 0:
        lo = 2 * lo - 10
        if lo < -1e15:
            raise MpReferenceError("no root: f < 0 everywhere")
    while f(hi) > 0:
        hi = 2 * hi + 10
        if hi > 1e15:
            raise MpReferenceError("no root: f > 0 everywhere")
    return mp.findroot(f, (lo, hi), solver="anderson", maxsteps=200)


def mp_phi_inverse_logit(y: MpLike, gamma: MpLike) -> Mpf:
    """The logit t with log phi(sigmoid(t)) = y: bracket, then Illinois (psi is decreasing)."""
    y = mp.mpf(y)
    return _bracketed_root(lambda s: mp_psi_of_logit(s, gamma)[0] - y, -abs(y) - 10, abs(y) + 10)


# ---------------------------------------------------------------------------
# the minimizer
# ---------------------------------------------------------------------------


def mp_binary(w1: MpLike, w2: MpLike, gamma: MpLike) -> tuple[Mpf, Mpf, Mpf]:
    """Two positive weights: ``(q, 1 - q, lam)`` of the first class, from one scalar equation.

    ``w_1 phi(q) = w_2 phi(1 - q)`` in the logit ``t`` of ``q``:
    ``f(t) = log w_1 - log w_2 + psi(t) - psi(-t)`` is strictly decreasing.
    Also the sigmoid kind: ``w = (alpha p, (1 - alpha)(1 - p))``.
    """
    w1, w2, gamma = mp.mpf(w1), mp.mpf(w2), mp.mpf(gamma)
    d = mp.log(w1) - mp.log(w2)
    if gamma == 0:
        t = d
    else:
        t = _bracketed_root(
            lambda s: d + mp_psi_of_logit(s, gamma)[0] - mp_psi_of_logit(-s, gamma)[0],
            -abs(d) - 10,
            abs(d) + 10,
        )
    psi, q, r = mp_psi_of_logit(t, gamma)
    return q, r, w1 * mp.exp(psi)


def mp_sigmoid_minimizer(p: MpLike, gamma: MpLike, alpha: float | None = None) -> Mpf:
    """``argmin_q alpha p l(q) + (1-alpha)(1-p) l(1-q)`` for ``0 < p < 1`` (alpha None: 1/2)."""
    a = mp.mpf("0.5") if alpha is None else mp.mpf(alpha)
    p = mp.mpf(p)
    return mp_binary(a * p, (1 - a) * (1 - p), gamma)[0]


def mp_minimizer(w: Vector, gamma: MpLike, return_complement: bool = False) -> tuple[Any, ...]:
    """Q* and lam for weights ``w`` (floats, >= 0), solved from scratch in mp.

    Returns ``(q, lam)``, or ``(q, lam, one_minus_q)`` with ``return_complement=True``
    (``1 - q`` from the logit: exact where ``q`` rounds to 1 at 50 digits).
    """
    w = [mp.mpf(x) for x in w]
    gamma = mp.mpf(gamma)
    support = [i for i, x in enumerate(w) if x > 0]
    zeros = [mp.mpf(0)] * len(w)
    ones = [mp.mpf(1)] * len(w)
    if gamma == 0:
        total = mp.fsum(w)
        q = [x / total for x in w]
        return (q, total, [(total - x) / total for x in w]) if return_complement else (q, total)
    if len(support) == 1:
        q = [mp.mpf(1) if x > 0 else mp.mpf(0) for x in w]
        r = [mp.mpf(0) if x > 0 else mp.mpf(1) for x in w]
        return (q, mp.mpf(0), r) if return_complement else (q, mp.mpf(0))
    q, r = list(zeros), list(ones)
    if len(support) == 2:
        i, j = support
        q[i], r[i], lam = mp_binary(w[i], w[j], gamma)
        q[j], r[j] = r[i], q[i]
        return (q, lam, r) if return_complement else (q, lam)

    top = max(support, key=lambda i: w[i])

    def logits(ell):
        return {i: mp_phi_inverse_logit(ell - mp.log(w[i]), gamma) for i in support}

    def excess(ell):
        # log(sum_{x != top} q_x) - log(1 - q_top): no cancellation near a dominant
        # class, and of order 1 however small the others' mass is (root tolerances
        # of findroot are absolute)
        t = logits(ell)
        others = mp.fsum(1 / (1 + mp.exp(-t[i])) for i in support if i != top)
        return mp.log(others) + mp.log1p(mp.exp(t[top]))

    ell = _bracketed_root(excess, -5, 5)
    t = logits(ell)
    for i in support:
        q[i] = 1 / (1 + mp.exp(-t[i]))
        r[i] = 1 / (1 + mp.exp(t[i]))
    return (q, mp.exp(ell), r) if return_complement else (q, mp.exp(ell))


def _mp_logit_state(t: Mpf, gamma: Mpf) -> tuple[Mpf, Mpf, Mpf, Mpf]:
    """``psi(t)``, ``psi'(t)``, ``q``, ``1 - q`` at the logit ``t`` (one exp, one log1p)."""
    if t <= 0:
        e = mp.exp(t)
        lp = mp.log1p(e)
        q, r = e / (1 + e), 1 / (1 + e)
        neg_log_q, neg_log_r = lp - t, lp
        v = e * neg_log_q
    else:
        e = mp.exp(-t)
        lp = mp.log1p(e)
        q, r = 1 / (1 + e), e / (1 + e)
        neg_log_q, neg_log_r = lp, lp + t
        v = neg_log_q / e
    one_gv = 1 + gamma * v
    psi = neg_log_q - gamma * neg_log_r + mp.log(one_gv)
    dpsi = -gamma * q - r + gamma * (v - q) / one_gv
    return psi, dpsi, q, r


def mp_polish(
    w: Vector,
    gamma: MpLike,
    q0: Vector,
    steps: int = 1,
    return_complement: bool = False,
    step_tol: float = 1e-12,
    max_steps: int = 30,
) -> tuple[Any, ...]:
    """Newton-polish a candidate Q* (floats) in 50-digit arithmetic.

    Newton's method on the KKT system ``psi(t_x) + log w_x = log lam``,
    ``sum_x q_x = 1`` (unknowns: the logits and ``log lam``). At least ``steps``
    steps, then until the last relative step is below ``step_tol``: Newton's
    method converges quadratically, so the error left is of order the square
    of that step (1e-24 for the default), whatever the start was. Raises
    ``MpReferenceError`` if that does not happen within ``max_steps``.

    Returns ``(q, lam)``, or ``(q, lam, one_minus_q)`` with
    ``return_complement=True`` (``1 - q`` computed from the logit, exact even
    where ``q`` rounds to 1 at 50 digits).
    """
    gamma = mp.mpf(gamma)
    w = [mp.mpf(x) for x in w]
    support = [i for i, x in enumerate(w) if x > 0]
    log_w = {i: mp.log(w[i]) for i in support}
    t = {i: mp.log(mp.mpf(q0[i])) - mp.log1p(-mp.mpf(q0[i])) for i in support}
    # the candidate's 1-q of the top class is more accurate as the others' sum
    top = max(support, key=lambda i: w[i])
    others = mp.fsum(mp.mpf(q0[i]) for i in support if i != top)
    t[top] = mp.log(1 - others) - mp.log(others)
    ell = log_w[top] + _mp_logit_state(t[top], gamma)[0]
    tol = mp.mpf(step_tol)
    n = 0
    while True:
        state = {i: _mp_logit_state(t[i], gamma) for i in support}
        resid = {i: state[i][0] + log_w[i] - ell for i in support}
        c = {i: state[i][2] * state[i][3] / state[i][1] for i in support}
        # sum_{x != top} q_x - (1 - q_top): no cancellation for a dominant class
        s = mp.fsum(state[i][2] for i in support if i != top) - state[top][3]
        d_ell = (mp.fsum(c[i] * resid[i] for i in support) - s) / mp.fsum(c.values())
        step = abs(d_ell) / max(1, abs(ell))
        for i in support:
            d_t = (d_ell - resid[i]) / state[i][1]
            t[i] += d_t
            step = max(step, abs(d_t) / max(1, abs(t[i])))
        ell += d_ell
        n += 1
        if n >= steps and step < tol:
            break
        if n >= max_steps:
            raise MpReferenceError(
                f"mp_polish: relative step still {mp.nstr(step, 3)} after {n} Newton steps"
            )
    q = [mp.mpf(0)] * len(w)
    r = [mp.mpf(1)] * len(w)
    for i in support:
        _, _, q[i], r[i] = _mp_logit_state(t[i], gamma)
    if return_complement:
        return q, mp.exp(ell), r
    return q, mp.exp(ell)


# ---------------------------------------------------------------------------
# entropies
# ---------------------------------------------------------------------------


def mp_cross_entropy(
    p: Vector,
    q: Vector,
    gamma: MpLike,
    alpha: Vector | None = None,
) -> Mpf:
    total = mp.mpf(0)
    for i, (pi, qi) in enumerate(zip(p, q, strict=False)):
        if pi == 0:
            continue
        a = 1 if alpha is None else mp.mpf(alpha[i])
        total += a * mp.mpf(pi) * mp_loss(qi, gamma)
    return total


def mp_losses(q: Vector, r: Vector, gamma: MpLike) -> list[Mpf]:
    """``l(q_x)`` per entry with each ``1 - q_x = r_x`` given (mp); ``inf`` where ``q_x = 0``.

    ``-log q`` is taken from ``r`` where ``q > 1/2``, so a class whose ``q``
    rounds to 1 at 50 digits keeps its (tiny) loss.
    """
    gamma = mp.mpf(gamma)
    out = []
    for qi, ri in zip(q, r, strict=True):
        if qi == 0:
            out.append(mp.inf)
            continue
        neg_log_q = -mp.log(qi) if qi < 0.5 else -mp.log1p(-ri)
        out.append((ri**gamma if gamma else 1) * neg_log_q)
    return out


def mp_weighted_loss(w: Vector, q: Vector, r: Vector, gamma: MpLike) -> Mpf:
    """``sum_x w_x l(q_x)`` (:func:`mp_losses`), ``0 * inf = 0``."""
    total = mp.mpf(0)
    for wi, li in zip(w, mp_losses(q, r, gamma), strict=True):
        wi = mp.mpf(wi)
        if wi == 0:
            continue
        if li == mp.inf:
            return mp.inf
        total += wi * li
    return total


def rel_err(x: MpLike, ref: MpLike) -> Mpf:
    """|x - ref| / |ref| (0 if both are 0)."""
    ref = mp.mpf(ref)
    if ref == 0:
        return abs(mp.mpf(x))
    return abs((mp.mpf(x) - ref) / ref)


# ---------------------------------------------------------------------------
# precomputed from-scratch references (tests/data/mp_references.json)
# ---------------------------------------------------------------------------


def _rare_class(k: int, eps: float) -> list[float]:
    return [(1 - eps) / (k - 1)] * (k - 1) + [eps]


#: ``P`` of the from-scratch accuracy tests (docs/theory.rst, section "Computing the minimizer")
SMALL_CASES = [
    [0.7, 0.2, 0.08, 0.02],
    [0.5, 0.5],
    [1.0, 1e-300, 1e-200],
    [0.6, 0.0, 0.3, 0.1],
]
SMALL_GAMMAS = [0.1, 2.0, 20.0]

#: id -> {"p": P (floats), "gamma": float, "alpha": per-class weights or None}; ``w = alpha P``
#: is formed in 50 digits from the float inputs
SOFTMAX_CASES: dict[str, dict[str, Any]] = {
    **{
        f"small{i}-gamma{g:g}": {"p": p, "gamma": g, "alpha": None}
        for i, p in enumerate(SMALL_CASES)
        for g in SMALL_GAMMAS
    },
    # theory page, "Regimes": the rare-class family, eps = 1e-6, gamma = 2
    **{
        f"rare-K{k}": {"p": _rare_class(k, 1e-6), "gamma": 2.0, "alpha": None}
        for k in (3, 4, 5, 6, 10)
    },
    "rare-K5-finite": {"p": [0.2495] * 4 + [0.002], "gamma": 2.0, "alpha": None},
    "top-of-31": {"p": [0.2] + [0.8 / 30] * 30, "gamma": 1.0, "alpha": None},
    "weighted": {"p": [0.6, 0.3, 0.1], "gamma": 2.0, "alpha": [1.0, 2.0, 4.0]},
    "theory-weighted": {
        "p": [0.7, 0.2, 0.08, 0.02],
        "gamma": 2.0,
        "alpha": [1.0, 1.0, 2.0, 4.0],
    },
    "outside-support": {"p": [0.7, 0.3, 0.0], "gamma": 2.0, "alpha": None},
    "vanishing-class": {
        "p": [0.3, 0.3, 0.3, 0.1 - 1e-9, 1e-9],
        "gamma": 2.0,
        "alpha": None,
    },
}


def case_weights(case: dict[str, Any]) -> list[Mpf]:
    """``w = alpha * P`` of a case, in 50 digits."""
    alpha = case["alpha"] or [1.0] * len(case["p"])
    return [mp.mpf(a) * mp.mpf(p) for a, p in zip(alpha, case["p"], strict=True)]


def cases_digest() -> str:
    """Fingerprint of the case list and the stored format (the data file must match it)."""
    blob = json.dumps(
        {"format": FORMAT_VERSION, "dps": mp.mp.dps, "cases": SOFTMAX_CASES}, sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def compute_references() -> dict[str, Any]:
    """The data file's content: ``Q*``, ``1 - Q*`` and ``lam`` of every case, from scratch."""
    out = {}
    for name, case in SOFTMAX_CASES.items():
        q, lam, r = mp_minimizer(case_weights(case), case["gamma"], return_complement=True)
        out[name] = {
            "q": [mp.nstr(x, 50) for x in q],
            "one_minus_q": [mp.nstr(x, 50) for x in r],
            "lam": mp.nstr(lam, 50),
        }
    return {
        "generated_by": "scripts/make_reference_data.py (mpmath, 50 digits, from scratch)",
        "mpmath_version": mp.__version__,
        "digest": cases_digest(),
        "references": out,
    }


@functools.cache
def _stored() -> dict[str, Any]:
    import pytest

    if not DATA_FILE.exists():
        pytest.fail(f"{DATA_FILE} is missing: regenerate it with {REGENERATE}", pytrace=False)
    data = json.loads(DATA_FILE.read_text())
    if data.get("digest") != cases_digest():
        pytest.fail(
            f"{DATA_FILE} is stale (SOFTMAX_CASES in tests/_mp_reference.py changed): "
            f"regenerate it with {REGENERATE}",
            pytrace=False,
        )
    return data["references"]


def reference(name: str) -> tuple[list[Mpf], Mpf, list[Mpf]]:
    """``(q, lam, one_minus_q)`` (mp) of the case ``name`` of :data:`SOFTMAX_CASES`."""
    ref = _stored()[name]
    return (
        [mp.mpf(x) for x in ref["q"]],
        mp.mpf(ref["lam"]),
        [mp.mpf(x) for x in ref["one_minus_q"]],
    )
