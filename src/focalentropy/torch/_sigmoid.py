"""The numerical kernel of the sigmoid (one-vs-rest, RetinaNet) focal loss.

Elementwise ``a_pos l(p) + a_neg l(1 - p)`` with ``p = sigmoid(x)``. With
``s+ = softplus(x) = -log(1 - p)`` and ``s- = softplus(-x) = -log p``::

    l(p)     = exp(-gamma s+) s-,   dl(p)/dx     = -(1-p)^gamma ((1-p) + gamma p s-),
    l(1 - p) = exp(-gamma s-) s+,   dl(1 - p)/dx =  p^gamma (p + gamma (1-p) s+),

no division and no ``inf * 0`` for finite ``x``. Infinite logits take the
limits ``l(p) -> relu(-x)``, ``l(1 - p) -> relu(x)`` and their gradients,
which are the binary cross-entropy's.

* :class:`SigmoidFocalTraced`: ``torch.compile`` and ``torch.export``;
  an explicit backward written in differentiable ops (one ``exp`` and one
  ``log1p`` per element for ``softplus(+-x)`` and ``sigmoid(x)``).
* :func:`elementwise_traceable`: plain autograd (``torch.func``, forward
  mode, FakeTensor/meta, a tensor ``gamma``, the eager kernel's double
  backward). Dynamo cannot trace a Function with a custom ``jvp``, so
  forward mode runs this form rather than a third one.
* :class:`SigmoidFocal`: the eager kernel. It works through the input in
  blocks of ~64K elements so that the temporaries of the formula stay small
  (peak extra memory: the output plus a few blocks), saves only its inputs,
  and recomputes the gradient blockwise in backward. On the CPU a block whose
  targets are all 0 or 1 evaluates only the true class's term
  (:func:`_hard_value`, :func:`_hard_grad`, held equal to the two-term form by the tests).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ._recompute import differentiable_grads
from ._softmax import SOFTPLUS_THRESHOLD, _is_zero

_BLOCK = 1 << 16


def _weights(t: Tensor, alpha: float | Tensor | None) -> tuple[Tensor, Tensor]:
    if alpha is None:
        return t, 1 - t
    return alpha * t, (1 - alpha) * (1 - t)


def _d_target(l_pos: Tensor, l_neg: Tensor, alpha: float | Tensor | None) -> Tensor:
    """d loss / d t: ``l(p) - l(1-p)``, weighted by ``alpha`` and ``1 - alpha``."""
    return l_pos - l_neg if alpha is None else alpha * l_pos - (1 - alpha) * l_neg


def _d_alpha(l_pos: Tensor, l_neg: Tensor, t: Tensor) -> Tensor:
    """d loss / d alpha: ``t l(p) - (1 - t) l(1-p)``."""
    return t * l_pos - (1 - t) * l_neg


def _terms(
    x: Tensor, gamma: float | Tensor, want_grad: bool
) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    """``l(p)``, ``l(1-p)`` and, if asked, their x-derivatives, elementwise."""
    finite = torch.isfinite(x)
    xs = torch.where(finite, x, 0.0)
    sp_pos = F.softplus(xs, threshold=SOFTPLUS_THRESHOLD)  # -log(1 - p)
    sp_neg = F.softplus(-xs, threshold=SOFTPLUS_THRESHOLD)  # -log p
    if _is_zero(gamma):
        focus_pos = focus_neg = None
        l_pos, l_neg = sp_neg, sp_pos
    else:
        focus_pos = torch.exp(sp_pos * -gamma)  # (1 - p)^gamma
        focus_neg = torch.exp(sp_neg * -gamma)  # p^gamma
        l_pos, l_neg = focus_pos * sp_neg, focus_neg * sp_pos
    l_pos = torch.where(finite, l_pos, F.relu(-x))
    l_neg = torch.where(finite, l_neg, F.relu(x))
    if not want_grad:
        return l_pos, l_neg, None, None
    p, q = torch.sigmoid(xs), torch.sigmoid(-xs)  # q = 1 - p, exact
    d_pos = torch.addcmul(q, p, sp_neg * gamma)
    d_neg = torch.addcmul(p, q, sp_pos * gamma)
    if focus_pos is not None and focus_neg is not None:
        d_pos.mul_(focus_pos)
        d_neg.mul_(focus_neg)
    d_pos = torch.where(finite, d_pos, (x < 0).to(x.dtype)).neg_()
    d_neg = torch.where(finite, d_neg, (x > 0).to(x.dtype))
    return l_pos, l_neg, d_pos, d_neg


def _hard(ts: Tensor) -> bool:
    """Whether every target of a (CPU) block is 0 or 1 (reading data is free there):
    ``t^2 = t`` exactly for those two values only (NaN fails)."""
    return torch.equal(ts * ts, ts)


class _HardParts(NamedTuple):
    """The shared pieces of the one-term form (targets in {0, 1})."""

    sign: Tensor  # s = 2t - 1
    m: Tensor  # the margin s x
    finite: Tensor | None  # None when every margin is finite (the usual block)
    mf: Tensor  # m with non-finite entries replaced by 0
    nlp: Tensor  # -log p_t = softplus(-m)
    focus: Tensor | None  # (1 - p_t)^gamma (None for gamma = 0)
    a_t: float | Tensor | None  # alpha or 1 - alpha (None without alpha)


def _hard_parts(xs: Tensor, ts: Tensor, al: float | Tensor | None, gamma: float) -> _HardParts:
    """With the margin ``m = s x``, ``s = 2t - 1``, and ``p_t = sigmoid(m)``, the loss is
    ``a_t l(p_t) = a_t exp(-gamma softplus(m)) softplus(-m)``: about half the work of the
    two-term form, the same values. Written with products rather than ``where`` (slow on
    the CPU); masks only for the rare block with a non-finite logit."""
    sign = ts * 2.0 - 1.0
    m = xs * sign
    # a sum is cheaper than a mask; an overflowing sum only costs the masked path
    finite = None if bool(torch.isfinite(m.sum())) else torch.isfinite(m)
    mf = m if finite is None else torch.where(finite, m, 0.0)
    sp = torch.log1p(torch.exp(-mf.abs()))
    nlp = torch.relu(-mf).add_(sp)
    focus = None if _is_zero(gamma) else torch.relu(mf).add_(sp).mul_(-gamma).exp_()
    a_t = None if al is None else (al - 0.5) * sign + 0.5
    return _HardParts(sign, m, finite, mf, nlp, focus, a_t)


def _hard_value(xs: Tensor, ts: Tensor, al: float | Tensor | None, gamma: float) -> Tensor:
    """The loss for targets in {0, 1} (see :func:`_hard_parts`)."""
    h = _hard_parts(xs, ts, al, gamma)
    value = h.nlp if h.focus is None else h.focus.mul_(h.nlp)
    if h.finite is not None:  # as the two-term form and BCE: inf when wrong, nan when right
        value = torch.where(h.finite, value, torch.where(h.m > 0, math.nan, math.inf))
    return value if h.a_t is None else value.mul_(h.a_t)


def _hard_grad(xs: Tensor, ts: Tensor, al: float | Tensor | None, gamma: float) -> Tensor:
    """d loss/dx for targets in {0, 1}: ``-s a_t (1-p_t)^gamma ((1-p_t) + gamma p_t
    softplus(-m))``."""
    h = _hard_parts(xs, ts, al, gamma)
    d = torch.sigmoid(h.mf).mul_(h.nlp).mul_(gamma).add_(torch.sigmoid(-h.mf))
    if h.focus is not None:
        d.mul_(h.focus)
    if h.finite is not None:
        d = torch.where(h.finite, d, (h.m < 0).to(h.m.dtype))
    d.mul_(-h.sign)  # d loss/dm = -d; dm/dx = s
    return d if h.a_t is None else d.mul_(h.a_t)


def _pieces(
    x: Tensor, gamma: float | Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor | None, Tensor | None]:
    """``softplus(+-x)``, ``p = sigmoid(x)``, ``1 - p`` and the two focus factors.

    From one ``exp`` and one ``log1p``: with ``e = exp(-|x|)`` and
    ``s = log1p(e)``, ``softplus(x) = max(x, 0) + s``, ``softplus(-x) =
    max(-x, 0) + s`` and ``p = 1/(1+e)`` or ``e/(1+e)``, all exact. ``-|x|``
    and the branches are ``where``s of analytic identities, so autograd's
    derivatives of every order are exact, also at ``x = 0``.
    """
    positive = x > 0
    e = torch.exp(torch.where(positive, -x, x))
    s = torch.log1p(e)
    sp_pos = torch.where(positive, x + s, s)  # -log(1 - p)
    sp_neg = torch.where(positive, s, s - x)  # -log p
    inv = 1 / (1 + e)
    p = torch.where(positive, inv, e * inv)
    q = torch.where(positive, e * inv, inv)
    if _is_zero(gamma):
        return sp_pos, sp_neg, p, q, None, None
    return sp_pos, sp_neg, p, q, torch.exp(sp_pos * -gamma), torch.exp(sp_neg * -gamma)


def _traced_terms(
    x: Tensor, gamma: float | Tensor, want_grad: bool
) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    """:func:`_terms` without in-place ops (its ops are differentiated again)."""
    finite = torch.isfinite(x)
    sp_pos, sp_neg, p, q, focus_pos, focus_neg = _pieces(torch.where(finite, x, 0.0), gamma)
    if focus_pos is None or focus_neg is None:
        l_pos, l_neg = sp_neg, sp_pos
    else:
        l_pos, l_neg = focus_pos * sp_neg, focus_neg * sp_pos
    l_pos = torch.where(finite, l_pos, F.relu(-x))
    l_neg = torch.where(finite, l_neg, F.relu(x))
    if not want_grad:
        return l_pos, l_neg, None, None
    d_pos = q + gamma * p * sp_neg
    d_neg = p + gamma * q * sp_pos
    if focus_pos is not None and focus_neg is not None:
        d_pos, d_neg = d_pos * focus_pos, d_neg * focus_neg
    d_pos = -torch.where(finite, d_pos, (x < 0).to(x.dtype))
    d_neg = torch.where(finite, d_neg, (x > 0).to(x.dtype))
    return l_pos, l_neg, d_pos, d_neg


class SigmoidFocalTraced(torch.autograd.Function):
    """The elementwise loss for compile and export, with an explicit backward.

    The backward is written in differentiable ops, so double backward
    differentiates it; ``generate_vmap_rule`` lets ``vmap`` batch it.
    ``gamma`` here is a number (a tensor gamma runs :func:`elementwise_traceable`).
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(x: Tensor, t: Tensor, gamma: float, alpha: float | Tensor | None) -> Tensor:
        return elementwise_traceable(x, t, gamma, alpha)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        x, t, gamma, alpha = inputs
        a_tensor = alpha if isinstance(alpha, Tensor) else None
        ctx.save_for_backward(x, t, a_tensor)
        ctx.gamma = gamma
        ctx.alpha = None if a_tensor is not None else alpha

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        x, t, a_tensor = ctx.saved_tensors
        alpha = a_tensor if a_tensor is not None else ctx.alpha
        need_x, need_t = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        need_a = a_tensor is not None and ctx.needs_input_grad[3]
        l_pos, l_neg, d_pos, d_neg = _traced_terms(x, ctx.gamma, want_grad=need_x)
        grad_x = grad_t = grad_a = None
        if need_x and d_pos is not None and d_neg is not None:  # d_* are None iff not need_x
            a_pos, a_neg = _weights(t, alpha)
            grad_x = (a_pos * d_pos + a_neg * d_neg) * grad
        if need_t:
            grad_t = _d_target(l_pos, l_neg, alpha) * grad
        if need_a:
            grad_a = (_d_alpha(l_pos, l_neg, t) * grad).sum_to_size(a_tensor.shape)
        return grad_x, grad_t, None, grad_a


def elementwise_traceable(
    x: Tensor, t: Tensor, gamma: float | Tensor, alpha: float | Tensor | None
) -> Tensor:
    """The elementwise loss from plain differentiable ops (smooth for finite x).

    Used for a tensor ``gamma`` (which may require a gradient) and for the
    double backward of the eager kernel.
    """
    l_pos, l_neg, _, _ = _traced_terms(x, gamma, want_grad=False)
    a_pos, a_neg = _weights(t, alpha)
    return a_pos * l_pos + a_neg * l_neg


def _blocks(x: Tensor, *others: Any) -> list[tuple[Any, ...]]:
    """Split ``x`` and same-shaped (or broadcast) tensors into ~_BLOCK-element blocks."""
    if x.dim() == 0 or x.numel() == 0:
        return [(x, *others)]
    row = max(1, x[0].numel())
    rows = max(1, _BLOCK // row)
    if rows >= x.shape[0]:
        return [(x, *others)]
    parts = [x.split(rows)] + [
        o.split(rows) if isinstance(o, Tensor) and o.dim() == x.dim() else [o] * len(x.split(rows))
        for o in others
    ]
    return list(zip(*parts, strict=True))


class SigmoidFocal(torch.autograd.Function):
    """Elementwise sigmoid focal loss (eager kernel), or its sum if ``reduce_sum``.

    ``alpha`` is None, a float, or a tensor broadcast to the shape of ``x``.
    Saves only the inputs; backward recomputes the gradient blockwise and,
    under ``create_graph=True``, differentiates :func:`elementwise_traceable`.
    """

    @staticmethod
    def forward(
        ctx: Any,
        x: Tensor,
        t: Tensor,
        gamma: float,
        alpha: float | Tensor | None,
        reduce_sum: bool,
    ) -> Tensor | None:
        a_tensor = alpha if isinstance(alpha, Tensor) else None
        ctx.save_for_backward(x, t, a_tensor)
        ctx.gamma, ctx.alpha, ctx.reduce_sum = gamma, alpha, reduce_sum
        out = None if reduce_sum else torch.empty_like(x)
        total = x.new_zeros(())
        start = 0
        host = x.device.type == "cpu"
        for xs, ts, al in _blocks(x, t, alpha):
            if host and _hard(ts):
                value = _hard_value(xs, ts, al, gamma)
            else:
                l_pos, l_neg, _, _ = _terms(xs, gamma, want_grad=False)
                a_pos, a_neg = _weights(ts, al)
                value = l_pos.mul_(a_pos).addcmul_(a_neg, l_neg)
            if reduce_sum:
                total += value.sum()
            elif x.dim() == 0 or out is None:
                out = value
            else:
                out[start : start + xs.shape[0]] = value
            start += xs.shape[0] if x.dim() else 0
        return total if reduce_sum else out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        x, t, a_tensor = ctx.saved_tensors
        alpha = a_tensor if a_tensor is not None else ctx.alpha
        if torch.is_grad_enabled():  # create_graph=True: differentiate the formula
            wanted = [(i, v) for i, v in ((0, x), (1, t)) if ctx.needs_input_grad[i]]
            if a_tensor is not None and ctx.needs_input_grad[3]:
                wanted.append((3, a_tensor))

            def loss_fn() -> Tensor:
                loss = elementwise_traceable(x, t, ctx.gamma, alpha)
                return loss.sum() if ctx.reduce_sum else loss

            return differentiable_grads(loss_fn, wanted, grad, 5)
        need_x, need_t = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        need_a = a_tensor is not None and ctx.needs_input_grad[3]
        grad_x = torch.empty_like(x) if need_x else None
        grad_t = torch.empty_like(t) if need_t else None
        grad_a = torch.empty_like(x) if need_a else None
        g_full = grad if ctx.reduce_sum else grad.expand_as(x)
        start = 0
        host = x.device.type == "cpu" and grad_t is None and grad_a is None
        for xs, ts, al, gs in _blocks(x, t, alpha, g_full):
            sl = slice(start, start + xs.shape[0]) if x.dim() else ...
            if host and grad_x is not None and _hard(ts):
                grad_x[sl] = _hard_grad(xs, ts, al, ctx.gamma).mul_(gs)
                start += xs.shape[0] if x.dim() else 0
                continue
            l_pos, l_neg, d_pos, d_neg = _terms(xs, ctx.gamma, want_grad=need_x)
            if grad_x is not None and d_pos is not None and d_neg is not None:
                a_pos, a_neg = _weights(ts, al)
                grad_x[sl] = d_pos.mul_(a_pos).addcmul_(a_neg, d_neg).mul_(gs)
            if grad_t is not None:
                grad_t[sl] = _d_target(l_pos, l_neg, al).mul_(gs)
            if grad_a is not None:
                grad_a[sl] = _d_alpha(l_pos, l_neg, ts).mul_(gs)
            start += xs.shape[0] if x.dim() else 0
        if grad_a is not None and a_tensor is not None:
            grad_a = grad_a.sum_to_size(a_tensor.shape)
        return grad_x, grad_t, None, grad_a, None
