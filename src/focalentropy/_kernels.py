"""Compiled kernels (numba) of the minimizer's Newton iteration, imported lazily.

The NumPy implementation in ``_minimizer`` makes ~25 passes over a block per
Newton step; these kernels fuse a whole row's iteration into one loop that
keeps everything in registers and run rows in parallel. They compute the
same solution as ``_minimizer._newton_block`` (tests compare both against the
mpmath reference).

numba is a required dependency, but it is imported lazily: only when a large
problem (``method="auto"``) or ``method="numba"`` asks for the kernel, so
``import focalentropy`` stays fast. A numba that cannot be imported is an
error (:class:`ImportError` naming the cause), not a silent fallback. The
environment variable ``FOCALENTROPY_DISABLE_NUMBA`` (any non-empty value)
opts out: ``method="auto"`` then always runs the NumPy solver and
``method="numba"`` raises.
"""

from __future__ import annotations

import functools
import os
from types import ModuleType

import numpy as np

from ._logit import psi, sigmoid, solve_logit

__all__ = ["kernel_available", "kernel_disabled", "load_kernel", "newton_rows", "table_rows"]

#: set (non-empty) to keep numba unloaded: the minimizer uses its NumPy solver
DISABLE_ENV = "FOCALENTROPY_DISABLE_NUMBA"

#: Interpolation table of ``q(y) = sigmoid(psi^{-1}(y))``: one polynomial of
#: degree ``TABLE_DEGREE`` per interval of width ``TABLE_STEP`` (a power of 2,
#: so the nodes ``j * TABLE_STEP`` and ``y - node`` are exact), in the local
#: variable ``s = 2 (y - node) / TABLE_STEP - 1`` in [-1, 1]. On such an
#: interval ``q`` changes by a factor of at most ``e^{1/8}``, so the
#: interpolant (Chebyshev nodes) has relative error ~1e-16 plus that of the
#: node values (~1e-16: see ``_node_logits``).
TABLE_STEP = 0.125
TABLE_DEGREE = 9
#: the table covers ``t`` in [-TABLE_T_MIN, TABLE_T_MAX]; beyond -TABLE_T_MIN
#: ``q = exp(-y)`` to relative accuracy ``e^{-45} (1 + gamma (1 + 45))``,
#: below 1e-16 for gamma <= TABLE_MAX_GAMMA
TABLE_T_MIN = 45.0
TABLE_T_MAX = 0.5
#: larger gammas (table too long) use the plain Newton kernel
TABLE_MAX_GAMMA = 100.0

_KERNEL: ModuleType | None = None


def kernel_disabled() -> bool:
    """Whether ``FOCALENTROPY_DISABLE_NUMBA`` opts out of the compiled kernel (read per call)."""
    return bool(os.environ.get(DISABLE_ENV))


def kernel_available() -> bool:
    """Whether the compiled kernel is used: True unless disabled by ``FOCALENTROPY_DISABLE_NUMBA``.

    Loads the kernel module (imports numba) on the first call.

    Raises
    ------
    ImportError
        If numba (a required dependency) cannot be imported: the message
        names the cause and the opt-out.
    """
    if kernel_disabled():
        return False
    load_kernel()
    return True


def load_kernel() -> ModuleType:
    """The kernel module, imported on first use.

    Raises ``ImportError`` when the kernel is disabled (the message names the
    variable) or numba fails to import (the message names the cause).
    """
    global _KERNEL
    if kernel_disabled():
        # ImportError, as before numba became a hard dependency
        raise ImportError(
            f"the numba kernel is disabled by the environment variable {DISABLE_ENV}; "
            'unset it, or use method="numpy"'
        )
    if _KERNEL is None:
        try:
            _KERNEL = _load_kernels()
        except ImportError as exc:
            raise ImportError(
                "focalentropy's compiled minimizer kernel needs numba (a required dependency, "
                f"numba>=0.60), which failed to import: {exc}. Reinstall numba, or set "
                f"{DISABLE_ENV}=1 to use the NumPy solver"
            ) from exc
    return _KERNEL


def _load_kernels() -> ModuleType:
    """Import the numba kernels (they compile on first call, cached on disk)."""
    from . import _numba_kernels

    return _numba_kernels


def _chebyshev_to_monomial(n: int) -> np.ndarray:
    """Matrix taking Chebyshev coefficients (degree < n) to monomial ones."""
    from numpy.polynomial import chebyshev

    out = np.zeros((n, n))
    for k in range(n):
        row = chebyshev.cheb2poly(np.eye(n)[k])
        out[k, : row.size] = row
    return out


def _node_logits(y: np.ndarray, g: float) -> np.ndarray:
    """``psi^{-1}(y)``, polished where ``t < 0`` with a residual that does not cancel.

    ``psi(t) - y = (-t - y) + rest(t)`` with ``rest = (1 - g) log1p(e^t) +
    log1p(g v)`` small: its rounding error is ~1e-16 absolute instead of
    ``ulp(y)`` (up to 7e-15 at ``y = 45``), so ``q = sigmoid(t)`` is good to
    ~1e-16 relative.
    """
    t = solve_logit(y, g)
    neg = t < 0
    for _ in range(2):
        tn = np.minimum(t, 0.0)
        lp = np.log1p(np.exp(tn))
        v = np.exp(tn) * (lp - tn)
        resid = (-tn - y) + ((1.0 - g) * lp + np.log1p(g * v))
        dpsi = psi(tn, g)[1]
        t = np.where(neg, tn - resid / dpsi, t)
    return t


@functools.lru_cache(maxsize=16)
def inverse_table(g: float) -> tuple[np.ndarray, float, float]:
    """Piecewise-polynomial table of ``q(y)``, the ``q`` with ``log phi(q) = y``.

    Returns ``(coef, y_lo, y_hi)``: ``coef[j]`` (monomial coefficients in
    ``s``, lowest first) interpolates ``q`` on ``[y_lo + j h, y_lo + (j+1) h]``
    at Chebyshev nodes solved exactly by ``_logit.solve_logit``; the table covers
    the logits ``t`` in about [-TABLE_T_MIN, TABLE_T_MAX] (``y`` decreasing in
    ``t``). Read-only arrays: the result is cached per gamma.
    """
    h = TABLE_STEP
    n_pts = TABLE_DEGREE + 1
    ends = psi(np.array([TABLE_T_MAX, -TABLE_T_MIN]), g)[0]
    y_lo = float(np.floor(ends[0] / h) * h)
    y_hi = float(np.ceil(ends[1] / h) * h)
    n_int = round((y_hi - y_lo) / h)
    k = np.arange(n_pts)
    s = np.cos(np.pi * (2 * k + 1) / (2 * n_pts))  # Chebyshev points (1st kind)
    y = y_lo + h * (np.arange(n_int)[:, None] + 0.5 * (s[None, :] + 1.0))
    q = sigmoid(_node_logits(y, g))
    # Chebyshev coefficients by discrete orthogonality, then monomials in s
    cheb_t = np.cos(np.outer(k, np.arccos(s)))  # T_k(s_i)
    c = (2.0 / n_pts) * q @ cheb_t.T
    c[:, 0] *= 0.5
    coef = np.ascontiguousarray(c @ _chebyshev_to_monomial(n_pts))
    coef.setflags(write=False)
    return coef, y_lo, y_hi


def table_rows(
    w: np.ndarray, g: float, maxiter: int, tol: float = 1e-10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimizer rows by Newton's method on ``ell`` with the table of ``q(y)``.

    For ``0 < g <= TABLE_MAX_GAMMA``; same contract as :func:`newton_rows`.
    """
    kernel = load_kernel()
    w = np.ascontiguousarray(w)
    coef, y_lo, y_hi = inverse_table(float(g))
    with np.errstate(divide="ignore"):
        log_w = np.log(w)
    psi0 = float(psi(np.zeros(1), g)[0][0])
    n = w.shape[0]
    q = np.empty_like(w)
    lam = np.empty(n)
    ok = np.zeros(n, dtype=np.bool_)
    kernel.table_rows(
        w, log_w, float(g), coef, y_lo, 1.0 / TABLE_STEP, y_hi, psi0, int(maxiter), float(tol),
        q, lam, ok,
    )  # fmt: skip
    return q, lam, ok


def newton_rows(
    w: np.ndarray, g: float, maxiter: int, tol: float = 1e-9
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run the fused Newton iteration on rows of ``w`` (N, K), each with >= 2 positives.

    Returns ``(q, lam, ok)``; rows with ``ok == False`` must be finished by
    the bracketed NumPy solver.
    """
    kernel = load_kernel()
    n = w.shape[0]
    q = np.empty_like(w)
    lam = np.empty(n)
    ok = np.zeros(n, dtype=np.bool_)
    kernel.newton_rows(np.ascontiguousarray(w), float(g), int(maxiter), float(tol), q, lam, ok)
    return q, lam, ok
