"""Reliability diagrams (matplotlib is imported only when a figure is drawn)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import ArrayLike

from ._metrics import (
    ReliabilityBins,
    _bin_stats,
    _calibration_error,
    _check_binning,
    _probs_and_labels,
    _top_label,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["reliability_diagram"]


def reliability_diagram(
    probs: ArrayLike,
    labels: ArrayLike,
    *,
    n_bins: int = 15,
    binning: Literal["uniform", "quantile"] = "uniform",
    ax: Axes | None = None,
    label: str | None = None,
    show_histogram: bool = True,
    title: str | None = None,
) -> Figure:
    r"""Draw the top-label reliability diagram: accuracy against confidence per bin.

    Each bin of the confidence ``c = max_k p_k`` is drawn as a bar whose
    height is the accuracy of its samples, centred on the bin's mean
    confidence, with the diagonal ``accuracy = confidence`` of a calibrated
    model; bars below the diagonal are over-confident. The legend reports the
    equal-width-binned :func:`expected_calibration_error`. With
    ``show_histogram=True`` (and no ``ax``) a second panel shows how many
    samples fall in each bin.

    Parameters
    ----------
    probs : array_like or torch.Tensor, shape (..., K)
        Predicted probabilities, rows summing to 1.
    labels : array_like or torch.Tensor of int, shape (...)
        True classes in ``{0, ..., K-1}``.
    n_bins : int, default 15
        Number of bins.
    binning : {"uniform", "quantile"}, default "uniform"
        Equal-width or equal-mass bins.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (no histogram panel); by default a new figure.
    label : str, optional
        Legend label of the bars.
    show_histogram : bool, default True
        Add a panel with the number of samples per bin (new figures only).
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure containing the diagram.

    Examples
    --------
    >>> import numpy as np
    >>> from focalentropy.calibration import reliability_diagram
    >>> rng = np.random.default_rng(0)
    >>> probs = rng.dirichlet(np.ones(3), size=200)
    >>> labels = np.array([rng.choice(3, p=p) for p in probs])
    >>> fig = reliability_diagram(probs, labels, n_bins=10)
    >>> len(fig.axes)
    2
    """
    n_bins = _check_binning(n_bins, binning)
    p, y = _probs_and_labels(probs, labels)
    conf, hit = _top_label(p, y)
    bins = _bin_stats(conf, hit, n_bins, binning)
    ece = _calibration_error(conf, hit, n_bins, binning, "l1")
    fig, ax, ax_hist = _diagram_axes(ax, show_histogram)
    _draw_reliability(ax, bins, ece, label, title)
    if ax_hist is not None:
        _draw_counts(ax_hist, bins)
    else:
        ax.set_xlabel("confidence")
    return fig


def _diagram_axes(ax: Axes | None, show_histogram: bool) -> tuple[Figure, Axes, Axes | None]:
    """``(figure, diagram axes, histogram axes or None)``: new figures get the histogram panel."""
    if ax is not None:
        return ax.figure, ax, None  # type: ignore[return-value]  # a SubFigure has no savefig
    import matplotlib.pyplot as plt

    if show_histogram:
        fig, (ax, ax_hist) = plt.subplots(
            2, 1, figsize=(4.5, 5.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
        )
        return fig, ax, ax_hist
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    return fig, ax, None


def _bar_geometry(bins: ReliabilityBins) -> tuple[np.ndarray, np.ndarray]:
    """Centres and widths of the bins' bars."""
    widths = np.diff(bins.edges)
    return bins.edges[:-1] + widths / 2, widths


def _draw_reliability(
    ax: Axes, bins: ReliabilityBins, ece: float, label: str | None, title: str | None
) -> None:
    """Accuracy bars of the non-empty bins at their edges, mean confidences, the diagonal."""
    full = bins.count > 0
    centers, widths = _bar_geometry(bins)
    text = f"ECE = {ece:.3f}" if label is None else f"{label} (ECE = {ece:.3f})"
    ax.bar(
        centers[full],
        bins.accuracy[full],
        width=widths[full],
        edgecolor="black",
        alpha=0.7,
        label=text,
    )
    ax.plot(bins.confidence[full], bins.accuracy[full], "o", color="black", markersize=3)
    ax.plot([0, 1], [0, 1], "--", color="gray", linewidth=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.legend(loc="upper left")
    if title is not None:
        ax.set_title(title)


def _draw_counts(ax_hist: Axes, bins: ReliabilityBins) -> None:
    """The histogram panel: samples per bin (empty bins included)."""
    centers, widths = _bar_geometry(bins)
    ax_hist.bar(centers, bins.count, width=widths, edgecolor="black", color="gray")
    ax_hist.set_ylabel("count")
    ax_hist.set_xlabel("confidence")
