"""The public focal losses: argument checks, target handling, then the kernel."""

from __future__ import annotations

import numbers
from typing import NamedTuple

import torch
from torch import Tensor

from ._checks import (
    Reduction,
    autocast_off,
    check_class_weight,
    check_floating,
    check_gamma,
    check_ignore_index,
    check_label_smoothing,
    check_reduction,
    check_softmax_target,
    check_tensor,
    compiling_plain_autograd,
    execution_mode,
    host_checks,
    require_all,
    tracing,
)
from ._sigmoid import SigmoidFocal, SigmoidFocalTraced, elementwise_traceable
from ._softmax import softmax_focal
from ._targets import softmax_targets


def _on_device(value: Tensor, x: Tensor, name: str) -> Tensor:
    """A parameter tensor on ``x``'s device: 0-dim tensors move (like Python scalars)."""
    if value.device == x.device:
        return value
    if value.dim() == 0:
        return value.to(x.device)
    raise ValueError(
        f"`{name}` is on device {value.device} but the input is on {x.device}; "
        f"move it with `{name}.to(input.device)`"
    )


def _per_sample_gamma(
    gamma: float | Tensor, sample_shape: tuple[int, ...], dtype: torch.dtype, name: str = "gamma"
) -> float | Tensor:
    """A tensor gamma broadcast to the per-sample shape (a view), in the compute dtype."""
    if not isinstance(gamma, Tensor):
        return gamma
    try:
        return torch.broadcast_to(gamma.to(dtype), sample_shape)
    except RuntimeError:
        raise ValueError(
            f"`{name}` of shape {tuple(gamma.shape)} does not broadcast to the per-sample "
            f"loss shape {sample_shape}"
        ) from None


def focal_loss(
    input: Tensor,
    target: Tensor,
    gamma: float | Tensor = 2.0,
    *,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
) -> Tensor:
    r"""Softmax focal loss with the conventions of ``F.cross_entropy``.

    For logits ``z`` (class axis 1), ``p = softmax(z)`` and target class
    ``y`` the per-sample loss is

    .. math:: \ell = -w_y (1 - p_y)^\gamma \log p_y ,

    and for class probabilities ``t`` it is
    ``-sum_c w_c t_c (1 - p_c)^gamma log p_c``, the sample version of the
    focal cross-entropy ``H_gamma(P, Q)``, minimized over ``Q`` by
    ``focalentropy.minimizer(P, gamma, alpha=weight)``. With ``gamma = 0``
    it equals ``F.cross_entropy`` for every option, in value and gradient.

    Parameters
    ----------
    input : Tensor
        Logits of shape (C,), (N, C) or (N, C, d1, ..., dk).
    target : Tensor
        Class indices (integer dtype) of shape (), (N,) or (N, d1, ..., dk),
        values in ``[0, C)`` or ``ignore_index``; or class probabilities
        (floating dtype) of the shape of ``input``.
    gamma : float or Tensor, default 2.0
        Focusing parameter, ``gamma >= 0``. A tensor broadcastable to the
        per-sample loss shape (N, d1, ..., dk) gives every sample its own
        gamma (sample-dependent schedules such as FLSD-53); standard
        broadcasting aligns trailing axes, so per-sample values for
        K-dimensional inputs have shape (N, 1, ..., 1).
    weight : Tensor of shape (C,), optional
        Per-class weights ``w_c`` (the multi-class ``alpha``).
    reduction : {"mean", "sum", "none"}, default "mean"
        ``"mean"`` divides the sum by the total weight ``sum_n w_{y_n}`` of
        the non-ignored samples for class indices, and by the number of
        samples ``N d1 ... dk`` for class probabilities, as cross_entropy.
    ignore_index : int, default -100
        Target value that contributes neither loss nor gradient (class
        indices only).
    label_smoothing : float in [0, 1], default 0.0
        Mixes the target with the uniform distribution:
        ``t = (1 - eps) onehot(y) + eps / C``, exactly as cross_entropy
        (weights multiply each class's term).

    Returns
    -------
    Tensor
        Scalar, or shape (N, d1, ..., dk) for ``reduction="none"``; in the
        input's dtype (float32 for float16/bfloat16 input under autocast,
        like cross_entropy).

    Raises
    ------
    ValueError
        A class index outside ``[0, C)`` (other than ``ignore_index``),
        naming the value and its index. Only CPU tensors in eager mode are
        read for this; on CUDA and under ``torch.compile``/``torch.export``
        the check is an asynchronous device-side assertion (as
        ``F.cross_entropy``'s), so the loss never synchronizes with the host.

    Notes
    -----
    The gradient is ``sum_c t_c w_c G(p_c) (p - onehot(c))`` with
    ``G(p) = (1-p)^gamma - gamma p (1-p)^(gamma-1) log p`` bounded in
    ``[0, G_max]``: focal loss is cross-entropy with every sample's gradient
    rescaled. Values and derivatives of every order are computed from exact
    ``log p`` and ``log(1 - p)`` (a log-sum-exp of the other classes), so
    they are finite and correct for every ``gamma >= 0`` and every finite
    logit, including ``0 < gamma < 1`` at saturated logits where autograd
    through ``(1 - p)**gamma`` returns NaN.

    It works wherever ``F.cross_entropy`` does: ``torch.compile`` (also
    ``fullgraph=True`` and ``dynamic=True``), ``torch.func`` (``grad``,
    ``vmap``, ``jacrev``, ``jvp``), double backward (Hessian-vector
    products, gradient penalties), ``torch.export``, FakeTensor and the meta
    device, CUDA without host synchronization. In eager mode a custom
    kernel saves one (N, C) tensor (as cross-entropy does), per-sample
    vectors and a reference to the input, which the double backward
    differentiates (so, unlike cross-entropy, the logits must not be
    modified in place before ``backward``); elsewhere the same formula runs
    as plain differentiable operations.

    Infinite logits give what cross-entropy gives: a ``-inf`` logit of
    another class drops out; a ``-inf`` target logit gives an infinite loss
    with cross-entropy's finite gradient; ``+inf`` logits give NaN.
    Inputs in float16/bfloat16 are computed in float32.

    Examples
    --------
    >>> import torch
    >>> import torch.nn.functional as F
    >>> from focalentropy.torch import focal_loss
    >>> z = torch.tensor([[2.0, 0.5, -1.0], [0.0, 3.0, 0.0]], requires_grad=True)
    >>> y = torch.tensor([0, 2])
    >>> torch.allclose(focal_loss(z, y, gamma=0.0), F.cross_entropy(z, y))
    True
    >>> p_y = torch.softmax(z, 1)[[0, 1], y]
    >>> torch.allclose(focal_loss(z, y, reduction="none"), -(1 - p_y) ** 2 * p_y.log())
    True
    >>> big = torch.tensor([[1e4, 0.0]], requires_grad=True)
    >>> focal_loss(big, torch.tensor([0]), gamma=0.5).backward()
    >>> bool(torch.isfinite(big.grad).all())
    True
    """
    args = _check_softmax_args(
        input, target, gamma, weight, reduction, ignore_index, label_smoothing
    )
    traced, host = execution_mode(args.input, args.target)
    autocast_on, ctx = autocast_off(input)
    with ctx:
        z = args.input.to(args.dtype)
        targets = softmax_targets(
            z, args.target, args.soft, args.weight, args.ignore_index, args.label_smoothing, host
        )
        out = softmax_focal(z, args.gamma, targets, args.reduction, host, traced)
    if args.unbatched and args.reduction == "none":
        out = out.squeeze(0)
    return _in_dtype_of(out, input, autocast_on)


# ---------------------------------------------------------------------------
# focal_loss: argument checks and assembly
# ---------------------------------------------------------------------------


class _SoftmaxArgs(NamedTuple):
    """The checked arguments of :func:`focal_loss`, batched: class axis 1."""

    input: Tensor  # (N, C, *), the caller's dtype
    target: Tensor  # (N, *) class indices or (N, C, *) probabilities
    gamma: float | Tensor  # a float, or an (N, 1, *) tensor in the compute dtype
    weight: Tensor | None  # (C,) in the compute dtype
    reduction: Reduction
    ignore_index: int
    label_smoothing: float
    dtype: torch.dtype  # the compute dtype
    soft: bool  # class probabilities rather than indices
    unbatched: bool  # the input had shape (C,)


def _check_softmax_args(
    input: object,
    target: object,
    gamma: object,
    weight: object,
    reduction: object,
    ignore_index: object,
    label_smoothing: object,
) -> _SoftmaxArgs:
    """Every argument check of :func:`focal_loss`; an unbatched input gains its batch axis."""
    input = check_tensor(input, "input")
    target = check_tensor(target, "target")
    g = check_gamma(gamma)
    checked_reduction = check_reduction(reduction)
    eps = check_label_smoothing(label_smoothing)
    checked_ignore_index = check_ignore_index(ignore_index)
    if input.dim() == 0:
        raise ValueError("`input` must have a class dimension: shape (C,), (N, C) or (N, C, ...)")
    dtype = check_floating(input, "input")
    soft = check_softmax_target(input, target)
    unbatched = input.dim() == 1
    if unbatched:
        input, target = input.unsqueeze(0), target.unsqueeze(0)
    n_classes = input.shape[1]
    if n_classes == 0:
        raise ValueError(f"`input` must have at least one class, got shape {tuple(input.shape)}")
    checked_weight = check_class_weight(weight, n_classes, dtype)
    g = _softmax_gamma(g, input, dtype)
    return _SoftmaxArgs(
        input, target, g, checked_weight, checked_reduction, checked_ignore_index, eps, dtype,
        soft, unbatched,
    )  # fmt: skip


def _softmax_gamma(g: float | Tensor, input: Tensor, dtype: torch.dtype) -> float | Tensor:
    """A float as it is; a tensor on ``input``'s device, broadcast to (N, 1, d1, ..., dk)."""
    if not isinstance(g, Tensor):
        return g
    g = _on_device(g, input, "gamma")
    per_sample = _per_sample_gamma(g, (input.shape[0], *input.shape[2:]), dtype)
    return per_sample.unsqueeze(1) if isinstance(per_sample, Tensor) else per_sample


def _in_dtype_of(out: Tensor, input: Tensor, autocast_on: bool) -> Tensor:
    """The loss in the input's dtype (left in the compute dtype under autocast)."""
    return out if autocast_on else out.to(input.dtype)


# ---------------------------------------------------------------------------
# sigmoid_focal_loss
# ---------------------------------------------------------------------------


def _check_sigmoid_alpha(
    alpha: object, inputs: Tensor, dtype: torch.dtype
) -> float | Tensor | None:
    """None (no weighting), a float in [0, 1], or a tensor broadcast to ``inputs``."""
    if alpha is None:
        return None
    if isinstance(alpha, Tensor):
        return _check_alpha_tensor(alpha, inputs, dtype)
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(
            f"`alpha` must be a real number, a tensor or None, got {type(alpha).__name__}"
        )
    value = float(alpha)
    if not value <= 1:  # also NaN
        raise ValueError(f"`alpha` must be <= 1 (negative disables weighting), got {alpha}")
    return value if value >= 0 else None


def _check_alpha_tensor(alpha: Tensor, inputs: Tensor, dtype: torch.dtype) -> Tensor:
    """A floating alpha tensor in [0, 1], broadcast to ``inputs`` (a view) in ``dtype``."""
    if not alpha.is_floating_point():
        raise TypeError(f"`alpha` must be a floating tensor, got dtype {alpha.dtype}")
    alpha = _on_device(alpha, inputs, "alpha")
    try:
        a = torch.broadcast_to(alpha.to(dtype), inputs.shape)
    except RuntimeError:
        raise ValueError(
            f"`alpha` of shape {tuple(alpha.shape)} does not broadcast to `inputs` of shape "
            f"{tuple(inputs.shape)} (a per-class alpha for (N, C) inputs has shape (C,))"
        ) from None
    require_all(
        (alpha >= 0) & (alpha <= 1),
        host_checks(alpha),
        lambda at: f"`alpha` must lie in [0, 1], got {alpha[at].item()} at {at}",
        "sigmoid_focal_loss: alpha must lie in [0, 1]",
    )
    return a


def sigmoid_focal_loss(
    inputs: Tensor,
    targets: Tensor,
    alpha: float | Tensor | None = 0.25,
    gamma: float | Tensor = 2.0,
    reduction: Reduction = "none",
) -> Tensor:
    r"""Sigmoid (one-vs-rest, RetinaNet) focal loss, exact for every gamma.

    With ``p = sigmoid(inputs)``, targets ``t`` in ``[0, 1]`` and
    ``l(q) = -(1 - q)^gamma log q`` the elementwise loss is

    .. math:: \alpha\, t\, l(p) + (1 - \alpha) (1 - t)\, l(1 - p),

    which for 0/1 targets is ``torchvision.ops.sigmoid_focal_loss`` (same
    signature, defaults and values; torchvision is not needed). ``alpha < 0``
    (conventionally -1) or None disables the weighting (both weights 1).

    Parameters
    ----------
    inputs : Tensor
        Logits, any shape.
    targets : Tensor
        Same shape as ``inputs``: binary labels, or probabilities in [0, 1].
    alpha : float, Tensor or None, default 0.25
        Weight of the positive term in ``[0, 1]``; negative or None: none. A
        tensor broadcastable to ``inputs`` gives per-class weights
        (multi-label: shape (C,) for inputs of shape (N, C)).
    gamma : float or Tensor, default 2.0
        Focusing parameter, ``gamma >= 0``; a tensor broadcastable to
        ``inputs`` gives per-element (per-sample) values.
    reduction : {"none", "mean", "sum"}, default "none"
        Mean or sum over all elements, or the elementwise loss.

    Returns
    -------
    Tensor
        Shape of ``inputs`` for ``"none"``, else a scalar; in the input dtype
        (computed in float32 for float16/bfloat16).

    Notes
    -----
    For soft targets this two-term form is the population loss of the
    sigmoid focal entropy: its minimizer solves ``alpha t phi(q) =
    (1-alpha)(1-t) phi(1-q)`` (``focalentropy.minimizer(t, gamma,
    alpha=alpha, kind="sigmoid")``), and is inverted by ``recover``.
    torchvision's form ``alpha_t (1 - p_t)^gamma BCE(t, p)`` with
    ``p_t = p t + (1-p)(1-t)`` is a different loss with a different
    minimizer: for ``t = 0.7`` and ``gamma = 2`` the minimizer here is
    ``q = 0.4765`` (``alpha = 0.25``) and ``q = 0.5785`` (``alpha = -1``);
    torchvision's is ``q = 0.8777`` for both, a prediction far more
    confident than the target.

    The gradient ``-alpha t G(p)(1-p) + (1-alpha)(1-t) G(1-p) p`` with
    ``G(q) = (1-q)^gamma (1 + gamma q (-log q)/(1-q))`` is formed from
    ``softplus(+-x)`` directly, so values and derivatives of every order
    are finite for every finite logit, ``0 < gamma < 1`` included. Infinite
    logits give the binary cross-entropy's gradients (``+inf`` with ``t =
    0``: an infinite loss). The eager kernel works in blocks and saves only
    its inputs, so the peak extra memory of forward and backward is about
    twice the input's; compile, export, ``torch.func`` and double backward
    work as for :func:`focal_loss`.

    Examples
    --------
    >>> import torch
    >>> from focalentropy.torch import sigmoid_focal_loss
    >>> x = torch.tensor([3.0, -1.0, 20.0], requires_grad=True)
    >>> t = torch.tensor([1.0, 0.0, 1.0])
    >>> p = torch.sigmoid(x)
    >>> ref = -0.25 * (1 - p[0]) ** 2 * p[0].log()
    >>> torch.allclose(sigmoid_focal_loss(x, t)[0], ref)
    True
    >>> sigmoid_focal_loss(x, t, gamma=0.5, reduction="sum").backward()
    >>> bool(torch.isfinite(x.grad).all())
    True
    """
    g, a, reduction, dtype = _check_sigmoid_args(inputs, targets, alpha, gamma, reduction)
    autocast_on, ctx = autocast_off(inputs)
    with ctx:
        x, t = inputs.to(dtype), targets.to(dtype)
        if isinstance(g, Tensor) or tracing(x, t):
            loss = _sigmoid_traced(x, t, g, a, reduction)
        else:
            loss = _sigmoid_eager(x, t, g, a, reduction)
    return _in_dtype_of(loss, inputs, autocast_on)


def _check_sigmoid_args(
    inputs: Tensor, targets: Tensor, alpha: object, gamma: object, reduction: object
) -> tuple[float | Tensor, float | Tensor | None, Reduction, torch.dtype]:
    """Every argument check of :func:`sigmoid_focal_loss`: ``(gamma, alpha, reduction, dtype)``.

    A tensor gamma or alpha comes back on the input's device, broadcast to its
    shape, in the compute dtype ``dtype``.
    """
    inputs = check_tensor(inputs, "inputs")
    targets = check_tensor(targets, "targets")
    g = check_gamma(gamma)
    checked_reduction = check_reduction(reduction)
    dtype = check_floating(inputs, "inputs")
    if targets.shape != inputs.shape:
        raise ValueError(
            f"`targets` must have the shape of `inputs` {tuple(inputs.shape)}, "
            f"got {tuple(targets.shape)}"
        )
    if targets.is_complex():
        raise TypeError(f"`targets` must be real, got dtype {targets.dtype}")
    a = _check_sigmoid_alpha(alpha, inputs, dtype)
    if isinstance(g, Tensor):
        g = _on_device(g, inputs, "gamma")
    g = _per_sample_gamma(g, tuple(inputs.shape), dtype)
    return g, a, checked_reduction, dtype


def _sigmoid_traced(
    x: Tensor, t: Tensor, g: float | Tensor, a: float | Tensor | None, reduction: Reduction
) -> Tensor:
    """The traceable evaluation (compile, torch.func, forward AD, fake/meta, tensor gamma)."""
    if compiling_plain_autograd() and not isinstance(g, Tensor):
        loss = SigmoidFocalTraced.apply(x, t, g, a)  # fused explicit backward
    else:  # torch.func, forward mode, fake/meta, per-element gamma
        loss = elementwise_traceable(x, t, g, a)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _sigmoid_eager(
    x: Tensor, t: Tensor, g: float, a: float | Tensor | None, reduction: Reduction
) -> Tensor:
    """The blocked eager kernel; it sums in the kernel for ``"mean"`` and ``"sum"``."""
    if reduction == "none":
        return SigmoidFocal.apply(x, t, g, a, False)
    loss = SigmoidFocal.apply(x, t, g, a, True)
    return loss / x.numel() if reduction == "mean" else loss
