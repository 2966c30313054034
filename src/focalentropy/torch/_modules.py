"""``nn.Module`` wrappers of the focal losses (drop-ins for the cross-entropy modules)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor, nn

from ._checks import (
    Reduction,
    check_gamma,
    check_ignore_index,
    check_label_smoothing,
    check_reduction,
)
from ._functional import focal_loss, sigmoid_focal_loss


class FocalLoss(nn.Module):
    r"""Softmax focal loss module, a drop-in for ``nn.CrossEntropyLoss``.

    See :func:`focal_loss` for the formula, shapes and options; ``weight`` is
    registered as a buffer (it follows ``.to(device)``).

    Examples
    --------
    >>> import torch
    >>> from focalentropy.torch import FocalLoss
    >>> criterion = FocalLoss(gamma=2.0, label_smoothing=0.1)
    >>> z = torch.randn(8, 5, requires_grad=True)
    >>> criterion(z, torch.randint(5, (8,))).backward()
    >>> z.grad.shape
    torch.Size([8, 5])
    """

    # attributes (``gamma`` and ``weight`` may be buffers), declared for the type checker
    gamma: float | Tensor
    weight: Tensor | None
    reduction: Reduction
    ignore_index: int
    label_smoothing: float

    def __init__(
        self,
        gamma: float | Tensor = 2.0,
        *,
        weight: Tensor | None = None,
        reduction: Reduction = "mean",
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        gamma = check_gamma(gamma)
        if isinstance(gamma, Tensor):  # follows .to(device) and is in the state_dict
            self.register_buffer("gamma", gamma)
        else:
            self.gamma = gamma
        self.reduction = check_reduction(reduction)
        self.ignore_index = check_ignore_index(ignore_index)
        self.label_smoothing = check_label_smoothing(label_smoothing)
        self.register_buffer("weight", weight)

    if TYPE_CHECKING:  # nn.Module.__call__ returns Any: calls are typed like forward

        def __call__(self, input: Tensor, target: Tensor) -> Tensor: ...

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return focal_loss(
            input,
            target,
            self.gamma,
            weight=self.weight,
            reduction=self.reduction,
            ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing,
        )

    def extra_repr(self) -> str:
        gamma = "tensor" if isinstance(self.gamma, Tensor) else self.gamma
        return f"gamma={gamma}, reduction={self.reduction!r}"


class SigmoidFocalLoss(nn.Module):
    r"""Sigmoid (RetinaNet) focal loss module; see :func:`sigmoid_focal_loss`.

    A tensor ``alpha`` (per-class weights) is registered as a buffer.

    Examples
    --------
    >>> import torch
    >>> from focalentropy.torch import SigmoidFocalLoss
    >>> criterion = SigmoidFocalLoss(alpha=0.25, gamma=2.0, reduction="sum")
    >>> criterion(torch.zeros(4), torch.tensor([1.0, 0.0, 0.0, 0.0])).ndim
    0
    """

    # attributes (tensor ``alpha`` and ``gamma`` are buffers), declared for the type checker
    alpha: float | Tensor | None
    gamma: float | Tensor
    reduction: Reduction

    def __init__(
        self,
        alpha: float | Tensor | None = 0.25,
        gamma: float | Tensor = 2.0,
        reduction: Reduction = "none",
    ) -> None:
        super().__init__()
        if isinstance(alpha, Tensor):
            self.register_buffer("alpha", alpha)
        else:
            if alpha is not None and not (isinstance(alpha, (int, float)) and alpha <= 1):
                raise ValueError(
                    f"`alpha` must be a number <= 1 (negative: no weighting), a tensor or None, "
                    f"got {alpha!r}"
                )
            self.alpha = alpha
        gamma = check_gamma(gamma)
        if isinstance(gamma, Tensor):
            self.register_buffer("gamma", gamma)
        else:
            self.gamma = gamma
        self.reduction = check_reduction(reduction)

    if TYPE_CHECKING:  # nn.Module.__call__ returns Any: calls are typed like forward

        def __call__(self, inputs: Tensor, targets: Tensor) -> Tensor: ...

    def forward(self, inputs: Tensor, targets: Tensor) -> Tensor:
        return sigmoid_focal_loss(inputs, targets, self.alpha, self.gamma, self.reduction)

    def extra_repr(self) -> str:
        alpha = "tensor" if isinstance(self.alpha, Tensor) else self.alpha
        return f"alpha={alpha}, gamma={self.gamma}, reduction={self.reduction!r}"
