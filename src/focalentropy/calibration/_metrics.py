"""Calibration metrics on (probabilities, labels).

All metrics take ``probs`` of shape ``(..., K)`` (the class axis last, each row
a probability vector) and integer ``labels`` of shape ``(...)`` with values in
``{0, ..., K-1}``; leading axes are flattened into samples. NumPy arrays and
torch tensors are both accepted (tensors are recognised by their ``detach``
method, so torch is never imported here).

* top-label ECE: ``sum_b (|B_b| / n) |acc(B_b) - conf(B_b)|`` over bins of the
  top-label confidence ``max_k p_k`` (equal-width or equal-mass bins);
* classwise ECE: the same per class ``k`` with ``p_k`` against ``1[y = k]``,
  averaged over the classes (Kull et al., 2019);
* NLL: ``-(1/n) sum_i log p_{i, y_i}``;
* Brier score: ``(1/n) sum_i sum_k (p_{ik} - 1[y_i = k])^2``, in ``[0, 2]``.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "ReliabilityBins",
    "accuracy",
    "brier_score",
    "calibration_report",
    "classwise_calibration_error",
    "expected_calibration_error",
    "negative_log_likelihood",
    "reliability_bins",
]

_BINNINGS = ("uniform", "quantile")
_NORMS = ("l1", "l2", "max")


# ---------------------------------------------------------------------------
# input handling
# ---------------------------------------------------------------------------


def _to_numpy(x: Any, name: str) -> NDArray[Any]:
    """Array-like or torch tensor (duck-typed by ``.detach()``) to an ndarray."""
    if isinstance(x, (str, bytes)):
        raise TypeError(f"`{name}` must be array-like, got {type(x).__name__}")
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        t = x.detach().cpu()
        try:
            return t.numpy()
        except TypeError:  # bfloat16 and friends have no NumPy dtype
            return t.double().numpy()
    return np.asarray(x)


def _sum_tolerance(dtype: np.dtype[Any], n_classes: int) -> float:
    """Row-sum tolerance: 1e-8 for float64 input, looser for float32/float16."""
    eps = np.finfo(dtype).eps if dtype.kind == "f" else np.finfo(np.float64).eps
    return max(1e-8, 100.0 * float(eps)) * np.sqrt(n_classes)


def _index_str(index: tuple[int, ...]) -> str:
    return str(index[0]) if len(index) == 1 else str(index)


def check_probs(
    probs: ArrayLike, name: str = "probs", *, normalize: bool = False, logits_hint: bool = False
) -> NDArray[np.float64]:
    """Validate probability rows (class axis last) and return a float64 array.

    Entries must be finite and in ``[0, 1]``; each row must sum to 1 within
    ``max(1e-8, 100 eps) sqrt(K)`` where ``eps`` is the input's machine
    epsilon (float32 softmax outputs pass). ``normalize=True`` rescales the
    rows to sum to 1 exactly in float64. ``logits_hint`` (for callers that
    take ``from_logits``) adds that option to the message of a bad row sum.
    """
    raw = _to_numpy(probs, name)
    if raw.dtype == object or raw.dtype.kind not in "biuf":
        raise TypeError(f"`{name}` must be an array of real numbers, got dtype {raw.dtype}")
    if raw.ndim == 0:
        raise ValueError(f"`{name}` must have a class axis (last axis); got a scalar")
    if raw.shape[-1] == 0:
        raise ValueError(f"`{name}` must have at least one class along the last axis")
    arr = raw.astype(np.float64)
    bad = ~((arr >= 0) & (arr <= 1))
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"`{name}` must contain probabilities in [0, 1]; "
            f"found {float(arr[index])!r} at index {_index_str(index)}"
        )
    total = arr.sum(axis=-1)
    tol = _sum_tolerance(raw.dtype, arr.shape[-1])
    bad = ~(np.abs(total - 1.0) <= tol)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0]) if total.ndim else ()
        where = f" (row {_index_str(index)})" if index else ""
        raise ValueError(
            f"`{name}` must sum to 1 along the last (class) axis{where}; "
            f"got sum {float(total[index])!r} (tolerance {tol:.1e}). "
            + (
                "Pass logits with `from_logits=True` or normalize the rows."
                if logits_hint
                else "Normalize the rows (softmax outputs), or apply softmax to logits first."
            )
        )
    if normalize:
        arr = arr / total[..., None]
    return arr


def check_labels(
    labels: ArrayLike, shape: tuple[int, ...], n_classes: int, name: str = "labels"
) -> NDArray[np.intp]:
    """Integer class labels of the given ``shape`` with values in ``[0, n_classes)``."""
    arr = _to_numpy(labels, name)
    if arr.dtype.kind == "b" or (arr.dtype.kind not in "iuf"):
        raise TypeError(f"`{name}` must be integer class indices, got dtype {arr.dtype}")
    if arr.shape != tuple(shape):
        raise ValueError(
            f"`{name}` must have shape {tuple(shape)} (the probabilities' shape without the "
            f"class axis), got {arr.shape}"
        )
    if arr.dtype.kind == "f":
        nonint = ~(np.isfinite(arr) & (arr == np.round(arr)))
        if nonint.any():
            index = tuple(int(i) for i in np.argwhere(nonint)[0])
            raise TypeError(
                f"`{name}` must be integer class indices; found {arr[index]!r} "
                f"at index {_index_str(index)}"
            )
    bad = (arr < 0) | (arr >= n_classes)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        value = arr[index].item()
        raise ValueError(
            f"`{name}` must be class indices in [0, {n_classes - 1}]; "
            f"found {value!r} at index {_index_str(index)}"
        )
    return arr.astype(np.intp)


def _probs_and_labels(
    probs: ArrayLike, labels: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """Validated ``(n, K)`` float64 probabilities and ``(n,)`` labels, ``n >= 1``."""
    p = check_probs(probs)
    y = check_labels(labels, p.shape[:-1], p.shape[-1])
    p = p.reshape(-1, p.shape[-1])
    y = y.reshape(-1)
    if p.shape[0] == 0:
        raise ValueError("`probs` must contain at least one sample")
    return p, y


def _check_binning(n_bins: Any, binning: Any, norm: Any = None) -> int:
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)):
        raise TypeError(f"`n_bins` must be an integer, got {type(n_bins).__name__}")
    if n_bins < 1:
        raise ValueError(f"`n_bins` must be >= 1, got {n_bins}")
    if binning not in _BINNINGS:
        raise ValueError(f"`binning` must be one of {_BINNINGS}, got {binning!r}")
    if norm is not None and norm not in _NORMS:
        raise ValueError(f"`norm` must be one of {_NORMS}, got {norm!r}")
    return int(n_bins)


# ---------------------------------------------------------------------------
# binning
# ---------------------------------------------------------------------------


class ReliabilityBins(NamedTuple):
    """Per-bin statistics of a reliability diagram (empty bins included).

    Attributes
    ----------
    confidence : ndarray, shape (n_bins,)
        Mean predicted probability in each bin (NaN for an empty bin).
    accuracy : ndarray, shape (n_bins,)
        Observed frequency of the event in each bin (NaN for an empty bin).
    count : ndarray, shape (n_bins,)
        Number of samples in each bin.
    edges : ndarray, shape (n_bins + 1,)
        Bin edges: ``linspace(0, 1, n_bins + 1)`` for equal-width bins; for
        equal-mass bins the smallest confidence of each bin and the largest
        confidence overall.
    """

    confidence: NDArray[np.float64]
    accuracy: NDArray[np.float64]
    count: NDArray[np.intp]  # type: ignore[assignment]  # shadows tuple.count (public name)
    edges: NDArray[np.float64]


def _bin_index(
    conf: NDArray[np.float64], n_bins: int, binning: str
) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Bin of each confidence and the bin edges.

    Equal-width bins are ``[b/n_bins, (b+1)/n_bins)``, the last one closed.
    Equal-mass bins sort the confidences (stable) and cut the sorted order
    into ``n_bins`` runs whose sizes differ by at most one.
    """
    n = conf.shape[0]
    if binning == "uniform":
        index = np.minimum((conf * n_bins).astype(np.intp), n_bins - 1)
        return index, np.linspace(0.0, 1.0, n_bins + 1)
    order = np.argsort(conf, kind="stable")
    index = np.empty(n, dtype=np.intp)
    index[order] = (np.arange(n) * n_bins) // n
    starts = np.searchsorted((np.arange(n) * n_bins) // n, np.arange(n_bins))
    sorted_conf = conf[order]
    edges = np.append(sorted_conf[np.minimum(starts, n - 1)], sorted_conf[-1])
    return index, edges


def _bin_stats(
    conf: NDArray[np.float64], hit: NDArray[np.float64], n_bins: int, binning: str
) -> ReliabilityBins:
    index, edges = _bin_index(conf, n_bins, binning)
    count = np.bincount(index, minlength=n_bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(index, weights=conf, minlength=n_bins) / count
        mean_hit = np.bincount(index, weights=hit, minlength=n_bins) / count
    return ReliabilityBins(mean_conf, mean_hit, count.astype(np.intp), edges)


def _calibration_error(
    conf: NDArray[np.float64], hit: NDArray[np.float64], n_bins: int, binning: str, norm: str
) -> float:
    bins = _bin_stats(conf, hit, n_bins, binning)
    full = bins.count > 0
    gap = np.abs(bins.accuracy[full] - bins.confidence[full])
    weight = bins.count[full] / conf.shape[0]
    if norm == "l1":
        return float(np.sum(weight * gap))
    if norm == "l2":
        return float(np.sqrt(np.sum(weight * gap**2)))
    return float(np.max(gap))


def _top_label(
    p: NDArray[np.float64], y: NDArray[np.intp]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Top-label confidence ``max_k p_k`` and hit ``1[argmax_k p_k = y]``."""
    pred = np.argmax(p, axis=-1)
    return p[np.arange(p.shape[0]), pred], (pred == y).astype(np.float64)


def _classwise(
    p: NDArray[np.float64], y: NDArray[np.intp], n_bins: int, binning: str, norm: str
) -> float:
    errors = [
        _calibration_error(p[:, k], (y == k).astype(np.float64), n_bins, binning, norm)
        for k in range(p.shape[1])
    ]
    return float(np.mean(errors))


def _nll(p: NDArray[np.float64], y: NDArray[np.intp]) -> float:
    with np.errstate(divide="ignore"):
        return float(-np.mean(np.log(p[np.arange(p.shape[0]), y])))


def _brier(p: NDArray[np.float64], y: NDArray[np.intp]) -> float:
    sq = np.sum(p**2, axis=-1) - 2.0 * p[np.arange(p.shape[0]), y] + 1.0
    return float(np.mean(sq))


def _accuracy(p: NDArray[np.float64], y: NDArray[np.intp]) -> float:
    return float(np.mean(np.argmax(p, axis=-1) == y))


def reliability_bins(
    probs: ArrayLike,
    labels: ArrayLike,
    *,
    n_bins: int = 15,
    binning: Literal["uniform", "quantile"] = "uniform",
) -> ReliabilityBins:
    r"""Bin the top-label confidence and compare it with the accuracy per bin.

    The confidence of sample ``i`` is ``c_i = max_k p_{ik}`` and its hit is
    ``1[argmax_k p_{ik} = y_i]``; each bin reports the mean of both.

    Parameters
    ----------
    probs : array_like or torch.Tensor, shape (..., K)
        Predicted probabilities, rows summing to 1.
    labels : array_like or torch.Tensor of int, shape (...)
        True classes in ``{0, ..., K-1}``.
    n_bins : int, default 15
        Number of bins.
    binning : {"uniform", "quantile"}, default "uniform"
        Equal-width bins on ``[0, 1]`` or equal-mass bins (same number of
        samples in each bin, up to one).

    Returns
    -------
    ReliabilityBins
        ``(confidence, accuracy, count, edges)`` arrays.

    Examples
    --------
    >>> from focalentropy.calibration import reliability_bins
    >>> bins = reliability_bins([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]], [0, 1, 1], n_bins=2)
    >>> bins.count.tolist(), bins.accuracy.tolist()
    ([0, 3], [nan, 0.6666666666666666])
    """
    n_bins = _check_binning(n_bins, binning)
    p, y = _probs_and_labels(probs, labels)
    return _bin_stats(*_top_label(p, y), n_bins, binning)


def expected_calibration_error(
    probs: ArrayLike,
    labels: ArrayLike,
    *,
    n_bins: int = 15,
    binning: Literal["uniform", "quantile"] = "uniform",
    norm: Literal["l1", "l2", "max"] = "l1",
) -> float:
    r"""Top-label expected calibration error (ECE).

    With the confidence ``c_i = max_k p_{ik}``, the hit
    ``a_i = 1[argmax_k p_{ik} = y_i]`` and bins ``B_1, ..., B_M`` of the
    confidences,

    .. math::

        \mathrm{ECE} = \sum_{b} \frac{|B_b|}{n}
            \Big| \frac{1}{|B_b|} \sum_{i \in B_b} a_i
                  - \frac{1}{|B_b|} \sum_{i \in B_b} c_i \Big|

    (``norm="l1"``); ``norm="l2"`` takes the square root of the weighted mean
    squared gap and ``norm="max"`` the largest gap over non-empty bins (the
    maximum calibration error). Equal-width bins are ``[b/M, (b+1)/M)``, the
    last one closed, as in Guo et al. (2017) and torchmetrics (which puts a
    confidence of exactly 1 in a bin of its own).

    Parameters
    ----------
    probs : array_like or torch.Tensor, shape (..., K)
        Predicted probabilities, rows summing to 1.
    labels : array_like or torch.Tensor of int, shape (...)
        True classes in ``{0, ..., K-1}``.
    n_bins : int, default 15
        Number of bins ``M``.
    binning : {"uniform", "quantile"}, default "uniform"
        Equal-width or equal-mass bins.
    norm : {"l1", "l2", "max"}, default "l1"
        How the per-bin gaps are combined.

    Returns
    -------
    float
        The calibration error, in ``[0, 1]``.

    See Also
    --------
    classwise_calibration_error : the same per class, averaged.
    reliability_bins : the per-bin statistics.

    References
    ----------
    .. [1] C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger, "On Calibration of
           Modern Neural Networks", ICML 2017.

    Examples
    --------
    Two samples predicted with confidence 0.9, one right and one wrong:

    >>> from focalentropy.calibration import expected_calibration_error
    >>> probs = [[0.9, 0.1], [0.1, 0.9]]
    >>> round(expected_calibration_error(probs, [0, 0]), 12)
    0.4
    """
    n_bins = _check_binning(n_bins, binning, norm)
    p, y = _probs_and_labels(probs, labels)
    return _calibration_error(*_top_label(p, y), n_bins, binning, norm)


def classwise_calibration_error(
    probs: ArrayLike,
    labels: ArrayLike,
    *,
    n_bins: int = 15,
    binning: Literal["uniform", "quantile"] = "uniform",
    norm: Literal["l1", "l2", "max"] = "l1",
) -> float:
    r"""Classwise expected calibration error, averaged over the classes.

    For each class ``k`` the probabilities ``p_{ik}`` of all samples are
    binned and compared with the frequency of ``y_i = k``:

    .. math::

        \mathrm{cwECE} = \frac{1}{K} \sum_{k=1}^{K} \sum_{b} \frac{|B_{kb}|}{n}
            \Big| \overline{1[y = k]}_{B_{kb}} - \overline{p_k}_{B_{kb}} \Big|.

    Parameters
    ----------
    probs : array_like or torch.Tensor, shape (..., K)
        Predicted probabilities, rows summing to 1.
    labels : array_like or torch.Tensor of int, shape (...)
        True classes in ``{0, ..., K-1}``.
    n_bins : int, default 15
        Number of bins per class.
    binning : {"uniform", "quantile"}, default "uniform"
        Equal-width or equal-mass bins.
    norm : {"l1", "l2", "max"}, default "l1"
        How the per-bin gaps of each class are combined (as in
        :func:`expected_calibration_error`).

    Returns
    -------
    float
        The classwise calibration error.

    References
    ----------
    .. [1] M. Kull et al., "Beyond temperature scaling: Obtaining well-calibrated
           multi-class probabilities with Dirichlet calibration", NeurIPS 2019.

    Examples
    --------
    >>> from focalentropy.calibration import classwise_calibration_error
    >>> probs = [[0.9, 0.1], [0.1, 0.9]]
    >>> # class 0: gaps |1 - 0.9|, |1 - 0.1|; class 1: gaps |0 - 0.1|, |0 - 0.9|
    >>> round(classwise_calibration_error(probs, [0, 0], n_bins=10), 12)
    0.5
    """
    n_bins = _check_binning(n_bins, binning, norm)
    return _classwise(*_probs_and_labels(probs, labels), n_bins, binning, norm)


def negative_log_likelihood(probs: ArrayLike, labels: ArrayLike) -> float:
    r"""Mean negative log-likelihood ``-(1/n) sum_i log p_{i, y_i}``.

    It is the Shannon cross-entropy of the labels relative to the model, the
    ``gamma = 0`` case of the focal cross-entropy. A zero probability on an
    observed class gives ``inf``.

    Parameters
    ----------
    probs : array_like or torch.Tensor, shape (..., K)
        Predicted probabilities, rows summing to 1.
    labels : array_like or torch.Tensor of int, shape (...)
        True classes in ``{0, ..., K-1}``.

    Returns
    -------
    float
        The mean NLL (natural logarithm), in ``[0, inf]``.

    Examples
    --------
    >>> import numpy as np
    >>> from focalentropy.calibration import negative_log_likelihood
    >>> bool(np.isclose(negative_log_likelihood([[0.5, 0.5], [0.2, 0.8]], [0, 1]),
    ...                 -(np.log(0.5) + np.log(0.8)) / 2))
    True
    """
    return _nll(*_probs_and_labels(probs, labels))


def brier_score(probs: ArrayLike, labels: ArrayLike) -> float:
    r"""Multi-class Brier score ``(1/n) sum_i sum_k (p_{ik} - 1[y_i = k])^2``.

    The original definition of Brier (1950), in ``[0, 2]``; for two classes
    it is twice the usual binary Brier score of the positive class.

    Parameters
    ----------
    probs : array_like or torch.Tensor, shape (..., K)
        Predicted probabilities, rows summing to 1.
    labels : array_like or torch.Tensor of int, shape (...)
        True classes in ``{0, ..., K-1}``.

    Returns
    -------
    float
        The mean squared error to the one-hot labels.

    Examples
    --------
    >>> from focalentropy.calibration import brier_score
    >>> round(brier_score([[0.7, 0.2, 0.1]], [0]), 12)  # 0.3^2 + 0.2^2 + 0.1^2
    0.14
    """
    return _brier(*_probs_and_labels(probs, labels))


def accuracy(probs: ArrayLike, labels: ArrayLike) -> float:
    """Fraction of samples whose most probable class is the label.

    Parameters
    ----------
    probs : array_like or torch.Tensor, shape (..., K)
        Predicted probabilities, rows summing to 1.
    labels : array_like or torch.Tensor of int, shape (...)
        True classes in ``{0, ..., K-1}``.

    Returns
    -------
    float

    Examples
    --------
    >>> from focalentropy.calibration import accuracy
    >>> accuracy([[0.6, 0.4], [0.3, 0.7]], [0, 0])
    0.5
    """
    return _accuracy(*_probs_and_labels(probs, labels))


def calibration_report(
    probs: ArrayLike, labels: ArrayLike, *, n_bins: int = 15
) -> dict[str, float]:
    """All metrics of this module in one dictionary.

    Parameters
    ----------
    probs : array_like or torch.Tensor, shape (..., K)
        Predicted probabilities, rows summing to 1.
    labels : array_like or torch.Tensor of int, shape (...)
        True classes in ``{0, ..., K-1}``.
    n_bins : int, default 15
        Number of bins of the calibration errors.

    Returns
    -------
    dict
        Keys ``accuracy``, ``ece`` (equal-width), ``ece_quantile``
        (equal-mass), ``classwise_ece``, ``nll``, ``brier``.

    Examples
    --------
    >>> from focalentropy.calibration import calibration_report
    >>> sorted(calibration_report([[0.6, 0.4], [0.3, 0.7]], [0, 1]))
    ['accuracy', 'brier', 'classwise_ece', 'ece', 'ece_quantile', 'nll']
    """
    n_bins = _check_binning(n_bins, "uniform")
    p, y = _probs_and_labels(probs, labels)
    conf, hit = _top_label(p, y)
    return {
        "accuracy": _accuracy(p, y),
        "ece": _calibration_error(conf, hit, n_bins, "uniform", "l1"),
        "ece_quantile": _calibration_error(conf, hit, n_bins, "quantile", "l1"),
        "classwise_ece": _classwise(p, y, n_bins, "uniform", "l1"),
        "nll": _nll(p, y),
        "brier": _brier(p, y),
    }
