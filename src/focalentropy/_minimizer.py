"""The minimizer Q* of the focal cross-entropy, its multiplier, and the inverse map.

arXiv:2603.02533: ``Q* = argmin_Q sum_x w_x l(Q(x))`` with ``w = alpha * P``
satisfies ``w_x phi(Q*(x)) = lam`` on the support of ``w`` and ``Q*(x) = 0``
off it; the inverse map is ``P(x) ∝ 1 / (alpha_x phi(Q*(x)))``.

Numerics. Each row is solved in the logits ``t_x = log(q_x / (1 - q_x))`` and
``ell = log lam``, where both ``q`` and ``1 - q`` are exact, so classes of
probability 1e-300 and a dominant class with ``1 - q`` = 1e-300 are both
resolved to full relative precision. The KKT system

    psi(t_x) + log w_x - ell = 0,      sum_{x != m} q_x - (1 - q_m) = 0,

(``psi = log phi o sigmoid``, ``m`` the dominant class, so that the sum
constraint does not cancel) is solved by Newton's method; its Jacobian is
diagonal plus rank one, so a step costs O(K). Rows that have not converged
after a few steps (rare: extreme gammas with probabilities spread over many
decades) are finished by a bracketed safeguarded Newton iteration on
``ell`` with exact inner solves, which always converges because
``F(ell) = sum_x q_x(ell) - 1`` is strictly decreasing.
"""

from __future__ import annotations

from typing import Literal, overload

import numpy as np
from numpy.typing import ArrayLike

from ._kernels import TABLE_MAX_GAMMA
from ._logit import (
    logit_terms,
    logits_exact_top,
    neg_log_phi_block,
    psi,
    psi_fast,
    sigmoid,
    solve_logit,
)
from ._validation import (
    Gamma,
    check_choice,
    check_class_weights,
    check_distribution,
    check_gamma,
    check_probabilities,
    check_sigmoid_alpha,
    warn_not_converged,
    weighted,
)

__all__ = ["minimizer", "recover"]

_KINDS = ("softmax", "sigmoid")
_METHODS = ("auto", "numpy", "numba")
#: below this gamma, Q* equals normalize(alpha * P) to double precision: the
#: first-order change gamma * P * (c - mu) is below 1e-17 relative even for
#: P ~ 1e-300 (|c - mu| <= ~700), and the iteration's asymptotes degenerate
_GAMMA_NEGLIGIBLE = 1e-20
#: elements per block: keeps the ~20 temporaries of an iteration in L2 cache
_BLOCK_ELEMENTS = 1 << 14
_NEWTON_MAXITER = 12
#: compiled table kernel: safeguarded Newton on ell (bisection when needed)
_TABLE_MAXITER = 60
#: ... whose last step (on ell) below this leaves an error ~1e-16
_TABLE_STOP = 1e-8
_KERNEL_MIN_ELEMENTS = 1_000_000
#: bracketed solver: relative width at which ell counts as converged
_STEP_TOL = 4e-15
#: bracketed solver: iteration cap (bisection alone halves the bracket each step)
_BRACKET_MAXITER = 200
#: Newton: a (relative) step this small leaves an error ~ C * 1e-20 after it
#: (quadratic convergence), so the iteration stops without another evaluation
_NEWTON_STOP = 1e-10


def _check_kind(kind: str) -> str:
    return check_choice(kind, "kind", _KINDS)


def _check_method(method: str) -> str:
    return check_choice(method, "method", _METHODS)


def _newton_block(
    w: np.ndarray, g: float, start: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Joint Newton iteration on (t, ell) for a block of rows.

    ``w`` has shape (B, K) with at least two positive entries per row;
    ``start`` optionally gives initial ``(t, ell)``. Returns logits ``t``
    (``-inf`` where ``w == 0``), ``ell`` (B,) and a per-row convergence flag.
    """
    support = w > 0
    full = bool(support.all())
    m = np.argmax(w, axis=-1)[:, None]
    with np.errstate(divide="ignore"):
        log_w = np.log(w)
    if start is None:
        t = logits_exact_top(w, m)
        ell = np.zeros((w.shape[0], 1))
    else:
        t = start[0].copy()
        ell = start[1][:, None].copy()
    if not full:
        # classes outside the support: parked at a finite logit, weight 0
        t = np.where(support, t, 0.0)
        log_w = np.where(support, log_w, 0.0)
    converged = np.zeros(w.shape[0], dtype=bool)
    # non-finite iterates (extreme gamma far from the solution) are not
    # errors: they leave the row unconverged, for the bracketed solver
    with np.errstate(all="ignore"):
        for _ in range(_NEWTON_MAXITER):
            t, ell, converged, done = _newton_step(t, ell, g, log_w, support, full, m)
            if done:
                break
    ok = converged & np.isfinite(ell[:, 0])
    if not full:
        t[~support] = -np.inf
    return t, ell[:, 0], ok


def _newton_step(
    t: np.ndarray,
    ell: np.ndarray,
    g: float,
    log_w: np.ndarray,
    support: np.ndarray,
    full: bool,
    m: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """One joint Newton step (in place); returns the iterate, per-row convergence, all-done."""
    value, dpsi, q, r = psi_fast(t, g)
    resid = value + log_w - ell
    c = q * r / dpsi
    if not full:
        resid[~support] = 0.0
        c[~support] = 0.0
        q[~support] = 0.0
    # sum over the others with the top class zeroed: subtracting q_top from
    # the full sum would cancel the tiny classes of a dominated row
    np.put_along_axis(q, m, 0.0, axis=-1)
    sum_resid = q.sum(axis=-1, keepdims=True) - np.take_along_axis(r, m, axis=-1)
    d_ell = (np.einsum("ij,ij->i", c, resid)[:, None] - sum_resid) / c.sum(axis=-1, keepdims=True)
    d_t = (d_ell - resid) / dpsi
    if not full:
        d_t[~support] = 0.0
    t += d_t
    ell += d_ell
    step = np.maximum(
        np.abs(d_t).max(axis=-1) / np.maximum(1.0, np.abs(t).max(axis=-1)),
        np.abs(d_ell[:, 0]) / np.maximum(1.0, np.abs(ell[:, 0])),
    )
    converged = step <= _NEWTON_STOP
    return t, ell, converged, bool(converged.all())


def _bracketed_block(w: np.ndarray, g: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Safeguarded Newton on ``ell`` with exact elementwise inner solves.

    Solves ``f(ell) = log(sum_{x != m} q_x) - log(1 - q_m) = 0``; ``f`` is
    strictly decreasing and nearly linear in ``ell`` (both logs are), and
    stays exact when ``1 - q_m`` underflows. Bracket: the dominant class has
    ``q_m >= 1/K`` and the runner-up ``q_2 <= 1/2``, so
    ``log w_2 + psi(0) <= ell <= log w_m + psi(logit(1/K))``.
    """
    support = w > 0
    n_classes = support.sum(axis=-1)
    m = np.argmax(w, axis=-1)[:, None]
    others = support.copy()
    np.put_along_axis(others, m, False, axis=-1)
    with np.errstate(divide="ignore"):
        log_w = np.log(w)
    srt = np.sort(log_w, axis=-1)
    psi0 = psi(np.zeros(1), g)[0][0]
    lo = srt[:, -2] + psi0
    hi = srt[:, -1] + psi(-np.log(n_classes - 1.0), g)[0]
    ell = 0.5 * (lo + hi)
    done = np.zeros(w.shape[0], dtype=bool)
    for _ in range(_BRACKET_MAXITER):
        y = np.where(support, ell[:, None] - log_w, 0.0)
        # a cold start from psi's asymptotes converges for any ell (warm starts
        # from a distant ell need many clipped steps)
        t = solve_logit(y, g)
        _, dpsi, _, r = psi(t, g)
        _, _, neg_log_q, neg_log_r, _ = logit_terms(t)
        log_q = np.where(others, -neg_log_q, -np.inf)
        top_log_q = log_q.max(axis=-1, keepdims=True)
        share = np.exp(log_q - top_log_q)
        log_s = top_log_q[:, 0] + np.log(share.sum(axis=-1))
        t_m = np.take_along_axis(t, m, axis=-1)[:, 0]
        f = log_s - (-np.take_along_axis(neg_log_r, m, axis=-1)[:, 0])
        # d log S / d ell = sum_others (1-q) share / dpsi / sum share; d log(1-q_m) = -q_m/dpsi_m
        d_log_s = np.where(others, share * r / dpsi, 0.0).sum(axis=-1) / share.sum(axis=-1)
        slope = d_log_s + sigmoid(t_m) / np.take_along_axis(dpsi, m, axis=-1)[:, 0]
        lo = np.where(f > 0, ell, lo)
        hi = np.where(f <= 0, ell, hi)
        newton = ell - f / slope
        inside = (newton > lo) & (newton < hi)
        new_ell = np.where(inside, newton, 0.5 * (lo + hi))
        done = np.abs(new_ell - ell) <= _STEP_TOL * np.maximum(1.0, np.abs(ell))
        done |= hi - lo <= _STEP_TOL * np.maximum(1.0, np.abs(new_ell))
        ell = new_ell
        if done.all():
            break
    y = np.where(support, ell[:, None] - log_w, 0.0)
    t = solve_logit(y, g)
    # polish: from here the joint Newton iteration converges quadratically
    polished_t, polished_ell, ok = _newton_block(w, g, start=(t, ell))
    t = np.where(support, t, -np.inf)
    # a row is reported when neither the bracket nor the polish converged
    return np.where(ok[:, None], polished_t, t), np.where(ok, polished_ell, ell), done | ok


def _use_kernel(n_elements: int, method: str) -> bool:
    """Whether to run the compiled kernel; loads it (imports numba) when it is chosen.

    ``"numba"`` always (an ``ImportError`` if it cannot load or is disabled by
    ``FOCALENTROPY_DISABLE_NUMBA``), ``"auto"`` for problems of at least
    ``_KERNEL_MIN_ELEMENTS`` entries unless disabled.
    """
    if method == "numpy":
        return False
    from ._kernels import kernel_disabled, load_kernel

    if method == "auto" and (n_elements < _KERNEL_MIN_ELEMENTS or kernel_disabled()):
        # loading costs ~1 s once per process (compiled code cached on disk):
        # only worth it for large problems
        return False
    load_kernel()
    return True


def _finish_rows(
    w: np.ndarray, g: float, ok: np.ndarray, rows: np.ndarray, q: np.ndarray, lam: np.ndarray
) -> None:
    """Redo the rows ``~ok`` of ``w`` by the bracketed solve, into ``q`` and ``lam`` (in place).

    Warns about any row it cannot finish; ``rows`` maps ``w``'s rows to the
    caller's row numbers.
    """
    if ok.all():
        return
    bad = np.flatnonzero(~ok)
    t, ell, done = _bracketed_block(w[bad], g)
    if not done.all():
        failed = np.zeros(rows.max() + 1 if rows.size else 0, dtype=bool)
        failed[rows[bad[~done]]] = True
        warn_not_converged(
            f"minimizer (bracketed solve of the multiplier, gamma = {g:g})",
            _BRACKET_MAXITER, failed, stacklevel=5,
        )  # fmt: skip
    q[bad], lam[bad] = sigmoid(t), np.exp(ell)


def _solve_rows(w: np.ndarray, g: float, method: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Minimizer and multiplier for rows ``w`` of shape (N, K), ``gamma > 0``.

    Rows are numbered as in ``w`` (flattened over the leading axes) in warnings.
    """
    n_rows, n_cls = w.shape
    if n_rows and g <= TABLE_MAX_GAMMA and _use_kernel(w.size, method):
        # the table kernel takes one-positive rows itself: no pass over w here
        from ._kernels import table_rows

        q, lam, ok = table_rows(w, g, _TABLE_MAXITER, _TABLE_STOP)
        _finish_rows(w, g, ok, np.arange(n_rows), q, lam)
        return q, lam
    q = np.zeros_like(w)
    lam = np.zeros(n_rows)
    support_size = (w > 0).sum(axis=-1)
    single = support_size == 1
    if single.any():
        # one-hot minimizer; phi(1) = 0 gives lam = 0
        q[single] = (w[single] > 0).astype(float)
    multi = np.flatnonzero(~single)
    if multi.size and _use_kernel(multi.size * n_cls, method):
        from ._kernels import newton_rows

        every = multi.size == n_rows
        wm = w if every else w[multi]
        qm, lm, ok = newton_rows(wm, g, _NEWTON_MAXITER, _NEWTON_STOP)
        _finish_rows(wm, g, ok, multi, qm, lm)
        if every:
            return qm, lm
        q[multi], lam[multi] = qm, lm
        return q, lam
    block = max(1, _BLOCK_ELEMENTS // max(n_cls, 1))
    for start in range(0, multi.size, block):
        rows = multi[start : start + block]
        wb = w[rows]
        t, ell, ok = _newton_block(wb, g)
        qb, lb = sigmoid(t), np.exp(ell)
        _finish_rows(wb, g, ok, rows, qb, lb)
        q[rows] = qb
        lam[rows] = lb
    return q, lam


def _as_rows(arr: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    lead = arr.shape[:-1]
    return arr.reshape(-1, arr.shape[-1]), lead


Kind = Literal["softmax", "sigmoid"]
Method = Literal["auto", "numpy", "numba"]


@overload
def minimizer(
    p: ArrayLike,
    gamma: Gamma,
    *,
    alpha: ArrayLike | None = ...,
    axis: int = ...,
    kind: Kind = ...,
    return_multiplier: Literal[False] = ...,
    method: Method = ...,
) -> np.ndarray: ...


@overload
def minimizer(
    p: ArrayLike,
    gamma: Gamma,
    *,
    alpha: ArrayLike | None = ...,
    axis: int = ...,
    kind: Kind = ...,
    return_multiplier: Literal[True],
    method: Method = ...,
) -> tuple[np.ndarray, np.ndarray]: ...


def minimizer(
    p: ArrayLike,
    gamma: Gamma,
    *,
    alpha: ArrayLike | None = None,
    axis: int = -1,
    kind: Kind = "softmax",
    return_multiplier: bool = False,
    method: Method = "auto",
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    r"""The distribution minimizing the focal cross-entropy, ``Q* = argmin_Q H_gamma(P, Q)``.

    For ``kind="softmax"`` (multi-class focal loss), with weights
    ``w_x = alpha_x P(x)``, ``Q*`` is the unique solution of the KKT system

    .. math::

        w_x \, \phi(Q^*(x)) = \lambda \quad (w_x > 0), \qquad
        Q^*(x) = 0 \quad (w_x = 0), \qquad \sum_x Q^*(x) = 1,

    with ``phi(q) = (1-q)^gamma / q - gamma (1-q)^(gamma-1) log q``.

    For ``kind="sigmoid"`` (one-vs-rest, RetinaNet) each entry ``p`` of ``p``
    is its own Bernoulli problem ``min_q alpha p l(q) + (1-alpha)(1-p) l(1-q)``,
    solved by ``alpha p phi(q) = (1-alpha)(1-p) phi(1-q)`` (``alpha=None``:
    unweighted, i.e. ``alpha = 1/2``).

    Parameters
    ----------
    p : array_like, shape (..., K, ...)
        Data distribution(s). Softmax: entries >= 0, each slice along ``axis``
        sums to 1 (within ``1e-8 * sqrt(K)``). Sigmoid: any array of
        probabilities in ``[0, 1]``.
    gamma : float
        Focusing parameter, ``gamma >= 0``.
    alpha : None, float or array_like, optional
        Softmax: positive per-class weights, broadcastable to ``p`` (a 1-D
        array is aligned with the class axis). Sigmoid: scalar in ``(0, 1)``.
    axis : int, optional
        The class axis (softmax only). Default -1.
    kind : {"softmax", "sigmoid"}, optional
    return_multiplier : bool, optional
        Also return the multiplier ``lam`` per row (softmax only), with the
        weights as given: a scalar ``alpha`` scales ``lam``. A single-class
        support gives ``lam = 0`` for ``gamma > 0`` and ``lam = w`` for
        ``gamma = 0``.
    method : {"auto", "numpy", "numba"}, optional
        Softmax solver. ``"numpy"``: blocked NumPy Newton iteration (no
        compilation). ``"numba"``: the compiled parallel kernel (numba is
        imported lazily, on first use; the first call in a new environment
        compiles the kernel, ~5-10 s, cached on disk for later processes).
        ``"auto"`` (default): numba for arrays of at least 10^6 entries,
        NumPy otherwise. All three agree to ~1e-15 relative. Setting the
        environment variable ``FOCALENTROPY_DISABLE_NUMBA`` (non-empty) keeps
        ``"auto"`` on NumPy and makes ``"numba"`` raise ``ImportError``, as
        does a numba that fails to import. Ignored for ``kind="sigmoid"``.

    Returns
    -------
    q : ndarray
        ``Q*``, same shape as ``p``, float64.
    lam : ndarray
        Only with ``return_multiplier=True``: shape of ``p`` without ``axis``.

    Notes
    -----
    ``gamma = 0`` gives ``Q* = P`` and ``lam = 1``; a uniform ``P`` gives
    ``Q* = P``. ``Q*`` preserves the order of ``w`` (so the argmax), but for
    ``gamma > 0`` it is not ``P``: see :func:`regimes` for which classes are
    amplified or suppressed. The inverse map is :func:`recover`.

    The solver works in logits so that both ``q`` and ``1 - q`` are exact
    and runs a joint Newton iteration on ``(t, log lam)`` (cost O(K) per row
    and step; 3-6 steps typically), falling back to a bracketed iteration
    for rows that do not converge quickly. The relative error per entry is
    a few ulp times ``max(1, |log Q*(x)|)`` (the logit is a double): about
    1e-15 for ordinary entries, below 1e-13 for entries near 1e-300. Arrays
    of at least 10^6 entries go to a compiled (numba) kernel of the same
    accuracy that starts from a per-gamma table of ``phi^{-1}``.

    References
    ----------
    .. [1] J. Shah, M. Cardone, A. Dytso, "Functional Properties of the
       Focal-Entropy", arXiv:2603.02533, 2026.
    .. [2] T.-Y. Lin et al., "Focal Loss for Dense Object Detection",
       ICCV 2017. :doi:`10.1109/ICCV.2017.324`

    Examples
    --------
    >>> import numpy as np
    >>> from focalentropy import minimizer
    >>> q, lam = minimizer([0.7, 0.2, 0.08, 0.02], 2.0, return_multiplier=True)
    >>> np.round(q, 4)
    array([0.5345, 0.292 , 0.1402, 0.0333])
    >>> round(float(lam), 4)
    0.6921
    >>> bool(abs(q.sum() - 1) < 1e-15)
    True
    >>> minimizer([0.5, 0.5], 3.0)
    array([0.5, 0.5])
    """
    g = check_gamma(gamma)
    _check_kind(kind)
    _check_method(method)
    if kind == "sigmoid":
        if return_multiplier:
            raise ValueError('`return_multiplier` is only defined for kind="softmax"')
        return _sigmoid_minimizer(p, g, alpha)
    q, lam = _softmax_minimizer(p, g, alpha, axis, method)
    return (q, lam) if return_multiplier else q


def _softmax_minimizer(
    p: ArrayLike, g: float, alpha: ArrayLike | None, axis: int, method: str
) -> tuple[np.ndarray, np.ndarray]:
    """``(Q*, lam)`` of the softmax kind: checks, weights ``alpha * P``, solve, class axis back."""
    w = weighted(check_distribution(p, "p", axis), alpha, axis)
    q, lam = _minimizer_of_weights(w, g, method)
    return np.moveaxis(q, -1, axis), lam


def _minimizer_of_weights(
    w: np.ndarray, g: float, method: str = "auto"
) -> tuple[np.ndarray, np.ndarray]:
    """``(Q*, lam)`` of checked weights ``w = alpha * P`` (class axis last, any leading shape)."""
    rows, lead = _as_rows(np.ascontiguousarray(w))
    if g < _GAMMA_NEGLIGIBLE:
        total = rows.sum(axis=-1)
        q = rows / total[:, None]
        lam = total
    else:
        q, lam = _solve_rows(rows, g, method)
    return q.reshape(w.shape), lam.reshape(lead)[()]


def _sigmoid_weights(p: np.ndarray, alpha: float | None) -> np.ndarray:
    a = 0.5 if alpha is None else alpha
    return np.stack([a * p, (1.0 - a) * (1.0 - p)], axis=-1)


def _sigmoid_minimizer(p: ArrayLike, g: float, alpha: ArrayLike | None) -> np.ndarray:
    arr = check_probabilities(p, "p")
    a = check_sigmoid_alpha(alpha)
    w = _sigmoid_weights(arr, a).reshape(-1, 2)
    if g < _GAMMA_NEGLIGIBLE:
        total = w.sum(axis=-1)
        # 1 - w1/total rounds correctly near 1, where w0/total can round up to 1
        q = np.where(w[:, 0] <= w[:, 1], w[:, 0] / total, 1.0 - w[:, 1] / total)
    else:
        q = _solve_rows(w, g)[0][:, 0]
    return q.reshape(arr.shape)[()]


def recover(
    q: ArrayLike,
    gamma: Gamma,
    *,
    alpha: ArrayLike | None = None,
    axis: int = -1,
    kind: Kind = "softmax",
) -> np.ndarray:
    r"""Inverse of :func:`minimizer`: the data distribution ``P`` whose minimizer is ``q``.

    Softmax (arXiv:2603.02533):

    .. math::

        P(x) = \frac{1 / (\alpha_x \phi(Q(x)))}{\sum_y 1 / (\alpha_y \phi(Q(y)))}.

    Sigmoid, elementwise:
    ``p = (1-alpha) phi(1-q) / (alpha phi(q) + (1-alpha) phi(1-q))``.

    Applied to a focal-trained model's probabilities it returns
    class-posterior estimates (Charoenphakdee et al., CVPR 2021). It
    preserves the argmax and maps zeros to zeros.

    Parameters
    ----------
    q : array_like, shape (..., K, ...)
        Model probabilities (softmax: rows along ``axis`` sum to 1).
    gamma : float
        The focusing parameter the model was trained with, ``>= 0``.
    alpha : None, float or array_like, optional
        The class weights used in training (as in :func:`minimizer`).
    axis : int, optional
        Class axis (softmax only). Default -1.
    kind : {"softmax", "sigmoid"}, optional

    Returns
    -------
    ndarray
        ``P``, same shape as ``q``.

    Examples
    --------
    >>> import numpy as np
    >>> from focalentropy import minimizer, recover
    >>> p = np.array([0.7, 0.2, 0.08, 0.02])
    >>> bool(np.allclose(recover(minimizer(p, 2.0), 2.0), p, rtol=1e-13))
    True
    """
    g = check_gamma(gamma)
    _check_kind(kind)
    if kind == "sigmoid":
        arr = check_probabilities(q, "q")
        a = check_sigmoid_alpha(alpha)
        log_odds_weight = 0.0 if a is None else np.log((1.0 - a) / a)
        with np.errstate(divide="ignore"):
            t = np.log(arr) - np.log1p(-arr)
        t = np.clip(t, -1e300, 1e300)  # psi needs finite input; q in {0,1} handled below
        psi_q = psi(t, g)[0]
        psi_r = psi(-t, g)[0]
        p = sigmoid(psi_r - psi_q + log_odds_weight)
        return np.where(arr == 0, 0.0, np.where(arr == 1, 1.0, p))[()]
    arr = check_distribution(q, "q", axis)
    weights = check_class_weights(alpha, arr.shape, axis, arr.ndim)
    rows, _ = _as_rows(np.ascontiguousarray(arr))
    alpha_rows = None if weights is None else weights.reshape(rows.shape)
    p = _recover_rows(rows, g, alpha_rows)
    return np.moveaxis(p.reshape(arr.shape), -1, axis)


#: recover: elements per block (the block, its scratch and output stay in L2)
_RECOVER_BLOCK_ELEMENTS = 1 << 15


def _recover_rows(rows: np.ndarray, g: float, alpha_rows: np.ndarray | None) -> np.ndarray:
    """``P ∝ 1 / (alpha phi(Q))`` for rows (N, K) of a checked ``Q``, block by block.

    Each block of rows is taken to the log scores ``-log(alpha phi(Q))``
    (``_logit.neg_log_phi_block``: the dominant class through the others'
    sum) and normalized in log space (max-shifted exponentials) while it is
    in cache; the output array and two block-sized buffers are the only
    allocations.
    """
    n, k = rows.shape
    out = np.empty_like(rows)
    block = max(1, _RECOVER_BLOCK_ELEMENTS // max(k, 1))
    scratch = np.empty((min(block, n), k))
    for start in range(0, n, block):
        stop = min(start + block, n)
        q, o, sc = rows[start:stop], out[start:stop], scratch[: stop - start]
        if g == 0:
            with np.errstate(divide="ignore"):
                np.log(q, out=o)
        else:
            neg_log_phi_block(q, g, o, sc)
        if alpha_rows is not None:
            np.log(alpha_rows[start:stop], out=sc)
            np.subtract(o, sc, out=o)
        top = o.max(axis=-1, keepdims=True)
        # a class with Q = 1 exactly has phi = 0 (gamma > 0): P is one-hot there
        saturated = np.flatnonzero(np.isposinf(top[:, 0]))
        hot = np.isposinf(o[saturated]) if saturated.size else None
        with np.errstate(invalid="ignore"):
            np.subtract(o, top, out=o)
            np.exp(o, out=o)
            np.divide(o, o.sum(axis=-1, keepdims=True), out=o)
        if hot is not None:
            o[saturated] = hot / hot.sum(axis=-1, keepdims=True)
    return out
