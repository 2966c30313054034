"""Target handling of the softmax focal loss: class indices, probabilities, smoothing.

Turns ``(target, weight, ignore_index, label_smoothing)`` into the two
terms the numerical kernel evaluates, exactly as ``F.cross_entropy`` weighs
them::

    loss_n = hard_scale_n * l(p_{n, index_n})
             + row_scale_n * sum_c dense_w_{n,c} * l(p_{n,c})

and the denominator of ``reduction="mean"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ._checks import check_class_indices


@dataclass(frozen=True)
class SoftmaxTargets:
    """The weighted terms of a softmax focal loss (see the module docstring).

    ``index`` (N, *) holds class indices (ignored entries replaced by 0),
    ``hard_scale`` and ``row_scale`` (N, *) per-sample factors (None: 1),
    ``dense_w`` (1 or N, C, *) the per-class weights of the dense term
    (None: no dense term), ``denominator`` the divisor of the mean.
    """

    index: Tensor | None
    hard_scale: Tensor | None
    dense_w: Tensor | None
    row_scale: Tensor | None
    denominator: Tensor | int


def softmax_targets(
    z: Tensor,
    target: Tensor,
    soft: bool,
    weight: Tensor | None,
    ignore_index: int,
    label_smoothing: float,
    host: bool,
) -> SoftmaxTargets:
    """Build :class:`SoftmaxTargets` for logits ``z`` (N, C, *), class axis 1.

    ``host`` allows data-dependent checks (CPU eager): invalid class indices
    raise a ``ValueError`` naming value and index, and batches without
    ignored targets skip the mask. Otherwise the checks are asynchronous and
    the mask is always built (no host synchronization).
    """
    if soft:
        return soft_targets(z, target, weight, label_smoothing)
    index, valid = checked_indices(target, z.shape[1], ignore_index, host)
    if label_smoothing > 0:
        return smoothed_targets(z, index, valid, weight, label_smoothing)
    return index_targets(z, index, valid, weight)


def _class_shape(z: Tensor) -> tuple[int, ...]:
    """``(1, C, 1, ..., 1)``: a per-class vector broadcast against ``z``."""
    return (1, z.shape[1]) + (1,) * (z.dim() - 2)


def soft_targets(
    z: Tensor, target: Tensor, weight: Tensor | None, label_smoothing: float
) -> SoftmaxTargets:
    """Class probabilities (N, C, *): only the dense term, mean over the samples."""
    n_classes = z.shape[1]
    t = target.to(z.dtype)
    if label_smoothing > 0:
        t = t * (1.0 - label_smoothing) + label_smoothing / n_classes
    dense_w = t if weight is None else t * weight.view(_class_shape(z))
    return SoftmaxTargets(None, None, dense_w, None, target.numel() // n_classes)


def checked_indices(
    target: Tensor, n_classes: int, ignore_index: int, host: bool
) -> tuple[Tensor, Tensor | None]:
    """``(index, valid)``: checked class indices (ignored entries set to 0) and their mask.

    ``valid`` is None when no entry can be ignored: on the host, when
    ``ignore_index`` is outside ``[0, C)`` and every index is in range (one
    ``aminmax``, no mask). The mask is always built off the host.
    """
    target = target.long()
    if host and not (0 <= ignore_index < n_classes) and target.numel():
        lo, hi = torch.aminmax(target)
        if int(lo) >= 0 and int(hi) < n_classes:
            return target, None
    valid = target != ignore_index
    check_class_indices(target, valid, n_classes, ignore_index, host)
    return target.masked_fill(~valid, 0), valid


def _index_scale(
    index: Tensor, valid: Tensor | None, weight: Tensor | None, dtype: torch.dtype
) -> Tensor | None:
    """Per-sample factor ``w_{y_n}`` (0 where ignored); None when every factor is 1."""
    if weight is None:
        return None if valid is None else valid.to(dtype)
    scale = weight[index]  # indexing (vmap has a batching rule for it, not for take)
    return scale if valid is None else scale.masked_fill(~valid, 0.0)


def index_targets(
    z: Tensor, index: Tensor, valid: Tensor | None, weight: Tensor | None
) -> SoftmaxTargets:
    """Class indices without smoothing: only the hard term, mean over the total weight."""
    scale = _index_scale(index, valid, weight, z.dtype)
    denominator = index.numel() if scale is None else scale.sum()
    return SoftmaxTargets(index, scale, None, None, denominator)


def smoothed_targets(
    z: Tensor, index: Tensor, valid: Tensor | None, weight: Tensor | None, label_smoothing: float
) -> SoftmaxTargets:
    """Class indices with smoothing ``eps``: ``(1 - eps) onehot(y) + eps / C``.

    The hard term is scaled by ``(1 - eps) w_y``, the dense term has the
    weights ``eps w_c / C``; the mean divides by ``sum_n w_{y_n}`` as
    ``F.cross_entropy`` does.
    """
    dtype, device = z.dtype, z.device
    scale = _index_scale(index, valid, weight, dtype)
    if scale is None:
        scale = torch.ones(index.shape, dtype=dtype, device=device)
    hard_scale = scale * (1.0 - label_smoothing)
    class_shape = _class_shape(z)
    uniform = torch.full(class_shape, label_smoothing / z.shape[1], dtype=dtype, device=device)
    dense_w = uniform if weight is None else uniform * weight.view(class_shape)
    row_scale = None if valid is None else valid.to(dtype)
    return SoftmaxTargets(index, hard_scale, dense_w, row_scale, scale.sum())


def safe_mean_parts(denominator: Tensor | int) -> tuple[Tensor | int, Tensor | None]:
    """``(divisor, offset)`` so that ``total / divisor + offset`` is the mean.

    With a zero tensor denominator (every target ignored) the value is NaN
    and the gradients are zero, as ``F.cross_entropy`` gives: dividing by
    the zero itself would turn the zero gradients into ``0 * inf = NaN``.
    """
    if not isinstance(denominator, Tensor):
        return denominator, None
    empty = denominator == 0
    divisor = torch.where(empty, torch.ones_like(denominator), denominator)
    offset = torch.where(empty, torch.nan, 0.0).to(denominator.dtype)
    return divisor, offset
