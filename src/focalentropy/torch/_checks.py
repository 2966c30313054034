"""Argument checks of the PyTorch losses, run once at the public entry points.

Value checks that would read tensor data are split in two: where reading is
free (CPU tensors in eager mode) they raise a ``ValueError`` naming the value
and its index; everywhere else (CUDA, ``torch.compile``, ``torch.export``,
FakeTensor, the meta device, ``torch.func``) they are asynchronous
device-side assertions with a generic message, as ``F.cross_entropy`` does,
so that no call ever synchronizes the device with the host.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Callable
from typing import Any, Literal, cast

import torch
from torch import Tensor
from torch._subclasses.fake_tensor import is_fake

REDUCTIONS = ("mean", "sum", "none")
#: the ``reduction`` argument of the losses
Reduction = Literal["mean", "sum", "none"]


def tracing(*tensors: Tensor) -> bool:
    """True where tensor data cannot (or must not) be read on the host.

    Under ``torch.compile``/``torch.export``, inside ``torch.func``
    transforms or forward-mode AD, and for FakeTensor or meta tensors. The
    losses then run their traceable formula (plain differentiable ops).
    """
    if torch.compiler.is_compiling() or torch._C._are_functorch_transforms_active():
        return True
    if torch.autograd.forward_ad._current_level >= 0:
        return True
    return any(t.device.type == "meta" or is_fake(t) for t in tensors)


def compiling_plain_autograd() -> bool:
    """True while torch.compile traces with no torch.func transform and no forward-mode AD
    around the loss: there the losses' compiled Functions (explicit backward, no vmap or jvp
    rule of their own under the compiler) may run."""
    return (
        torch.compiler.is_compiling()
        and not torch._C._are_functorch_transforms_active()
        and torch.autograd.forward_ad._current_level < 0
    )


def host_checks(*tensors: Tensor) -> bool:
    """True when data-dependent checks cost no device sync: CPU, eager, real data."""
    return execution_mode(*tensors)[1]


def execution_mode(*tensors: Tensor) -> tuple[bool, bool]:
    """``(tracing(*tensors), host_checks(*tensors))`` from one evaluation of each check."""
    traced = tracing(*tensors)
    return traced, not traced and all(t.device.type == "cpu" for t in tensors)


def assert_async(condition: Tensor, message: str) -> None:
    """A device-side assertion of ``condition`` (a bool tensor): no host sync.

    Inside ``torch.func`` transforms, where ``_assert_async`` has no batching
    rule, an ``index_select`` out of range raises instead (on the CPU
    at once, on CUDA as a device-side assertion), with torch's generic message.
    """
    if torch._C._are_functorch_transforms_active():
        flag = (~condition).to(torch.long).reshape(1)
        torch.zeros(1, device=condition.device).index_select(0, flag)
    else:
        torch._assert_async(condition, message)


def first_index(mask: Tensor) -> int | tuple[int, ...]:
    """The first True position of a CPU bool tensor (a scalar index for 1-D)."""
    index = tuple(int(i) for i in mask.nonzero()[0])
    return index[0] if len(index) == 1 else index


def check_tensor(x: object, name: str) -> Tensor:
    """``x`` itself if it is a tensor, else a ``TypeError`` naming the argument."""
    if not isinstance(x, Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor, got {type(x).__name__}")
    return x


def check_floating(x: Tensor, name: str) -> torch.dtype:
    """The compute dtype: float32 for half/bfloat16 (as cross_entropy inside), else x's."""
    if not x.is_floating_point():
        raise TypeError(f"`{name}` must be a floating-point tensor, got dtype {x.dtype}")
    if x.dtype in (torch.float16, torch.bfloat16):
        return torch.float32
    return x.dtype


def check_gamma(gamma: object) -> float | Tensor:
    """A Python float, or a floating tensor (per-sample focusing), checked >= 0 and finite."""
    if isinstance(gamma, Tensor):
        if not gamma.is_floating_point():
            raise TypeError(
                f"`gamma` must be a real number or a floating tensor, got {gamma.dtype}"
            )
        require_all(
            torch.isfinite(gamma) & (gamma >= 0),
            host_checks(gamma),
            lambda at: (
                f"`gamma` must be finite and >= 0, got {gamma[at].item()}"
                + (f" at index {at}" if gamma.dim() else "")
            ),
            "gamma must be >= 0",
        )
        return gamma
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real):
        raise TypeError(f"`gamma` must be a real number or a tensor, got {type(gamma).__name__}")
    g = float(gamma)
    if not (0 <= g < math.inf):  # comparisons, not math.isfinite: g may be symbolic
        raise ValueError(f"`gamma` must be a finite number >= 0, got {g}")
    return g


def check_reduction(reduction: object) -> Reduction:
    """One of ``"mean"``, ``"sum"``, ``"none"``."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"`reduction` must be one of {REDUCTIONS}, got {reduction!r}")
    return cast(Reduction, reduction)


def check_label_smoothing(label_smoothing: object) -> float:
    """A real number in [0, 1], as a float."""
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real):
        raise TypeError(
            f"`label_smoothing` must be a real number, got {type(label_smoothing).__name__}"
        )
    eps = float(label_smoothing)
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"`label_smoothing` must lie in [0, 1], got {eps}")
    return eps


def check_ignore_index(ignore_index: object) -> int:
    """An integer (not a bool), as an int."""
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
        raise TypeError(f"`ignore_index` must be an integer, got {type(ignore_index).__name__}")
    return int(ignore_index)


def check_class_weight(weight: object, n_classes: int, dtype: torch.dtype) -> Tensor | None:
    """None, or a floating (C,) tensor of per-class weights converted to ``dtype``."""
    if weight is None:
        return None
    weight = check_tensor(weight, "weight")
    if not weight.is_floating_point():
        raise TypeError(f"`weight` must be a floating-point tensor, got dtype {weight.dtype}")
    if weight.dim() != 1 or weight.shape[0] != n_classes:
        raise ValueError(
            f"`weight` must have shape ({n_classes},), one weight per class, "
            f"got {tuple(weight.shape)}"
        )
    return weight.to(dtype)


def check_softmax_target(input: Tensor, target: Tensor) -> bool:
    """Validate the target's dtype and shape; True for class-probability (soft) targets."""
    if target.is_floating_point():
        if target.shape != input.shape:
            raise ValueError(
                "`target` with class probabilities must have the shape of `input` "
                f"{tuple(input.shape)}, got {tuple(target.shape)}"
            )
        return True
    if target.dtype == torch.bool or target.is_complex():
        raise TypeError(
            "`target` must hold integer class indices or floating class probabilities, "
            f"got dtype {target.dtype}"
        )
    expected = (input.shape[0], *input.shape[2:]) if input.dim() > 1 else ()
    if tuple(target.shape) != tuple(expected):
        raise ValueError(
            f"`target` with class indices must have shape {tuple(expected)} for `input` of "
            f"shape {tuple(input.shape)} (class axis 1), got {tuple(target.shape)}"
        )
    return False


def require_all(
    ok: Tensor, host: bool, describe: Callable[[Any], str], device_message: str
) -> None:
    """Every entry of the bool tensor ``ok`` holds, else an error.

    On the host (CPU eager, where reading data is free) a ``ValueError`` with
    ``describe(first_bad_index)``; elsewhere an asynchronous device-side
    assertion with ``device_message`` (no host sync). ``ok`` is written as
    "all good" rather than "any bad": that form fuses with the ops around it
    in compiled code (the "any bad" form of the target check cost ~15% of the
    compiled loss at 10 classes).
    """
    if host:
        if not bool(ok.all()):
            raise ValueError(describe(first_index(~ok)))
    else:
        assert_async(ok.all(), device_message)


def check_class_indices(
    target: Tensor, valid: Tensor, n_classes: int, ignore_index: int, host: bool
) -> None:
    """Every non-ignored target is a class index in ``[0, n_classes)``."""
    require_all(
        ((target >= 0) & (target < n_classes)) | ~valid,
        host,
        lambda at: (
            f"`target` must hold class indices in [0, {n_classes}) or `ignore_index` "
            f"({ignore_index}); found {int(target[at])} at index {at}"
        ),
        "focal_loss: target class index out of bounds",
    )


def autocast_off(x: Tensor) -> tuple[bool, contextlib.AbstractContextManager[Any]]:
    """``(was_enabled, context)``: autocast disabled for x's device (we upcast ourselves)."""
    device_type = x.device.type
    try:
        enabled = torch.is_autocast_enabled(device_type)
    except (RuntimeError, TypeError):  # pragma: no cover - device without autocast
        enabled = False
    if enabled:
        return enabled, torch.autocast(device_type=device_type, enabled=False)
    return enabled, contextlib.nullcontext()
