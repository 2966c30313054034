"""Time per boosting round of the focal objective vs the log-loss objective's gradient.

Times one objective evaluation (gradient and Hessian from raw scores), as a
boosting library calls it once per round, for

* ``focal``: ``focalentropy.boosting.lightgbm_objective(gamma)`` called the way
  LightGBM calls it (scores and a data set; input checks included),
* ``logloss``: the yardstick, the built-in log-loss objective's gradient and
  Hessian written in NumPy (``p = sigmoid(x)``, ``g = p - y``, ``h = p (1-p)``;
  softmax: ``g = p - onehot``, ``h = p (1-p)``) - what LightGBM's and XGBoost's
  built-in ``binary`` / ``multiclass`` objectives compute in C++,

on ``(10^6,)`` binary and ``(10^5, 10)`` multi-class scores, in one process,
interleaved (each round times both, in alternating order). Printed: the
median and the minimum over rounds of the per-round ratio focal / logloss,
and the medians of the absolute times.

``--lightgbm`` also times one full LightGBM boosting round (built-in
``binary`` objective, 8 features, 31 leaves, 1 thread) on the binary problem, to put the
objective's cost in proportion.

Usage::

    python benchmarks/bench_boosting.py
    python benchmarks/bench_boosting.py --rounds 31 --gamma 0.5
    python benchmarks/bench_boosting.py --lightgbm
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from focalentropy.boosting import lightgbm_objective


class _Data:
    """The part of ``lightgbm.Dataset`` the objective uses."""

    def __init__(self, label):
        self._label = label

    def get_label(self):
        return self._label

    def get_weight(self):
        return None


def logloss_binary(x, y):
    p = 1.0 / (1.0 + np.exp(-x))
    return p - y, p * (1.0 - p)


def logloss_softmax(z, y):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    g = p.copy()
    g[np.arange(len(y)), y] -= 1.0
    return g, p * (1.0 - p)


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def compare(name, focal, yard, rounds):
    focal()
    yard()  # warm up
    ratios, t_focal, t_yard = [], [], []
    for i in range(rounds):
        if i % 2:
            a = _time(focal)
            b = _time(yard)
        else:
            b = _time(yard)
            a = _time(focal)
        ratios.append(a / b)
        t_focal.append(a)
        t_yard.append(b)
    print(
        f"{name:<28} focal {1e3 * statistics.median(t_focal):7.1f} ms   "
        f"logloss {1e3 * statistics.median(t_yard):6.1f} ms   "
        f"ratio median {statistics.median(ratios):5.2f}  min {min(ratios):5.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--gamma", type=float, default=2.0)
    parser.add_argument("--lightgbm", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(0)

    n = 10**6
    x = rng.normal(scale=3.0, size=n)
    y = (rng.random(n) < 0.2).astype(np.float64)
    for hessian in ("positive", "exact"):
        obj = lightgbm_objective(args.gamma, hessian=hessian)
        data = _Data(y)
        compare(
            f"binary (10^6,) {hessian}",
            lambda obj=obj, data=data: obj(x, data),
            lambda: logloss_binary(x, y),
            args.rounds,
        )

    n, k = 10**5, 10
    z = rng.normal(scale=3.0, size=(n, k))
    yk = rng.integers(0, k, n)
    for hessian in ("positive", "exact"):
        obj = lightgbm_objective(args.gamma, hessian=hessian)
        data = _Data(yk.astype(np.float64))
        compare(
            f"softmax (10^5, 10) {hessian}",
            lambda obj=obj, data=data: obj(z, data),
            lambda: logloss_softmax(z, yk),
            args.rounds,
        )

    if args.lightgbm:
        import lightgbm as lgb

        X = rng.normal(size=(10**6, 8))
        yb = (X[:, 0] + rng.normal(size=10**6) > 1.0).astype(np.float64)
        booster = lgb.Booster(
            {"objective": "binary", "verbose": -1, "num_leaves": 31, "num_threads": 1},
            lgb.Dataset(X, yb),
        )
        booster.update()
        times = [_time(booster.update) for _ in range(args.rounds)]
        ms = 1e3 * statistics.median(times)
        print(f"one LightGBM round (built-in binary, 10^6 x 8, 1 thread): {ms:.1f} ms")


if __name__ == "__main__":
    main()
