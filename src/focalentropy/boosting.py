r"""Focal objectives for gradient-boosted trees (LightGBM, XGBoost).

A boosting library fits trees to the gradient and Hessian of the loss with
respect to the raw score (the margin before the sigmoid or softmax). This
module gives both exactly, in float64, for the focal loss
``l(q) = -(1-q)^gamma log q``:

* binary / one-vs-rest (``kind="sigmoid"``): raw score ``x``, ``q = sigmoid(x)``,
  target ``t`` in ``[0, 1]``, loss ``alpha t l(q) + (1-alpha)(1-t) l(1-q)``
  (``alpha=None``: both weights 1);
* multi-class (``kind="softmax"``): raw scores ``z`` of shape ``(..., K)``,
  ``p = softmax(z)``, label ``y``, loss ``alpha_y l(p_y)``.

:func:`grad_hess` is the NumPy core; :func:`lightgbm_objective` and
:func:`xgboost_objective` wrap it in the call signatures of each library (the
native ``train`` functions and the scikit-learn estimators), with matching
evaluation metrics (:func:`lightgbm_metric`, :func:`xgboost_metric`).
A model trained this way converges, in the population, to the focal
minimizer ``Q* = focalentropy.minimizer(P, gamma)``, not to the posterior
``P``; :func:`recover_from_raw` applies the inverse map to raw scores.

Neither lightgbm nor xgboost is imported by this module: the adapters only
call ``get_label`` / ``get_weight`` on the data set they are handed.

References
----------
.. [1] J. Shah, M. Cardone, A. Dytso, "Functional Properties of the
   Focal-Entropy", arXiv:2603.02533, 2026.
.. [2] T.-Y. Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017.
"""

from __future__ import annotations

import numbers
from typing import Any, Literal, cast

import numpy as np
from numpy.typing import ArrayLike

from ._logit import log_phi, logit_terms, sigmoid
from ._minimizer import _minimizer_of_weights
from ._validation import (
    Gamma,
    as_float_array,
    check_choice,
    check_gamma,
    check_sigmoid_alpha,
    first_bad,
)

__all__ = [
    "LightGBMFocalMetric",
    "LightGBMFocalObjective",
    "XGBoostFocalMetric",
    "XGBoostFocalObjective",
    "focal_loss_from_raw",
    "grad_hess",
    "initial_score",
    "lightgbm_metric",
    "lightgbm_objective",
    "probabilities_from_raw",
    "recover_from_raw",
    "xgboost_metric",
    "xgboost_objective",
]

_KINDS = ("sigmoid", "softmax")
_HESSIANS = ("exact", "positive")
Kind = Literal["sigmoid", "softmax"]
Hessian = Literal["exact", "positive"]
#: elements per block: the ~20 temporaries of a block stay in cache and below
#: glibc's mmap threshold (fresh large arrays page-fault on every call)
_BLOCK = 8192


# ---------------------------------------------------------------------------
# argument checks (house style of focalentropy._validation)
# ---------------------------------------------------------------------------


def _check_kind(kind: object) -> Kind:
    return cast(Kind, check_choice(kind, "kind", _KINDS))


def _check_hessian(hessian: object) -> Hessian:
    return cast(Hessian, check_choice(hessian, "hessian", _HESSIANS))


def _check_raw(raw: ArrayLike) -> np.ndarray:
    arr = as_float_array(raw, "raw")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(f"`raw` must contain finite scores; {first_bad(arr, bad)}")
    return arr


def _check_softmax_raw(arr: np.ndarray) -> None:
    if arr.ndim == 0 or arr.shape[-1] < 2:
        raise ValueError(
            '`raw` must have a class axis (last) of length >= 2 for kind="softmax", '
            f"got shape {arr.shape}"
        )


def _check_targets(y: ArrayLike, shape: tuple[int, ...]) -> np.ndarray:
    """Sigmoid targets: probabilities in [0, 1] with the shape of ``raw``."""
    arr = as_float_array(y, "y")
    if arr.shape != shape:
        raise ValueError(f"`y` must have the shape of `raw` {shape}, got {arr.shape}")
    bad = ~((arr >= 0) & (arr <= 1))
    if bad.any():
        raise ValueError(f"`y` must contain targets in [0, 1]; {first_bad(arr, bad)}")
    return arr


def _check_labels(y: ArrayLike, shape: tuple[int, ...], k: int) -> np.ndarray:
    """Softmax labels: integers in [0, K) with the shape of ``raw`` minus the class axis."""
    arr = as_float_array(y, "y")
    if arr.shape != shape:
        raise ValueError(
            f"`y` must have the shape of `raw` without its class axis {shape}, got {arr.shape}"
        )
    bad = ~((arr >= 0) & (arr < k) & (arr == np.floor(arr)))
    if bad.any():
        raise ValueError(
            f"`y` must contain integer class labels in [0, {k}); {first_bad(arr, bad)}"
        )
    return arr.astype(np.intp)


def _check_sample_weight(w: ArrayLike | None, shape: tuple[int, ...]) -> np.ndarray | None:
    if w is None:
        return None
    arr = as_float_array(w, "sample_weight")
    if arr.size == 0 and shape != (0,):
        return None  # XGBoost reports "no weights" as an empty array
    if arr.shape != shape:
        raise ValueError(f"`sample_weight` must have shape {shape}, got {arr.shape}")
    bad = ~((arr >= 0) & np.isfinite(arr))
    if bad.any():
        raise ValueError(f"`sample_weight` must be finite and >= 0; {first_bad(arr, bad)}")
    return arr


def _check_softmax_alpha(alpha: ArrayLike | None, k: int) -> np.ndarray | None:
    if alpha is None:
        return None
    arr = as_float_array(alpha, "alpha")
    if arr.ndim != 1 or arr.shape[0] != k:
        raise ValueError(
            f'`alpha` must be a vector of {k} per-class weights for kind="softmax", '
            f"got shape {arr.shape}"
        )
    bad = ~((arr > 0) & np.isfinite(arr))
    if bad.any():
        raise ValueError(f"`alpha` must be positive and finite; {first_bad(arr, bad)}")
    return arr


# ---------------------------------------------------------------------------
# the core: terms of one Bernoulli focal term in its margin
# ---------------------------------------------------------------------------


def _focal_terms(
    m: np.ndarray, g: float, hessian: str
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
    """``A, B, q, r`` of ``f(m) = l(sigmoid(m))``: ``f' = -A``, ``f'' = A q - B``.

    ``A = G(q) r = r^(g+1) (1 + g v)`` and
    ``B = g q r^(g+1) ((1-g) v + s - 2) = q r^2 G'(q)``; ``hessian="positive"``
    keeps ``B`` only where it is negative (see :func:`grad_hess`, Notes).
    """
    q, r, s, u, v = logit_terms(m)
    rg1 = np.exp(-(g + 1.0) * u)  # r^(gamma+1), exact in log space
    a = rg1 * (1.0 + g * v)
    if g == 0:
        b = None
    else:
        b = (g * q) * rg1 * ((1.0 - g) * v + s - 2.0)
        if hessian == "positive":
            b = np.minimum(b, 0.0)
    return a, b, q, r


def _sigmoid_block(
    x: np.ndarray, t: np.ndarray, g: float, a1: float, a0: float, hessian: str, hard: bool
) -> tuple[np.ndarray, np.ndarray]:
    if hard:
        pos = t == 1
        sign = np.where(pos, 1.0, -1.0)
        a, b, q, _ = _focal_terms(sign * x, g, hessian)
        if a1 != 1.0 or a0 != 1.0:
            w = np.where(pos, a1, a0)
            a = a * w
            b = None if b is None else b * w
        grad = -sign * a
        hess = a * q if b is None else a * q - b
        return grad, hess
    a_p, b_p, q_p, _ = _focal_terms(x, g, hessian)
    a_n, b_n, q_n, _ = _focal_terms(-x, g, hessian)
    w_p = a1 * t
    w_n = a0 * (1.0 - t)
    grad = w_n * a_n - w_p * a_p
    h_p = a_p * q_p if b_p is None else a_p * q_p - b_p
    h_n = a_n * q_n if b_n is None else a_n * q_n - b_n
    return grad, w_p * h_p + w_n * h_n


def _sigmoid_grad_hess(
    x: np.ndarray, t: np.ndarray, g: float, a1: float, a0: float, hessian: str
) -> tuple[np.ndarray, np.ndarray]:
    """Blocked over the flattened scores, so that temporaries stay in cache."""
    hard = bool(np.all((t == 0) | (t == 1)))
    xf = x.reshape(-1)
    tf = t.reshape(-1)
    grad = np.empty_like(xf)
    hess = np.empty_like(xf)
    for start in range(0, xf.shape[0], _BLOCK):
        sl = slice(start, start + _BLOCK)
        grad[sl], hess[sl] = _sigmoid_block(xf[sl], tf[sl], g, a1, a0, hessian, hard)
    return grad.reshape(x.shape), hess.reshape(x.shape)


def _softmax_parts(
    z: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Margin ``x = z_y - logsumexp_{k != y} z_k``, ``pi_j = p_j / (1 - p_y)``
    (zero at ``y``) and ``omega_j = 1 - pi_j``, all without cancellation."""
    n = z.shape[0]
    rows = np.arange(n)
    zy = z[rows, y]
    zm = z.copy()
    zm[rows, y] = -np.inf
    jstar = np.argmax(zm, axis=1)
    top = zm[rows, jstar]
    e = np.exp(zm - top[:, None])  # exactly 0 at y, 1 at jstar
    e[rows, jstar] = 0.0
    rest = e.sum(axis=1)  # sum over k not in {y, jstar}
    e[rows, jstar] = 1.0
    total = 1.0 + rest
    pi = e / total[:, None]
    omega = 1.0 - pi  # accurate where pi <= 1/2, i.e. everywhere but jstar
    omega[rows, jstar] = rest / total
    x = zy - (top + np.log1p(rest))
    return x, pi, omega, rows


def _softmax_grad_hess(
    z: np.ndarray,
    y: np.ndarray,
    g: float,
    alpha: np.ndarray | None,
    weight: np.ndarray | None,
    hessian: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Blocked over rows, so that temporaries stay in cache."""
    n, k = z.shape
    grad = np.empty_like(z)
    hess = np.empty_like(z)
    step = max(1, _BLOCK // k)
    for start in range(0, n, step):
        sl = slice(start, start + step)
        grad[sl], hess[sl] = _softmax_block(
            z[sl], y[sl], g, alpha, None if weight is None else weight[sl], hessian
        )
    return grad, hess


def _softmax_block(
    z: np.ndarray,
    y: np.ndarray,
    g: float,
    alpha: np.ndarray | None,
    weight: np.ndarray | None,
    hessian: str,
) -> tuple[np.ndarray, np.ndarray]:
    x, pi, omega, rows = _softmax_parts(z, y)
    a, b, q, r = _focal_terms(x, g, hessian)
    scale = None
    if alpha is not None:
        scale = alpha[y]
    if weight is not None:
        scale = weight if scale is None else scale * weight
    if scale is not None:
        a = a * scale
        b = None if b is None else b * scale
    grad = a[:, None] * pi
    grad[rows, y] = -a
    hess = grad * (q[:, None] + r[:, None] * omega)
    if b is not None:
        hess -= b[:, None] * (pi * pi)
        hess[rows, y] = a * q - b
    else:
        hess[rows, y] = a * q
    return grad, hess


# ---------------------------------------------------------------------------
# public NumPy functions
# ---------------------------------------------------------------------------


def grad_hess(
    raw: ArrayLike,
    y: ArrayLike,
    gamma: Gamma,
    *,
    alpha: ArrayLike | None = None,
    kind: Kind = "sigmoid",
    hessian: Hessian = "exact",
    sample_weight: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Gradient and Hessian of the focal loss with respect to raw scores.

    ``kind="sigmoid"`` (binary, one-vs-rest): with ``q = sigmoid(x)`` and
    target ``t`` in ``[0, 1]``, the loss of one score is
    ``L = a1 t l(q) + a0 (1-t) l(1-q)`` with ``l(q) = -(1-q)^gamma log q``,
    ``a1 = alpha`` and ``a0 = 1 - alpha`` (both 1 for ``alpha=None``). For
    ``t = 1``, with ``r = 1 - q``, ``s = -log q`` and ``v = q s / r``:

    .. math::

        \frac{dL}{dx} = -G(q)\, r = -r^{\gamma+1} (1 + \gamma v), \qquad
        \frac{d^2L}{dx^2} = q\, r^{\gamma+1}\,(1 + 2\gamma + \gamma^2 v - \gamma s),

    where ``G(q) = (1-q)^gamma (1 + gamma v)`` is
    :func:`focalentropy.gradient_weight`; ``t = 0`` is the same at ``-x``.

    ``kind="softmax"`` (multi-class): with ``p = softmax(z)`` and label
    ``y``, ``L = alpha_y l(p_y)``; the gradient is
    ``alpha_y G(p_y) (p - onehot(y))`` and the diagonal of the Hessian
    (the form LightGBM and XGBoost take for multi-class objectives) is

    .. math::

        \frac{\partial^2 L}{\partial z_j^2} = \alpha_y \left[ G(p_y)\, p_j (1 - p_j)
        - G'(p_y)\, p_y\, (p_j - \delta_{jy})^2 \right].

    Parameters
    ----------
    raw : array_like
        Raw scores (margins). Sigmoid: any shape. Softmax: shape ``(..., K)``,
        class axis last, ``K >= 2``. Every entry must be finite.
    y : array_like
        Sigmoid: targets in ``[0, 1]`` (labels 0/1 or soft targets), shape of
        ``raw``. Softmax: integer class labels in ``[0, K)``, shape
        ``raw.shape[:-1]`` (floats holding integers are accepted).
    gamma : float
        Focusing parameter, ``gamma >= 0``; ``gamma = 0`` is the log loss.
    alpha : None, float or array_like, optional
        Sigmoid: weight of the positive term, a scalar in ``(0, 1)``
        (RetinaNet). Softmax: a vector of ``K`` positive per-class weights.
    kind : {"sigmoid", "softmax"}, optional
        Default ``"sigmoid"``.
    hessian : {"exact", "positive"}, optional
        ``"exact"`` (default): the second derivative above, which is negative
        for badly misclassified samples when ``gamma > 0``. ``"positive"``:
        a positive curvature for Newton steps, see Notes.
    sample_weight : array_like, optional
        Non-negative weights of the samples, shape of ``y``; multiply both
        outputs.

    Returns
    -------
    grad, hess : ndarray
        float64 arrays of the shape of ``raw``.

    Notes
    -----
    **Accuracy.** Everything is formed in the margin ``x`` (for softmax
    ``x = z_y - logsumexp_{k != y} z_k``) from ``softplus(+-x)``, so ``q``,
    ``1 - q``, their logarithms and the powers ``r^(gamma+1) =
    exp(-(gamma+1) softplus(x))`` are exact for every finite score; in
    particular nothing like ``(1-q)^(gamma-1)`` with ``q`` rounded to 1 is
    evaluated, and the results are finite for all ``gamma >= 0``, including
    ``0 < gamma < 1`` and ``|raw|`` of ``1e4`` and more. For softmax,
    ``1 - p_j`` is a sum of the other probabilities (no cancellation).

    **The positive Hessian.** Write the loss as a function of the
    cross-entropy ``c = -log p_y`` (convex in the scores):
    ``L = alpha_y psi(c)`` with ``psi(c) = (1 - e^-c)^gamma c``. Then
    ``psi'(c) = G(p_y) >= 0`` and ``psi''(c) = -p_y G'(p_y)``, and

    .. math::

        \nabla^2 L = \alpha_y \left[ G(p_y)\, \nabla^2 c
        - p_y G'(p_y)\, \nabla c\, \nabla c^{\top} \right],
        \qquad \nabla c = p - e_y .

    The first term is positive semi-definite: it is the Hessian of the
    cross-entropy weighted by ``G(p_y)`` *held fixed* (the focal gradient is
    exactly ``G(p_y)`` times the cross-entropy gradient), the
    generalized Gauss-Newton / Fisher part, with diagonal
    ``H_F = alpha_y G(p_y) p_j (1 - p_j)``. The rank-one term has the sign of
    ``-G'(p_y)``. ``G`` has a single maximum (at ``q_max``,
    :func:`focalentropy.max_gradient_weight`), so the term is non-negative
    for easy samples (``p_y >= q_max``) and negative for hard ones, where it
    drives the exact Hessian below zero once ``p_y`` is small enough (every
    ``gamma > 0`` has such a region; binary, ``gamma = 2``: ``q_max = 0.104``
    and ``d^2L/dx^2 < 0`` for ``p_y < 0.058``). ``hessian="positive"``
    keeps the rank-one term only where it is non-negative,

    .. math::

        H_+ = \alpha_y \left[ G(p_y)\, p_j (1 - p_j)
        + \max(-p_y G'(p_y), 0)\, (p_j - \delta_{jy})^2 \right] = \max(H, H_F),

    the diagonal of a positive semi-definite matrix: the exact Hessian for
    easy samples and the fixed-weight curvature ``H_F`` for hard ones. It is
    continuous in the scores, equals the exact Hessian for ``gamma = 0``, and
    is positive wherever ``H_F`` is representable (it underflows to 0 only
    with ``p_j (1 - p_j)`` or ``G(p_y)``, as the built-in log-loss Hessian
    does). Newton leaf values ``-sum(grad) / sum(hess)`` of hard samples are
    then those of the ``G``-weighted log loss: bounded like a
    logistic-regression step, instead of exploding (``H -> 0``) or pointing
    uphill (``H < 0``). For soft sigmoid targets each of the two terms is
    treated this way.

    The built-in multi-class objectives use other Hessian scales for the
    log loss (``gamma = 0``): LightGBM ``multiclass`` uses
    ``K/(K-1) p (1-p)``, XGBoost ``multi:softprob`` ``2 p (1-p)``; the
    adapters' ``hessian_scale`` reproduces them. Binary built-ins use
    ``p (1-p)``, as here.

    Examples
    --------
    >>> import numpy as np
    >>> from focalentropy.boosting import grad_hess
    >>> x = np.array([-3.0, 0.0, 2.0])
    >>> g0, h0 = grad_hess(x, [1, 0, 1], 0.0)          # gamma = 0: logistic loss
    >>> q = 1 / (1 + np.exp(-x))
    >>> bool(np.allclose(g0, q - [1, 0, 1]) and np.allclose(h0, q * (1 - q)))
    True
    >>> g, h = grad_hess(x, [1, 0, 1], 2.0)
    >>> np.round(h, 4)                                  # negative for the hard sample
    array([-0.0201,  0.3991,  0.0127])
    >>> np.round(grad_hess(x, [1, 0, 1], 2.0, hessian="positive")[1], 4)
    array([0.0534, 0.3991, 0.0127])
    >>> g, h = grad_hess([[2.0, 0.0, -1.0]], [1], 2.0, kind="softmax")
    >>> bool(abs(g.sum()) < 1e-15)
    True
    >>> bool(np.isfinite(grad_hess([1e4, -1e4], [1, 1], 0.5)[1]).all())
    True
    """
    g = check_gamma(gamma)
    _check_kind(kind)
    _check_hessian(hessian)
    arr = _check_raw(raw)
    if kind == "sigmoid":
        return _sigmoid_objective(arr, y, g, alpha, hessian, sample_weight)
    return _softmax_objective(arr, y, g, alpha, hessian, sample_weight)


def _sigmoid_weights(alpha: Any) -> tuple[float, float]:
    """``(a1, a0)``: the weights of the positive and negative terms (1, 1 for None)."""
    a = check_sigmoid_alpha(alpha)
    return (1.0, 1.0) if a is None else (a, 1.0 - a)


def _sigmoid_objective(
    arr: np.ndarray, y: Any, g: float, alpha: Any, hessian: str, sample_weight: Any
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`grad_hess` for ``kind="sigmoid"``: checks, blocked kernel, sample weights."""
    t = _check_targets(y, arr.shape)
    a1, a0 = _sigmoid_weights(alpha)
    w = _check_sample_weight(sample_weight, arr.shape)
    grad, hess = _sigmoid_grad_hess(arr, t, g, a1, a0, hessian)
    if w is not None:
        grad = grad * w
        hess = hess * w
    return np.asarray(grad, dtype=np.float64), np.asarray(hess, dtype=np.float64)


def _softmax_objective(
    arr: np.ndarray, y: Any, g: float, alpha: Any, hessian: str, sample_weight: Any
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`grad_hess` for ``kind="softmax"``: checks, rows, blocked kernel, shape back."""
    _check_softmax_raw(arr)
    k = arr.shape[-1]
    labels = _check_labels(y, arr.shape[:-1], k)
    al = _check_softmax_alpha(alpha, k)
    w = _check_sample_weight(sample_weight, arr.shape[:-1])
    z = arr.reshape(-1, k)
    grad, hess = _softmax_grad_hess(
        z, labels.reshape(-1), g, al, None if w is None else w.reshape(-1), hessian
    )
    return grad.reshape(arr.shape), hess.reshape(arr.shape)


def focal_loss_from_raw(
    raw: ArrayLike,
    y: ArrayLike,
    gamma: Gamma,
    *,
    alpha: ArrayLike | None = None,
    kind: str = "sigmoid",
) -> np.ndarray:
    r"""Per-sample focal loss of raw scores, exact in log space.

    Sigmoid: ``a1 t l(sigmoid(x)) + a0 (1-t) l(1 - sigmoid(x))``; softmax:
    ``alpha_y l(softmax(z)_y)``, with ``l(q) = -(1-q)^gamma log q`` and the
    conventions of :func:`grad_hess`.

    Parameters
    ----------
    raw, y, gamma, alpha, kind
        As in :func:`grad_hess`.

    Returns
    -------
    ndarray
        Sigmoid: shape of ``raw``; softmax: ``raw.shape[:-1]``.

    Examples
    --------
    >>> import numpy as np
    >>> from focalentropy.boosting import focal_loss_from_raw
    >>> bool(float(focal_loss_from_raw(0.0, 1, 2.0)) == 0.25 * np.log(2))
    True
    >>> float(focal_loss_from_raw(-800.0, 1, 0.5))       # log(1 + e^800), no overflow
    800.0
    """
    g = check_gamma(gamma)
    _check_kind(kind)
    arr = _check_raw(raw)
    if kind == "sigmoid":
        t = _check_targets(y, arr.shape)
        a1, a0 = _sigmoid_weights(alpha)
        _, _, s, u, _ = logit_terms(arr)
        # l(q) = r^gamma s and l(r) = q^gamma u
        pos_term = np.where(t > 0, np.exp(-g * u) * s, 0.0)
        neg_term = np.where(t < 1, np.exp(-g * s) * u, 0.0)
        return (a1 * t * pos_term + a0 * (1.0 - t) * neg_term)[()]
    _check_softmax_raw(arr)
    k = arr.shape[-1]
    labels = _check_labels(y, arr.shape[:-1], k)
    al = _check_softmax_alpha(alpha, k)
    flat = labels.reshape(-1)
    x = _softmax_parts(arr.reshape(-1, k), flat)[0]
    _, _, s, u, _ = logit_terms(x)
    out = np.exp(-g * u) * s
    if al is not None:
        out = out * al[flat]
    return out.reshape(arr.shape[:-1])[()]


def probabilities_from_raw(raw: ArrayLike, *, kind: str = "sigmoid") -> np.ndarray:
    """Model probabilities from raw scores: ``sigmoid(raw)`` or ``softmax(raw)``.

    Parameters
    ----------
    raw : array_like
        Finite raw scores; softmax: class axis last.
    kind : {"sigmoid", "softmax"}, optional

    Returns
    -------
    ndarray
        Shape of ``raw``, float64.

    Examples
    --------
    >>> from focalentropy.boosting import probabilities_from_raw
    >>> probabilities_from_raw([0.0, 800.0])
    array([0.5, 1. ])
    >>> probabilities_from_raw([[0.0, 0.0]], kind="softmax")
    array([[0.5, 0.5]])
    """
    _check_kind(kind)
    arr = _check_raw(raw)
    if kind == "sigmoid":
        return sigmoid(arr)[()]
    _check_softmax_raw(arr)
    e = np.exp(arr - arr.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _leave_one_out_logits(z: np.ndarray) -> np.ndarray:
    """``t_x = log(p_x / (1 - p_x)) = z_x - logsumexp_{k != x} z_k`` for every class."""
    n = z.shape[0]
    rows = np.arange(n)
    m = np.argmax(z, axis=1)
    top = z[rows, m]
    e = np.exp(z - top[:, None])
    total = e.sum(axis=1, keepdims=True)
    # for x != argmax the sum of the others contains e_argmax = 1: no cancellation
    with np.errstate(divide="ignore"):
        others = np.log(total - e) + top[:, None]
    zm = z.copy()
    zm[rows, m] = -np.inf
    second = zm.max(axis=1)
    others[rows, m] = second + np.log(np.exp(zm - second[:, None]).sum(axis=1))
    return z - others


def recover_from_raw(
    raw: ArrayLike, gamma: Gamma, *, alpha: ArrayLike | None = None, kind: str = "sigmoid"
) -> np.ndarray:
    r"""Class-posterior estimates from the raw scores of a focal-trained model.

    A model trained with the focal loss converges to the focal minimizer
    ``Q* = focalentropy.minimizer(P, gamma, alpha=alpha, kind=kind)``, not to
    the posterior ``P``; this applies the inverse map
    :func:`focalentropy.recover` to the model's probabilities, computed from
    the raw scores in log space (each class's logit
    ``log(q / (1-q))`` is taken from the scores directly, so saturated scores
    lose nothing):

    .. math::

        P(x) \propto \frac{1}{\alpha_x \phi(Q(x))} \;\; \text{(softmax)}, \qquad
        p = \frac{(1-\alpha)\phi(1-q)}{\alpha\phi(q) + (1-\alpha)\phi(1-q)}
        \;\; \text{(sigmoid)}.

    Parameters
    ----------
    raw : array_like
        Finite raw scores; softmax: shape ``(..., K)``, class axis last.
    gamma : float
        The focusing parameter used in training.
    alpha : None, float or array_like, optional
        The ``alpha`` used in training (as in :func:`grad_hess`).
    kind : {"sigmoid", "softmax"}, optional

    Returns
    -------
    ndarray
        Shape of ``raw``: probabilities (sigmoid) or rows summing to 1.

    Examples
    --------
    >>> import numpy as np
    >>> import focalentropy as fe
    >>> from focalentropy.boosting import recover_from_raw
    >>> z = np.array([[1.5, 0.2, -2.0]])
    >>> q = np.exp(z) / np.exp(z).sum()
    >>> bool(np.allclose(recover_from_raw(z, 2.0, kind="softmax"), fe.recover(q, 2.0)))
    True
    >>> float(recover_from_raw(0.0, 2.0))          # the decision boundary stays put
    0.5
    """
    g = check_gamma(gamma)
    _check_kind(kind)
    arr = _check_raw(raw)
    if kind == "sigmoid":
        a = check_sigmoid_alpha(alpha)
        log_odds_weight = 0.0 if a is None else np.log((1.0 - a) / a)
        # log phi(q) - log phi(1 - q) from the logit t = raw itself
        return sigmoid(log_phi(-arr, g) - log_phi(arr, g) + log_odds_weight)[()]
    _check_softmax_raw(arr)
    k = arr.shape[-1]
    al = _check_softmax_alpha(alpha, k)
    t = _leave_one_out_logits(arr.reshape(-1, k))
    score = -log_phi(t, g)  # -log phi(Q(x))
    if al is not None:
        score = score - np.log(al)
    e = np.exp(score - score.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).reshape(arr.shape)


def initial_score(
    y: ArrayLike,
    gamma: Gamma,
    *,
    alpha: ArrayLike | None = None,
    kind: Kind = "sigmoid",
    num_class: int | None = None,
    sample_weight: ArrayLike | None = None,
) -> np.ndarray:
    r"""The best constant raw score: where boosting from an intercept starts.

    For a constant prediction the focal loss averaged over the data is the
    focal cross-entropy of the (weighted) label frequencies ``P``, so the best
    constant probability is ``Q* = focalentropy.minimizer(P, gamma, ...)``
    and the best constant score is its logit (sigmoid) or ``log Q*``
    (softmax). For ``gamma = 0`` this is the intercept the built-in
    ``binary`` objectives start from (``log(P / (1-P))``). Custom objectives
    start from 0 unless given an ``init_score`` (LightGBM) or ``base_margin``
    (XGBoost); pass this, repeated per sample.

    Parameters
    ----------
    y : array_like
        Sigmoid: targets in ``[0, 1]``, any shape (one score for all).
        Softmax: integer labels in ``[0, num_class)``, shape ``(n,)``.
    gamma : float
    alpha : None, float or array_like, optional
        As in :func:`grad_hess`.
    kind : {"sigmoid", "softmax"}, optional
    num_class : int, optional
        Softmax: number of classes (default ``max(y) + 1``).
    sample_weight : array_like, optional
        Non-negative weights, shape of ``y``.

    Returns
    -------
    ndarray
        Sigmoid: a scalar; softmax: shape ``(num_class,)``.

    Raises
    ------
    ValueError
        If a class (or, for sigmoid, either outcome) has zero total weight:
        its best score is ``-inf``.

    Examples
    --------
    >>> import numpy as np
    >>> from focalentropy.boosting import initial_score
    >>> y = np.array([1, 0, 0, 0])
    >>> bool(np.isclose(initial_score(y, 0.0), np.log(1 / 3)))
    True
    >>> round(float(initial_score(y, 2.0)), 4)   # pulled towards 0: Q* is less extreme
    -0.4104
    """
    g = check_gamma(gamma)
    _check_kind(kind)
    if kind == "sigmoid":
        return _sigmoid_initial_score(y, g, alpha, sample_weight)
    return _softmax_initial_score(y, g, alpha, num_class, sample_weight)


def _sigmoid_initial_score(y: Any, g: float, alpha: Any, sample_weight: Any) -> np.ndarray:
    """The logit of the minimizer of the weighted target frequencies (one score for all)."""
    t = as_float_array(y, "y")
    t = _check_targets(t, t.shape)
    w = _check_sample_weight(sample_weight, t.shape)
    w = np.ones_like(t) if w is None else w
    total = w.sum()
    pos = float((w * t).sum())
    neg = float((w * (1.0 - t)).sum())
    if pos <= 0 or neg <= 0:
        raise ValueError("`y` must contain both outcomes (with positive weight)")
    # minimizer as a 2-class problem keeps 1 - q exact
    a = check_sigmoid_alpha(alpha)
    freq = np.array([pos / total, neg / total])
    qs, _ = _minimizer_of_weights(freq if a is None else freq * np.array([a, 1.0 - a]), g)
    return np.asarray(np.log(qs[0]) - np.log(qs[1]))[()]


def _check_num_class(num_class: Any, labels: np.ndarray) -> int:
    """``num_class``, by default ``max(labels) + 1``: an integer >= 2."""
    if num_class is None:
        num_class = int(labels.max()) + 1 if labels.size else 0
    if isinstance(num_class, bool) or not isinstance(num_class, numbers.Integral):
        raise TypeError(f"`num_class` must be an integer, got {type(num_class).__name__}")
    if num_class < 2:
        raise ValueError(f"`num_class` must be >= 2, got {num_class}")
    return int(num_class)


def _softmax_initial_score(
    y: Any, g: float, alpha: Any, num_class: Any, sample_weight: Any
) -> np.ndarray:
    """``log Q*`` of the weighted label frequencies, shape ``(num_class,)``."""
    labels = as_float_array(y, "y")
    if labels.ndim != 1:
        raise ValueError(f'`y` must be one-dimensional for kind="softmax", got {labels.shape}')
    k = _check_num_class(num_class, labels)
    index = _check_labels(labels, labels.shape, k)
    w = _check_sample_weight(sample_weight, index.shape)
    counts = np.bincount(index, weights=w, minlength=k).astype(np.float64)
    empty = ~(counts > 0)
    if empty.any():
        raise ValueError(
            f"class {int(np.argmax(empty))} has no samples (zero weight): its best score is -inf"
        )
    al = _check_softmax_alpha(alpha, k)
    freq = counts / counts.sum()
    q, _ = _minimizer_of_weights(freq if al is None else freq * al, g)
    return np.log(q)


# ---------------------------------------------------------------------------
# library adapters
# ---------------------------------------------------------------------------


def _check_scale(hessian_scale: object) -> float:
    if isinstance(hessian_scale, bool) or not isinstance(hessian_scale, numbers.Real):
        raise TypeError(
            f"`hessian_scale` must be a real number, got {type(hessian_scale).__name__}"
        )
    s = float(hessian_scale)
    if not (np.isfinite(s) and s > 0):
        raise ValueError(f"`hessian_scale` must be positive and finite, got {hessian_scale!r}")
    return s


def _check_adapter_alpha(alpha: Any) -> float | np.ndarray | None:
    """Scalar in (0, 1) (binary) or a 1-D vector of positive weights (multi-class)."""
    if alpha is None:
        return None
    if np.ndim(alpha) == 0:
        return check_sigmoid_alpha(alpha)
    return _check_softmax_alpha(alpha, len(alpha))


class _FocalBase:
    """Shared state and the layout logic of the adapters."""

    #: the layout a 1-D multi-class prediction vector comes in
    _flat_layout = "row"

    def __init__(
        self,
        gamma: Gamma,
        *,
        alpha: ArrayLike | None = None,
        hessian: str = "positive",
        hessian_scale: float = 1.0,
    ) -> None:
        self.gamma = check_gamma(gamma)
        self.alpha = _check_adapter_alpha(alpha)
        self.hessian = _check_hessian(hessian)
        self.hessian_scale = _check_scale(hessian_scale)

    def __repr__(self) -> str:
        alpha = None if self.alpha is None else np.asarray(self.alpha).tolist()
        return (
            f"{type(self).__name__}(gamma={self.gamma!r}, alpha={alpha!r}, "
            f"hessian={self.hessian!r}, hessian_scale={self.hessian_scale!r})"
        )

    def _layout(self, preds: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, Kind, str | None]:
        """Return ``(scores, kind, flat)``: 2-D scores for softmax, and the layout
        ``"class"`` / ``"row"`` of a flat multi-class input (None if not flat)."""
        preds = np.asarray(preds, dtype=np.float64)
        labels = np.asarray(labels)
        n = labels.shape[0] if labels.ndim else 1
        if preds.ndim == 2 and preds.shape[1] == 1:
            preds = preds[:, 0]
        if preds.ndim == 1 and preds.shape[0] == n:
            kind: Kind = "sigmoid"
            if self.alpha is not None and np.ndim(self.alpha) != 0:
                raise ValueError(
                    "`alpha` is a per-class vector but the scores are binary (one per "
                    "sample); use a scalar in (0, 1)"
                )
            return preds, kind, None
        if preds.ndim == 1 and n > 0 and preds.shape[0] % n == 0:
            k = preds.shape[0] // n
            if self._flat_layout == "class":
                return preds.reshape(k, n).T, "softmax", "class"
            return preds.reshape(n, k), "softmax", "row"
        if preds.ndim == 2 and preds.shape[0] == n:
            if self.alpha is not None and np.ndim(self.alpha) == 0:
                raise ValueError(
                    f"`alpha` is a scalar but the scores have {preds.shape[1]} classes; "
                    "use a vector of per-class weights"
                )
            return preds, "softmax", None
        raise ValueError(
            f"cannot match the prediction shape {preds.shape} with {n} labels "
            "(expected (n,) for binary or (n, num_class) for multi-class)"
        )

    @staticmethod
    def _unflatten(arr: np.ndarray, flat: str | None) -> np.ndarray:
        if flat is None:
            return arr
        if flat == "row":  # (n, k) row-major
            return arr.reshape(-1)
        return arr.T.reshape(-1)  # class-major layout

    def _grad_hess(
        self, preds: ArrayLike, labels: ArrayLike, weight: ArrayLike | None
    ) -> tuple[np.ndarray, np.ndarray]:
        scores, kind, flat = self._layout(preds, labels)
        grad, hess = grad_hess(
            scores,
            labels,
            self.gamma,
            alpha=self.alpha,
            kind=kind,
            hessian=self.hessian,
            sample_weight=weight,
        )
        if self.hessian_scale != 1.0:
            hess *= self.hessian_scale
        return self._unflatten(grad, flat), self._unflatten(hess, flat)

    def _loss(self, preds: ArrayLike, labels: ArrayLike, weight: ArrayLike | None) -> float:
        scores, kind, _ = self._layout(preds, labels)
        values = focal_loss_from_raw(scores, labels, self.gamma, alpha=self.alpha, kind=kind)
        w = _check_sample_weight(weight, np.shape(values))
        if w is None:
            return float(np.mean(values))
        return float(np.sum(w * values) / np.sum(w))


def _is_dataset(obj: object) -> bool:
    return hasattr(obj, "get_label") and hasattr(obj, "get_weight")


def _dataset_weight(data: Any) -> np.ndarray | None:
    w = data.get_weight()
    if w is None:
        return None
    w = np.asarray(w, dtype=np.float64)
    return w if w.size else None


class LightGBMFocalObjective(_FocalBase):
    """LightGBM custom objective; see :func:`lightgbm_objective`."""

    _flat_layout = "class"

    def __call__(
        self, preds: ArrayLike, train_data: Any, weight: ArrayLike | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(preds, Dataset)`` (native API) or ``(y_true, y_pred, weight)`` (sklearn API)."""
        if _is_dataset(train_data):
            labels, weight = train_data.get_label(), _dataset_weight(train_data)
        else:
            labels, preds = preds, train_data
        return self._grad_hess(preds, labels, weight)


class XGBoostFocalObjective(_FocalBase):
    """XGBoost custom objective; see :func:`xgboost_objective`."""

    def __call__(
        self, predt: ArrayLike, dtrain: Any, *, sample_weight: ArrayLike | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(predt, DMatrix)`` (native API) or ``(y_true, y_pred, sample_weight=)`` (sklearn)."""
        if _is_dataset(dtrain):
            labels, sample_weight = dtrain.get_label(), _dataset_weight(dtrain)
        else:
            labels, predt = predt, dtrain
        return self._grad_hess(predt, labels, sample_weight)


class LightGBMFocalMetric(_FocalBase):
    """LightGBM evaluation metric (mean focal loss); see :func:`lightgbm_metric`."""

    _flat_layout = "class"

    def __init__(
        self, gamma: Gamma, *, alpha: ArrayLike | None = None, name: str = "focal_loss"
    ) -> None:
        super().__init__(gamma, alpha=alpha)
        self.name = name

    def __call__(
        self, preds: ArrayLike, eval_data: Any, weight: ArrayLike | None = None
    ) -> tuple[str, float, bool]:
        """Returns ``(name, mean focal loss, False)`` for either API."""
        if _is_dataset(eval_data):
            labels, weight = eval_data.get_label(), _dataset_weight(eval_data)
        else:
            labels, preds = preds, eval_data
        return self.name, self._loss(preds, labels, weight), False


class XGBoostFocalMetric(_FocalBase):
    """XGBoost evaluation metric (mean focal loss); see :func:`xgboost_metric`."""

    def __init__(
        self, gamma: Gamma, *, alpha: ArrayLike | None = None, name: str = "focal_loss"
    ) -> None:
        super().__init__(gamma, alpha=alpha)
        self.name = name
        self.__name__ = name  # the sklearn wrapper names the metric after the function

    def __call__(
        self, predt: ArrayLike, dtrain: Any, *, sample_weight: ArrayLike | None = None
    ) -> Any:
        """``(predt, DMatrix) -> (name, value)``; ``(y_true, y_score, sample_weight=) -> value``."""
        if _is_dataset(dtrain):
            labels, weight = dtrain.get_label(), _dataset_weight(dtrain)
            return self.name, self._loss(predt, labels, weight)
        return self._loss(dtrain, predt, sample_weight)


_ADAPTER_PARAMS = """
    Parameters
    ----------
    gamma : float
        Focusing parameter, ``gamma >= 0``; ``gamma = 0`` is the log loss.
    alpha : None, float or array_like, optional
        Binary: weight of the positive class, a scalar in ``(0, 1)``.
        Multi-class: a vector of ``K`` positive per-class weights.
    hessian : {"positive", "exact"}, optional
        See :func:`grad_hess`; ``"positive"`` (default) keeps Newton leaf
        values well defined for every ``gamma``.
    hessian_scale : float, optional
        Multiplies the Hessian (and so divides the Newton step). ``K/(K-1)``
        reproduces LightGBM's built-in ``multiclass`` objective at
        ``gamma = 0``, ``2`` XGBoost's ``multi:softprob``. Default 1.
"""


def lightgbm_objective(
    gamma: Gamma,
    *,
    alpha: ArrayLike | None = None,
    hessian: str = "positive",
    hessian_scale: float = 1.0,
) -> LightGBMFocalObjective:
    """Focal-loss custom objective for LightGBM (>= 4).

    Use it as ``lgb.train({"objective": obj, ...}, dataset)`` or
    ``lgb.LGBMClassifier(objective=obj)``. Binary or multi-class is read
    from the shape of the scores (``(n,)`` or ``(n, num_class)``; set
    ``num_class`` in the native API). Labels and sample weights come from
    the data set (the weights multiply gradient and Hessian); an
    ``init_score`` is already part of the scores LightGBM passes in (see
    :func:`initial_score` for the best constant one).

    Custom objectives make LightGBM output raw scores (``predict`` and,
    in the sklearn API, ``predict_proba``); map them with
    :func:`probabilities_from_raw` or :func:`recover_from_raw`.
    {params}
    Returns
    -------
    LightGBMFocalObjective
        A picklable callable: ``obj(preds, dataset)`` or
        ``obj(y_true, y_pred, weight)`` returning ``(grad, hess)``.

    Examples
    --------
    >>> import numpy as np
    >>> from focalentropy.boosting import lightgbm_objective
    >>> obj = lightgbm_objective(2.0, alpha=0.25)
    >>> grad, hess = obj(np.array([1.0, 0.0]), np.array([0.5, -2.0]), None)  # sklearn form
    >>> grad.shape, bool((hess > 0).all())
    ((2,), True)
    """
    return LightGBMFocalObjective(gamma, alpha=alpha, hessian=hessian, hessian_scale=hessian_scale)


def xgboost_objective(
    gamma: Gamma,
    *,
    alpha: ArrayLike | None = None,
    hessian: str = "positive",
    hessian_scale: float = 1.0,
) -> XGBoostFocalObjective:
    """Focal-loss custom objective for XGBoost (>= 2).

    Use it as ``xgb.train(params, dtrain, obj=obj)`` (set ``num_class`` for
    multi-class) or ``xgb.XGBClassifier(objective=obj)``. Binary or
    multi-class is read from the shape of the margins. Labels and sample
    weights come from the ``DMatrix`` (the weights multiply gradient and
    Hessian); a ``base_margin`` is already part of the margins XGBoost
    passes in. With a custom objective, ``xgb.train`` starts from
    ``base_score`` taken as a margin (pass ``base_margin``, e.g. from
    :func:`initial_score`, to control the start) and predicts margins; map
    them with :func:`probabilities_from_raw` or :func:`recover_from_raw`.
    {params}
    Returns
    -------
    XGBoostFocalObjective
        A picklable callable: ``obj(predt, dmatrix)`` or
        ``obj(y_true, y_pred, sample_weight=None)`` returning ``(grad, hess)``.

    Examples
    --------
    >>> import numpy as np
    >>> from focalentropy.boosting import xgboost_objective
    >>> obj = xgboost_objective(1.0, alpha=[1.0, 2.0, 1.0])
    >>> grad, hess = obj(np.array([0, 2]), np.zeros((2, 3)))  # sklearn form
    >>> grad.shape, bool(np.allclose(grad.sum(axis=1), 0))
    ((2, 3), True)
    """
    return XGBoostFocalObjective(gamma, alpha=alpha, hessian=hessian, hessian_scale=hessian_scale)


for _adapter in (lightgbm_objective, xgboost_objective):
    if _adapter.__doc__:  # None under python -OO
        _adapter.__doc__ = _adapter.__doc__.replace("{params}", _ADAPTER_PARAMS)
del _adapter


def lightgbm_metric(
    gamma: Gamma, *, alpha: ArrayLike | None = None, name: str = "focal_loss"
) -> LightGBMFocalMetric:
    """Mean focal loss of raw scores as a LightGBM evaluation metric.

    ``lgb.train(..., feval=metric)`` or ``LGBMClassifier.fit(..., eval_metric=metric)``;
    returns ``(name, value, False)`` (lower is better), so it works with
    ``lgb.early_stopping`` (set ``"metric": "None"`` to stop on it alone).
    Sample weights of the evaluation set are applied (weighted mean).

    Parameters
    ----------
    gamma, alpha
        As in :func:`lightgbm_objective`.
    name : str, optional
        The metric's name in the evaluation log.

    Examples
    --------
    >>> import numpy as np
    >>> from focalentropy.boosting import lightgbm_metric
    >>> name, value, higher_is_better = lightgbm_metric(0.0)(np.array([1.0]), np.array([0.0]))
    >>> name, round(value, 6), higher_is_better
    ('focal_loss', 0.693147, False)
    """
    return LightGBMFocalMetric(gamma, alpha=alpha, name=name)


def xgboost_metric(
    gamma: Gamma, *, alpha: ArrayLike | None = None, name: str = "focal_loss"
) -> XGBoostFocalMetric:
    """Mean focal loss of margins as an XGBoost evaluation metric.

    ``xgb.train(..., custom_metric=metric)`` (returns ``(name, value)``; use
    ``"disable_default_eval_metric": 1`` to stop early on it alone) or
    ``XGBClassifier(eval_metric=metric)`` (returns the value). Lower is
    better. XGBoost passes margins to custom metrics when the objective is
    custom, which is what this metric expects.

    Parameters
    ----------
    gamma, alpha
        As in :func:`xgboost_objective`.
    name : str, optional
        The metric's name in the evaluation log.

    Examples
    --------
    >>> import numpy as np
    >>> from focalentropy.boosting import xgboost_metric
    >>> round(xgboost_metric(2.0)(np.array([1.0]), np.array([0.0])), 6)   # 0.25 log 2
    0.173287
    """
    return XGBoostFocalMetric(gamma, alpha=alpha, name=name)
