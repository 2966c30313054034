"""Tiny settings of the recalibration experiments in focalentropy.experiments.long_tail."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from focalentropy.experiments.long_tail import (
    load_long_tail_digits,
    run_long_tail_experiment,
    run_synthetic_recovery,
)


def test_long_tail_splits():
    data = load_long_tail_digits(100, seed=1, augment=False)
    for split in ("train", "val", "test"):
        counts = np.asarray(data["counts"][split])
        y = data[f"y_{split}"]
        np.testing.assert_array_equal(np.bincount(y, minlength=10), counts)
        ordered = counts[data["class_order"]]
        assert np.all(np.diff(ordered) <= 0)  # head to tail
        assert counts.min() >= 1
    train = np.asarray(data["counts"]["train"])
    assert train.max() / train.min() == pytest.approx(100, rel=0.25)
    assert data["X_train"].shape == (train.sum(), 64)
    assert data["X_train"].min() >= 0.0
    assert data["X_train"].max() <= 1.0
    with pytest.raises(ValueError, match="`imbalance_ratio` must be >= 1"):
        load_long_tail_digits(0.5)


def test_long_tail_experiment_tiny():
    result = run_long_tail_experiment(gammas=(2.0,), seed=0, epochs=3, augment=False)
    rows = result["rows"]
    maps = {(r["model"], r["map"]) for r in rows}
    assert ("cross-entropy", "raw") in maps
    for name in ("raw", "recover", "recover(auto)", "temperature", "recover+temperature"):
        assert ("focal", name) in maps
    # every map keeps the predictions, hence the accuracy
    assert result["argmax_preserved"]
    focal_acc = {r["accuracy"] for r in rows if r["model"] == "focal"}
    assert len(focal_acc) == 1
    n = result["labels"].shape[0]
    for key in ("ce", 2.0):
        probs = result["probs"][key]
        assert probs.shape == (n, 10)
        np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-12)
    fitted = result["fitted"][2.0]
    assert fitted["temperature"] > 0
    assert 0 <= fitted["gamma_auto"] <= 10
    check = result["minimizer_check"][2.0]
    assert set(check) == {"tv_focal_vs_minimizer_of_ce", "tv_focal_vs_ce", "tv_recovered_vs_ce"}


def test_synthetic_recovery_tiny():
    result = run_synthetic_recovery(2.0, n_classes=3, n_train=3000, epochs=6, seed=1)
    assert result["tv_recover_exact"] < 1e-12
    # recover removes the focal distortion: what is left is of the size of the training error
    assert result["tv_recovered"] < 0.5 * result["tv_raw"]
    assert result["tv_recovered"] < 2.0 * result["tv_training"]
