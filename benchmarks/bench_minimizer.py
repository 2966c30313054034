"""Time `focalentropy.minimizer` against `np.log` (yardstick) and SciPy's SLSQP.

The problem of issue #2: a (100000, 100) float64 array of Dirichlet(1) rows,
gamma = 2. Each timing is the median of repeats, interleaved with the
yardstick so that machine load affects both alike; the ratio is what counts.

Run: ``python benchmarks/bench_minimizer.py [--rows N] [--classes K] [--repeats R]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from scipy import optimize

import focalentropy as fe
from focalentropy import _minimizer
from focalentropy._kernels import kernel_available


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _slsqp_row(p: np.ndarray, gamma: float) -> np.ndarray:
    support = p > 0
    res = optimize.minimize(
        lambda q: -np.sum(p * (1 - q) ** gamma * np.log(q)),
        x0=p.copy(),
        method="SLSQP",
        bounds=[(1e-12, 1.0) if s else (0.0, 0.0) for s in support],
        constraints=[{"type": "eq", "fun": lambda q: q.sum() - 1.0}],
        options={"ftol": 1e-12, "maxiter": 500},
    )
    return res.x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--gamma", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--slsqp-rows", type=int, default=200)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(args.classes), size=args.rows)
    g = args.gamma
    print(f"minimizer on a ({args.rows}, {args.classes}) Dirichlet(1) array, gamma = {g}")
    print(f"compiled kernel available: {kernel_available()}")

    methods = ["numpy"] + (["numba"] if kernel_available() else [])
    for method in methods:  # warm-up (numba compiles or loads its cache)
        _minimizer._solve_rows(p[:100], g, method)
    fe.minimizer(p[:100], g)

    times: dict[str, list[float]] = {"np.log": [], "minimizer": []}
    times.update({f"method={m}": [] for m in methods})
    for _ in range(args.repeats):
        times["np.log"].append(_timed(lambda: np.log(p)))
        times["minimizer"].append(_timed(lambda: fe.minimizer(p, g)))
        for method in methods:
            times[f"method={method}"].append(
                _timed(lambda m=method: _minimizer._solve_rows(p, g, m))
            )
        times["np.log"].append(_timed(lambda: np.log(p)))

    yard = statistics.median(times["np.log"])
    print(f"{'what':<18} {'median s':>10} {'ratio to np.log':>16}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<18} {med:>10.4f} {med / yard:>16.2f}")

    n = args.slsqp_rows
    start = time.perf_counter()
    q_slsqp = np.array([_slsqp_row(row, g) for row in p[:n]])
    per_row_slsqp = (time.perf_counter() - start) / n
    per_row_ours = statistics.median(times["minimizer"]) / args.rows
    q_ours = fe.minimizer(p[:n], g)
    print(
        f"scipy.optimize.minimize (SLSQP): {per_row_slsqp * 1e3:.3f} ms/row over {n} rows; "
        f"ours {per_row_ours * 1e6:.3f} us/row: speed-up {per_row_slsqp / per_row_ours:,.0f}x"
    )
    print(f"max |Q_slsqp - Q_ours| = {np.abs(q_slsqp - q_ours).max():.2e} (SLSQP's tolerance)")


if __name__ == "__main__":
    main()
