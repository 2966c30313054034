"""
Focal gradient boosting on data with a known posterior, and its recovery
========================================================================

Draws a binary problem with about 9 % positives and a 4-class problem from
known class posteriors P(x), trains LightGBM (binary) and XGBoost
(multi-class) with the focal objectives of ``focalentropy.boosting``
(gamma = 2), and prints, on held-out data, how far the boosted probabilities
are from P and from the focal minimizer Q* = minimizer(P, gamma), before and
after ``recover_from_raw``. The model learns Q*, not P; recover maps it back.
The figure plots the binary model's probabilities against the true P.
Runs in a few seconds; skips a library that is not installed
(``pip install -e ".[boosting]"``).

Run: ``python examples/plot_boosting.py``
"""

from __future__ import annotations

import importlib.util

import matplotlib.pyplot as plt
import numpy as np

import focalentropy as fe
from focalentropy.boosting import (
    initial_score,
    lightgbm_metric,
    lightgbm_objective,
    probabilities_from_raw,
    recover_from_raw,
    xgboost_objective,
)

GAMMA = 2.0


def report(name, q, back, P, Q):
    def mae(a, b):
        return float(np.mean(np.abs(a - b)))

    print(f"{name}")
    print(f"  boosted probabilities:  |q - Q*| = {mae(q, Q):.4f}   |q - P| = {mae(q, P):.4f}")
    print(f"  after recover_from_raw:             |p - P| = {mae(back, P):.4f}")


def binary_lightgbm(rng):
    import lightgbm as lgb

    n = 30_000
    X = rng.uniform(-3, 3, size=(n, 3))
    P = 1 / (1 + np.exp(-(1.5 * X[:, 0] + X[:, 1] - 5.0)))
    y = (rng.random(n) < P).astype(float)
    tr, te = slice(0, 20_000), slice(20_000, None)
    s0 = initial_score(y[tr], GAMMA)  # the best constant score: where boosting starts
    train = lgb.Dataset(X[tr], y[tr], init_score=np.full(20_000, s0))
    valid = lgb.Dataset(X[te], y[te], init_score=np.full(10_000, s0), reference=train)
    params = {
        "objective": lightgbm_objective(GAMMA),
        "metric": "None",
        "num_leaves": 8,
        "learning_rate": 0.1,
        "min_data_in_leaf": 100,
        "verbose": -1,
        "num_threads": 1,
    }
    booster = lgb.train(
        params,
        train,
        500,
        valid_sets=[valid],
        feval=lightgbm_metric(GAMMA),
        callbacks=[lgb.early_stopping(20, verbose=False)],
    )
    raw = booster.predict(X[te]) + s0  # predict() leaves init_score out
    print(f"LightGBM stopped at round {booster.best_iteration}; positives: {y.mean():.1%}")
    Q = fe.minimizer(P[te], GAMMA, kind="sigmoid")
    q, back = probabilities_from_raw(raw), recover_from_raw(raw, GAMMA)
    report("binary, LightGBM", q, back, P[te], Q)
    return P[te], q, back


def multiclass_xgboost(rng):
    import xgboost as xgb

    n, k = 20_000, 4
    X = rng.uniform(-3, 3, size=(n, 2))
    Z = np.stack([2 * X[:, 0], X[:, 1] - X[:, 0], 0.5 * X[:, 1], np.full(n, -2.0)], -1)
    P = np.exp(Z) / np.exp(Z).sum(1, keepdims=True)
    y = (rng.random((n, 1)) > P.cumsum(1)).sum(1).astype(float)
    tr, te = slice(0, 14_000), slice(14_000, None)
    s0 = initial_score(y[tr], GAMMA, kind="softmax", num_class=k)
    dtrain = xgb.DMatrix(X[tr], y[tr], base_margin=np.tile(s0, (14_000, 1)))
    dtest = xgb.DMatrix(X[te], y[te], base_margin=np.tile(s0, (6_000, 1)))
    params = {"num_class": k, "max_depth": 3, "eta": 0.1, "min_child_weight": 5, "nthread": 1}
    booster = xgb.train(params, dtrain, 150, obj=xgboost_objective(GAMMA))
    raw = booster.predict(dtest, output_margin=True)
    Q = fe.minimizer(P[te], GAMMA)
    report(
        "4 classes, XGBoost",
        probabilities_from_raw(raw, kind="softmax"),
        recover_from_raw(raw, GAMMA, kind="softmax"),
        P[te],
        Q,
    )


def plot(P, q, back) -> None:
    order = np.argsort(P)
    _fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    grid = np.linspace(0, 1, 201)
    ax.plot(grid, grid, color="0.5", lw=0.8, label="P")
    ax.plot(grid, fe.minimizer(grid[:, None], GAMMA, kind="sigmoid")[:, 0], "k--", label="Q*(P)")
    ax.plot(P[order], q[order], ".", ms=2, alpha=0.4, label="boosted probability")
    ax.plot(P[order], back[order], ".", ms=2, alpha=0.4, label="after recover_from_raw")
    ax.set_xlabel("true P(y = 1 | x)")
    ax.set_ylabel("model probability")
    ax.set_title(f"LightGBM, focal objective gamma = {GAMMA:g}", fontsize=10)
    ax.legend(fontsize=8, markerscale=4)


def main() -> None:
    rng = np.random.default_rng(0)
    binary = None
    for module, run in (("lightgbm", binary_lightgbm), ("xgboost", multiclass_xgboost)):
        if importlib.util.find_spec(module) is None:
            print(f"{module} is not installed: skipped")
            continue
        out = run(rng)
        if module == "lightgbm":
            binary = out
    if binary is not None:
        plot(*binary)
        plt.show()


if __name__ == "__main__":
    main()
