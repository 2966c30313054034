"""Double backward of the eager kernels: differentiate the traceable formula instead.

A custom ``autograd.Function`` cannot know at forward time whether
``create_graph=True`` will follow. Its backward therefore checks
``torch.is_grad_enabled()`` and, when a graph is being built, returns the
gradients of the (mathematically identical) traceable formula, recomputed
from the saved inputs, as differentiable functions of those inputs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def differentiable_grads(
    loss_fn: Callable[[], Tensor], wanted: list[tuple[int, Tensor]], grad: Tensor, n_inputs: int
) -> tuple:
    """``backward``'s return value: d(loss_fn())/d(input) for the ``(position, input)`` pairs."""
    with torch.enable_grad():
        loss = loss_fn()
        grads = torch.autograd.grad(
            loss, [t for _, t in wanted], grad, create_graph=True, allow_unused=True
        )
    out: list[Tensor | None] = [None] * n_inputs
    for (i, t), g in zip(wanted, grads, strict=True):
        out[i] = torch.zeros_like(t) if g is None else g
    return tuple(out)
