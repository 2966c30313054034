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
    import torch

    calls: list[tuple[float, str]] = []
    before = torch.get_num_threads()
    torch.set_num_threads(before + 1)
    try:
        result = run_long_tail_experiment(
            gammas=(2.0,),
            seed=0,
            epochs=3,
            augment=False,
            progress=lambda a=1.0, d="": calls.append((a, d)),
        )
        assert torch.get_num_threads() == before + 1  # training used one, then restored
    finally:
        torch.set_num_threads(before)
    # one call per trained model (real_data.planned_units counts on it)
    assert calls == [(1.0, "long-tail: cross-entropy model"), (1.0, "long-tail: focal gamma=2")]
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


def test_evaluate_logits_on_known_probabilities():
    """Logits of known models: the theory check and the maps give the known answers."""
    from focalentropy._minimizer import minimizer
    from focalentropy.experiments._common import softmax
    from focalentropy.experiments.long_tail import _evaluate_logits

    rng = np.random.default_rng(5)
    z_ce = [rng.normal(size=(400, 4)) for _ in range(2)]
    y = [rng.integers(0, 4, 400) for _ in range(2)]
    p_ce = [softmax(z) for z in z_ce]
    focal = tuple(np.log(minimizer(p, 2.0)) for p in p_ce)  # exactly the theory's model
    out = _evaluate_logits({"ce": tuple(z_ce), 2.0: focal}, y[0], y[1], n_bins=10)
    check = out["minimizer_check"][2.0]
    assert check["tv_focal_vs_minimizer_of_ce"] < 1e-14
    assert check["tv_recovered_vs_ce"] < 1e-12  # recover(minimizer(P)) = P
    assert check["tv_focal_vs_ce"] > 0.05
    np.testing.assert_allclose(out["probs"]["ce"], p_ce[1], rtol=1e-12)
    assert out["argmax_preserved"]
    assert [(r["model"], r["map"]) for r in out["rows"]] == [
        ("cross-entropy", "raw"),
        ("cross-entropy", "temperature"),
        ("focal", "raw"),
        ("focal", "recover"),
        ("focal", "recover(auto)"),
        ("focal", "temperature"),
        ("focal", "recover+temperature"),
    ]
    # recover maps the focal model onto the CE model: same metrics
    rows = {(r["model"], r["map"]): r for r in out["rows"]}
    assert rows["focal", "recover"]["nll"] == pytest.approx(rows["cross-entropy", "raw"]["nll"])
