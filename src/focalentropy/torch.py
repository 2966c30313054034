"""PyTorch focal losses: exact, finite, and as fast as cross-entropy.

THEORY.md sections 6 and 7. The softmax focal loss of a sample with logits
``z`` and label ``y`` is ``l(p_y) = -(1 - p_y)^gamma log p_y`` with
``p = softmax(z)``, and its gradient is cross-entropy's scaled by the bounded
weight ``G(p_y) = (1 - p_y)^gamma (1 + gamma v)``,
``v = p_y (-log p_y) / (1 - p_y)``::

    dl/dz = G(p_y) (softmax(z) - onehot(y)).

Both ``log p_y`` and ``1 - p_y`` are computed without cancellation
(``1 - p_y`` as the sum of the other classes' probabilities and
``-log p_y = log1p((1 - p_y) / p_y)``, or from a log-sum-exp of the logits
where either underflows), and the gradient is formed
from the identity above by a custom :class:`torch.autograd.Function`, so values and
gradients are exact and finite for every ``gamma >= 0`` and every finite
logit, including ``0 < gamma < 1`` at saturated logits where
``d/dp (1 - p)^gamma`` is infinite and autograd through the plain formula
returns NaN.

Importing this module imports torch; ``import focalentropy`` does not.
"""

from __future__ import annotations

import contextlib
import math
import numbers

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["FocalLoss", "SigmoidFocalLoss", "focal_loss", "sigmoid_focal_loss"]

_REDUCTIONS = ("mean", "sum", "none")
#: F.softplus switches to the identity above this; 50 keeps float64 exact
_SOFTPLUS_THRESHOLD = 50.0


# ---------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------


def _check_gamma(gamma) -> float:
    if isinstance(gamma, Tensor):
        if gamma.numel() != 1:
            raise TypeError(f"`gamma` must be a scalar, got a tensor of shape {tuple(gamma.shape)}")
        gamma = gamma.item()
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real):
        raise TypeError(f"`gamma` must be a real number, got {type(gamma).__name__}")
    g = float(gamma)
    if not (math.isfinite(g) and g >= 0):
        raise ValueError(f"`gamma` must be a finite number >= 0, got {gamma!r}")
    return g


def _check_reduction(reduction) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"`reduction` must be one of {_REDUCTIONS}, got {reduction!r}")
    return reduction


def _check_tensor(x, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor, got {type(x).__name__}")
    return x


def _compute_dtype(x: Tensor, name: str) -> torch.dtype:
    """float32 for half/bfloat16 (as cross_entropy does inside), else x's dtype."""
    if not x.is_floating_point():
        raise TypeError(f"`{name}` must be a floating-point tensor, got dtype {x.dtype}")
    if x.dtype in (torch.float16, torch.bfloat16):
        return torch.float32
    return x.dtype


def _autocast_off(x: Tensor):
    """Context that disables autocast for x's device if it is on (we upcast ourselves)."""
    device_type = x.device.type
    try:
        enabled = torch.is_autocast_enabled(device_type)
    except (RuntimeError, TypeError):  # pragma: no cover - device without autocast
        enabled = False
    if enabled:
        return enabled, torch.autocast(device_type=device_type, enabled=False)
    return enabled, contextlib.nullcontext()


def _first_bad(mask: Tensor) -> tuple[int, ...]:
    return tuple(int(i) for i in mask.nonzero()[0])


# ---------------------------------------------------------------------------
# exact per-row focal terms
# ---------------------------------------------------------------------------


def _complement(prob: Tensor, idx: Tensor, p: Tensor, restore: bool = True) -> Tensor:
    """``sum_{c != idx} prob_c`` per row, without cancellation.

    ``prob`` (N, C, *) is zeroed at ``idx`` (N, 1, *) in place, summed over
    the class axis and, if ``restore``, restored from ``p = prob.gather(1,
    idx)`` (exactly).
    """
    prob.scatter_(1, idx, torch.zeros_like(p))  # faster than a scalar value
    if prob.dim() == 2 and prob.shape[1] < 128:  # a matrix-vector product is faster here
        total = torch.mv(prob, prob.new_ones(prob.shape[1])).unsqueeze(1)
    else:
        total = prob.sum(1, keepdim=True)
    if restore:
        prob.scatter_(1, idx, p)
    return total


def _log_odds_from_logits(z: Tensor, idx: Tensor, mask: Tensor):
    """``log((1 - p_idx) / p_idx)`` for the rows in ``mask``, from the logits.

    A log-sum-exp of the other logits minus the logit at ``idx``; used for
    rows where ``1 - p`` or ``p`` underflows in ``softmax`` (logit gaps
    beyond ~70 in float32, ~650 in float64). Returns the positions and values.
    """
    where = tuple(mask.squeeze(1).nonzero().unbind(1))
    rows = z.movedim(1, -1)[where]  # (k, C) copy
    cls = idx.squeeze(1)[where].unsqueeze(1)
    z_y = rows.gather(1, cls).squeeze(1)
    rows.scatter_(1, cls, -math.inf)
    return where, torch.logsumexp(rows, 1) - z_y


def _row_terms(prob: Tensor, z: Tensor, idx: Tensor, gamma: float, restore: bool = True):
    """Exact ``-log p``, ``(1 - p)^gamma``, ``G(p)``, ``p`` and ``1 - p`` at ``idx`` (N, 1, *).

    ``prob = softmax(z)`` along axis 1. In every row ``r = 1 - p`` is the
    sum of the other probabilities and ``x = r / p`` (the sum of
    ``exp(z_c - z_idx)`` over the other classes) is accurate to a few
    rounding errors, hence so are ``-log p = log1p(x)`` and
    ``v = p (-log p) / r = log1p(x) / x`` (-> 1 as ``x -> 0``): no branch on
    ``p > 1/2``, no cancellation. Only in rows where ``r`` or ``p`` comes
    near underflow (``x`` outside ``[2 tiny/eps, eps/(2 tiny)]``, rare) are
    these recomputed from ``log x``, a log-sum-exp of the logits. Then
    ``l = r^gamma (-log p)`` and ``G = r^gamma (1 + gamma v)``; for
    ``gamma = 0`` the focus and ``G`` are returned as None (both are 1).
    ``restore=False`` allows ``prob`` to be left zero at ``idx`` entries.
    """
    p = prob.gather(1, idx)
    r = _complement(prob, idx, p, restore)
    x = r / p
    nlp = torch.log1p(x)
    where = None
    if x.numel():
        fi = torch.finfo(x.dtype)
        lo_x, hi_x = 2 * fi.tiny / fi.eps, fi.eps / (2 * fi.tiny)
        lo, hi = torch.aminmax(x)
        if not (float(lo) >= lo_x and float(hi) <= hi_x):  # also NaN
            far = (x < lo_x) | (x > hi_x)
            where, log_x = _log_odds_from_logits(z, idx, far)
            far_nlp = F.softplus(log_x, threshold=_SOFTPLUS_THRESHOLD)  # log(1 + x)
            log_r = F.softplus(-log_x, threshold=_SOFTPLUS_THRESHOLD).neg_()  # log(x / (1 + x))
            nlp.squeeze(1)[where] = far_nlp
            r.squeeze(1)[where] = torch.exp(log_r)
    if gamma == 0:
        return nlp, None, None, p, r
    focus = r.pow(gamma)
    v = nlp / x
    if where is not None:
        focus.squeeze(1)[where] = torch.exp(log_r * gamma)
        # v = log1p(x) / x: 1 to rounding where x is tiny, else -log p / x
        v.squeeze(1)[where] = (far_nlp * torch.exp(-log_x)).masked_fill_(log_x < 0, 1.0)
    return nlp, focus, torch.addcmul(focus, focus, v, value=gamma), p, r


def _dense_values(prob: Tensor, logp: Tensor, gamma: float) -> Tensor:
    """``l(p_c) = (1 - p_c)^gamma (-log p_c)`` for every class (exact for p <= 1/2)."""
    if gamma == 0:
        return -logp
    return torch.rsub(prob, 1.0).pow_(gamma).mul_(logp).neg_()


def _dense_weights(prob: Tensor, gamma: float) -> Tensor:
    """``G(p_c)`` for every class (exact for p <= 1/2; the row max is overwritten)."""
    if gamma == 0:
        return torch.ones_like(prob)
    r = torch.rsub(prob, 1.0)
    v = torch.xlogy(prob, prob).neg_().div_(r)
    return r.pow_(gamma).mul_(v.mul_(gamma).add_(1.0))


# ---------------------------------------------------------------------------
# softmax focal loss
# ---------------------------------------------------------------------------


class _SoftmaxFocal(torch.autograd.Function):
    """Per-sample softmax focal loss with the gradient identity of THEORY.md s.7.

    ``loss_n = hard_scale_n l(p_{n, target_n})
    + row_scale_n sum_c dense_w_{n,c} l(p_{n,c})``, class axis 1; returned
    per sample, or as ``sum_n loss_n / norm`` if ``norm`` is given. Saves
    the softmax (with hard targets only, overwritten by ``softmax -
    onehot``) and (N,)-sized vectors only. The gradient entry of a class
    with ``p > 1/2`` is formed from the exact ``1 - p``, not as ``p * s - s``.
    """

    @staticmethod
    def forward(ctx, z, gamma, target, hard_scale, dense_w, row_scale, norm):
        loss = idx = amax = hard_coef = hard_value = g_m = p_m = r_m = values = None
        ctx.gamma = gamma
        if dense_w is not None:
            logp = torch.log_softmax(z, 1)
            amax = logp.argmax(1, keepdim=True)
            prob = torch.exp(logp)
            values = _dense_values(prob, logp, gamma)
            del logp
        else:
            prob = torch.softmax(z, 1)
        if target is not None:
            idx = target.unsqueeze(1)
            nlp, focus, hard_coef, _, r_y = _row_terms(
                prob, z, idx, gamma, restore=dense_w is not None
            )
            if dense_w is None:
                # prob - onehot, with the exact -(1 - p_y) at the targets: the
                # gradient is then (prob - onehot) * G, a single product
                prob.scatter_(1, idx, r_y.neg_())
            need_value = ctx.needs_input_grad[3]
            if hard_scale is None and dense_w is None and norm is not None and not need_value:
                # the mean or sum of the per-sample losses in one reduction
                loss = nlp.sum() if focus is None else torch.dot(focus.reshape(-1), nlp.reshape(-1))
            else:
                hard_value = nlp if focus is None else focus.mul_(nlp)
                if hard_scale is None:
                    loss = hard_value.squeeze(1)
                else:
                    scale = hard_scale.unsqueeze(1)
                    hard_coef = scale if hard_coef is None else hard_coef.mul_(scale)
                    loss = (hard_value * scale).squeeze(1)
                if not need_value:
                    hard_value = None
            if hard_coef is None and dense_w is not None:
                hard_coef = torch.ones_like(nlp)
        if dense_w is not None:
            nlp_m, focus_m, g_m, p_m, r_m = _row_terms(prob, z, amax, gamma)
            if g_m is None:
                g_m = torch.ones_like(nlp_m)
            values.scatter_(1, amax, nlp_m if focus_m is None else focus_m.mul_(nlp_m))
            dense = (values * dense_w).sum(1)
            if row_scale is not None:
                dense = dense * row_scale
            loss = dense if loss is None else loss + dense
            if not ctx.needs_input_grad[4]:
                values = None
        ctx.save_for_backward(
            prob, idx, hard_coef, hard_value, dense_w, amax, g_m, p_m, r_m, row_scale
        )
        ctx.values = values
        ctx.norm = norm
        if norm is not None:
            loss = loss.sum() / norm
        return loss

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        saved = ctx.saved_tensors
        prob, idx, hard_coef, hard_value, dense_w, amax, g_m, p_m, r_m, row_scale = saved
        go = grad.unsqueeze(1) if ctx.norm is None else grad / ctx.norm  # (N, 1, *) or ()
        grad_z = grad_hard = grad_dense = None
        a = None
        if idx is not None:
            a = go if hard_coef is None else hard_coef * go  # hard_coef None: G = 1
        if dense_w is None:
            if ctx.needs_input_grad[0]:
                grad_z = prob * a  # prob holds softmax - onehot here
        else:
            go_rows = go if row_scale is None else go * row_scale.unsqueeze(1)
            if ctx.needs_input_grad[4]:
                grad_dense = (ctx.values * go_rows).sum_to_size(dense_w.shape)
            if ctx.needs_input_grad[0]:
                # u_c = t_c G(p_c); grad = p sum(u) - u (+ hard part); row max entry
                # p_m (rest) - (1 - p_m) (own), with "rest" summed without it
                u = _dense_weights(prob, ctx.gamma).scatter_(1, amax, g_m).mul_(dense_w)
                u.mul_(go_rows)
                u_m = u.gather(1, amax)
                rest = _complement(u, amax, u_m)
                own = u_m
                if a is not None:
                    same = idx == amax
                    own = own + a * same
                    rest = rest + a * ~same
                grad_z = (prob * (rest + own)).sub_(u)
                if a is not None:
                    grad_z.scatter_add_(1, idx, a.neg())
                grad_z.scatter_(1, amax, p_m * rest - r_m * own)
        if ctx.needs_input_grad[3]:
            grad_hard = (hard_value * go).squeeze(1)
        return grad_z, None, None, grad_hard, grad_dense, None, None


def _check_target(input: Tensor, target: Tensor) -> bool:
    """Validate shapes; return True for class-probability (soft) targets."""
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


def focal_loss(
    input: Tensor,
    target: Tensor,
    gamma: float = 2.0,
    *,
    weight: Tensor | None = None,
    reduction: str = "mean",
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
) -> Tensor:
    r"""Softmax focal loss with the conventions of ``F.cross_entropy``.

    For logits ``z`` (class axis 1), ``p = softmax(z)`` and target class
    ``y`` the per-sample loss is

    .. math:: \ell = -w_y (1 - p_y)^\gamma \log p_y ,

    and for class probabilities ``t`` it is
    ``-sum_c w_c t_c (1 - p_c)^gamma log p_c``, the sample version of the
    focal cross-entropy ``H_gamma(P, Q)`` of THEORY.md, minimized over ``Q``
    by ``focalentropy.minimizer(P, gamma, alpha=weight)``. With ``gamma = 0``
    it equals ``F.cross_entropy`` for every option, in value and gradient.

    Parameters
    ----------
    input : Tensor
        Logits of shape (C,), (N, C) or (N, C, d1, ..., dk).
    target : Tensor
        Class indices (integer dtype) of shape (), (N,) or (N, d1, ..., dk),
        values in ``[0, C)`` or ``ignore_index``; or class probabilities
        (floating dtype) of the shape of ``input``.
    gamma : float, default 2.0
        Focusing parameter, ``gamma >= 0``.
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

    Notes
    -----
    The gradient is ``sum_c t_c w_c G(p_c) (p - onehot(c))`` with
    ``G(p) = (1-p)^gamma - gamma p (1-p)^(gamma-1) log p`` bounded in
    ``[0, G_max]``: focal loss is cross-entropy with every sample's gradient
    rescaled. It is computed from exact ``log p`` and ``1 - p`` (the sum of
    the other classes' probabilities), so it is finite
    and correct for every ``gamma >= 0`` and every finite logit. Inputs in
    float16/bfloat16 are computed in float32. Only the softmax and
    per-sample vectors are saved for backward.

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
    input = _check_tensor(input, "input")
    target = _check_tensor(target, "target")
    g = _check_gamma(gamma)
    reduction = _check_reduction(reduction)
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real):
        raise TypeError(
            f"`label_smoothing` must be a real number, got {type(label_smoothing).__name__}"
        )
    eps = float(label_smoothing)
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"`label_smoothing` must lie in [0, 1], got {label_smoothing!r}")
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
        raise TypeError(f"`ignore_index` must be an integer, got {type(ignore_index).__name__}")
    if input.dim() == 0:
        raise ValueError("`input` must have a class dimension: shape (C,), (N, C) or (N, C, ...)")
    dtype = _compute_dtype(input, "input")
    soft = _check_target(input, target)
    unbatched = input.dim() == 1
    if unbatched:
        input, target = input.unsqueeze(0), target.unsqueeze(0)
    n_classes = input.shape[1]
    if n_classes == 0:
        raise ValueError(f"`input` must have at least one class, got shape {tuple(input.shape)}")
    class_shape = (1, n_classes) + (1,) * (input.dim() - 2)
    if weight is not None:
        weight = _check_tensor(weight, "weight")
        if not weight.is_floating_point():
            raise TypeError(f"`weight` must be a floating-point tensor, got dtype {weight.dtype}")
        if weight.dim() != 1 or weight.shape[0] != n_classes:
            raise ValueError(
                f"`weight` must have shape ({n_classes},), one weight per class, "
                f"got {tuple(weight.shape)}"
            )
        weight = weight.to(dtype)

    autocast_on, ctx = _autocast_off(input)
    with ctx:
        z = input.to(dtype)
        if soft:
            t = target.to(dtype)
            if eps > 0:
                t = t * (1.0 - eps) + eps / n_classes
            dense_w = t if weight is None else t * weight.view(class_shape)
            denominator = target.numel() // n_classes
            args = (z, g, None, None, dense_w, None)
        else:
            target = target.long()
            valid = None  # None: every target is a class index
            if 0 <= ignore_index < n_classes or target.numel() == 0:
                in_range = False
            else:
                lo, hi = torch.aminmax(target)
                in_range = int(lo) >= 0 and int(hi) < n_classes
            if not in_range:
                valid = target != ignore_index
                bad = valid & ((target < 0) | (target >= n_classes))
                if bool(bad.any()):
                    index = _first_bad(bad)
                    raise ValueError(
                        f"`target` must hold class indices in [0, {n_classes}) or "
                        f"`ignore_index` ({ignore_index}); found {int(target[index])} at index "
                        f"{index[0] if len(index) == 1 else index}"
                    )
                target = target.masked_fill(~valid, 0)
            if weight is not None:
                scale = weight.take(target)
                if valid is not None:
                    scale = scale.masked_fill_(~valid, 0.0)
            else:
                scale = None if valid is None else valid.to(dtype)
            dense_w = row_scale = None
            hard_scale = scale
            if eps > 0:
                if scale is None:
                    scale = torch.ones(target.shape, dtype=dtype, device=z.device)
                hard_scale = scale * (1.0 - eps)
                uniform = torch.full(class_shape, eps / n_classes, dtype=dtype, device=z.device)
                dense_w = uniform if weight is None else uniform * weight.view(class_shape)
                row_scale = None if valid is None else valid.to(dtype)
            denominator = target.numel() if scale is None else scale.sum()
            args = (z, g, target, hard_scale, dense_w, row_scale)
        if reduction == "none":
            out = _SoftmaxFocal.apply(*args, None)
        else:
            norm = 1 if reduction == "sum" else denominator
            if isinstance(norm, Tensor) and norm.requires_grad:  # weights that require grad
                out = _SoftmaxFocal.apply(*args, None).sum() / norm
            else:
                out = _SoftmaxFocal.apply(*args, norm)
    if unbatched and reduction == "none":
        out = out.squeeze(0)
    return out if autocast_on else out.to(input.dtype)


# ---------------------------------------------------------------------------
# sigmoid (one-vs-rest) focal loss
# ---------------------------------------------------------------------------


class _SigmoidFocal(torch.autograd.Function):
    """Elementwise ``a_pos l(p) + a_neg l(1 - p)``, ``p = sigmoid(x)``.

    With ``s+ = softplus(x) = -log(1-p)`` and ``s- = softplus(-x) = -log p``:
    ``l(p) = e^(-gamma s+) s-``, ``dl(p)/dx = -(1-p)^gamma ((1-p) + gamma p s-)``
    and ``dl(1-p)/dx = p^gamma (p + gamma (1-p) s+)``: no division, no
    ``inf * 0``. The gradient is formed in the forward pass and saved (one
    tensor the size of ``x``), so backward is a single product.
    """

    @staticmethod
    def forward(ctx, x, t, gamma, alpha):
        sp_pos = F.softplus(x, threshold=_SOFTPLUS_THRESHOLD)  # -log(1 - p)
        sp_neg = F.softplus(-x, threshold=_SOFTPLUS_THRESHOLD)  # -log p
        if gamma == 0:
            l_pos, l_neg = sp_neg, sp_pos
        else:
            focus_pos = torch.exp(sp_pos * -gamma)  # (1 - p)^gamma
            focus_neg = torch.exp(sp_neg * -gamma)  # p^gamma
            l_pos, l_neg = focus_pos * sp_neg, focus_neg * sp_pos
        a_pos, a_neg = _sigmoid_weights(t, alpha)
        loss = torch.addcmul(a_pos * l_pos, a_neg, l_neg)
        grad_x = grad_t = None
        if ctx.needs_input_grad[0]:
            p, q = torch.sigmoid(x), torch.sigmoid(-x)  # q = 1 - p, exact
            d_pos = torch.addcmul(q, p, sp_neg, value=gamma)
            d_neg = torch.addcmul(p, q, sp_pos, value=gamma)
            if gamma != 0:
                d_pos.mul_(focus_pos)
                d_neg.mul_(focus_neg)
            grad_x = d_neg.mul_(a_neg).sub_(d_pos.mul_(a_pos))
        if ctx.needs_input_grad[1]:
            grad_t = l_pos - l_neg if alpha is None else alpha * l_pos - (1 - alpha) * l_neg
        ctx.save_for_backward(grad_x, grad_t)
        return loss

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        grad_x, grad_t = ctx.saved_tensors
        return (
            None if grad_x is None else grad_x * grad,
            None if grad_t is None else grad_t * grad,
            None,
            None,
        )


def _sigmoid_weights(t: Tensor, alpha: float | None) -> tuple[Tensor, Tensor]:
    if alpha is None:
        return t, 1 - t
    return alpha * t, (1 - alpha) * (1 - t)


def sigmoid_focal_loss(
    inputs: Tensor,
    targets: Tensor,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: str = "none",
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
    alpha : float or None, default 0.25
        Weight of the positive term in ``[0, 1]``; negative or None: none.
    gamma : float, default 2.0
        Focusing parameter, ``gamma >= 0``.
    reduction : {"none", "mean", "sum"}, default "none"
        Mean or sum over all elements, or the elementwise loss.

    Returns
    -------
    Tensor
        Shape of ``inputs`` for ``"none"``, else a scalar; in the input dtype
        (computed in float32 for float16/bfloat16).

    Notes
    -----
    For soft targets this two-term form is the population loss of THEORY.md
    section 6: its minimizer solves ``alpha t phi(q) = (1-alpha)(1-t)
    phi(1-q)`` (``focalentropy.minimizer(t, gamma, alpha=alpha,
    kind="sigmoid")``), and is inverted by ``recover``. torchvision's form
    ``alpha_t (1 - p_t)^gamma BCE(t, p)`` with ``p_t = p t + (1-p)(1-t)`` is
    a different loss with a different minimizer: for ``t = 0.7`` and
    ``gamma = 2`` the minimizer here is ``q = 0.4765`` (``alpha = 0.25``) and
    ``q = 0.5785`` (``alpha = -1``); torchvision's is ``q = 0.8777`` for both,
    a prediction far more confident than the target.

    The gradient ``-alpha t G(p)(1-p) + (1-alpha)(1-t) G(1-p) p`` with
    ``G(q) = (1-q)^gamma (1 + gamma q (-log q)/(1-q))`` is formed from
    ``softplus(+-x)`` directly, so it is finite for ``0 < gamma < 1`` and
    saturated logits.

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
    inputs = _check_tensor(inputs, "inputs")
    targets = _check_tensor(targets, "targets")
    g = _check_gamma(gamma)
    reduction = _check_reduction(reduction)
    if alpha is not None:
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
            raise TypeError(f"`alpha` must be a real number or None, got {type(alpha).__name__}")
        if not alpha <= 1:  # also NaN
            raise ValueError(f"`alpha` must be <= 1 (negative disables weighting), got {alpha!r}")
        alpha = float(alpha) if alpha >= 0 else None
    dtype = _compute_dtype(inputs, "inputs")
    if targets.shape != inputs.shape:
        raise ValueError(
            f"`targets` must have the shape of `inputs` {tuple(inputs.shape)}, "
            f"got {tuple(targets.shape)}"
        )
    if targets.is_complex():
        raise TypeError(f"`targets` must be real, got dtype {targets.dtype}")
    autocast_on, ctx = _autocast_off(inputs)
    with ctx:
        loss = _SigmoidFocal.apply(inputs.to(dtype), targets.to(dtype), g, alpha)
        if reduction == "mean":
            loss = loss.mean()
        elif reduction == "sum":
            loss = loss.sum()
    return loss if autocast_on else loss.to(inputs.dtype)


# ---------------------------------------------------------------------------
# modules
# ---------------------------------------------------------------------------


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

    def __init__(
        self,
        gamma: float = 2.0,
        *,
        weight: Tensor | None = None,
        reduction: str = "mean",
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        self.gamma = _check_gamma(gamma)
        self.reduction = _check_reduction(reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.register_buffer("weight", weight)

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
        return f"gamma={self.gamma}, reduction={self.reduction!r}"


class SigmoidFocalLoss(nn.Module):
    r"""Sigmoid (RetinaNet) focal loss module; see :func:`sigmoid_focal_loss`.

    Examples
    --------
    >>> import torch
    >>> from focalentropy.torch import SigmoidFocalLoss
    >>> criterion = SigmoidFocalLoss(alpha=0.25, gamma=2.0, reduction="sum")
    >>> criterion(torch.zeros(4), torch.tensor([1.0, 0.0, 0.0, 0.0])).ndim
    0
    """

    def __init__(self, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "none") -> None:
        super().__init__()
        self.alpha = alpha
        self.gamma = _check_gamma(gamma)
        self.reduction = _check_reduction(reduction)

    def forward(self, inputs: Tensor, targets: Tensor) -> Tensor:
        return sigmoid_focal_loss(inputs, targets, self.alpha, self.gamma, self.reduction)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, gamma={self.gamma}, reduction={self.reduction!r}"
