"""Shared pieces of the countable sub-package: warnings, constants, argument checks, weights."""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._loss import _max_gradient_weight
from .._validation import as_float_array, first_bad

#: default cap on the number of explicitly kept integers (8 MB per array)
MAX_TERMS = 1 << 20
#: relative margin covering rounding in the head sums (about a hundred ulps)
ROUNDING = 2e-14


class DivergenceWarning(UserWarning):
    """The series is infinite (decided from the tail of the distribution)."""


class TruncationWarning(UserWarning):
    """The requested tolerance could not be met or certified."""


def check_tol(tol: object) -> float:
    """``tol`` as a float in ``(0, 1)``."""
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real):
        raise TypeError(f"`tol` must be a real number, got {type(tol).__name__}")
    value = float(tol)
    if not 0 < value < 1:
        raise ValueError(f"`tol` must lie in (0, 1), got {tol!r}")
    return value


def check_max_terms(max_terms: object) -> int:
    """``max_terms`` as an integer ``>= 2``."""
    if isinstance(max_terms, bool) or not isinstance(max_terms, numbers.Integral):
        raise TypeError(f"`max_terms` must be an integer, got {type(max_terms).__name__}")
    if max_terms < 2:
        raise ValueError(f"`max_terms` must be >= 2, got {max_terms!r}")
    return int(max_terms)


def check_alpha(alpha: ArrayLike | None) -> tuple[NDArray[np.float64] | None, float]:
    """Head weights (indexed by the integer x) and the weight beyond them."""
    if alpha is None:
        return None, 1.0
    arr = as_float_array(alpha, "alpha")
    if arr.ndim > 1:
        raise ValueError(f"`alpha` must be a scalar or 1-D, got shape {arr.shape}")
    bad = ~((arr > 0) & np.isfinite(arr))
    if bad.any():
        raise ValueError(f"`alpha` must be positive and finite; {first_bad(arr, bad)}")
    if arr.ndim == 0:
        return None, float(arr)
    return arr, 1.0


def class_weights(
    y: NDArray[np.int64], shift: int, alpha_head: NDArray[np.float64] | None, a_tail: float
) -> NDArray[np.float64] | float:
    """``alpha_x`` at ``x = y + shift``: ``alpha_head[x]`` where given, ``a_tail`` beyond.

    Without head weights the scalar ``a_tail`` (no array of the head's size).
    """
    if alpha_head is None:
        return a_tail
    x = y + shift
    a = np.full(x.shape, a_tail)
    inside = (x >= 0) & (x < len(alpha_head))
    a[inside] = alpha_head[x[inside]]
    return a


def gradient_weight_max(g: float) -> tuple[float, float]:
    """``(G_max, p_max)`` of the tail bounds; ``(1, 1)`` for ``gamma = 0`` (``G = 1``)."""
    return _max_gradient_weight(g) if g > 0 else (1.0, 1.0)
