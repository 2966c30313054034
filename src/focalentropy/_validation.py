"""Argument checking shared by the public functions.

Every check raises ``ValueError``/``TypeError`` naming the argument and, for
arrays, the first offending index and value, so that bad input never turns
into a silent NaN further down.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any, TypeAlias, TypeVar, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

_T = TypeVar("_T")
_S = TypeVar("_S", bound=np.generic)

__all__ = [
    "SUM_TOLERANCE",
    "ConvergenceWarning",
    "Gamma",
    "as_float_array",
    "check_class_weights",
    "check_distribution",
    "check_gamma",
    "check_probabilities",
    "check_sigmoid_alpha",
    "move_class_axis",
    "warn_not_converged",
    "weighted",
]

#: Rows of a distribution must sum to 1 within this absolute tolerance
#: (scaled by sqrt(K) for K classes, to allow for rounding in the input).
SUM_TOLERANCE = 1e-8


class ConvergenceWarning(RuntimeWarning):
    """An iteration stopped at its cap before converging; the message names the rows/values.

    The result is still returned (the last iterate), but its stated accuracy
    is not guaranteed for the rows or values named.
    """


def warn_not_converged(what: str, maxiter: int, mask: ArrayLike, values: ArrayLike | None = None,
                       label: str = "row", stacklevel: int = 2) -> None:  # fmt: skip
    """Emit a :class:`ConvergenceWarning` naming how many entries of ``mask`` did not converge.

    ``mask`` flags the unconverged entries (rows or elements); the message
    gives their count and the first few indices (and ``values`` there, if given).
    """
    mask = np.asarray(mask, dtype=bool)
    where = np.argwhere(mask)[:5]
    items = []
    for idx in where:
        index = tuple(int(i) for i in idx)
        text = _format_index(index) if index else "()"
        if values is not None:
            text += f" ({label} = {float(np.asarray(values)[index])!r})"
        items.append(text)
    more = ", ..." if mask.sum() > len(items) else ""
    warnings.warn(
        f"{what} did not converge in {maxiter} iterations for {int(mask.sum())} "
        f"{'entries' if values is not None else 'rows'}, at index {', '.join(items)}{more}; "
        "the last iterate is returned",
        ConvergenceWarning,
        stacklevel=stacklevel + 1,
    )


def _first_index(mask: np.ndarray) -> tuple[int, ...]:
    idx = np.argwhere(mask)[0]
    return tuple(int(i) for i in idx)


def _format_index(index: tuple[int, ...]) -> str:
    return str(index[0]) if len(index) == 1 else str(index)


def first_bad(arr: np.ndarray, bad: np.ndarray) -> str:
    """``"found <value> at index <i>"`` for the first True entry of ``bad``."""
    if arr.ndim == 0:
        return f"found {float(arr)!r}"
    index = _first_index(bad)
    return f"found {float(arr[index])!r} at index {_format_index(index)}"


def check_choice(value: _T, name: str, choices: tuple[_T, ...]) -> _T:
    """``value`` if it is one of ``choices``, else a ValueError naming ``name``."""
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {choices}, got {value!r}")
    return value


def _is_tensor(x: object) -> bool:
    """Duck-typed test for a torch tensor (torch is never imported here)."""
    return type(x).__module__.startswith("torch") and hasattr(x, "device")


def _tensor_to_numpy(x: Any, name: str) -> NDArray[Any]:
    """A CPU tensor as an ndarray (detached, no copy where possible); others refused."""
    device = getattr(x.device, "type", str(x.device))
    if device != "cpu":
        raise TypeError(
            f"`{name}` is a torch tensor on device {str(x.device)!r}; the NumPy functions take "
            f"CPU arrays: pass `{name}.cpu()`, or use the losses in `focalentropy.torch` on the GPU"
        )
    x = x.detach()
    if str(getattr(x, "dtype", "")) == "torch.bfloat16":  # no NumPy dtype for bfloat16
        x = x.float()
    resolve = getattr(x, "resolve_conj", None)  # complex views: rejected below, not here
    return np.asarray(resolve() if resolve is not None else x)


def as_float_array(x: ArrayLike, name: str) -> NDArray[np.float64]:
    """Convert ``x`` to a float64 array, rejecting non-numeric input.

    CPU torch tensors (and anything ``np.asarray`` takes) are accepted and
    detached; tensors on another device are refused with a ``TypeError``.
    """
    if isinstance(x, (str, bytes)):
        raise TypeError(f"`{name}` must be array-like of real numbers, got {type(x).__name__}")
    if type(x) is np.ndarray and x.dtype == np.float64:
        return x  # the common case: nothing to check or convert
    if _is_tensor(x):
        return as_float_array(_tensor_to_numpy(x, name), name)
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - numpy raises many kinds
        raise TypeError(f"`{name}` must be array-like of real numbers") from exc
    if arr.dtype.kind in "USa" or (
        arr.dtype == object and any(isinstance(v, (str, bytes)) for v in arr.flat)
    ):
        raise TypeError(
            f"`{name}` must be array-like of real numbers, got strings (dtype {arr.dtype})"
        )
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        if arr.dtype.kind == "c":
            raise TypeError(f"`{name}` must be real, got complex dtype {arr.dtype}")
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"`{name}` must be array-like of real numbers, got dtype {arr.dtype}"
            ) from exc
    return arr.astype(np.float64, copy=False)


#: Type of the public ``gamma`` parameters: a real number, NumPy scalars included
#: (``np.float32(2.0)``, ``np.int64(2)``); :func:`check_gamma` checks the value.
Gamma: TypeAlias = float | np.floating[Any] | np.integer[Any]


def check_gamma(gamma: Any) -> float:
    """Return ``gamma`` as a float after checking ``0 <= gamma < inf`` (any input is checked)."""
    if _is_tensor(gamma):
        gamma = _tensor_to_numpy(gamma, "gamma")
    if isinstance(gamma, bool) or not isinstance(gamma, (numbers.Real, np.ndarray)):
        raise TypeError(f"`gamma` must be a real number, got {type(gamma).__name__}")
    if isinstance(gamma, np.ndarray):
        if gamma.ndim != 0:
            raise TypeError(f"`gamma` must be a scalar, got an array of shape {gamma.shape}")
        gamma = gamma.item()
    g = float(gamma)
    if not np.isfinite(g) or g < 0:
        raise ValueError(f"`gamma` must be a finite number >= 0, got {gamma!r}")
    return g


def check_probabilities(q: ArrayLike, name: str) -> NDArray[np.float64]:
    """Elementwise probabilities: finite, in [0, 1]."""
    arr = as_float_array(q, name)
    if arr.size and arr.min() >= 0 and arr.max() <= 1:  # NaN fails both comparisons
        return arr
    bad = ~((arr >= 0) & (arr <= 1))  # also catches NaN
    if bad.any():
        raise ValueError(f"`{name}` must contain probabilities in [0, 1]; {first_bad(arr, bad)}")
    return arr


def move_class_axis(arr: NDArray[_S], axis: int, name: str) -> NDArray[_S]:
    """Move the class axis ``axis`` of ``arr`` to the end (a view)."""
    if arr.ndim == 0:
        raise ValueError(f"`{name}` must have at least one dimension (the class axis)")
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"`axis` must be an integer, got {type(axis).__name__}")
    if not -arr.ndim <= axis < arr.ndim:
        raise ValueError(f"`axis` {axis} is out of bounds for `{name}` with {arr.ndim} dims")
    return np.moveaxis(arr, axis, -1)


def check_distribution(p: ArrayLike, name: str, axis: int = -1) -> NDArray[np.float64]:
    """Rows along ``axis`` must be probability vectors.

    Returns a float64 array with the class axis moved last. Entries must be
    finite and >= 0 and each row must sum to 1 within
    ``max(SUM_TOLERANCE, 8 eps) * sqrt(K)``, with ``eps`` that of the input's
    float dtype (float32 softmax outputs sum to 1 only to ~1e-7).
    """
    base = SUM_TOLERANCE
    if _is_tensor(p):
        if str(cast(Any, p).dtype) == "torch.bfloat16":
            base = 8 * 2.0**-7  # bfloat16 keeps 8 significant bits
        p = _tensor_to_numpy(p, name)
    in_dtype = getattr(p, "dtype", None)
    arr = check_probabilities(p, name)
    arr = move_class_axis(arr, axis, name)
    if arr.shape[-1] == 0:
        raise ValueError(f"`{name}` must have at least one class along `axis`")
    total = arr.sum(axis=-1)
    # rows computed in float32/float16 (a softmax output) sum to 1 only to
    # their own precision
    try:
        in_dtype = np.dtype(in_dtype) if in_dtype is not None else None
    except TypeError:  # an array-like whose dtype NumPy does not know
        in_dtype = None
    if in_dtype is not None and in_dtype.kind == "f":
        base = max(base, 8 * float(np.finfo(in_dtype).eps))
    tol = base * np.sqrt(arr.shape[-1])
    bad = ~(np.abs(total - 1.0) <= tol)
    if bad.any():
        index = _first_index(bad)
        where = f" (row {_format_index(index)})" if index else ""
        raise ValueError(
            f"`{name}` must sum to 1 along the class axis{where}; "
            f"got sum {float(total[index])!r} (tolerance {tol:.1e})"
        )
    return arr


def check_class_weights(
    alpha: ArrayLike | None, shape: tuple[int, ...], axis: int, ndim: int
) -> NDArray[np.float64] | None:
    """Positive per-class weights broadcastable to ``shape`` (class axis last).

    ``alpha`` may be None (unweighted), a scalar, a 1-D vector of per-class
    weights (aligned with the class axis), or an array broadcastable to the
    *original* layout of the distribution (class axis at ``axis``).
    """
    if alpha is None:
        return None
    arr = as_float_array(alpha, "alpha")
    bad = ~((arr > 0) & np.isfinite(arr))
    if bad.any():
        raise ValueError(f"`alpha` must be positive and finite; {first_bad(arr, bad)}")
    if arr.ndim == 1 and ndim > 1:
        # a vector of per-class weights runs along the class axis, wherever it is
        if arr.shape[0] not in (1, shape[-1]):
            raise ValueError(
                f"`alpha` has {arr.shape[0]} entries but the class axis has {shape[-1]}"
            )
    elif arr.ndim > 0:
        if arr.ndim < ndim:
            arr = arr.reshape((1,) * (ndim - arr.ndim) + arr.shape)
        if arr.ndim > ndim:
            raise ValueError(f"`alpha` has {arr.ndim} dims, more than the distribution's {ndim}")
        arr = np.moveaxis(arr, axis, -1)
    try:
        return np.broadcast_to(arr, shape)
    except ValueError as exc:
        raise ValueError(
            f"`alpha` with shape {np.shape(alpha)} does not broadcast to the distribution's "
            f"shape (class axis last: {shape})"
        ) from exc


def weighted(p: NDArray[np.float64], alpha: ArrayLike | None, axis: int) -> NDArray[np.float64]:
    """``alpha * p`` for a checked distribution ``p`` (class axis last; ``p`` itself for None).

    ``alpha`` and ``axis`` are as given by the caller (see :func:`check_class_weights`).
    """
    weights = check_class_weights(alpha, p.shape, axis, p.ndim)
    return p if weights is None else p * weights


def check_sigmoid_alpha(alpha: Any) -> float | None:
    """RetinaNet weight: None (unweighted) or a scalar in (0, 1)."""
    if alpha is None:
        return None
    if _is_tensor(alpha):
        alpha = _tensor_to_numpy(alpha, "alpha")
    if isinstance(alpha, bool) or not isinstance(alpha, (numbers.Real, np.ndarray)):
        raise TypeError(f"`alpha` must be None or a real number, got {type(alpha).__name__}")
    a = float(np.asarray(alpha).item()) if isinstance(alpha, np.ndarray) else float(alpha)
    if not 0 < a < 1:
        raise ValueError(f'`alpha` must lie in (0, 1) for kind="sigmoid", got {alpha!r}')
    return a
