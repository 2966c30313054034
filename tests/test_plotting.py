"""focalentropy.plotting: the figures' objects against 50-digit references (Agg backend).

The points, lines and bars are checked against the theory computed here in mpmath
(``tests/_mp_reference.py``: Q*, lam, G) and the regime of each class against the
criterion of the theory page (amplified iff G(P) > lam), not against ``regimes()``.
"""

# ruff: noqa: RUF001

from __future__ import annotations

import functools
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import mpmath as mp
import numpy as np
import pytest

import focalentropy as fe
from _mp_reference import mp_gradient_weight, mp_minimizer

if TYPE_CHECKING:
    from matplotlib.axes import Axes

try:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.colors import to_rgba
    from matplotlib.figure import Figure
except ImportError:  # pragma: no cover - matplotlib is a test dependency
    matplotlib = None

pytestmark = pytest.mark.skipif(matplotlib is None, reason="needs matplotlib")

GREEN, ORANGE, RED, GRAY = "tab:green", "tab:orange", "tab:red", "tab:gray"
#: the colour each regime must have (the figures' legend promises these)
EXPECTED_COLOR = {
    "amplified": GREEN,
    "suppressed": ORANGE,
    "over-suppressed": RED,
    "unchanged": GRAY,
}

# ---------------------------------------------------------------------------
# 50-digit regimes, from the theory page's formulas only
# ---------------------------------------------------------------------------


def _logistic(t):
    return 1 / (1 + mp.exp(-t))


def _mp_peak(gamma):
    """The logit of argmax G (golden-section search; G is unimodal)."""
    lo, hi = mp.mpf(-30), mp.mpf(30)
    ratio = (mp.sqrt(5) - 1) / 2
    for _ in range(160):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if mp_gradient_weight(_logistic(a), gamma) < mp_gradient_weight(_logistic(b), gamma):
            lo = a
        else:
            hi = b
    return (lo + hi) / 2


def _mp_crossing(lam, gamma, lo, hi, rising):
    """Bisection in the logit for G(p) = lam on a monotone side of the peak."""
    for _ in range(200):
        mid = (lo + hi) / 2
        above = mp_gradient_weight(_logistic(mid), gamma) > lam
        if above == rising:
            hi = mid
        else:
            lo = mid
    return _logistic((lo + hi) / 2)


@functools.cache
def mp_regimes(p, gamma, alpha=None):
    """Target w, Q*, lam, G(w), p_low, p_high (None if absent) and labels, as floats.

    Labels from the theory page: Q* > w amplified, Q* < w suppressed (over-suppressed
    below p_low), else unchanged (|Q*/w - 1| <= 1e-12, as documented).
    """
    p = [mp.mpf(x) for x in p]
    w = p if alpha is None else [a * x for a, x in zip(alpha, p, strict=True)]
    total = mp.fsum(w)
    w = [x / total for x in w]
    q, lam = mp_minimizer(w, gamma)
    p_low = p_high = None
    if gamma > 0:
        t_peak = _mp_peak(gamma)
        g_max = mp_gradient_weight(_logistic(t_peak), gamma)
        if 1 < lam < g_max:
            p_low = _mp_crossing(lam, gamma, mp.mpf(-700), t_peak, rising=True)
        if 0 < lam < g_max:
            p_high = _mp_crossing(lam, gamma, t_peak, mp.mpf(700), rising=False)
    labels = []
    for wx, qx in zip(w, q, strict=True):
        if abs(qx / wx - 1) <= mp.mpf("1e-12"):
            labels.append("unchanged")
        elif qx > wx:
            labels.append("amplified")
        else:
            labels.append("over-suppressed" if p_low is not None and wx < p_low else "suppressed")
    return {
        "w": np.array([float(x) for x in w]),
        "q": np.array([float(x) for x in q]),
        "lam": float(lam),
        "G": np.array([float(mp_gradient_weight(x, gamma)) for x in w]),
        "p_low": None if p_low is None else float(p_low),
        "p_high": None if p_high is None else float(p_high),
        "labels": labels,
    }


#: suppressed, four amplified and an over-suppressed class (lam > 1)
MIXED = (0.3, 0.2, 0.2, 0.2, 0.0999, 0.0001)
TYPICAL = (0.7, 0.2, 0.08, 0.02)


@pytest.fixture
def ax():
    return Figure().subplots()


def _line(ax, prefix):
    lines = [ln for ln in ax.lines if ln.get_label().startswith(prefix)]
    assert len(lines) == 1, [ln.get_label() for ln in ax.lines]
    return lines[0]


def _facecolors(collection):
    return [tuple(c) for c in collection.get_facecolors()]


class TestRegimesPlot:
    @pytest.mark.parametrize(("p", "gamma"), [(MIXED, 2.0), (TYPICAL, 2.0), ((0.8, 0.2), 1.0)])
    def test_points_lines_and_colours(self, ax, p, gamma):
        ref = mp_regimes(p, gamma)
        out = fe.plotting.regimes_plot(np.array(p), gamma, ax=ax)
        assert out is ax
        # one scatter per label present, in the order of LABELS, with its class count
        present = [lab for lab in fe.LABELS if lab in ref["labels"]]
        assert [c.get_label() for c in ax.collections] == [
            f"{lab} ({ref['labels'].count(lab)})" for lab in present
        ]
        lam = _line(ax, "λ =").get_ydata()[0]
        np.testing.assert_allclose(lam, ref["lam"], rtol=1e-10)
        drawn = 0
        for coll, lab in zip(ax.collections, present, strict=True):
            xy = coll.get_offsets()
            want = [k for k, x in enumerate(ref["labels"]) if x == lab]
            np.testing.assert_allclose(xy[:, 0], ref["w"][want], rtol=1e-14)
            np.testing.assert_allclose(xy[:, 1], ref["G"][want], rtol=1e-10)
            assert _facecolors(coll) == [to_rgba(EXPECTED_COLOR[lab])]
            # the theory page's criterion, read off the figure itself
            assert all((y > lam) == (lab == "amplified") for y in xy[:, 1])
            drawn += len(xy)
        assert drawn == len(p)

    def test_crossings_and_curve(self, ax):
        ref = mp_regimes(MIXED, 2.0)
        fe.plotting.regimes_plot(MIXED, 2.0, ax=ax)
        np.testing.assert_allclose(_line(ax, "p_low").get_xdata(), [ref["p_low"]], rtol=1e-9)
        np.testing.assert_allclose(_line(ax, "p_high").get_xdata(), [ref["p_high"]], rtol=1e-9)
        curve = _line(ax, "G(p), γ = 2")
        x, y = curve.get_xdata(), curve.get_ydata()
        assert x.min() < ref["p_low"] < ref["p_high"] < x.max()  # both crossings in view
        for i in (0, 100, 250, 400, 499):
            assert y[i] == pytest.approx(float(mp_gradient_weight(x[i], 2)), rel=1e-10)
        assert ax.get_xscale() == "log"

    def test_binary_has_no_p_low(self, ax):
        ref = mp_regimes((0.8, 0.2), 2.0)
        assert ref["p_low"] is None
        fe.plotting.regimes_plot([0.8, 0.2], 2.0, ax=ax)
        assert [ln.get_label() for ln in ax.lines if ln.get_label().startswith("p_")] == [
            f"p_high = {ref['p_high']:.3g}"
        ]

    def test_uniform_every_class_unchanged(self, ax):
        # Q* = P for a uniform P, and lam = G(1/K): one grey scatter on the line
        fe.plotting.regimes_plot([0.25] * 4, 2.0, ax=ax)
        (coll,) = ax.collections
        assert coll.get_label() == "unchanged (4)"
        assert _facecolors(coll) == [to_rgba(GRAY)]
        g = float(mp_gradient_weight(0.25, 2))  # (3/4)^2 + (3/4) log 4 / 2
        assert g == pytest.approx(0.5625 + 0.375 * np.log(4), rel=1e-15)
        np.testing.assert_allclose(coll.get_offsets(), [[0.25, g]] * 4, rtol=1e-12)
        assert _line(ax, "λ =").get_ydata()[0] == pytest.approx(g, rel=1e-10)

    def test_gamma_zero(self, ax):
        fe.plotting.regimes_plot([0.6, 0.4], 0.0, ax=ax)
        assert [c.get_label() for c in ax.collections] == ["unchanged (2)"]
        np.testing.assert_allclose(_line(ax, "G(p)").get_ydata(), 1.0)
        assert _line(ax, "λ =").get_ydata()[0] == 1.0
        assert not [ln for ln in ax.lines if ln.get_label().startswith("p_")]

    def test_result_row_and_colors(self, ax):
        batch = np.array([TYPICAL, (0.25,) * 4])
        res = fe.regimes(batch, 2.0)
        fe.plotting.regimes_plot(res, row=1, ax=ax, colors={"unchanged": "black"}, legend=False)
        (coll,) = ax.collections
        assert _facecolors(coll) == [to_rgba("black")]
        assert ax.get_legend() is None
        other = Figure().subplots()
        fe.plotting.regimes_plot(batch, 2.0, row=0, ax=other)
        assert [c.get_label() for c in other.collections] == ["amplified (3)", "suppressed (1)"]

    def test_alpha_points_are_at_the_target(self, ax):
        ref = mp_regimes((0.5, 0.3, 0.2), 1.0, alpha=(1, 2, 5))
        fe.plotting.regimes_plot([0.5, 0.3, 0.2], 1.0, alpha=[1, 2, 5], ax=ax)
        xs = np.sort(np.concatenate([c.get_offsets()[:, 0] for c in ax.collections]))
        np.testing.assert_allclose(xs, np.sort(ref["w"]), rtol=1e-14)

    def test_new_figure_without_ax(self):
        import matplotlib.pyplot as plt

        ax = fe.plotting.regimes_plot(TYPICAL, 2.0)
        try:
            assert ax.figure is not None
            assert len(ax.collections) == 2
        finally:
            plt.close(ax.figure)

    @pytest.mark.parametrize(
        ("args", "kwargs", "error", "message"),
        [
            ((TYPICAL,), {}, TypeError, "`gamma` is required"),
            ((fe.regimes(TYPICAL, 2.0), 2.0), {}, TypeError, "`gamma` and `alpha` must be None"),
            (([TYPICAL, TYPICAL], 2.0), {}, ValueError, r"`row` must select one distribution"),
            ((TYPICAL, 2.0), {"row": 0}, ValueError, r"`row` must select one distribution"),
            (([0.5, 0.6], 2.0), {}, ValueError, "`p`"),
            (([0.5, 0.5], -1.0), {}, ValueError, "`gamma`"),
        ],
    )
    def test_bad_arguments(self, ax, args, kwargs, error, message):
        with pytest.raises(error, match=message):
            fe.plotting.regimes_plot(*args, ax=ax, **kwargs)


class TestRegimesBars:
    @pytest.mark.parametrize(("p", "gamma"), [(MIXED, 2.0), (TYPICAL, 2.0), ((0.8, 0.2), 1.0)])
    def test_bars_heights_and_colours(self, ax, p, gamma):
        ref = mp_regimes(p, gamma)
        out = fe.plotting.regimes_bars(np.array(p), gamma, ax=ax)
        assert out is ax
        p_bars, q_bars = ax.containers
        assert len(p_bars) == len(q_bars) == len(p)
        np.testing.assert_allclose([b.get_height() for b in p_bars], p, rtol=1e-15)
        q = np.array([b.get_height() for b in q_bars])
        np.testing.assert_allclose(q, ref["q"], rtol=1e-10)
        for k, bar in enumerate(q_bars):
            # colour from the heights drawn: above the grey bar green, below orange/red
            if q[k] > p[k]:
                want = GREEN
            elif ref["p_low"] is not None and p[k] < ref["p_low"]:
                want = RED
            else:
                want = ORANGE
            assert bar.get_facecolor() == to_rgba(want), k
        assert all(b.get_facecolor() == to_rgba("0.6") for b in p_bars)
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        present = [lab for lab in fe.LABELS if lab in ref["labels"]]
        assert legend == ["P"] + [f"Q*: {lab}" for lab in present]

    def test_names_scale_and_target_label(self, ax):
        res = fe.regimes(MIXED, 2.0, class_names=list("abcdef"))
        fe.plotting.regimes_bars(res, ax=ax, target_label="w")
        assert [t.get_text() for t in ax.get_xticklabels()] == list("abcdef")
        assert ax.get_yscale() == "log"  # 0.3 / 0.0001 > 50
        assert ax.get_legend().get_texts()[0].get_text() == "w"
        other = Figure().subplots()
        fe.plotting.regimes_bars(TYPICAL, 2.0, ax=other, class_names=["w", "x", "y", "z"])
        assert other.get_yscale() == "linear"  # 0.7 / 0.02 = 35 < 50
        assert [t.get_text() for t in other.get_xticklabels()] == ["w", "x", "y", "z"]
        other = Figure().subplots()
        fe.plotting.regimes_bars(MIXED, 2.0, ax=other, log=False)
        assert other.get_yscale() == "linear"

    def test_ticks_readable_at_k_200(self, ax):
        p = np.full(200, 1 / 200)
        fe.plotting.regimes_bars(p, 2.0, ax=ax, class_names=[f"class_{i}" for i in range(200)])
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert 10 <= len(labels) <= 30
        assert labels[:2] == ["class_0", "class_7"]
        assert "one name every 7 classes" in ax.get_xlabel()
        assert len(ax.containers[1]) == 200

    def test_class_names_length(self, ax):
        with pytest.raises(ValueError, match="`class_names` has 2 entries but `p` has 4"):
            fe.plotting.regimes_bars(TYPICAL, 2.0, ax=ax, class_names=["a", "b"])


#: a batch of shape (2, 3): every row TYPICAL but [1, 2] (and [1] of its flat view ``BATCH[1]``)
OTHER = (0.4, 0.3, 0.2, 0.1)
BATCH = np.array([[TYPICAL] * 3, [TYPICAL, TYPICAL, OTHER]])
DRAW = {"regimes_plot": fe.plotting.regimes_plot, "regimes_bars": fe.plotting.regimes_bars}


def _drawn(ax: Axes, name: str) -> tuple[Any, Any]:
    """What the figure shows of the row drawn: the classes' p and the minimizer / lam."""
    if name == "regimes_bars":
        p_bars, q_bars = ax.containers
        return [b.get_height() for b in p_bars], [b.get_height() for b in q_bars]
    xs = np.sort(np.concatenate([np.asarray(c.get_offsets())[:, 0] for c in ax.collections]))
    return xs, [_line(ax, "λ =").get_ydata()[0]]


def _expected(p: tuple[float, ...], name: str) -> tuple[Any, Any]:
    ref = mp_regimes(p, 2.0)
    if name == "regimes_bars":
        return ref["w"], ref["q"]
    return np.sort(ref["w"]), [ref["lam"]]


@pytest.mark.parametrize("name", sorted(DRAW))
class TestRow:
    """``row``: an integer (Python or NumPy) or a tuple of them, checked against the batch."""

    @pytest.mark.parametrize(
        "row", [2, np.int64(2), np.int32(-1), np.uint8(2), -1, (2,), (np.int16(2),), np.array(2)]
    )
    def test_integer_like_selects_the_row(self, ax: Axes, name: str, row: Any) -> None:
        # BATCH[1] has shape (3, 4): row 2 (= -1) is OTHER, rows 0 and 1 are TYPICAL
        DRAW[name](BATCH[1], 2.0, row=row, ax=ax)
        for got, want in zip(_drawn(ax, name), _expected(OTHER, name), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-10)

    @pytest.mark.parametrize("row", [(1, 2), (-1, -1), (np.int64(1), np.int8(2)), (1, -1)])
    def test_tuple_selects_in_a_2d_batch(self, ax: Axes, name: str, row: Any) -> None:
        DRAW[name](BATCH, 2.0, row=row, ax=ax)
        for got, want in zip(_drawn(ax, name), _expected(OTHER, name), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-10)
        other = Figure().subplots()
        DRAW[name](BATCH, 2.0, row=(np.int64(1), 1), ax=other)
        for got, want in zip(_drawn(other, name), _expected(TYPICAL, name), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-10)

    def test_numpy_integer_with_a_result(self, ax: Axes, name: str) -> None:
        res = fe.regimes(BATCH[1], 2.0)
        DRAW[name](res, row=np.int64(2), ax=ax)
        for got, want in zip(_drawn(ax, name), _expected(OTHER, name), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-10)

    @pytest.mark.parametrize(
        ("row", "shown"),
        [
            (1.5, r"got 1\.5 of type float"),
            (1.0, "got 1.0 of type float"),
            (np.float64(1.0), "of type float64"),
            ("1", "got '1' of type str"),
            (True, "of type bool"),
            (np.bool_(True), "of type bool"),
            ([1], r"got \[1\] of type list"),
            (None, "got None"),
            ((0.0,), r"\(entry 0\); got 0\.0 of type float"),
        ],
    )
    def test_not_an_integer_is_a_type_error(
        self, ax: Axes, name: str, row: Any, shown: str
    ) -> None:
        with pytest.raises(TypeError, match=r"`row` must be an integer or a tuple of integers"):
            DRAW[name](BATCH[0], 2.0, row=row, ax=ax)
        with pytest.raises(TypeError, match=shown):
            DRAW[name](BATCH[0], 2.0, row=row, ax=ax)

    def test_non_integer_entry_of_a_tuple(self, ax: Axes, name: str) -> None:
        with pytest.raises(TypeError, match=r"\(entry 1\); got 0\.5 of type float"):
            DRAW[name](BATCH, 2.0, row=(1, 0.5), ax=ax)

    @pytest.mark.parametrize(
        ("p", "row", "message"),
        [
            (BATCH[0], 3, r"`row` = 3 is out of range for batch shape \(3,\): index 3 on axis 0"),
            (BATCH[0], np.int64(3), r"batch shape \(3,\): index 3 on axis 0 of size 3"),
            (BATCH[0], -4, r"`row` = -4 is out of range .* index -4 on axis 0 of size 3"),
            (BATCH[0], (5,), r"`row` = \(5,\) is out of range for batch shape \(3,\)"),
            (BATCH, (1, 3), r"batch shape \(2, 3\): index 3 on axis 1 of size 3"),
            (BATCH, (2, 0), r"batch shape \(2, 3\): index 2 on axis 0 of size 2"),
            (BATCH, (-3, 9), r"index -3 on axis 0 of size 2"),  # the first bad entry
        ],
    )
    def test_out_of_range_is_a_value_error(
        self, ax: Axes, name: str, p: Any, row: Any, message: str
    ) -> None:
        with pytest.raises(ValueError, match=message):
            DRAW[name](p, 2.0, row=row, ax=ax)

    @pytest.mark.parametrize(
        ("p", "row", "message"),
        [
            (BATCH, 1, r"batch shape \(2, 3\): 2 integers, one per batch axis; got 1"),
            (BATCH, (1, 2, 0), r"batch shape \(2, 3\): 2 integers.*; got \(1, 2, 0\)"),
            (BATCH[0], (), r"batch shape \(3,\): 1 integer, one per batch axis; got \(\)"),
            (BATCH[0], (0, 0), r"batch shape \(3,\): 1 integer"),
            (TYPICAL, np.int64(0), r"batch shape \(\): `p` holds a single distribution"),
        ],
    )
    def test_wrong_number_of_entries_is_a_value_error(
        self, ax: Axes, name: str, p: Any, row: Any, message: str
    ) -> None:
        with pytest.raises(ValueError, match=r"`row` must select one distribution"):
            DRAW[name](p, 2.0, row=row, ax=ax)
        with pytest.raises(ValueError, match=message):
            DRAW[name](p, 2.0, row=row, ax=ax)


class TestModule:
    def test_import_does_not_import_matplotlib(self):
        code = (
            "import sys, focalentropy as fe\n"
            "assert 'matplotlib' not in sys.modules\n"
            "fe.plotting.regimes_plot\n"
            "print('MPL', 'matplotlib' in sys.modules)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        assert "MPL False" in out

    def test_missing_matplotlib_names_the_extra(self, monkeypatch):
        monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
        with pytest.raises(ImportError, match=r"pip install 'focal-entropy\[plot\]'"):
            fe.plotting.regimes_plot(TYPICAL, 2.0)
        with pytest.raises(ImportError, match=r"focal-entropy\[plot\]"):
            fe.plotting.regimes_bars(TYPICAL, 2.0)

    def test_reliability_diagram_is_reexported(self):
        assert fe.plotting.reliability_diagram is fe.calibration.reliability_diagram
        assert set(fe.plotting.__all__) >= {"regimes_plot", "regimes_bars", "reliability_diagram"}
        assert dict(fe.plotting.REGIME_COLORS) == EXPECTED_COLOR
