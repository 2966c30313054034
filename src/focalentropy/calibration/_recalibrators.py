"""Recalibration maps in scikit-learn style: focal recovery and temperature scaling.

A model trained with focal loss (focusing parameter ``gamma``) estimates the
focal minimizer ``Q* = argmin_Q H_gamma(P, Q)``, not the class posterior
``P``. The KKT conditions ``alpha_x P(x) phi(Q*(x)) = lam`` invert in closed
form (docs/theory.rst, section "The inverse map"; Charoenphakdee et al., CVPR 2021):

    P(x) = (1 / (alpha_x phi(Q*(x)))) / sum_y 1 / (alpha_y phi(Q*(y))),

which is :func:`focalentropy.recover`. :class:`FocalRecalibrator` applies it
(with ``gamma`` known or fitted by maximum likelihood), :class:`TemperatureScaling`
is the usual baseline ``softmax(z / T)`` and :class:`FocalTemperatureScaling`
composes the two for models that are also over-confident.

The maps are computed in log coordinates: ``log phi(q)`` is evaluated from
``log q`` and ``log(1 - q)``, where ``1 - q`` of the top class is the sum of
the other classes (or a log-sum-exp of the other logits), so saturated
outputs (``q = 1`` in floating point) are recovered exactly instead of
dividing by ``phi(1) = 0``.
"""

from __future__ import annotations

import inspect
import numbers
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

from .._logit import psi as _psi
from .._validation import (
    Gamma,
    as_float_array,
    check_choice,
    check_class_weights,
    check_gamma,
    check_probabilities,
    check_sigmoid_alpha,
)
from ._metrics import _to_numpy, check_labels, check_probs

__all__ = ["FocalRecalibrator", "FocalTemperatureScaling", "TemperatureScaling"]

if TYPE_CHECKING:
    from typing import Self

_KINDS = ("softmax", "sigmoid")


# ---------------------------------------------------------------------------
# log-coordinate helpers
# ---------------------------------------------------------------------------


def _log_pair_from_probs(
    p: NDArray[np.float64], kind: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(log q, log(1-q))`` of probabilities; for softmax the top class's
    ``1 - q`` is the sum of the other entries of its row (no cancellation)."""
    with np.errstate(divide="ignore"):
        log_q = np.log(p)
        log_r = np.log1p(-p)
        if kind == "softmax":
            top = np.argmax(p, axis=-1)[..., None]
            others = p.copy()
            np.put_along_axis(others, top, 0.0, axis=-1)
            np.put_along_axis(log_r, top, np.log(others.sum(axis=-1, keepdims=True)), axis=-1)
    return log_q, log_r


def _log_pair_from_logits(
    z: NDArray[np.float64], kind: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(log q, log(1-q))`` with ``q = softmax(z)`` (or ``sigmoid(z)``), exactly."""
    if kind == "sigmoid":
        return -np.logaddexp(0.0, -z), -np.logaddexp(0.0, z)
    lse = special.logsumexp(z, axis=-1, keepdims=True)
    log_q = z - lse
    with np.errstate(divide="ignore"):
        log_r = np.log1p(-np.exp(log_q))  # exact for non-top classes (q <= 1/2)
        top = np.argmax(z, axis=-1)[..., None]
        others = z.copy()
        np.put_along_axis(others, top, -np.inf, axis=-1)
        lse_others = special.logsumexp(others, axis=-1, keepdims=True)
    np.put_along_axis(log_r, top, lse_others - lse, axis=-1)
    return log_q, log_r


def _log_phi(
    log_q: NDArray[np.float64], log_r: NDArray[np.float64], g: float
) -> NDArray[np.float64]:
    """``log phi(q)`` from ``log q`` and ``log(1-q)``: the core's ``psi`` at the
    exact logit ``log q - log(1-q)``, with ``phi(0) = inf`` and
    ``phi(1) = 0`` (``1`` for ``gamma = 0``) at the ends."""
    with np.errstate(invalid="ignore"):
        t = log_q - log_r
    finite = np.isfinite(t)
    psi = _psi(np.where(finite, t, 0.0), g)[0]
    at_one = 0.0 if g == 0 else -np.inf
    return np.where(finite, psi, np.where(t > 0, at_one, np.inf))


class _Prepared:
    """Model outputs in log coordinates (``log q`` and an exact ``log(1-q)``)."""

    def __init__(self, log_q: NDArray[np.float64], log_r: NDArray[np.float64], kind: str) -> None:
        self.log_q = log_q
        self.log_r = log_r
        self.kind = kind

    @property
    def shape(self) -> tuple[int, ...]:
        return self.log_q.shape

    def logits(self) -> NDArray[np.float64]:
        """``log q`` (softmax) or ``log(q / (1-q))`` (sigmoid)."""
        return self.log_q if self.kind == "softmax" else self.log_q - self.log_r

    def recover_scores(
        self, g: float, log_alpha: float | NDArray[np.float64] | None
    ) -> NDArray[np.float64]:
        """Log scores of the recovered posterior.

        Softmax: ``-log alpha - log phi(q)`` (normalised by softmax). Sigmoid:
        the logit of ``p = (1-a) phi(1-q) / (a phi(q) + (1-a) phi(1-q))``,
        ``log((1-a)/a) + log phi(1-q) - log phi(q)``.
        """
        if self.kind == "softmax":
            scores = -_log_phi(self.log_q, self.log_r, g)
            return scores if log_alpha is None else scores - log_alpha
        with np.errstate(invalid="ignore"):
            logit = _log_phi(self.log_r, self.log_q, g) - _log_phi(self.log_q, self.log_r, g)
        # q = 1 exactly: phi(q) = 0 and phi(1-q) = inf, so p = 1 (and p = 0 for q = 0).
        logit = np.where(np.isnan(logit), np.where(self.log_r < self.log_q, np.inf, -np.inf), logit)
        return logit if log_alpha is None else logit + log_alpha


def _log_softmax(scores: NDArray[np.float64]) -> NDArray[np.float64]:
    """Row log-softmax; a row containing ``+inf`` gives the uniform law on those entries.

    Scores lie in ``[-inf, +inf]`` (``-inf`` for classes with ``Q = 0``,
    ``+inf`` for the class of an exactly one-hot ``Q``), never NaN.
    """
    top = np.max(scores, axis=-1, keepdims=True)
    inf_rows = np.isposinf(top)
    shift = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        z = scores - shift
        out = z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))
    if inf_rows.any():
        hit = np.isposinf(scores)
        count = np.sum(hit, axis=-1, keepdims=True)
        with np.errstate(divide="ignore"):
            uniform = np.where(hit, -np.log(np.maximum(count, 1)), -np.inf)
        out = np.where(inf_rows, uniform, out)
    return out


def _softmax(scores: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.exp(_log_softmax(scores))


def _sigmoid(z: NDArray[np.float64]) -> NDArray[np.float64]:
    return special.expit(z)


def _mean_log_lik(scores: NDArray[np.float64], y: NDArray[np.intp], kind: str) -> float:
    """Mean log-likelihood of labels under softmax(scores) or sigmoid(scores)."""
    if kind == "softmax":
        ll = np.take_along_axis(_log_softmax(scores), y[..., None], axis=-1)
        return float(np.mean(ll))
    with np.errstate(invalid="ignore"):
        ll = np.where(y == 1, -np.logaddexp(0.0, -scores), -np.logaddexp(0.0, scores))
    return float(np.mean(ll))


# ---------------------------------------------------------------------------
# shared estimator machinery
# ---------------------------------------------------------------------------


class _Recalibrator:
    """``get_params``/``set_params``, input conversion, ``predict``."""

    _fitted_attr = "n_classes_"

    # set by the subclasses' __init__ and fit (declared here for the type checker only)
    kind: str
    from_logits: bool
    n_classes_: int

    if TYPE_CHECKING:

        def fit(self, X: ArrayLike, y: Any) -> Self: ...

        def transform(self, X: ArrayLike) -> NDArray[np.float64]: ...

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [n for n in sig.parameters if n != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters (scikit-learn convention)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Self:
        """Set constructor parameters (scikit-learn convention)."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"invalid parameter `{name}` for {type(self).__name__}")
            setattr(self, name, value)
        return self

    def __sklearn_tags__(self) -> Any:
        """Estimator tags for scikit-learn >= 1.6 (``clone``, ``Pipeline``).

        Only scikit-learn calls this, so importing it here adds no dependency:
        a transformer that needs labels to fit, like a supervised calibrator.
        """
        from sklearn.utils import InputTags, Tags, TargetTags, TransformerTags

        return Tags(
            estimator_type=None,
            target_tags=TargetTags(required=True),
            transformer_tags=TransformerTags(),
            input_tags=InputTags(),
        )

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _check_kind(self) -> str:
        return check_choice(self.kind, "kind", _KINDS)

    def _prepare(self, X: ArrayLike) -> _Prepared:
        """Validate the model outputs ``X`` and bring them to log coordinates."""
        kind = self._check_kind()
        name = "logits" if self.from_logits else "probs"
        if self.from_logits:
            z = as_float_array(_to_numpy(X, name), name)
            if z.ndim == 0 or (kind == "softmax" and z.shape[-1] == 0):
                raise ValueError(f"`{name}` must have a class axis (last axis)")
            bad = np.isnan(z) | np.isposinf(z) if kind == "softmax" else np.isnan(z)
            if bad.any():
                index = tuple(int(i) for i in np.argwhere(bad)[0])
                raise ValueError(f"`{name}` must not contain NaN or +inf; found one at {index}")
            pair = _log_pair_from_logits(z, kind)
        elif kind == "softmax":
            pair = _log_pair_from_probs(
                check_probs(X, name, normalize=True, logits_hint=True), kind
            )
        else:
            p = check_probabilities(_to_numpy(X, name), name)
            if p.ndim == 0:
                raise ValueError(f"`{name}` must have at least one dimension")
            pair = _log_pair_from_probs(p, kind)
        n_classes = getattr(self, "n_classes_", None)
        if n_classes is not None and pair[0].shape[-1] != n_classes:
            raise ValueError(
                f"`{name}` has {pair[0].shape[-1]} classes along the last axis, "
                f"but the recalibrator was fitted with {n_classes}"
            )
        return _Prepared(*pair, kind)

    def _check_y(self, y: ArrayLike | None, shape: tuple[int, ...]) -> NDArray[np.intp]:
        if y is None:
            raise ValueError(f"`y` is required to fit {type(self).__name__}")
        if self.kind == "softmax":
            return check_labels(y, shape[:-1], shape[-1], name="y")
        y = check_labels(y, shape, 2, name="y")  # multi-label indicators in {0, 1}
        return y

    def fit_transform(self, X: ArrayLike, y: ArrayLike | None = None) -> NDArray[np.float64]:
        """``fit(X, y)`` then ``transform(X)``."""
        return self.fit(X, y).transform(X)

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        """Alias of :meth:`transform` (scikit-learn classifier convention)."""
        return self.transform(X)

    def predict(self, X: ArrayLike) -> NDArray[np.intp]:
        """Predicted class (softmax: argmax) or labels (sigmoid: ``p > 1/2``)."""
        p = self.transform(X)
        if self.kind == "softmax":
            return np.argmax(p, axis=-1)
        return (p > 0.5).astype(np.intp)

    def _output(self, scores: NDArray[np.float64]) -> NDArray[np.float64]:
        return _softmax(scores) if self.kind == "softmax" else _sigmoid(scores)


def _check_gamma_param(gamma: Any) -> float | Literal["auto"]:
    if isinstance(gamma, str):
        if gamma != "auto":
            raise ValueError(f'`gamma` must be a number >= 0 or "auto", got {gamma!r}')
        return "auto"
    return check_gamma(gamma)


def _check_positive(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number, got {type(value).__name__}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"`{name}` must be a finite number > 0, got {value!r}")
    return float(value)


# ---------------------------------------------------------------------------
# focal recovery
# ---------------------------------------------------------------------------


class FocalRecalibrator(_Recalibrator):
    r"""Undo the focal-loss distortion: map ``Q*`` back to the class posterior ``P``.

    Softmax focal loss with focusing parameter ``gamma`` and class weights
    ``alpha`` is minimised by ``Q*`` with ``alpha_x P(x) phi(Q*(x)) = lam``, so

    .. math::

        P(x) = \frac{1 / (\alpha_x \phi(Q(x)))}{\sum_y 1 / (\alpha_y \phi(Q(y)))},
        \qquad \phi(q) = \frac{(1-q)^\gamma}{q} - \gamma (1-q)^{\gamma-1} \log q

    (:func:`focalentropy.recover`). ``kind="sigmoid"`` inverts the
    one-vs-rest (RetinaNet) loss elementwise:
    ``p = (1-a) phi(1-q) / (a phi(q) + (1-a) phi(1-q))``.

    The map is strictly increasing in each ``Q(x)`` within a row, so the
    predicted class (argmax) never changes.

    Parameters
    ----------
    gamma : float or "auto", default 2.0
        The focusing parameter the model was trained with. ``"auto"`` fits it
        in :meth:`fit` by maximising the likelihood of the labels under the
        recovered probabilities over ``[0, gamma_max]``.
    alpha : array_like of shape (K,), float or None, default None
        Class weights of the training loss (softmax: positive, one per
        class; sigmoid: the RetinaNet scalar in ``(0, 1)``); None means
        unweighted.
    kind : {"softmax", "sigmoid"}, default "softmax"
        The loss the model was trained with.
    from_logits : bool, default False
        If True, :meth:`fit` and :meth:`transform` take logits (softmax or
        sigmoid is applied in log coordinates, which is more accurate for
        saturated outputs) instead of probabilities.
    gamma_max : float, default 10.0
        Upper end of the search interval for ``gamma="auto"``.

    Attributes
    ----------
    gamma_ : float
        The ``gamma`` in use after :meth:`fit` (the given value, or the fitted one).
    n_classes_ : int
        Size of the last axis seen in :meth:`fit`.
    log_likelihood_ : float
        Mean log-likelihood of ``y`` under the recovered probabilities at
        ``gamma_`` (only when ``y`` was given to :meth:`fit`).

    See Also
    --------
    TemperatureScaling : the usual post-hoc baseline.
    FocalTemperatureScaling : recover, then temperature scaling.

    References
    ----------
    .. [1] N. Charoenphakdee, J. Vongkulbhisal, N. Chairatanakul, M. Sugiyama,
           "On Focal Loss for Class-Posterior Probability Estimation: A
           Theoretical Perspective", CVPR 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from focalentropy.calibration import FocalRecalibrator
    >>> q = np.array([[0.5, 0.3, 0.2]])  # a focal (gamma = 2) model's output
    >>> p = FocalRecalibrator(gamma=2.0).fit(q).transform(q)
    >>> p.round(3)
    array([[0.639, 0.23 , 0.132]])
    >>> bool(p.argmax() == q.argmax())
    True
    """

    def __init__(
        self,
        gamma: Gamma | Literal["auto"] = 2.0,
        *,
        alpha: ArrayLike | None = None,
        kind: Literal["softmax", "sigmoid"] = "softmax",
        from_logits: bool = False,
        gamma_max: float = 10.0,
    ) -> None:
        self.gamma = gamma
        self.alpha = alpha
        self.kind = kind
        self.from_logits = from_logits
        self.gamma_max = gamma_max

    def _log_alpha(self, shape: tuple[int, ...]) -> float | NDArray[np.float64] | None:
        if self.kind == "sigmoid":
            a = check_sigmoid_alpha(self.alpha)
            return None if a is None else float(np.log1p(-a) - np.log(a))
        w = check_class_weights(self.alpha, shape, -1, len(shape))
        return None if w is None else np.log(w)

    def _scores(self, prep: _Prepared, g: float) -> NDArray[np.float64]:
        return prep.recover_scores(g, self._log_alpha(prep.shape))

    def fit(self, X: ArrayLike, y: ArrayLike | None = None) -> Self:
        """Fix ``gamma_`` (known ``gamma``) or fit it by maximum likelihood.

        Parameters
        ----------
        X : array_like or torch.Tensor, shape (..., K)
            Validation outputs of the focal-trained model (probabilities, or
            logits with ``from_logits=True``).
        y : array_like of int, shape (...) or None
            Validation labels (sigmoid: 0/1 indicators of the shape of
            ``X``); required for ``gamma="auto"``.

        Returns
        -------
        self
        """
        if hasattr(self, "n_classes_"):
            del self.n_classes_
        return self._fit_gamma(self._prepare(X), y)

    def _fit_gamma(self, prep: _Prepared, y: ArrayLike | None) -> Self:
        gamma = _check_gamma_param(self.gamma)
        yy = None if (y is None and gamma != "auto") else self._check_y(y, prep.shape)
        if gamma == "auto":
            gamma_max = _check_positive(self.gamma_max, "gamma_max")
            assert yy is not None  # "auto" checked y above

            def neg_ll(g: float) -> float:
                return -_mean_log_lik(self._scores(prep, g), yy, self.kind)

            res = optimize.minimize_scalar(
                neg_ll, bounds=(0.0, gamma_max), method="bounded", options={"xatol": 1e-4}
            )
            gamma = float(res.x)
            # the bounded search never evaluates the end points; compare gamma = 0
            if neg_ll(0.0) <= res.fun:
                gamma = 0.0
        self.gamma_ = float(gamma)
        self.n_classes_ = int(prep.shape[-1])
        if yy is not None:
            self.log_likelihood_ = _mean_log_lik(self._scores(prep, self.gamma_), yy, self.kind)
        return self

    def _gamma_in_use(self) -> float:
        if hasattr(self, "gamma_"):
            return self.gamma_
        gamma = _check_gamma_param(self.gamma)
        if gamma == "auto":
            raise ValueError('`gamma="auto"`: call `fit(X, y)` before `transform`')
        return gamma

    def transform(self, X: ArrayLike) -> NDArray[np.float64]:
        """Recovered class probabilities ``P``, same shape as ``X``.

        Parameters
        ----------
        X : array_like or torch.Tensor, shape (..., K)
            Outputs of the focal-trained model (probabilities, or logits with
            ``from_logits=True``).

        Returns
        -------
        ndarray, shape (..., K)
            Rows summing to 1 (softmax) or elementwise probabilities (sigmoid).
        """
        g = self._gamma_in_use()
        return self._output(self._scores(self._prepare(X), g))

    def log_likelihood(self, X: ArrayLike, y: ArrayLike, gamma: Gamma | None = None) -> float:
        """Mean log-likelihood of ``y`` under the probabilities recovered with ``gamma``.

        ``gamma=None`` uses the gamma in use (``gamma_`` after :meth:`fit`).
        This is the objective maximised by ``gamma="auto"``.
        """
        g = self._gamma_in_use() if gamma is None else check_gamma(gamma)
        prep = self._prepare(X)
        return _mean_log_lik(self._scores(prep, g), self._check_y(y, prep.shape), self.kind)


# ---------------------------------------------------------------------------
# temperature scaling
# ---------------------------------------------------------------------------


def _fit_temperature(
    scores: NDArray[np.float64], y: NDArray[np.intp], kind: str, bounds: tuple[float, float]
) -> float:
    lo, hi = bounds

    def neg_ll(log_t: float) -> float:
        return -_mean_log_lik(scores / np.exp(log_t), y, kind)

    res = optimize.minimize_scalar(
        neg_ll, bounds=(np.log(lo), np.log(hi)), method="bounded", options={"xatol": 1e-6}
    )
    return float(np.exp(res.x))


def _check_bounds(bounds: Any) -> tuple[float, float]:
    try:
        lo, hi = bounds
    except (TypeError, ValueError) as exc:
        raise TypeError("`temperature_bounds` must be a pair (low, high)") from exc
    lo = _check_positive(lo, "temperature_bounds[0]")
    hi = _check_positive(hi, "temperature_bounds[1]")
    if not lo < hi:
        raise ValueError(f"`temperature_bounds` must satisfy low < high, got {bounds!r}")
    return lo, hi


class TemperatureScaling(_Recalibrator):
    r"""Temperature scaling ``softmax(z / T)`` with ``T`` fitted by maximum likelihood.

    For probabilities the logits are ``z = log q`` (softmax) or
    ``z = log(q / (1-q))`` (sigmoid, one temperature shared by all outputs),
    so ``transform(q) = normalize(q^(1/T))``. ``T > 1`` softens over-confident
    outputs and ``T < 1`` sharpens under-confident ones; the argmax is kept.

    Parameters
    ----------
    kind : {"softmax", "sigmoid"}, default "softmax"
        How the outputs are normalised.
    from_logits : bool, default False
        If True, :meth:`fit` and :meth:`transform` take logits.
    temperature_bounds : tuple of float, default (0.01, 100.0)
        Search interval for ``T`` (the search is over ``log T``).

    Attributes
    ----------
    temperature_ : float
        The fitted temperature ``T``.
    n_classes_ : int
        Size of the last axis seen in :meth:`fit`.

    References
    ----------
    .. [1] C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger, "On Calibration of
           Modern Neural Networks", ICML 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from focalentropy.calibration import TemperatureScaling
    >>> rng = np.random.default_rng(0)
    >>> logits = rng.normal(size=(2000, 3))
    >>> labels = np.array([rng.choice(3, p=np.exp(z) / np.exp(z).sum()) for z in logits])
    >>> ts = TemperatureScaling(from_logits=True).fit(3 * logits, labels)  # over-confident
    >>> bool(abs(ts.temperature_ - 3) < 0.5)
    True
    """

    def __init__(
        self,
        *,
        kind: Literal["softmax", "sigmoid"] = "softmax",
        from_logits: bool = False,
        temperature_bounds: tuple[float, float] = (0.01, 100.0),
    ) -> None:
        self.kind = kind
        self.from_logits = from_logits
        self.temperature_bounds = temperature_bounds

    def fit(self, X: ArrayLike, y: ArrayLike) -> Self:
        """Fit ``T`` by minimising the NLL of ``y`` under ``softmax(z / T)``.

        Parameters
        ----------
        X : array_like or torch.Tensor, shape (..., K)
            Validation probabilities (or logits with ``from_logits=True``).
        y : array_like of int, shape (...)
            Validation labels (sigmoid: 0/1 indicators of the shape of ``X``).

        Returns
        -------
        self
        """
        bounds = _check_bounds(self.temperature_bounds)
        if hasattr(self, "n_classes_"):
            del self.n_classes_
        prep = self._prepare(X)
        yy = self._check_y(y, prep.shape)
        self.temperature_ = _fit_temperature(prep.logits(), yy, self.kind, bounds)
        self.n_classes_ = int(prep.shape[-1])
        return self

    def transform(self, X: ArrayLike) -> NDArray[np.float64]:
        """Probabilities ``softmax(z / T)`` (or ``sigmoid(z / T)``), same shape as ``X``."""
        if not hasattr(self, "temperature_"):
            raise ValueError("TemperatureScaling: call `fit(X, y)` before `transform`")
        z = self._prepare(X).logits()
        return self._output(z / self.temperature_)


class FocalTemperatureScaling(FocalRecalibrator):
    r"""Recover with :class:`FocalRecalibrator`, then apply temperature scaling.

    ``P_T = softmax(s / T)`` with the recovered log-scores
    ``s = -log alpha - log phi(Q)``, i.e. ``P_T ∝ (alpha phi(Q))^(-1/T)``. For
    focal-trained models that are also over-confident (over-fitted), the
    recovery undoes the focal distortion and ``T`` the remaining
    miscalibration. ``fit`` first fixes ``gamma_`` (given, or fitted by
    maximum likelihood with ``gamma="auto"``), then fits ``T`` on the
    recovered scores.

    Parameters
    ----------
    gamma, alpha, kind, from_logits, gamma_max
        As in :class:`FocalRecalibrator`.
    temperature_bounds : tuple of float, default (0.01, 100.0)
        Search interval for ``T``.

    Attributes
    ----------
    gamma_ : float
        The ``gamma`` in use.
    temperature_ : float
        The fitted temperature.
    n_classes_ : int
        Size of the last axis seen in :meth:`fit`.

    Examples
    --------
    >>> import numpy as np
    >>> from focalentropy.calibration import FocalTemperatureScaling
    >>> q = np.array([[0.5, 0.3, 0.2], [0.2, 0.5, 0.3]])
    >>> cal = FocalTemperatureScaling(gamma=2.0).fit(q, [0, 1])
    >>> p = cal.transform(q)
    >>> bool(np.all(p.argmax(-1) == q.argmax(-1)) and cal.temperature_ < 1)
    True
    """

    def __init__(
        self,
        gamma: Gamma | Literal["auto"] = 2.0,
        *,
        alpha: ArrayLike | None = None,
        kind: Literal["softmax", "sigmoid"] = "softmax",
        from_logits: bool = False,
        gamma_max: float = 10.0,
        temperature_bounds: tuple[float, float] = (0.01, 100.0),
    ) -> None:
        super().__init__(
            gamma, alpha=alpha, kind=kind, from_logits=from_logits, gamma_max=gamma_max
        )
        self.temperature_bounds = temperature_bounds

    def fit(self, X: ArrayLike, y: ArrayLike) -> Self:  # type: ignore[override]  # y required
        """Fit ``gamma_`` (if ``"auto"``) and then ``T`` on ``(X, y)``.

        Parameters
        ----------
        X : array_like or torch.Tensor, shape (..., K)
            Validation outputs of the focal-trained model.
        y : array_like of int, shape (...)
            Validation labels.

        Returns
        -------
        self
        """
        bounds = _check_bounds(self.temperature_bounds)
        if hasattr(self, "n_classes_"):
            del self.n_classes_
        prep = self._prepare(X)
        yy = self._check_y(y, prep.shape)
        self._fit_gamma(prep, yy)
        scores = self._scores(prep, self.gamma_)
        self.temperature_ = _fit_temperature(scores, yy, self.kind, bounds)
        self.log_likelihood_ = _mean_log_lik(scores / self.temperature_, yy, self.kind)
        return self

    def transform(self, X: ArrayLike) -> NDArray[np.float64]:
        """Recovered and temperature-scaled probabilities, same shape as ``X``."""
        self._check_fitted()
        scores = self._scores(self._prepare(X), self.gamma_)
        return self._output(scores / self.temperature_)

    def log_likelihood(self, X: ArrayLike, y: ArrayLike, gamma: Gamma | None = None) -> float:
        """Mean log-likelihood of ``y`` under the recovered, temperature-scaled probabilities.

        ``gamma=None`` uses ``gamma_``; the fitted ``temperature_`` is always
        applied, so ``log_likelihood(X, y)`` on the fitting data equals
        ``log_likelihood_``.
        """
        self._check_fitted()
        g = self.gamma_ if gamma is None else check_gamma(gamma)
        prep = self._prepare(X)
        scores = self._scores(prep, g) / self.temperature_
        return _mean_log_lik(scores, self._check_y(y, prep.shape), self.kind)

    def _check_fitted(self) -> None:
        if not hasattr(self, "temperature_"):
            raise ValueError("FocalTemperatureScaling: call `fit(X, y)` first")
