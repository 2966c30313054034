"""The closed-form inverse of the focal minimizer on tensors, in log space.

From the minimizer's conditions ``w_c phi(Q_c) = lam`` the data distribution
is ``P_c ∝ 1 / (alpha_c phi(Q_c))`` (softmax) and, one-vs-rest,
``logit P = log((1 - alpha)/alpha) + log phi(1 - Q) - log phi(Q)`` (sigmoid),
with ``phi(q) = -l'(q) = (1-q)^gamma / q - gamma (1-q)^(gamma-1) log q``.
In the logit ``t = log(q / (1-q))``::

    log phi(q) = -t - (gamma - 1) softplus(t) + log1p(gamma rho(t)),
    rho(t) = softplus(-t) e^t = (-log q) q / (1 - q),

all terms exact for every ``t`` (``rho`` is ``log1p(y)/y`` with
``y = e^-t`` for ``t >= 0``), so saturated outputs keep full precision.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ._checks import (
    check_floating,
    check_gamma,
    check_tensor,
    host_checks,
    require_all,
)
from ._softmax import SOFTPLUS_THRESHOLD, _class_ids, log1m_softmax

_KINDS = ("softmax", "sigmoid")


def _rho(t: Tensor) -> Tensor:
    """``softplus(-t) exp(t)`` (-> 1 as t -> inf), exact and finite for finite t."""
    pos = t >= 0
    y = torch.exp(-t.abs())  # e^-t for t >= 0, e^t for t < 0
    tiny = torch.finfo(t.dtype).tiny
    at_pos = torch.where(y > tiny, torch.log1p(y) / torch.where(y > tiny, y, 1.0), 1.0)
    at_neg = F.softplus(-t, threshold=SOFTPLUS_THRESHOLD) * y
    return torch.where(pos, at_pos, at_neg)


def log_phi_of_logit(t: Tensor, gamma: float) -> Tensor:
    """``log phi(sigmoid(t))`` for finite ``t`` (clamp infinite ones first)."""
    sp = F.softplus(t, threshold=SOFTPLUS_THRESHOLD)
    return -t - (gamma - 1.0) * sp + torch.log1p(gamma * _rho(t))


def _logits_from_probabilities(q: Tensor, dim: int) -> Tensor:
    """``log(q / (1 - q))`` per entry; ``1 - q`` of a dominant class from the others' sum."""
    logq = torch.log(q)
    top = q.argmax(dim, keepdim=True)
    others = q.masked_fill(_class_ids(q, dim) == top, 0.0)
    rest = others.sum(dim, keepdim=True)
    log1m = torch.where(q > 0.5, torch.log(rest).expand_as(q), torch.log1p(-q))
    return logq - log1m


def _logits_from_logits(z: Tensor, dim: int) -> Tensor:
    """``log(p_c / (1 - p_c))`` for ``p = softmax(z)``, without cancellation."""
    logp = torch.log_softmax(z, dim)
    return logp - log1m_softmax(logp, dim)


def recover(
    input: Tensor,
    gamma: float,
    *,
    alpha: float | Tensor | None = None,
    kind: Literal["softmax", "sigmoid"] = "softmax",
    dim: int = 1,
    from_logits: bool = False,
    log: bool = False,
) -> Tensor:
    r"""Class posteriors ``P`` from a focal-trained model's outputs (inverse of the minimizer).

    Softmax: :math:`P_c \propto 1 / (\alpha_c \phi(Q_c))`; sigmoid,
    elementwise: :math:`\operatorname{logit} P = \log\frac{1-\alpha}{\alpha}
    + \log\phi(1-Q) - \log\phi(Q)`, with
    :math:`\phi(q) = (1-q)^\gamma/q - \gamma (1-q)^{\gamma-1}\log q`. The
    tensor version of :func:`focalentropy.recover`: computed on the
    tensor's device, in log space (saturated outputs keep full precision),
    differentiable, and free of host synchronization (it compiles and
    exports).

    Parameters
    ----------
    input : Tensor
        Model probabilities ``Q`` (or logits with ``from_logits=True``), the
        classes along ``dim`` for ``kind="softmax"``; any shape for
        ``kind="sigmoid"`` (each entry its own binary problem).
    gamma : float
        The focusing parameter used in training, ``>= 0``.
    alpha : float, Tensor or None
        Softmax: per-class weights of shape (C,) (the focal loss's
        ``weight``); sigmoid: the positive-class weight in ``(0, 1)`` (a
        float or a tensor broadcastable to ``input``). None: unweighted.
    kind : {"softmax", "sigmoid"}
    dim : int, default 1
        Class dimension (softmax), as in ``F.cross_entropy``; 1-D input
        uses dimension 0.
    from_logits : bool, default False
        ``input`` holds logits: softmax logits, or sigmoid logits.
    log : bool, default False
        Return ``log P`` instead of ``P``.

    Returns
    -------
    Tensor
        ``P`` (or ``log P``), the shape and floating dtype of ``input``
        (float16/bfloat16 are computed in float32).

    Examples
    --------
    >>> import torch
    >>> import focalentropy
    >>> from focalentropy.torch import recover
    >>> p = torch.tensor([[0.7, 0.2, 0.08, 0.02]], dtype=torch.float64)
    >>> q = torch.from_numpy(focalentropy.minimizer(p.numpy(), 2.0))
    >>> torch.allclose(recover(q, 2.0), p, rtol=1e-12, atol=0)
    True
    """
    input = check_tensor(input, "input")
    dtype = check_floating(input, "input")
    g = check_gamma(gamma)
    if isinstance(g, Tensor):
        raise TypeError("`gamma` of recover must be a number")
    if kind not in _KINDS:
        raise ValueError(f"`kind` must be one of {_KINDS}, got {kind!r}")
    x = input.to(dtype)
    host = host_checks(x)
    if not from_logits:
        require_all(
            (x >= 0) & (x <= 1),
            host,
            lambda at: (
                "`input` must hold probabilities in [0, 1] (or pass logits with "
                f"`from_logits=True`); found {x[at].item()} at index {at}"
            ),
            "recover: input must hold probabilities in [0, 1]",
        )
    if kind == "sigmoid":
        out = _recover_sigmoid(x, g, alpha, from_logits, log)
    else:
        if x.dim() == 0:
            raise ValueError("`input` must have a class dimension for kind='softmax'")
        d = 0 if x.dim() == 1 and dim in (1, -1) else dim
        if not -x.dim() <= d < x.dim():
            raise ValueError(f"`dim` {dim} is out of range for `input` of shape {tuple(x.shape)}")
        out = _recover_softmax(x, g, alpha, d % x.dim(), from_logits, log)
    return out.to(input.dtype)


def _recover_softmax(
    x: Tensor, g: float, alpha: float | Tensor | None, dim: int, from_logits: bool, log: bool
) -> Tensor:
    t = _logits_from_logits(x, dim) if from_logits else _logits_from_probabilities(x, dim)
    big = torch.finfo(x.dtype).max
    if g == 0:
        score = t - F.softplus(t, threshold=SOFTPLUS_THRESHOLD)  # log q
    else:
        # -log phi(q); a class with q = 1 (t = inf) has phi = 0: P is one-hot there
        score = (-log_phi_of_logit(t.clamp(-big, big), g)).clamp(max=big)
        score = torch.where(t == -math.inf, -math.inf, score)
    if alpha is not None:
        a = check_tensor(alpha, "alpha").to(device=x.device, dtype=x.dtype)
        if a.dim() != 1 or a.shape[0] != x.shape[dim]:
            raise ValueError(
                f"`alpha` must have shape ({x.shape[dim]},), one weight per class, "
                f"got {tuple(a.shape)}"
            )
        _check_alpha_values(a, a > 0, "positive")
        shape = [1] * x.dim()
        shape[dim] = -1
        score = score - torch.log(a).view(shape)
    return torch.log_softmax(score, dim) if log else torch.softmax(score, dim)


def _check_alpha_values(a: Tensor, ok: Tensor, what: str) -> None:
    require_all(
        ok,
        host_checks(a),
        lambda at: f"`alpha` must be {what}, got {a[at].item()} at index {at}",
        f"recover: alpha must be {what}",
    )


def _recover_sigmoid(
    x: Tensor, g: float, alpha: float | Tensor | None, from_logits: bool, log: bool
) -> Tensor:
    t = x if from_logits else torch.log(x) - torch.log1p(-x)
    big = torch.finfo(x.dtype).max
    tc = t.clamp(-big, big)
    if g == 0:
        out_logit = t
    else:
        out_logit = log_phi_of_logit(-tc, g) - log_phi_of_logit(tc, g)
        out_logit = torch.where(torch.isinf(t), t, out_logit)
    a: Tensor | float
    if isinstance(alpha, Tensor):
        a = alpha.to(device=x.device, dtype=x.dtype)
        _check_alpha_values(a, (a > 0) & (a < 1), "in (0, 1)")
        out_logit = out_logit + (torch.log1p(-a) - torch.log(a))
    elif alpha is not None:
        a = float(alpha)
        if a >= 0:  # negative: no weighting, the losses' convention (alpha=-1)
            if not 0 < a < 1:
                raise ValueError(f"`alpha` must lie in (0, 1) (or be negative: none), got {a}")
            out_logit = out_logit + (math.log1p(-a) - math.log(a))
    return F.logsigmoid(out_logit) if log else torch.sigmoid(out_logit)
