"""Tests of focalentropy.calibration: metrics, recalibrators, reliability diagram."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from focalentropy._minimizer import minimizer, recover
from focalentropy.calibration import (
    FocalRecalibrator,
    FocalTemperatureScaling,
    TemperatureScaling,
    accuracy,
    brier_score,
    calibration_report,
    classwise_calibration_error,
    expected_calibration_error,
    negative_log_likelihood,
    reliability_bins,
    reliability_diagram,
)

METRICS = [
    expected_calibration_error,
    classwise_calibration_error,
    negative_log_likelihood,
    brier_score,
    accuracy,
    calibration_report,
    reliability_bins,
]


def _sample_labels(rng, p):
    """One label per row of ``p`` drawn from that row."""
    u = rng.random((p.shape[0], 1))
    return np.minimum((np.cumsum(p, axis=1) < u).sum(axis=1), p.shape[1] - 1)


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def dirichlet_data():
    rng = np.random.default_rng(12)
    p = rng.dirichlet(np.full(4, 0.7), size=3000)
    return p, _sample_labels(rng, p)


# ---------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------


class TestExpectedCalibrationError:
    def test_hand_computed_uniform_bins(self):
        # confidences 0.9, 0.8 (bin [0.8, 0.9) and [0.9, 1.0] with 10 bins), 0.6, 0.6
        probs = [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.4, 0.6]]
        labels = [0, 0, 0, 1]
        # bin 9: conf 0.9, acc 1 -> gap 0.1; bin 8: conf 0.8, acc 0 -> 0.8;
        # bin 6: conf 0.6, acc 1 -> 0.4 (two samples)
        expected = (0.1 + 0.8 + 2 * 0.4) / 4
        assert expected_calibration_error(probs, labels, n_bins=10) == pytest.approx(expected)
        l2 = np.sqrt((0.1**2 + 0.8**2 + 2 * 0.4**2) / 4)
        assert expected_calibration_error(probs, labels, n_bins=10, norm="l2") == pytest.approx(l2)
        assert expected_calibration_error(probs, labels, n_bins=10, norm="max") == pytest.approx(
            0.8
        )
        # one bin: |mean acc - mean conf| = |3/4 - 2.9/4|
        assert expected_calibration_error(probs, labels, n_bins=1) == pytest.approx(0.1 / 4)

    def test_hand_computed_quantile_bins(self):
        probs = [[0.55, 0.45], [0.6, 0.4], [0.3, 0.7], [0.05, 0.95]]
        labels = [1, 0, 1, 0]
        # sorted confidences 0.55 (wrong), 0.6 (right) | 0.7 (right), 0.95 (wrong)
        expected = 0.5 * abs(0.5 - 0.575) + 0.5 * abs(0.5 - 0.825)
        got = expected_calibration_error(probs, labels, n_bins=2, binning="quantile")
        assert got == pytest.approx(expected)
        bins = reliability_bins(probs, labels, n_bins=2, binning="quantile")
        np.testing.assert_array_equal(bins.count, [2, 2])
        np.testing.assert_allclose(bins.edges, [0.55, 0.7, 0.95])

    def test_confidence_one_and_zero_error(self):
        probs = np.eye(3)[[0, 1, 2, 0]]
        assert expected_calibration_error(probs, [0, 1, 2, 0]) == 0.0
        assert expected_calibration_error(probs, [1, 1, 2, 0]) == pytest.approx(0.25)

    def test_calibrated_model_has_small_error(self, dirichlet_data):
        p, y = dirichlet_data
        assert expected_calibration_error(p, y) < 0.04
        assert classwise_calibration_error(p, y) < 0.02
        sharpened = _softmax(3 * np.log(p))
        assert expected_calibration_error(sharpened, y) > 0.1

    @pytest.mark.parametrize("norm", ["l1", "l2", "max"])
    def test_torchmetrics_parity(self, dirichlet_data, norm):
        torch = pytest.importorskip("torch")
        tm = pytest.importorskip("torchmetrics.functional.classification")
        p, y = dirichlet_data
        expected = tm.multiclass_calibration_error(
            torch.tensor(p, dtype=torch.float64), torch.tensor(y), 4, n_bins=15, norm=norm
        )
        got = expected_calibration_error(p, y, n_bins=15, norm=norm)
        assert got == pytest.approx(float(expected), abs=1e-6)

    def test_quantile_bins_have_equal_mass(self, dirichlet_data):
        p, y = dirichlet_data
        bins = reliability_bins(p[:1001], y[:1001], n_bins=7, binning="quantile")
        assert bins.count.sum() == 1001
        assert bins.count.max() - bins.count.min() <= 1
        assert np.all(np.diff(bins.edges) >= 0)

    def test_leading_axes_are_flattened(self, dirichlet_data):
        p, y = dirichlet_data
        flat = expected_calibration_error(p[:3000], y[:3000])
        assert expected_calibration_error(p.reshape(30, 100, 4), y.reshape(30, 100)) == flat


class TestClasswiseCalibrationError:
    def test_hand_computed(self):
        probs = [[0.8, 0.2], [0.8, 0.2], [0.3, 0.7]]
        labels = [0, 1, 1]
        # class 0: bin 8 {0.8, 0.8} freq 1/2 -> 0.3 * 2/3; bin 3 {0.3} freq 0 -> 0.3 * 1/3
        # class 1: bin 2 {0.2, 0.2} freq 1/2 -> 0.3 * 2/3; bin 7 {0.7} freq 1 -> 0.3 * 1/3
        assert classwise_calibration_error(probs, labels, n_bins=10) == pytest.approx(0.3)

    def test_binary_equals_one_class_error(self):
        # for K = 2 the class-0 problem mirrors the class-1 problem: same gaps,
        # mirrored equal-width bins, so the average equals the class-1 error
        rng = np.random.default_rng(3)
        q = rng.random(500)
        y = (rng.random(500) < q**2).astype(int)
        p = np.stack([1 - q, q], axis=1)
        b = np.minimum((q * 8).astype(int), 7)
        expected = sum(
            abs(y[b == k].mean() - q[b == k].mean()) * np.mean(b == k)
            for k in range(8)
            if np.any(b == k)
        )
        assert classwise_calibration_error(p, y, n_bins=8) == pytest.approx(expected)
        assert expected > 0.05

    def test_invariant_under_class_permutation(self, dirichlet_data):
        p, y = dirichlet_data
        perm = np.array([2, 0, 3, 1])
        inverse = np.argsort(perm)
        assert classwise_calibration_error(p[:, perm], inverse[y]) == pytest.approx(
            classwise_calibration_error(p, y)
        )


class TestLikelihoodAndBrier:
    def test_nll_against_torch_and_sklearn(self, dirichlet_data):
        torch = pytest.importorskip("torch")
        from sklearn.metrics import log_loss

        p, y = dirichlet_data
        got = negative_log_likelihood(p, y)
        expected = torch.nn.functional.nll_loss(torch.log(torch.tensor(p)), torch.tensor(y))
        assert got == pytest.approx(float(expected), rel=1e-12)
        assert got == pytest.approx(log_loss(y, p, labels=range(4)), rel=1e-10)

    def test_nll_of_zero_probability_is_inf(self):
        assert negative_log_likelihood([[1.0, 0.0], [0.5, 0.5]], [1, 0]) == np.inf

    def test_brier_hand_and_sklearn(self, dirichlet_data):
        from sklearn.metrics import brier_score_loss

        assert brier_score([[0.5, 0.5], [0.0, 1.0]], [0, 0]) == pytest.approx((0.5 + 2.0) / 2)
        p, y = dirichlet_data
        expected = brier_score_loss(y, p, labels=range(4), scale_by_half=False)
        assert brier_score(p, y) == pytest.approx(expected, rel=1e-12)

    def test_report_keys_and_values(self, dirichlet_data):
        p, y = dirichlet_data
        report = calibration_report(p, y, n_bins=10)
        assert report["nll"] == negative_log_likelihood(p, y)
        assert report["ece"] == expected_calibration_error(p, y, n_bins=10)
        assert report["accuracy"] == pytest.approx(np.mean(p.argmax(1) == y))


class TestInputs:
    @pytest.mark.parametrize("metric", METRICS)
    def test_rows_must_sum_to_one(self, metric):
        with pytest.raises(ValueError, match=r"`probs` must sum to 1.*row 1"):
            metric([[0.5, 0.5], [0.5, 0.6]], [0, 1])

    @pytest.mark.parametrize("metric", METRICS)
    def test_labels_out_of_range(self, metric):
        with pytest.raises(ValueError, match=r"`labels` must be class indices in \[0, 1\]; "):
            metric([[0.5, 0.5], [0.4, 0.6]], [0, 2])
        with pytest.raises(ValueError, match=r"found -1 at index 0"):
            metric([[0.5, 0.5], [0.4, 0.6]], [-1, 0])

    def test_probabilities_outside_unit_interval(self):
        with pytest.raises(ValueError, match=r"`probs` must contain probabilities in \[0, 1\]"):
            brier_score([[1.5, -0.5]], [0])
        with pytest.raises(ValueError, match=r"found nan at index \(0, 1\)"):
            brier_score([[0.5, np.nan]], [0])

    def test_label_shape_and_type(self):
        with pytest.raises(ValueError, match=r"`labels` must have shape \(2,\)"):
            accuracy([[0.5, 0.5], [0.4, 0.6]], [0, 1, 1])
        with pytest.raises(TypeError, match="`labels` must be integer class indices"):
            accuracy([[0.5, 0.5], [0.4, 0.6]], [0, 0.5])
        with pytest.raises(TypeError, match="`labels` must be integer"):
            accuracy([[0.5, 0.5], [0.4, 0.6]], [True, False])
        with pytest.raises(TypeError, match="`probs` must be"):
            accuracy("probs", [0])
        with pytest.raises(ValueError, match="at least one sample"):
            accuracy(np.zeros((0, 3)), np.zeros(0, dtype=int))

    def test_binning_arguments(self):
        with pytest.raises(ValueError, match="`n_bins` must be >= 1"):
            expected_calibration_error([[1.0, 0.0]], [0], n_bins=0)
        with pytest.raises(TypeError, match="`n_bins` must be an integer"):
            expected_calibration_error([[1.0, 0.0]], [0], n_bins=2.5)
        with pytest.raises(ValueError, match="`binning` must be one of"):
            expected_calibration_error([[1.0, 0.0]], [0], binning="width")
        with pytest.raises(ValueError, match="`norm` must be one of"):
            classwise_calibration_error([[1.0, 0.0]], [0], norm="l3")

    def test_torch_tensors_float32(self, dirichlet_data):
        torch = pytest.importorskip("torch")
        p, y = dirichlet_data
        logits = torch.tensor(np.log(p), dtype=torch.float32, requires_grad=True)
        probs = torch.softmax(logits, dim=-1)  # float32 rows: sums off by ~1e-7
        got = calibration_report(probs, torch.tensor(y))
        expected = calibration_report(p, y)
        for key, value in expected.items():
            assert got[key] == pytest.approx(value, abs=1e-5), key

    def test_torch_bfloat16(self):
        torch = pytest.importorskip("torch")
        probs = torch.tensor([[0.75, 0.25], [0.5, 0.5]], dtype=torch.bfloat16)
        assert accuracy(probs, torch.tensor([0, 1])) == 0.5


def test_import_does_not_pull_matplotlib_or_torch():
    code = (
        "import sys, focalentropy, focalentropy.calibration; "
        "print('matplotlib' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_reliability_diagram(dirichlet_data):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p, y = dirichlet_data
    fig = reliability_diagram(p, y, n_bins=10, label="model", title="t")
    try:
        assert len(fig.axes) == 2
        bars = fig.axes[0].patches
        bins = reliability_bins(p, y, n_bins=10)
        heights = sorted(b.get_height() for b in bars)
        np.testing.assert_allclose(heights, sorted(bins.accuracy[bins.count > 0]))
        assert "ECE" in fig.axes[0].get_legend().get_texts()[0].get_text()
    finally:
        plt.close(fig)
    fig, ax = plt.subplots()
    try:
        assert reliability_diagram(p, y, ax=ax, binning="quantile") is fig
    finally:
        plt.close(fig)


# ---------------------------------------------------------------------------
# recalibrators
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def focal_rows():
    rng = np.random.default_rng(5)
    p = rng.dirichlet(np.full(6, 0.5), size=400)
    return p


class TestFocalRecalibrator:
    @pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
    def test_exact_on_minimizer(self, focal_rows, gamma):
        q = minimizer(focal_rows, gamma)
        cal = FocalRecalibrator(gamma).fit(q)
        assert cal.gamma_ == gamma
        np.testing.assert_allclose(cal.transform(q), focal_rows, rtol=1e-9, atol=1e-15)

    def test_exact_with_class_weights(self, focal_rows):
        alpha = np.array([0.25, 1.0, 2.0, 0.5, 1.0, 3.0])
        q = minimizer(focal_rows, 2.0, alpha=alpha)
        got = FocalRecalibrator(2.0, alpha=alpha).transform(q)
        np.testing.assert_allclose(got, focal_rows, rtol=1e-9, atol=1e-15)

    def test_exact_sigmoid(self):
        rng = np.random.default_rng(1)
        p = rng.random((50, 3))
        q = minimizer(p, 2.0, alpha=0.25, kind="sigmoid")
        got = FocalRecalibrator(2.0, alpha=0.25, kind="sigmoid").transform(q)
        np.testing.assert_allclose(got, p, rtol=1e-9)
        np.testing.assert_allclose(got, recover(q, 2.0, alpha=0.25, kind="sigmoid"), rtol=1e-12)

    def test_agrees_with_recover(self, focal_rows):
        np.testing.assert_allclose(
            FocalRecalibrator(3.0).transform(focal_rows), recover(focal_rows, 3.0), rtol=1e-12
        )

    def test_logits_equal_probabilities(self, focal_rows):
        logits = np.log(focal_rows) + 7.0
        a = FocalRecalibrator(2.0, from_logits=True).transform(logits)
        b = FocalRecalibrator(2.0).transform(focal_rows)
        np.testing.assert_allclose(a, b, rtol=1e-10)

    def test_saturated_outputs(self):
        # q = 1 - 1e-30 rounds to 1 as a probability, but the logits keep it exact.
        logits = np.array([[69.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
        p = FocalRecalibrator(2.0, from_logits=True).transform(logits)
        q_small = np.exp(-69.0) / (1 + 2 * np.exp(-69.0))
        expected = recover(np.array([[1 - 2 * q_small, q_small, q_small]]), 2.0)
        assert np.all(np.isfinite(p))
        np.testing.assert_allclose(p[0, 1:], expected[0, 1:], rtol=1e-9)
        np.testing.assert_allclose(p[1], 1 / 3)
        # a one-hot row stays one-hot, a zero stays zero
        one_hot = FocalRecalibrator(2.0).transform([[0.0, 1.0, 0.0], [0.2, 0.0, 0.8]])
        assert one_hot[0].tolist() == [0.0, 1.0, 0.0]
        assert one_hot[1, 1] == 0.0
        assert one_hot[1, 2] > 0.8

    def test_argmax_preserved(self):
        rng = np.random.default_rng(2)
        q = rng.dirichlet(np.full(10, 0.3), size=2000)
        for gamma in (0.3, 1.0, 3.0):
            p = FocalRecalibrator(gamma).transform(q)
            np.testing.assert_array_equal(p.argmax(-1), q.argmax(-1))
            np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-12)

    @pytest.mark.parametrize("gamma_true", [2.5])
    def test_auto_finds_gamma(self, gamma_true):
        # Model outputs q with labels drawn from P = recover(q, gamma_true), i.e.
        # q = minimizer(P, gamma_true) (exact, tested above) at the cost of the
        # closed form. The MLE has a standard deviation of about 0.02 here.
        rng = np.random.default_rng(int(gamma_true * 10))
        q = rng.dirichlet(np.full(5, 0.5), size=100_000)
        y = _sample_labels(rng, recover(q, gamma_true))
        cal = FocalRecalibrator("auto").fit(q, y)
        assert abs(cal.gamma_ - gamma_true) < 0.1
        assert cal.log_likelihood_ == pytest.approx(cal.log_likelihood(q, y))
        assert cal.log_likelihood_ >= cal.log_likelihood(q, y, gamma=gamma_true)

    def test_auto_sigmoid(self):
        rng = np.random.default_rng(6)
        q = rng.random((40_000, 2))
        p = recover(q, 2.0, alpha=0.25, kind="sigmoid")
        y = (rng.random(q.shape) < p).astype(int)
        cal = FocalRecalibrator("auto", alpha=0.25, kind="sigmoid").fit(q, y)
        assert abs(cal.gamma_ - 2.0) < 0.2
        logits = np.log(q) - np.log1p(-q)
        from_logits = FocalRecalibrator(2.0, alpha=0.25, kind="sigmoid", from_logits=True)
        np.testing.assert_allclose(from_logits.transform(logits), p, rtol=1e-9)
        np.testing.assert_array_equal(cal.predict(q), (cal.transform(q) > 0.5).astype(int))

    def test_auto_on_cross_entropy_model_gives_zero(self):
        rng = np.random.default_rng(4)
        p = rng.dirichlet(np.ones(3), size=20_000)
        y = _sample_labels(rng, p)
        # an over-confident model: the best "recovery" is no recovery at all
        cal = FocalRecalibrator("auto").fit(_softmax(2 * np.log(p)), y)
        assert cal.gamma_ == 0.0

    def test_torch_input(self, focal_rows):
        torch = pytest.importorskip("torch")
        q = minimizer(focal_rows, 1.0)
        got = FocalRecalibrator(1.0).transform(torch.tensor(q, dtype=torch.float32))
        np.testing.assert_allclose(got, focal_rows, atol=1e-5)

    def test_errors(self, focal_rows):
        q = minimizer(focal_rows, 1.0)
        with pytest.raises(ValueError, match='`gamma` must be a number >= 0 or "auto"'):
            FocalRecalibrator("fit").fit(q)
        with pytest.raises(ValueError, match="`gamma` must be a finite number >= 0"):
            FocalRecalibrator(-1.0).fit(q)
        with pytest.raises(ValueError, match="call `fit"):
            FocalRecalibrator("auto").transform(q)
        with pytest.raises(ValueError, match="`y` is required"):
            FocalRecalibrator("auto").fit(q)
        with pytest.raises(ValueError, match=r"`y` must be class indices in \[0, 5\]"):
            FocalRecalibrator("auto").fit(q[:2], [0, 6])
        with pytest.raises(ValueError, match="`probs` must sum to 1"):
            FocalRecalibrator(1.0).transform(q * 1.01)
        with pytest.raises(ValueError, match="fitted with 6"):
            FocalRecalibrator(1.0).fit(q).transform(q[:, :3] / q[:, :3].sum(1, keepdims=True))
        with pytest.raises(ValueError, match="`alpha` must be positive"):
            FocalRecalibrator(1.0, alpha=[1, 1, 1, 1, 1, -1]).transform(q)
        with pytest.raises(ValueError, match="`kind` must be one of"):
            FocalRecalibrator(1.0, kind="tanh").transform(q)
        with pytest.raises(ValueError, match="`logits` must not contain NaN"):
            FocalRecalibrator(1.0, from_logits=True).transform([[0.0, np.nan]])

    def test_sklearn_clone_and_params(self):
        from sklearn.base import clone

        cal = FocalRecalibrator("auto", alpha=0.25, kind="sigmoid")
        copy = clone(cal)
        assert copy.get_params() == cal.get_params()
        assert copy.set_params(gamma=1.5).gamma == 1.5
        with pytest.raises(ValueError, match="invalid parameter `beta`"):
            cal.set_params(beta=1)
        assert "gamma='auto'" in repr(cal)


@pytest.fixture(scope="module")
def logit_data():
    rng = np.random.default_rng(8)
    z = rng.normal(scale=2.0, size=(20_000, 4))
    return z, _sample_labels(rng, _softmax(z))


class TestTemperatureScaling:
    @pytest.mark.parametrize("scale", [0.5, 1.0, 3.0])
    def test_recovers_temperature(self, logit_data, scale):
        z, y = logit_data
        ts = TemperatureScaling(from_logits=True).fit(scale * z, y)
        assert ts.temperature_ == pytest.approx(scale, rel=0.06)
        np.testing.assert_allclose(ts.transform(scale * z), _softmax(z), atol=0.03)

    def test_probabilities_equal_logits(self, logit_data):
        z, y = logit_data
        a = TemperatureScaling(from_logits=True).fit(2 * z, y)
        b = TemperatureScaling().fit(_softmax(2 * z), y)
        assert a.temperature_ == pytest.approx(b.temperature_, rel=1e-6)
        np.testing.assert_allclose(a.transform(2 * z), b.transform(_softmax(2 * z)), atol=1e-6)
        np.testing.assert_array_equal(b.predict(_softmax(2 * z)), z.argmax(-1))

    def test_sigmoid_kind(self):
        rng = np.random.default_rng(9)
        z = rng.normal(scale=2.0, size=(20_000, 2))
        y = (rng.random(z.shape) < 1 / (1 + np.exp(-z))).astype(int)
        ts = TemperatureScaling(kind="sigmoid", from_logits=True).fit(2 * z, y)
        assert ts.temperature_ == pytest.approx(2.0, rel=0.08)

    def test_errors(self, logit_data):
        z, y = logit_data
        with pytest.raises(ValueError, match="call `fit"):
            TemperatureScaling().transform(_softmax(z))
        with pytest.raises(ValueError, match="`temperature_bounds` must satisfy"):
            TemperatureScaling(temperature_bounds=(2.0, 1.0)).fit(_softmax(z), y)
        with pytest.raises(ValueError, match=r"`y` must have shape"):
            TemperatureScaling().fit(_softmax(z), y[:-1])


class TestFocalTemperatureScaling:
    def test_known_gamma_and_overconfidence(self):
        rng = np.random.default_rng(10)
        z = rng.normal(scale=1.5, size=(20_000, 5))
        p = _softmax(z)
        y = _sample_labels(rng, p)
        # a focal (gamma = 2) model that is also over-confident by a factor 2
        q = minimizer(_softmax(2 * z), 2.0)
        cal = FocalTemperatureScaling(2.0).fit(q, y)
        assert cal.gamma_ == 2.0
        assert cal.temperature_ == pytest.approx(2.0, rel=0.06)
        out = cal.transform(q)
        np.testing.assert_array_equal(out.argmax(-1), q.argmax(-1))
        assert np.mean(np.abs(out - p).sum(-1)) < 0.05
        recovered_only = FocalRecalibrator(2.0).transform(q)
        assert negative_log_likelihood(out, y) < negative_log_likelihood(recovered_only, y)

    def test_exact_input_needs_no_temperature(self, focal_rows):
        rng = np.random.default_rng(11)
        p = np.repeat(focal_rows, 25, axis=0)
        y = _sample_labels(rng, p)
        cal = FocalTemperatureScaling("auto").fit(minimizer(p, 1.5), y)
        assert abs(cal.gamma_ - 1.5) < 0.3
        assert cal.temperature_ == pytest.approx(1.0, abs=0.05)

    def test_log_likelihood_applies_the_temperature(self):
        rng = np.random.default_rng(12)
        z = rng.normal(scale=1.5, size=(4000, 4))
        y = _sample_labels(rng, _softmax(z))
        q = minimizer(_softmax(3 * z), 2.0)  # focal and over-confident: T far from 1
        cal = FocalTemperatureScaling(2.0).fit(q, y)
        assert cal.temperature_ > 2
        assert cal.log_likelihood(q, y) == pytest.approx(cal.log_likelihood_, rel=1e-12)
        # without the temperature the likelihood is the recover-only one, lower here
        recover_only = FocalRecalibrator(2.0).fit(q, y).log_likelihood(q, y)
        assert recover_only < cal.log_likelihood(q, y)
        with pytest.raises(ValueError, match="call `fit"):
            FocalTemperatureScaling(2.0).log_likelihood(q, y)


def test_metric_messages_do_not_offer_an_option_they_lack():
    bad = np.array([[0.5, 0.4]])
    with pytest.raises(ValueError, match="must sum to 1") as info:
        expected_calibration_error(bad, np.array([0]))
    assert "from_logits" not in str(info.value)
    with pytest.raises(ValueError, match="from_logits=True"):
        FocalRecalibrator(2.0).transform(bad)


class TestScikitLearnContract:
    """The recalibrators follow the estimator conventions: clone, pickle, Pipeline."""

    ESTIMATORS = (
        lambda: FocalRecalibrator(2.0, from_logits=True),
        lambda: FocalRecalibrator("auto", from_logits=True),
        lambda: TemperatureScaling(from_logits=True),
        lambda: FocalTemperatureScaling(1.5, from_logits=True),
    )

    @pytest.mark.parametrize("make", ESTIMATORS)
    def test_clone_pickle_and_pipeline(self, make, logit_data):
        import pickle

        sklearn_base = pytest.importorskip("sklearn.base")
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import FunctionTransformer

        z, y = logit_data
        z, y = z[:3000], y[:3000]
        est = make()
        twin = sklearn_base.clone(est)
        assert twin is not est
        assert twin.get_params() == est.get_params()
        fitted = est.fit(z, y)
        restored = pickle.loads(pickle.dumps(fitted))
        np.testing.assert_array_equal(restored.transform(z), fitted.transform(z))
        assert not hasattr(twin, "n_classes_")  # clone copies parameters, not fitted state
        pipe = make_pipeline(FunctionTransformer(lambda v: 2.0 * v), make()).fit(z, y)
        np.testing.assert_allclose(pipe.predict_proba(z), make().fit(2 * z, y).transform(2 * z))
        np.testing.assert_array_equal(pipe.predict(z), (2 * z).argmax(-1))
