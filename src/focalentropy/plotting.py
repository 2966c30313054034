"""Figures of the focal-entropy theory (needs matplotlib: ``pip install focal-entropy[plot]``).

matplotlib is imported only when a figure is drawn without an ``ax``, so
importing this module (and ``import focalentropy``) does not import it.
Every function draws into the ``ax`` it is given (or a new figure) and
returns that axes, as matplotlib's and scipy's plotting helpers do.

* :func:`regimes_plot`: the gradient weight ``G(p) = p phi(p)``, the
  multiplier ``lam`` and the classes, coloured by regime (docs/theory.rst,
  section "Regimes");
* :func:`regimes_bars`: ``P`` and the minimizer ``Q*`` per class, ``Q*``
  coloured by regime;
* :func:`~focalentropy.calibration.reliability_diagram`: the reliability diagram,
  re-exported from :mod:`focalentropy.calibration`.
"""

# Greek letters (γ, λ, φ) are intended in figure labels.
# ruff: noqa: RUF001

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, SupportsIndex

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._loss import gradient_weight
from ._regimes import LABELS, RegimesResult, regimes
from ._validation import Gamma
from .calibration import reliability_diagram

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["REGIME_COLORS", "regimes_bars", "regimes_plot", "reliability_diagram"]

#: The colour of each regime label (:data:`focalentropy.LABELS`) in the figures.
REGIME_COLORS: Mapping[str, str] = MappingProxyType(
    dict(
        zip(LABELS, ("tab:green", "tab:orange", "tab:red", "tab:gray"), strict=True),
    )
)

#: At most this many class names under the bar chart; more would overlap.
_MAX_TICK_LABELS = 30

_INSTALL_HINT = "focalentropy.plotting needs matplotlib: pip install 'focal-entropy[plot]'"


def _new_axes(figsize: tuple[float, float]) -> Axes:
    """A new figure's single axes (pyplot, as :func:`reliability_diagram` does)."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    _, ax = plt.subplots(figsize=figsize)
    return ax


@dataclass(frozen=True)
class _Row:
    """One distribution of a :class:`RegimesResult`, as 1-D arrays and floats."""

    target: NDArray[np.float64]
    q: NDArray[np.float64]
    labels: list[str]
    gamma: float
    lam: float
    p_low: float
    p_high: float
    names: list[str]


def _as_index(value: Any) -> int:
    """``operator.index(value)``, refusing booleans (NumPy would read them as a mask)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"not an integer: {value!r}")
    return operator.index(value)


def _row_index(row: object, batch_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The index of the distribution ``row`` selects in a batch of shape ``batch_shape``.

    ``row`` is an integer (anything with ``__index__``: Python or NumPy integers) for a
    batch of one axis, or a tuple of them (``()`` when ``p`` is one distribution).
    Negative entries count from the end, as in NumPy. Returns the non-negative index.

    Raises ``TypeError`` if ``row`` or one of its entries is not an integer (a float
    such as ``1.5`` is not rounded), ``ValueError`` if it has the wrong number of
    entries or an entry is out of range (naming ``row``, the axis and the batch shape).
    """
    entries = row if isinstance(row, tuple) else (row,)
    idx = []
    for axis, value in enumerate(entries):
        try:
            idx.append(_as_index(value))
        except TypeError:
            where = f" (entry {axis})" if entries is row else ""
            raise TypeError(
                "`row` must be an integer or a tuple of integers"
                f"{where}; got {value!r} of type {type(value).__name__}"
            ) from None
    if len(idx) != len(batch_shape):
        n = len(batch_shape)
        need = (
            "`p` holds a single distribution, so `row` must be ()"
            if n == 0
            else f"{n} integer{'s' if n > 1 else ''}, one per batch axis"
        )
        raise ValueError(
            f"`row` must select one distribution of batch shape {batch_shape}: {need}; got {row!r}"
        )
    for axis, (i, size) in enumerate(zip(idx, batch_shape, strict=True)):
        if not -size <= i < size:
            raise ValueError(
                f"`row` = {row!r} is out of range for batch shape {batch_shape}: "
                f"index {i} on axis {axis} of size {size}"
            )
    return tuple(i % size for i, size in zip(idx, batch_shape, strict=True))


def _one_row(
    p: ArrayLike | RegimesResult,
    gamma: Gamma | None,
    alpha: ArrayLike | None,
    axis: int,
    row: SupportsIndex | tuple[SupportsIndex, ...],
    class_names: Sequence[Any] | None,
) -> _Row:
    if isinstance(p, RegimesResult):
        if gamma is not None or alpha is not None:
            raise TypeError("`gamma` and `alpha` must be None when `p` is a RegimesResult")
        res = p
    else:
        if gamma is None:
            raise TypeError("`gamma` is required when `p` is an array")
        res = regimes(p, gamma, alpha=alpha, axis=axis)
    idx = _row_index(row, res.p.shape[:-1])
    k = res.p.shape[-1]
    names = class_names if class_names is not None else res.class_names
    names = [str(n) for n in (names if names is not None else range(k))]
    if len(names) != k:
        raise ValueError(f"`class_names` has {len(names)} entries but `p` has {k} classes")
    return _Row(
        target=np.asarray(res.p[idx], dtype=float),
        q=np.asarray(res.minimizer[idx], dtype=float),
        labels=[str(s) for s in np.asarray(res.labels[idx])],
        gamma=float(res.gamma),
        lam=float(np.asarray(res.multiplier)[idx]),
        p_low=float(np.asarray(res.p_low)[idx]),
        p_high=float(np.asarray(res.p_high)[idx]),
        names=names,
    )


def _colors(colors: Mapping[str, Any] | None) -> dict[str, Any]:
    return {**REGIME_COLORS, **(colors or {})}


def regimes_plot(
    p: ArrayLike | RegimesResult,
    gamma: Gamma | None = None,
    *,
    alpha: ArrayLike | None = None,
    axis: int = -1,
    row: SupportsIndex | tuple[SupportsIndex, ...] = (),
    ax: Axes | None = None,
    colors: Mapping[str, Any] | None = None,
    legend: bool = True,
) -> Axes:
    r"""Draw the regimes: ``G(p)``, the multiplier ``lam`` and the classes.

    A class ``x`` is amplified (``Q*(x) > p(x)``) iff ``G(p(x)) > lam``, with
    ``G(p) = p phi(p)`` and ``lam`` the multiplier of the minimizer
    (``lam Q*/p = G(Q*)``; docs/theory.rst, section "Regimes"). The figure
    shows the curve ``G`` on a logarithmic ``p`` axis, the line ``G = lam``,
    its crossings ``p_low`` (triangle) and ``p_high`` (square) where they
    exist, and one point ``(p(x), G(p(x)))`` per class, coloured by its label
    (one scatter per label present, in the order of
    :data:`focalentropy.LABELS`; classes with ``p(x) = 0`` are not drawn).

    Parameters
    ----------
    p : array_like, shape (..., K), or RegimesResult
        Class distribution(s) (rows along ``axis`` sum to 1), or the result of
        :func:`focalentropy.regimes`. With weights, the points are at the
        target ``w = normalize(alpha * P)``, which the labels refer to.
    gamma : float, optional
        Focusing parameter ``gamma >= 0``; required with an array ``p``,
        ``None`` with a :class:`~focalentropy.RegimesResult`.
    alpha : array_like, optional
        Positive class weights broadcastable to ``p`` (array ``p`` only).
    axis : int, default -1
        Class axis of an array ``p``.
    row : int or tuple of int, default ()
        The distribution to draw when ``p`` holds several: an integer
        (Python or NumPy) for one leading (batch) axis, a tuple of integers,
        one per leading axis, for more; negative values count from the end.
        ``()`` when ``p`` is a single distribution.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes; by default a new figure (``matplotlib.pyplot``).
    colors : mapping of str to color, optional
        Colours by label, overriding :data:`REGIME_COLORS`.
    legend : bool, default True
        Add a legend (the curve, ``lam``, the crossings, each label with its
        number of classes).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn into (``ax`` when given).

    Raises
    ------
    ValueError
        If ``p`` is not a distribution, or ``row`` does not select one (wrong
        number of entries for the batch shape, or an entry out of range).
    TypeError
        If ``gamma`` is missing for an array ``p``, or given with a result; or
        if ``row`` is not an integer or a tuple of integers.
    ImportError
        If matplotlib is not installed (``pip install focal-entropy[plot]``).

    See Also
    --------
    regimes_bars : Bars of ``P`` and ``Q*`` per class.
    focalentropy.regimes : The labels, ``lam``, ``p_low`` and ``p_high``.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> from focalentropy.plotting import regimes_plot
    >>> ax = regimes_plot([0.7, 0.2, 0.08, 0.02], 2.0, ax=Figure().subplots())
    >>> [c.get_label() for c in ax.collections]
    ['amplified (3)', 'suppressed (1)']
    >>> [t.get_text() for t in ax.get_legend().get_texts()][:2]
    ['G(p), γ = 2', 'λ = 0.6921']

    One distribution of a batch (here the second, uniform: every class unchanged):

    >>> batch = [[0.7, 0.2, 0.08, 0.02], [0.25, 0.25, 0.25, 0.25]]
    >>> ax = regimes_plot(batch, 2.0, row=1, ax=Figure().subplots())
    >>> [c.get_label() for c in ax.collections]
    ['unchanged (4)']
    """
    r = _one_row(p, gamma, alpha, axis, row, None)
    if ax is None:
        ax = _new_axes((5.5, 4.2))
    palette = _colors(colors)
    smallest = [float(r.target[r.target > 0].min()), 3e-2]  # the classes and p_low in view
    smallest += [r.p_low] if np.isfinite(r.p_low) else []
    grid = np.geomspace(max(min(smallest) / 3, 1e-300), 1 - 1e-9, 500)
    ax.plot(grid, gradient_weight(grid, r.gamma), "k", lw=2, label=f"G(p), γ = {r.gamma:g}")
    ax.axhline(r.lam, color="tab:blue", lw=1.3, label=f"λ = {r.lam:.4g}")
    for name, value, marker in (("p_low", r.p_low, "v"), ("p_high", r.p_high, "s")):
        if np.isfinite(value):
            ax.plot(
                [value], [r.lam], marker, color="tab:blue", mec="k", ms=8,
                label=f"{name} = {value:.3g}",
            )  # fmt: skip
    labels = np.asarray(r.labels)
    for lab in LABELS:
        sel = (labels == lab) & (r.target > 0)
        if sel.any():
            ax.scatter(
                r.target[sel], gradient_weight(r.target[sel], r.gamma),
                color=palette.get(lab, "k"), zorder=3, s=30, label=f"{lab} ({int(sel.sum())})",
            )  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("p")
    ax.set_ylabel("G(p) = p φ(p)")
    ax.set_title("Regimes: amplified iff G(p) > λ")
    if legend:
        ax.legend(fontsize=8)
    return ax


def regimes_bars(
    p: ArrayLike | RegimesResult,
    gamma: Gamma | None = None,
    *,
    alpha: ArrayLike | None = None,
    axis: int = -1,
    row: SupportsIndex | tuple[SupportsIndex, ...] = (),
    class_names: Sequence[Any] | None = None,
    ax: Axes | None = None,
    colors: Mapping[str, Any] | None = None,
    log: bool | None = None,
    target_label: str = "P",
) -> Axes:
    r"""Draw ``P`` and the focal minimizer ``Q*`` per class, ``Q*`` coloured by regime.

    Two bars per class ``x``: ``p(x)`` in grey and ``Q*(x)`` in the colour of
    its label (amplified ``Q* > p``, suppressed, over-suppressed, unchanged;
    see :func:`focalentropy.regimes`). The bars are ``ax.containers[0]``
    (``p``) and ``ax.containers[1]`` (``Q*``); the legend has the grey bars
    and one entry ``"Q*: <label>"`` per label present. Up to 30 class names
    are written under the bars; beyond that every n-th.

    Parameters
    ----------
    p : array_like, shape (..., K), or RegimesResult
        Class distribution(s) (rows along ``axis`` sum to 1), or the result of
        :func:`focalentropy.regimes`. With weights, the grey bars are the
        target ``w = normalize(alpha * P)``, which the labels refer to.
    gamma : float, optional
        Focusing parameter ``gamma >= 0``; required with an array ``p``,
        ``None`` with a :class:`~focalentropy.RegimesResult`.
    alpha : array_like, optional
        Positive class weights broadcastable to ``p`` (array ``p`` only).
    axis : int, default -1
        Class axis of an array ``p``.
    row : int or tuple of int, default ()
        The distribution to draw when ``p`` holds several: an integer
        (Python or NumPy) for one leading (batch) axis, a tuple of integers,
        one per leading axis, for more; negative values count from the end.
        ``()`` when ``p`` is a single distribution.
    class_names : sequence, optional
        Tick labels (default: the result's ``class_names``, else 0..K-1).
    ax : matplotlib.axes.Axes, optional
        Draw into this axes; by default a new figure (``matplotlib.pyplot``).
    colors : mapping of str to color, optional
        Colours by label, overriding :data:`REGIME_COLORS`.
    log : bool, optional
        Logarithmic probability axis; by default when the largest positive
        ``p(x)`` exceeds 50 times the smallest.
    target_label : str, default "P"
        Legend label of the grey bars (e.g. ``"w"`` for a weighted target).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn into (``ax`` when given).

    Raises
    ------
    ValueError
        If ``p`` is not a distribution, ``row`` does not select one (wrong
        number of entries for the batch shape, or an entry out of range) or
        ``class_names`` has the wrong length.
    TypeError
        If ``gamma`` is missing for an array ``p``, or given with a result; or
        if ``row`` is not an integer or a tuple of integers.
    ImportError
        If matplotlib is not installed (``pip install focal-entropy[plot]``).

    See Also
    --------
    regimes_plot : The same classes on the curve ``G(p)``.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> from focalentropy.plotting import regimes_bars
    >>> ax = regimes_bars([0.7, 0.2, 0.08, 0.02], 2.0, ax=Figure().subplots())
    >>> q_bars = ax.containers[1]
    >>> [round(float(b.get_height()), 4) for b in q_bars]
    [0.5345, 0.292, 0.1402, 0.0333]
    """
    r = _one_row(p, gamma, alpha, axis, row, class_names)
    if ax is None:
        ax = _new_axes((max(5.5, 0.25 * len(r.names)), 4.2))
    palette = _colors(colors)
    x = np.arange(r.target.size)
    ax.bar(x - 0.2, r.target, 0.4, label=target_label, color="0.6")
    ax.bar(x + 0.2, r.q, 0.4, label="Q*", color=[palette.get(lab, "k") for lab in r.labels])
    _class_ticks(ax, r.names)
    positive = r.target[r.target > 0]
    if log is None:
        log = float(positive.max()) / float(positive.min()) > 50
    if log:
        ax.set_yscale("log")
    if len(r.names) <= _MAX_TICK_LABELS:
        ax.set_xlabel("class")
    ax.set_ylabel("probability")
    ax.set_title("P and the focal minimizer Q* (coloured by regime)")
    from matplotlib.patches import Rectangle

    present = [lab for lab in LABELS if lab in r.labels]
    regime_patches = [
        Rectangle((0, 0), 1, 1, color=palette.get(lab, "k"), label=f"Q*: {lab}") for lab in present
    ]
    ax.legend(handles=[ax.containers[0], *regime_patches], fontsize=8)
    return ax


def _class_ticks(ax: Axes, names: list[str]) -> None:
    """Readable class ticks at any K: every name up to 30 classes, else every n-th."""
    k = len(names)
    step = -(-k // _MAX_TICK_LABELS)  # ceil
    shown = np.arange(0, k, step)
    long_names = max((len(n) for n in names), default=0) > 3
    rotation = 90 if step > 1 or (k > 8 and long_names) else (45 if k > 8 else 0)
    ax.set_xticks(
        shown,
        [names[i][:12] + ("…" if len(names[i]) > 12 else "") for i in shown],
        rotation=rotation,
        fontsize=8 if k > 8 else None,
    )
    if step > 1:
        ax.set_xlabel(f"class (one name every {step} classes; K = {k})")
