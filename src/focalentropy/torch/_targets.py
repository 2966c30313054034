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
    n_classes = z.shape[1]
    dtype, device = z.dtype, z.device
    class_shape = (1, n_classes) + (1,) * (z.dim() - 2)
    eps = label_smoothing
    if soft:
        t = target.to(dtype)
        if eps > 0:
            t = t * (1.0 - eps) + eps / n_classes
        dense_w = t if weight is None else t * weight.view(class_shape)
        return SoftmaxTargets(None, None, dense_w, None, target.numel() // n_classes)

    target = target.long()
    valid = target != ignore_index
    needs_mask = True
    if host and not (0 <= ignore_index < n_classes) and target.numel():
        lo, hi = torch.aminmax(target)
        needs_mask = not (int(lo) >= 0 and int(hi) < n_classes)
    if needs_mask:
        check_class_indices(target, valid, n_classes, ignore_index, host)
        target = target.masked_fill(~valid, 0)
    else:
        valid = None
    if weight is not None:
        scale = weight[target]  # indexing (vmap has a batching rule for it, not for take)
        if valid is not None:
            scale = scale.masked_fill(~valid, 0.0)
    else:
        scale = None if valid is None else valid.to(dtype)
    dense_w = row_scale = None
    hard_scale = scale
    if eps > 0:
        if scale is None:
            scale = torch.ones(target.shape, dtype=dtype, device=device)
        hard_scale = scale * (1.0 - eps)
        uniform = torch.full(class_shape, eps / n_classes, dtype=dtype, device=device)
        dense_w = uniform if weight is None else uniform * weight.view(class_shape)
        row_scale = None if valid is None else valid.to(dtype)
    denominator = target.numel() if scale is None else scale.sum()
    return SoftmaxTargets(target, hard_scale, dense_w, row_scale, denominator)


def safe_mean_parts(denominator: Tensor | int):
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
