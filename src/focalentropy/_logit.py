"""The logit-coordinate layer: everything the solvers evaluate in ``t = log(q / (1-q))``.

In the logit both ``q`` and ``1 - q`` (and their logarithms) are exact, for
classes near 0 and for a dominant class near 1 alike. This module holds

* :func:`sigmoid` and :func:`logit_terms` (``q, 1-q, -log q, -log(1-q), v``);
* :func:`psi` ``= log phi o sigmoid`` with its derivative (and the leaner
  :func:`psi_fast` of the minimizer's inner loop), :func:`log_g` ``= log G o
  sigmoid``;
* :func:`solve_logit`, the elementwise solve of ``psi(t) = y``;
* the complement-of-the-top helpers. Convention: in a row whose largest
  entry exceeds 1/2 (the *dominant* class), that class's mass is
  ``1 - (sum of the others)``: its complement ``1 - q`` is the others' sum
  (for a row not normalized exactly: the others' share of the row's total),
  computed without cancellation, even where ``q`` rounds to 1.0
  (:func:`top_complement`, :func:`logits_exact_top`, :func:`loss_terms`,
  :func:`neg_log_phi_block`).

``phi(q) = (1-q)^gamma / q - gamma (1-q)^(gamma-1) log q`` and
``v(q) = q (-log q) / (1 - q)``, so that ``q phi(q) = (1-q)^gamma (1 + gamma v)``
(arXiv:2603.02533). scipy.special is not used here: importing it costs
~0.4 s, and ``expit``/``log_expit`` give neither ``1 - q`` nor ``v`` exactly.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ._validation import warn_not_converged

_Float = NDArray[np.float64]

__all__ = [
    "initial_logit",
    "log_g",
    "log_phi",
    "logit_terms",
    "logits_exact_top",
    "loss_terms",
    "neg_log_phi_block",
    "psi",
    "psi_fast",
    "sigmoid",
    "solve_logit",
    "top_complement",
]

#: iteration cap of :func:`solve_logit` (module-level so tests can lower it)
SOLVE_MAXITER = 100


def sigmoid(t: _Float) -> _Float:
    """``1 / (1 + e^-t)``, correctly rounded near 1 as well as near 0."""
    # for t >= 0, 1 - e/(1+e) rounds correctly even when e < eps, where
    # 1/(1+e) would round 1+e to 1 first
    e = np.exp(-np.abs(t))
    small = e / (1.0 + e)
    return np.where(t >= 0, 1.0 - small, small)


def logit_terms(t: _Float) -> tuple[_Float, _Float, _Float, _Float, _Float]:
    """Return ``q, 1-q, -log q, -log(1-q), v`` for logits ``t`` (t = +-inf ok)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        e = np.exp(-np.abs(t))
        lp = np.log1p(e)
        one_plus = 1.0 + e
        pos = t >= 0
        q = np.where(pos, 1.0 / one_plus, e / one_plus)
        r = np.where(pos, e / one_plus, 1.0 / one_plus)
        neg_log_q = np.where(pos, lp, lp - t)
        neg_log_r = np.where(pos, lp + t, lp)
        # v = e^t (-log q): for t >= 0 it is log1p(e)/e -> 1 as e -> 0.
        v = np.where(pos, np.where(e > 0, lp / np.where(e > 0, e, 1.0), 1.0), e * neg_log_q)
    return q, r, neg_log_q, neg_log_r, v


def log_phi(t: _Float, g: float) -> _Float:
    """``log phi(sigmoid(t)) = -log q + gamma log(1-q) + log(1 + gamma v)``: :func:`psi`'s value."""
    _, _, neg_log_q, neg_log_r, v = logit_terms(t)
    return neg_log_q - g * neg_log_r + np.log1p(g * v)


def psi(t: _Float, g: float) -> tuple[_Float, _Float, _Float, _Float]:
    """``psi(t) = log phi(sigmoid(t))`` and ``psi'(t)``, plus q and 1-q.

    ``log phi = gamma log(1-q) - log q + log(1 + gamma v)`` and
    ``psi' = -gamma q - (1-q) + gamma (v - q) / (1 + gamma v)``, which lies
    between ``-max(1, gamma)`` and ``-min(1, gamma)`` in practice.
    """
    q, r, neg_log_q, neg_log_r, v = logit_terms(t)
    one_gv = 1.0 + g * v
    value = neg_log_q - g * neg_log_r + np.log(one_gv)
    dpsi = -g * q - r + g * (v - q) / one_gv
    return value, dpsi, q, r


def psi_fast(t: _Float, g: float) -> tuple[_Float, _Float, _Float, _Float]:
    """:func:`psi` for the minimizer's inner loop: the same values, fewer passes.

    Every entry is first computed with the ``t < 0`` formulas, using the
    SIMD ``log(1 + e)`` (enough there: the terms it feeds need absolute, not
    relative, accuracy); the few entries with ``t > 0`` (at most one class
    per row has q > 1/2) are then redone exactly with ``log1p``.
    """
    e = np.exp(-np.abs(t))
    inv = 1.0 / (1.0 + e)
    lp = np.log(1.0 + e)
    q = e * inv
    r = inv
    nlq = lp - np.minimum(t, 0.0)
    nlr = lp + np.maximum(t, 0.0)
    v = e * nlq
    pos = t > 0
    if pos.any():
        e_pos = e[pos]
        lp_pos = np.log1p(e_pos)
        inv_pos = inv[pos]
        q[pos] = inv_pos
        r[pos] = e_pos * inv_pos
        t_pos = t[pos]
        nlq[pos] = lp_pos
        nlr[pos] = lp_pos + t_pos
        with np.errstate(divide="ignore", invalid="ignore"):
            v[pos] = np.where(e_pos > 0, lp_pos / e_pos, 1.0)
    one_gv = 1.0 + g * v
    value = nlq - g * nlr + np.log(one_gv)
    dpsi = (g * (v - q)) / one_gv - g * q - r
    return value, dpsi, q, r


def log_g(t: _Float, g: float) -> _Float:
    """``log G(q)`` at ``q = sigmoid(t)``, ``G(q) = q phi(q) = (1-q)^gamma (1 + gamma v)``."""
    _, _, _, neg_log_r, v = logit_terms(t)
    return -g * neg_log_r + np.log1p(g * v)


def initial_logit(y: _Float, g: float) -> _Float:
    """Start for ``psi(t) = y`` from the two asymptotes of psi.

    ``psi(t) ~ -t`` as t -> -inf and ``psi(t) ~ log(1+gamma) - gamma t`` as
    t -> +inf; the solution is close to the inverse of the nearer envelope of
    the two lines.
    """
    left = -y
    if g == 0:
        return left
    right = (np.log1p(g) - y) / g
    # psi is convex-like between its asymptotes for gamma < 1 (it lies above
    # both lines) and concave-like for gamma > 1 (below both): invert the
    # envelope it is closest to
    return np.maximum(left, right) if g <= 1 else np.minimum(left, right)


def solve_logit(
    y: _Float, g: float, t0: _Float | None = None, maxiter: int | None = None
) -> _Float:
    """Solve ``psi(t) = y`` elementwise by safeguarded Newton iteration.

    Stops when every step is below ``1e-15`` relative; entries still moving
    after ``maxiter`` steps (default :data:`SOLVE_MAXITER`) are reported by
    a :class:`~focalentropy.ConvergenceWarning`.
    """
    if maxiter is None:
        maxiter = SOLVE_MAXITER
    y = np.asarray(y, dtype=float)
    t = initial_logit(y, g) if t0 is None else t0.copy()
    finite = np.isfinite(y)
    t = np.where(finite, t, 0.0)
    moving = np.zeros(t.shape, dtype=bool)
    for _ in range(maxiter):
        value, dpsi, _, _ = psi(t, g)
        step = (value - y) / dpsi
        step = np.where(finite, np.clip(step, -50.0, 50.0), 0.0)
        t = t - step
        moving = ~(np.abs(step) <= 1e-15 * np.maximum(1.0, np.abs(t)))
        if not moving.any():
            break
    else:
        if moving.any():
            warn_not_converged(
                f"solve_logit (psi(t) = y, gamma = {g:g})", maxiter, moving, y, "y", stacklevel=3
            )
    return t


# ---------------------------------------------------------------------------
# the complement of the top class
# ---------------------------------------------------------------------------


def top_complement(x: _Float, m: NDArray[np.intp] | None = None) -> tuple[NDArray[np.intp], _Float]:
    """Per row (class axis last): the index of the largest entry and the others' sum.

    Returns ``(m, others)`` with ``m`` of shape ``(..., 1)`` (for
    ``take_along_axis``) and ``others = sum_{y != m} x_y`` of the same
    shape, summed with the top entry left out (no cancellation). A given
    ``m`` (the same shape) is used instead of the argmax.
    """
    if m is None:
        m = np.argmax(x, axis=-1)[..., None]
    rest = x.copy()
    np.put_along_axis(rest, m, 0.0, axis=-1)
    return m, rest.sum(axis=-1, keepdims=True)


def logits_exact_top(w: _Float, m: NDArray[np.intp]) -> _Float:
    """``log(p / (1 - p))`` of ``p = w / sum(w)``, exact for the dominant class.

    ``m`` (shape ``(N, 1)``) indexes each row's largest entry.
    """
    total = w.sum(axis=-1, keepdims=True)
    complement = total - w
    _, others = top_complement(w, m)
    # only a class with more than half the mass suffers cancellation in
    # total - w; such a class is unique, so tied classes keep identical starts
    # (and identical iterates: Q* of tied classes is bitwise equal)
    top = np.take_along_axis(w, m, axis=-1)
    exact = np.where(top > 0.5 * total, others, total - top)
    np.put_along_axis(complement, m, exact, axis=-1)
    with np.errstate(divide="ignore"):
        return np.log(w) - np.log(complement)


def loss_terms(q: _Float, g: float) -> _Float:
    """``l(q) = -(1-q)^gamma log q`` per entry, the dominant entry from its complement.

    For a row whose top entry exceeds 1/2, ``1 - q_top`` is the others' sum
    ``r``, so ``l(q_top) = r^gamma (-log1p(-r))`` keeps full relative
    accuracy where ``q_top`` rounds to 1 (``l`` is then ~``r^(gamma+1)``).
    """
    with np.errstate(divide="ignore"):
        terms = -np.power(1.0 - q, g) * np.log(q)
    if q.shape[-1] < 2 or q.size == 0:
        return terms
    m, r = top_complement(q)
    dominant = np.take_along_axis(q, m, axis=-1) > 0.5
    top_terms = np.power(r, g) * -np.log1p(-np.minimum(r, 0.5))
    np.put_along_axis(terms, m, np.where(dominant, top_terms, np.take_along_axis(terms, m, -1)), -1)
    return terms


def neg_log_phi_block(q: _Float, g: float, out: _Float, scratch: _Float) -> None:
    """``out = -log phi(q)`` for a block of rows (``-inf`` where ``q == 0``), in place.

    For ``gamma > 0`` only: at ``gamma = 0`` the caller takes ``log q`` itself.

    ``-log phi(q) = log q - gamma log(1-q) - log(1 + gamma v)``. Every term
    is needed to absolute accuracy only (it ends in an exponential), so the
    SIMD ``np.log`` serves for ``log(1-q)`` and ``log(1 + gamma v)`` of the
    entries ``q <= 1/2``; the dominant entry of a row (``> 1/2``) is redone
    from its complement, the others' sum ``r``: ``log(1-q) = log r`` (exact
    where ``q`` rounds to 1), ``log q = log1p(-r)``, ``v = (1-r)(-log1p(-r))/r``
    (``q = 1`` exactly, ``r = 0``, gives ``+inf``). ``scratch`` is a buffer
    of ``q``'s shape; no other full-size temporaries are made.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        np.log(q, out=out)  # log q
        np.subtract(1.0, q, out=scratch)  # 1 - q
        v = np.multiply(q, out)  # the one extra block-sized temporary
        np.divide(v, scratch, out=v)  # -v
        np.log(scratch, out=scratch)  # log(1 - q)
        np.multiply(scratch, g, out=scratch)
        np.subtract(out, scratch, out=out)  # log q - g log(1-q)
        np.multiply(v, -g, out=v)
        np.add(v, 1.0, out=v)
        np.log(v, out=v)  # log(1 + g v)
        np.subtract(out, v, out=out)
    out[q == 0] = -np.inf  # 0 * log 0 above
    _dominant_neg_log_phi(q, g, out)


def _dominant_neg_log_phi(q: _Float, g: float, out: _Float) -> None:
    """Redo ``-log phi`` of each row's dominant entry from the others' sum (in place)."""
    m = np.argmax(q, axis=-1)
    n = np.arange(q.shape[0])
    rows = np.flatnonzero(q[n, m] > 0.5)
    if rows.size == 0:
        return
    mi = m[rows]
    rest = q[rows]  # a copy (fancy indexing)
    rest[np.arange(rows.size), mi] = 0.0
    r = rest.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_q = np.log1p(-r)
        v = np.where(r > 0, (1.0 - r) * -log_q / np.where(r > 0, r, 1.0), 1.0)
        out[rows, mi] = log_q - g * np.log(r) - np.log1p(g * v)  # +inf at r = 0
