"""The numerical kernel of the softmax focal loss: one formula, two evaluations.

For logits ``z`` (class axis 1) and a class ``y`` let
``log_x = log((1 - p_y) / p_y) = logsumexp_{c != y} z_c - z_y``. Then

    -log p_y = softplus(log_x),   log(1 - p_y) = -softplus(-log_x),

both exact (no cancellation), and the focal term is
``l(p_y) = exp(gamma log(1 - p_y)) (-log p_y)``. Its gradient is the
identity ``dl/dz = G(p_y) (softmax(z) - onehot(y))`` with the bounded
weight ``G(p) = (1-p)^gamma (1 + gamma p (-log p) / (1-p))``.

* :func:`per_sample_traceable` evaluates the formula with plain
  differentiable ops: smooth in ``z``, so autograd gives finite first and
  second derivatives for every ``gamma >= 0`` and finite logits, and it
  traces under ``torch.compile``, ``torch.export``, ``torch.func``,
  FakeTensor and the meta device.
* :class:`SoftmaxFocal` is the eager kernel: the same values from one
  softmax (``1 - p_y`` as the sum of the other probabilities), gradients
  from the identity. It saves ``softmax - onehot`` (one (N, C) tensor, as
  cross-entropy saves its log-softmax), per-sample vectors and a reference
  to the input (for the double backward); under ``create_graph=True`` it
  differentiates :func:`per_sample_traceable` instead, so higher
  derivatives are exact too. Data-dependent branches run only where reading
  data is free (CPU); on other devices it uses masks (no host sync).

The tests hold the two evaluations equal.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ._checks import compiling_plain_autograd
from ._recompute import differentiable_grads
from ._targets import SoftmaxTargets, safe_mean_parts

#: F.softplus switches to the identity above this; 50 keeps float64 exact
SOFTPLUS_THRESHOLD = 50  # an int: a float constant is made symbolic by torch.compile
_LOG_HALF = math.log(0.5)


def _is_zero(gamma: float | Tensor) -> bool:
    return not isinstance(gamma, Tensor) and gamma == 0


# ---------------------------------------------------------------------------
# traceable formula
# ---------------------------------------------------------------------------


def _class_ids(x: Tensor, dim: int = 1) -> Tensor:
    """Class indices ``0..C-1`` along ``dim``, shaped to broadcast against ``x``."""
    shape = [1] * x.dim()
    shape[dim] = -1
    return torch.arange(x.shape[dim], device=x.device).view(shape)


def log1m_softmax(logp: Tensor, dim: int = 1) -> Tensor:
    """``log(1 - p_c)`` for log-probabilities ``logp`` along ``dim``, exact and smooth.

    ``log1p(-p_c)`` where ``p_c <= 1/2``; for the one class that may exceed
    1/2 (the argmax), the log-sum-exp of the other classes' log-probabilities
    (``-inf`` entries clamped to the lowest finite value, so that the
    gradient stays finite when every other class is ``-inf``).
    """
    low = torch.log1p(-torch.exp(logp.clamp(max=_LOG_HALF)))
    top = logp.argmax(dim, keepdim=True)  # a -inf class is never the top
    others = logp.clamp(min=torch.finfo(logp.dtype).min)
    high = torch.logsumexp(others.masked_fill(_class_ids(logp, dim) == top, -math.inf), dim, True)
    return torch.where(logp <= _LOG_HALF, low, high)


def log_odds(z: Tensor, index: Tensor) -> Tensor:
    """``log((1 - p) / p)`` at ``index`` (N, 1, *): a log-sum-exp of the other logits.

    Exact for every finite row (the eager kernel's far rows use it).
    ``-inf`` logits are clamped to the dtype's lowest finite value, so that a
    row whose other classes are all ``-inf`` has a finite log-sum-exp.
    """
    floor = torch.finfo(z.dtype).min
    others = z.clamp(min=floor).masked_fill(_class_ids(z) == index, -math.inf)
    return torch.logsumexp(others, 1, keepdim=True) - z.gather(1, index)


def _traced_log_odds(z: Tensor, index: Tensor) -> Tensor:
    """:func:`log_odds` in the form compilers fuse into one pass over ``z``.

    ``log sum_{c != y} exp(z_c - m) + m - z_y`` with the row max ``m`` held
    constant (the value does not depend on it). Where the other classes'
    mass underflows (below the dtype's ``tiny``) it is clamped there: every
    quantity of such a row underflows anyway, and the gradient stays finite.
    """
    m = z.detach().amax(1, keepdim=True)
    hit = _class_ids(z) == index
    others = torch.exp(z - m).masked_fill(hit, 0.0).sum(1, keepdim=True)
    # z_y as a masked sum, not a gather: its backward is then pointwise (no scatter)
    z_y = torch.where(hit, z, 0.0).sum(1, keepdim=True)
    return torch.log(others.clamp(min=torch.finfo(z.dtype).tiny)) + m - z_y


#: up to this many classes (2-D inputs) the target's ``exp(z_y - m)`` is a masked sum
#: in the reduction pass (fused, no per-row exp); above it, or for K-dimensional
#: inputs (where the extra reduction made inductor store ``exp(z - m)``), one exp per row
_FUSED_TARGET_EXP_CLASSES = 32


def _compiled_row_terms(
    z: Tensor, index: Tensor, gamma: float
) -> tuple[Tensor, Tensor, Tensor | None, Tensor]:
    """Per-row ``loss``, ``lse``, ``G`` and ``r = 1 - p`` (N, 1, *) for compiled code.

    The terms of :func:`focal_of_log_odds` from the pieces of one reduction
    pass: with ``m`` the row max, ``o = sum_{c != y} exp(z_c - m)`` and
    ``e_y = exp(z_y - m)``, ``e = min(o, e_y) / max(o, e_y) = exp(-|log_x|)``
    needs no exp. ``-log p = max(log_x, 0) + log1p(e)``, ``r = 1/(1+e)`` or
    ``e/(1+e)``, ``(1-p)^gamma = r**gamma`` for a small integer ``gamma`` (a
    product after compilation) and ``exp(-gamma (-log r))`` otherwise, and
    ``G = (1-p)^gamma (1 + gamma v)`` with ``v = p (-log p)/(1-p)`` (``-log p
    * e`` or ``log1p(e)/e``). ``lse = logsumexp(z) = max(log o + m, z_y) +
    log1p(e)`` is finite whenever one logit is. ``G`` is None for
    ``gamma = 0``.
    """
    fi = torch.finfo(z.dtype)
    m = z.detach().amax(1, keepdim=True)
    hit = _class_ids(z) == index
    ez = torch.exp(z - m)
    others = ez.masked_fill(hit, 0.0).sum(1, keepdim=True)
    z_y = torch.where(hit, z, 0.0).sum(1, keepdim=True)
    if z.dim() == 2 and z.shape[1] <= _FUSED_TARGET_EXP_CLASSES:
        e_y = torch.where(hit, ez, 0.0).sum(1, keepdim=True)
    else:
        e_y = torch.exp(z_y - m)
    lse_others = torch.log(others.clamp(min=fi.tiny)) + m
    log_x = (lse_others - z_y).clamp(max=fi.max)  # +inf only for a -inf target logit
    positive = log_x > 0
    e = torch.minimum(others, e_y) / torch.maximum(others, e_y).clamp(min=fi.tiny)
    s = torch.log1p(e)
    nlp = torch.where(positive, log_x + s, s)
    lse = torch.maximum(lse_others, z_y) + s
    r = torch.where(positive, 1.0, e) / (1.0 + e)
    loss = nlp
    coef = None
    if not _is_zero(gamma):
        if float(gamma).is_integer() and 0 < gamma <= 4:
            focus = r ** int(gamma)
        else:
            focus = torch.exp(torch.where(positive, s, s - log_x) * -gamma)
        safe_e = torch.where(e == 0, 1.0, e)
        v = torch.where(positive, nlp * e, torch.where(e == 0, 1.0, s / safe_e))
        loss = focus * nlp
        coef = focus * (1.0 + gamma * v)
    # a -inf target logit: +inf, as cross-entropy (a row of -inf only stays NaN, as there too)
    loss = torch.where((z_y == -math.inf) & (m > -math.inf), math.inf, loss)
    return loss, lse, coef, r


class CompiledSoftmaxFocal(torch.autograd.Function):
    """Per-sample focal loss of class indices for ``torch.compile``: explicit backward.

    The backward is cross-entropy's, scaled per row: ``G(p) (softmax(z) -
    onehot)`` with ``softmax = exp(z - lse)`` and the target entry ``-(1 -
    p)`` exact, so the compiled backward is one pass over ``z``. The forward
    saves three per-row vectors. Used only while compiling with a number
    ``gamma`` (torch.compile has no double backward; should this backward
    ever run with ``create_graph=True`` it differentiates
    :func:`per_sample_traceable`). ``generate_vmap_rule`` lets ``vmap``
    batch it.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(
        z: Tensor, index: Tensor, gamma: float
    ) -> tuple[Tensor, Tensor, Tensor | None, Tensor]:
        loss, lse, coef, r = _compiled_row_terms(z, index.unsqueeze(1), gamma)
        return loss.squeeze(1), lse, coef, r

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        z, index, gamma = inputs
        _, lse, coef, r = output
        ctx.save_for_backward(z, index, lse, coef, r)
        ctx.gamma = gamma
        ctx.mark_non_differentiable(*(t for t in (lse, coef, r) if t is not None))

    @staticmethod
    def backward(ctx: Any, grad: Tensor, *unused: Any) -> tuple[Tensor | None, ...]:
        z, index, lse, coef, r = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True outside a compiled graph
            loss_fn = lambda: per_sample_traceable(z, ctx.gamma, index, None, None, None)  # noqa: E731
            return differentiable_grads(loss_fn, [(0, z)], grad, 3)
        a = grad.unsqueeze(1) if coef is None else coef * grad.unsqueeze(1)
        hit = _class_ids(z) == index.unsqueeze(1)
        return torch.where(hit, -r, torch.exp(z - lse)) * a, None, None


def focal_of_log_odds(log_x: Tensor, gamma: float | Tensor) -> Tensor:
    """``l(p) = (1-p)^gamma (-log p)`` from ``log_x = log((1-p)/p)``, smooth in ``log_x``.

    ``-log p = softplus(log_x)`` and ``-log(1-p) = softplus(-log_x)`` share
    ``s = log1p(exp(-|log_x|))``: ``max(log_x, 0) + s`` and ``max(-log_x, 0)
    + s``, exact, one ``exp`` and one ``log1p`` per sample. ``|log_x|`` and
    the maxima are ``where``s of analytic identities, so autograd's
    derivatives of every order are exact (also at 0). An infinite ``log_x``
    (a ``-inf`` target logit) gives an infinite loss with cross-entropy's
    gradient; the formula itself is evaluated at a finite bound, so no
    ``0 * inf`` reaches the gradient.
    """
    bounded = log_x.clamp(max=torch.finfo(log_x.dtype).max)
    positive = bounded > 0
    s = torch.log1p(torch.exp(torch.where(positive, -bounded, bounded)))
    nlp = torch.where(positive, bounded + s, s)  # -log p
    if _is_zero(gamma):
        value = nlp
    else:
        nlr = torch.where(positive, s, s - bounded)  # -log(1 - p)
        value = torch.exp(nlr * -gamma) * nlp
    return torch.where(log_x == math.inf, log_x, value)


def dense_focal(z: Tensor, gamma: float | Tensor) -> Tensor:
    """``l(p_c)`` for every class (N, C, *), smooth in ``z``.

    ``log(1 - p_c)`` from :func:`log1m_softmax`.
    """
    logp = torch.log_softmax(z, 1)
    if _is_zero(gamma):
        return -logp
    finite = torch.isfinite(logp)
    value = torch.exp(log1m_softmax(logp, 1) * gamma) * -torch.where(finite, logp, 0.0)
    return torch.where(finite, value, -logp)


def _scaled(loss: Tensor, scale: Tensor) -> Tensor:
    """``loss * scale`` with 0 where ``scale`` is 0 (an ignored row with non-finite
    logits contributes nothing, as in cross-entropy, instead of ``0 * nan``)."""
    return torch.where(scale == 0, 0.0, loss * scale)


def per_sample_traceable(
    z: Tensor,
    gamma: float | Tensor,
    index: Tensor | None,
    hard_scale: Tensor | None,
    dense_w: Tensor | None,
    row_scale: Tensor | None,
) -> Tensor:
    """Per-sample focal loss (N, *) from plain differentiable ops.

    ``gamma`` is a float or a tensor of shape (N, 1, *) (per-sample).
    """
    if z.shape[1] == 1:  # p = 1: zero loss and gradient (NaN for infinite logits, as CE)
        return z.sum(1) * 0.0
    loss = None
    if index is not None:
        loss = focal_of_log_odds(_traced_log_odds(z, index.unsqueeze(1)), gamma).squeeze(1)
        if hard_scale is not None:
            loss = _scaled(loss, hard_scale)
    if dense_w is not None:
        dense = (dense_focal(z, gamma) * dense_w).sum(1)
        if row_scale is not None:
            dense = _scaled(dense, row_scale)
        loss = dense if loss is None else loss + dense
    assert loss is not None, "a hard or a dense term is always present"
    return loss


# ---------------------------------------------------------------------------
# eager kernel
# ---------------------------------------------------------------------------


def _complement(prob: Tensor, idx: Tensor, p: Tensor, restore: bool = True) -> Tensor:
    """``sum_{c != idx} prob_c`` per row, without cancellation.

    ``prob`` (N, C, *) is zeroed at ``idx`` (N, 1, *) in place, summed over
    the class axis and, if ``restore``, restored from ``p``.
    """
    prob.scatter_(1, idx, torch.zeros_like(p))
    if prob.dim() == 2 and prob.shape[1] < 128:  # a matrix-vector product is faster here
        total = torch.mv(prob, prob.new_ones(prob.shape[1])).unsqueeze(1)
    else:
        total = prob.sum(1, keepdim=True)
    if restore:
        prob.scatter_(1, idx, p)
    return total


def _exp_times(log_r: Tensor, gamma: float | Tensor) -> Tensor:
    """``exp(gamma log_r)`` with ``0 * (-inf) = 0`` (so ``0^0 = 1``)."""
    return torch.exp((log_r * gamma).nan_to_num_(nan=0.0, posinf=math.inf, neginf=-math.inf))


def _far_terms(log_x: Tensor, gamma: float | Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``-log p``, ``1 - p``, ``(1-p)^gamma`` and ``v = log1p(x)/x`` from ``log_x``."""
    nlp = F.softplus(log_x, threshold=SOFTPLUS_THRESHOLD)
    log_r = F.softplus(-log_x, threshold=SOFTPLUS_THRESHOLD).neg_()
    v = (nlp * torch.exp(-log_x)).masked_fill_(log_x < 0, 1.0).nan_to_num_(nan=0.0)
    return nlp, torch.exp(log_r), _exp_times(log_r, gamma), v


def _row_terms(
    prob: Tensor, z: Tensor, idx: Tensor, gamma: float | Tensor, restore: bool, host: bool
) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor, Tensor]:
    """Exact ``-log p``, ``(1-p)^gamma``, ``G(p)`` and ``1 - p`` at ``idx`` (N, 1, *).

    ``prob = softmax(z)``. ``r = 1 - p`` is the sum of the other
    probabilities and ``x = r / p`` is accurate to a few rounding errors, hence
    so are ``-log p = log1p(x)`` and ``v = p (-log p) / r = log1p(x) / x``.
    Where ``r`` or ``p`` nears underflow (``x`` outside ``[2 tiny/eps,
    eps/(2 tiny)]``, rare) the terms come from ``log x``, a log-sum-exp of
    the logits: for those rows only when ``host`` (reading data is free on
    the CPU), else for all rows, selected by a mask. For ``gamma = 0`` the
    focus and ``G`` are None (both are 1).
    """
    p = prob.gather(1, idx)
    r = _complement(prob, idx, p, restore)
    x = r / p
    nlp = torch.log1p(x)
    zero = _is_zero(gamma)
    focus = None if zero else r.pow(gamma)
    v = None if zero else nlp / x
    if x.numel():
        fi = torch.finfo(x.dtype)
        lo_x, hi_x = 2 * fi.tiny / fi.eps, fi.eps / (2 * fi.tiny)
        if host:
            lo, hi = torch.aminmax(x)
            if not (float(lo) >= lo_x and float(hi) <= hi_x):  # also NaN
                far = ((x < lo_x) | (x > hi_x)).squeeze(1)
                where = tuple(far.nonzero().unbind(1))
                rows = z.movedim(1, -1)[where]  # (k, C) copy
                cls = idx.squeeze(1)[where].unsqueeze(1)
                log_x = log_odds(rows, cls).squeeze(1)
                g = gamma if not isinstance(gamma, Tensor) else gamma.squeeze(1)[where]
                f_nlp, f_r, f_focus, f_v = _far_terms(log_x, g)
                nlp.squeeze(1)[where] = f_nlp
                r.squeeze(1)[where] = f_r
                if focus is not None and v is not None:
                    focus.squeeze(1)[where] = f_focus
                    v.squeeze(1)[where] = f_v
        else:
            far = (x < lo_x) | (x > hi_x)
            f_nlp, f_r, f_focus, f_v = _far_terms(log_odds(z, idx), gamma)
            nlp = torch.where(far, f_nlp, nlp)
            r = torch.where(far, f_r, r)
            if focus is not None and v is not None:
                focus = torch.where(far, f_focus, focus)
                v = torch.where(far, f_v, v)
    if focus is None or v is None:
        return nlp, None, None, p, r
    return nlp, focus, focus + focus * v * gamma, p, r


def _softmax(z: Tensor) -> Tensor:
    """``softmax(z, 1)``; written out for fewer than 128 classes, where it is 2-6x faster."""
    if z.shape[1] >= 128:
        return torch.softmax(z, 1)
    e = (z - z.amax(1, keepdim=True)).exp_()  # one allocation: fresh pages cost as much as exp
    if e.dim() == 2:
        return e.div_(torch.mv(e, e.new_ones(e.shape[1])).unsqueeze(1))
    return e.div_(e.sum(1, keepdim=True))


def _dense_values(prob: Tensor, logp: Tensor, gamma: float | Tensor) -> Tensor:
    """``l(p_c) = (1 - p_c)^gamma (-log p_c)`` for every class (exact for p <= 1/2)."""
    if _is_zero(gamma):
        return -logp
    return torch.rsub(prob, 1.0).pow_(gamma).mul_(logp).neg_()


def _dense_weights(prob: Tensor, gamma: float | Tensor) -> Tensor:
    """``G(p_c)`` for every class (exact for p <= 1/2; the row max is overwritten)."""
    if _is_zero(gamma):
        return torch.ones_like(prob)
    r = torch.rsub(prob, 1.0)
    v = torch.xlogy(prob, prob).neg_().div_(r)
    return r.pow_(gamma).mul_(v.mul_(gamma).add_(1.0))


class SoftmaxFocal(torch.autograd.Function):
    """Per-sample softmax focal loss (eager kernel), or ``sum_n loss_n / norm``.

    ``loss_n = hard_scale_n l(p_{n, target_n}) + row_scale_n sum_c
    dense_w_{n,c} l(p_{n,c})``, class axis 1. Saves the softmax (one (N, C)
    tensor), (N,)-sized vectors and a reference to the input. The gradient
    entry of a class with ``p > 1/2`` is formed from the exact ``1 - p``.
    """

    @staticmethod
    def forward(
        ctx: Any,
        z: Tensor,
        gamma: float | Tensor,
        target: Tensor | None,
        hard_scale: Tensor | None,
        dense_w: Tensor | None,
        row_scale: Tensor | None,
        norm: float | Tensor | None,
        host: bool,
    ) -> Tensor:
        loss = idx = amax = hard_coef = hard_value = g_m = p_m = r_m = values = None
        if dense_w is not None:
            logp = torch.log_softmax(z, 1)
            amax = logp.argmax(1, keepdim=True)
            prob = torch.exp(logp)
            values = _dense_values(prob, logp, gamma)
            del logp
        else:
            prob = _softmax(z)
        if target is not None:
            idx = target.unsqueeze(1)
            nlp, focus, hard_coef, _, r_y = _row_terms(
                prob, z, idx, gamma, dense_w is not None, host
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
                    loss = _scaled(hard_value, scale).squeeze(1)
                if not need_value:
                    hard_value = None
            if hard_coef is None and dense_w is not None:
                hard_coef = torch.ones_like(nlp)
        if dense_w is not None:
            assert values is not None
            assert amax is not None
            nlp_m, focus_m, g_m, p_m, r_m = _row_terms(prob, z, amax, gamma, True, host)
            if g_m is None:
                g_m = torch.ones_like(nlp_m)
            values.scatter_(1, amax, nlp_m if focus_m is None else focus_m.mul_(nlp_m))
            dense = (values * dense_w).sum(1)
            if row_scale is not None:
                dense = _scaled(dense, row_scale)
            loss = dense if loss is None else loss + dense
            if not ctx.needs_input_grad[4]:
                values = None
        # the input is saved (a reference) for the double backward only
        ctx.save_for_backward(
            z, target, hard_scale, dense_w, row_scale, prob, hard_coef, hard_value, amax, g_m,
            p_m, r_m, values, norm if isinstance(norm, Tensor) else None,
        )  # fmt: skip
        ctx.gamma = gamma
        # a tensor norm is saved above (not kept on ctx); a number stays here
        ctx.norm = None if isinstance(norm, Tensor) else norm
        ctx.reduced = norm is not None
        assert loss is not None
        if norm is not None:
            loss = loss.sum() / norm
        return loss

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        saved = ctx.saved_tensors
        z, target, hard_scale, dense_w, row_scale = saved[:5]
        norm = saved[13] if saved[13] is not None else ctx.norm
        if torch.is_grad_enabled():  # create_graph=True: differentiate the exact formula
            return _differentiable_backward(
                ctx, grad, z, target, hard_scale, dense_w, row_scale, norm
            )
        prob, hard_coef, hard_value, amax, g_m, p_m, r_m, values = saved[5:13]
        go = grad / norm if ctx.reduced else grad.unsqueeze(1)  # () or (N, 1, *)
        grad_z = grad_hard = grad_dense = None
        idx = None if target is None else target.unsqueeze(1)
        a = None
        if idx is not None:
            a = go if hard_coef is None else hard_coef * go  # hard_coef None: G = 1
        if dense_w is None:
            if ctx.needs_input_grad[0]:
                grad_z = prob * a  # prob holds softmax - onehot here
        else:
            go_rows = go if row_scale is None else go * row_scale.unsqueeze(1)
            if ctx.needs_input_grad[4]:
                grad_dense = (values * go_rows).sum_to_size(dense_w.shape)
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
                    # one entry per row: gather + scatter_ (scatter_add_ is
                    # nondeterministic on CUDA)
                    grad_z.scatter_(1, idx, grad_z.gather(1, idx) - a)
                grad_z.scatter_(1, amax, p_m * rest - r_m * own)
        if ctx.needs_input_grad[3]:
            grad_hard = (hard_value * go).squeeze(1)
        return grad_z, None, None, grad_hard, grad_dense, None, None, None


def _differentiable_backward(
    ctx: Any,
    grad: Tensor,
    z: Tensor,
    target: Tensor | None,
    hard_scale: Tensor | None,
    dense_w: Tensor | None,
    row_scale: Tensor | None,
    norm: float | Tensor | None,
) -> tuple[Tensor | None, ...]:
    """Gradients as differentiable functions of the inputs (for double backward)."""
    inputs = ((0, z), (3, hard_scale), (4, dense_w))
    # an input that is None never needs a gradient
    wanted = [(i, t) for i, t in inputs if t is not None and ctx.needs_input_grad[i]]

    def loss_fn() -> Tensor:
        loss = per_sample_traceable(z, ctx.gamma, target, hard_scale, dense_w, row_scale)
        return loss if norm is None else loss.sum() / norm

    return differentiable_grads(loss_fn, wanted, grad, 8)


def compiled_index_path(z: Tensor, gamma: float | Tensor, t: SoftmaxTargets) -> bool:
    """Whether :class:`CompiledSoftmaxFocal` runs: compiling, class indices, a number gamma,
    and no torch.func transform around the loss (a compiled Function has no vmap rule there)."""
    return (
        compiling_plain_autograd()
        and t.index is not None
        and t.dense_w is None
        and not isinstance(gamma, Tensor)
        and z.shape[1] > 1
    )


def softmax_focal(
    z: Tensor,
    gamma: float | Tensor,
    targets: SoftmaxTargets,
    reduction: str,
    host: bool,
    traced: bool,
) -> Tensor:
    """Reduced softmax focal loss of ``z`` (N, C, *) in its compute dtype.

    Runs :class:`SoftmaxFocal` in eager mode and :func:`per_sample_traceable`
    where data cannot be read on the host (``traced``: compile, export,
    torch.func, FakeTensor, meta) or where ``gamma`` requires a gradient.
    """
    t = targets
    traceable = traced or (isinstance(gamma, Tensor) and gamma.requires_grad)
    if traceable:
        if compiled_index_path(z, gamma, t):
            loss = CompiledSoftmaxFocal.apply(z, t.index, gamma)[0]
            if t.hard_scale is not None:
                loss = _scaled(loss, t.hard_scale)
        else:
            loss = per_sample_traceable(z, gamma, t.index, t.hard_scale, t.dense_w, t.row_scale)
        if reduction == "none":
            return loss
        total = loss.sum()
        if reduction == "sum":
            return total
        divisor, offset = safe_mean_parts(t.denominator)
        out = total / divisor
        return out if offset is None else out + offset
    args = (z, gamma, t.index, t.hard_scale, t.dense_w, t.row_scale)
    if reduction == "none":
        return SoftmaxFocal.apply(*args, None, host)
    if reduction == "sum":
        return SoftmaxFocal.apply(*args, 1, host)
    divisor, offset = safe_mean_parts(t.denominator)
    if isinstance(divisor, Tensor) and divisor.requires_grad:  # weights that require grad
        out = SoftmaxFocal.apply(*args, None, host).sum() / divisor
    else:
        out = SoftmaxFocal.apply(*args, divisor, host)
    return out if offset is None else out + offset
