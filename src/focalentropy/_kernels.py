"""Optional compiled kernel (numba) for the minimizer's Newton iteration.

The NumPy implementation in ``_minimizer`` makes ~25 passes over a block per
Newton step; this kernel fuses a whole row's iteration into one loop that
keeps everything in registers and runs rows in parallel. It computes the same
iteration as ``_minimizer._newton_block`` (tests compare both against the
mpmath reference). numba is imported only when a large problem asks for it,
so ``import focalentropy`` stays fast; without numba the NumPy path is used.
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["kernel_available", "newton_rows"]

_KERNEL = None
_TRIED = False


def kernel_available() -> bool:
    """Whether the compiled kernel can be used (numba importable, not disabled)."""
    return _get_kernel() is not None


def _get_kernel():
    global _KERNEL, _TRIED
    if _TRIED:
        return _KERNEL
    _TRIED = True
    if os.environ.get("FOCALENTROPY_DISABLE_NUMBA"):
        return None
    try:
        _KERNEL = _compile()
    except ImportError:
        _KERNEL = None
    return _KERNEL


def _compile():
    from ._numba_kernels import newton_rows as kernel

    return kernel


def newton_rows(w: np.ndarray, g: float, maxiter: int, tol: float = 1e-9):
    """Run the fused Newton iteration on rows of ``w`` (N, K), each with >= 2 positives.

    Returns ``(q, lam, ok)``; rows with ``ok == False`` must be finished by
    the bracketed NumPy solver.
    """
    kernel = _get_kernel()
    n = w.shape[0]
    q = np.empty_like(w)
    lam = np.empty(n)
    ok = np.zeros(n, dtype=np.bool_)
    kernel(np.ascontiguousarray(w), float(g), int(maxiter), float(tol), q, lam, ok)
    return q, lam, ok
