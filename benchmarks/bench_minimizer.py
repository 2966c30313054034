"""Time `focalentropy.minimizer` and `recover` against one np.log pass over the same array.

Yardsticks, timed in the same rounds (interleaved, so that machine load hits
all alike): an allocating ``np.log(x)`` and an in-place ``np.log(x, out=buf)``.
For each shape (Dirichlet(1) rows, float64, gamma = 2) it reports min and
median seconds over the rounds and the ratios min/min and median/median to
both yardsticks, for ``minimizer`` with ``method="auto"``, ``"numpy"`` and
``"numba"``, and for ``recover``.

Cold figures come from fresh processes: the first call there, with numba's
on-disk cache empty (a private temporary cache directory: compilation
included) and with it filled (the cache is loaded), against the warm
allocating np.log median of this process.

Run: ``python benchmarks/bench_minimizer.py [--rounds R] [--shapes 100000x100 ...]
[--no-cold] [--slsqp-rows N]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import focalentropy as fe
from focalentropy._kernels import kernel_available

DEFAULT_SHAPES = ["100000x100", "1000000x10", "10000x1000"]

_COLD_CODE = """
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import focalentropy as fe
t_import = time.perf_counter() - t0
n, k, g, what = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
x = np.random.default_rng(0).dirichlet(np.ones(k), size=n)
f = fe.minimizer if what == "minimizer" else fe.recover
t = time.perf_counter(); f(x, g); first = time.perf_counter() - t
t = time.perf_counter(); f(x, g); second = time.perf_counter() - t
print(json.dumps({"import": t_import, "first": first, "second": second}))
"""


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _cold(n: int, k: int, g: float, what: str, cache_dir: str | None) -> dict:
    env = dict(os.environ)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    out = subprocess.run(
        [sys.executable, "-c", _COLD_CODE, str(n), str(k), str(g), what],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    return json.loads(out.stdout)


def _bench_shape(n: int, k: int, g: float, rounds: int) -> dict[str, list[float]]:
    x = np.random.default_rng(0).dirichlet(np.ones(k), size=n)
    buf = np.empty_like(x)
    calls = {
        "np.log(x)": lambda: np.log(x),
        "np.log(x, out=buf)": lambda: np.log(x, out=buf),
        "minimizer auto": lambda: fe.minimizer(x, g),
        "minimizer numpy": lambda: fe.minimizer(x, g, method="numpy"),
        "recover": lambda: fe.recover(x, g),
    }
    if kernel_available():
        calls["minimizer numba"] = lambda: fe.minimizer(x, g, method="numba")
    for fn in calls.values():  # warm-up: compile or load numba's cache, build tables
        fn()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, fn in calls.items():
            times[name].append(_timed(fn))
    return times


def _report(n: int, k: int, times: dict[str, list[float]]) -> None:
    yard = {
        y: (min(times[y]), statistics.median(times[y])) for y in ("np.log(x)", "np.log(x, out=buf)")
    }
    print(f"\n({n}, {k}) float64, {len(times['np.log(x)'])} interleaved rounds")
    header = f"{'what':<20} {'min s':>8} {'median s':>9}"
    print(f"{header}   {'x np.log (min/med)':>19}   {'x in-place (min/med)':>20}")
    for name, ts in times.items():
        lo, med = min(ts), statistics.median(ts)
        r1 = f"{lo / yard['np.log(x)'][0]:.1f} / {med / yard['np.log(x)'][1]:.1f}"
        r2 = f"{lo / yard['np.log(x, out=buf)'][0]:.1f} / {med / yard['np.log(x, out=buf)'][1]:.1f}"
        print(f"{name:<20} {lo:>8.4f} {med:>9.4f}   {r1:>19}   {r2:>20}")


def _slsqp(p: np.ndarray, g: float, n_rows: int, per_row_ours: float) -> None:
    from scipy import optimize

    def row(pr):
        support = pr > 0
        return optimize.minimize(
            lambda q: -np.sum(pr * (1 - q) ** g * np.log(q)),
            x0=pr.copy(),
            method="SLSQP",
            bounds=[(1e-12, 1.0) if s else (0.0, 0.0) for s in support],
            constraints=[{"type": "eq", "fun": lambda q: q.sum() - 1.0}],
            options={"ftol": 1e-12, "maxiter": 500},
        ).x

    start = time.perf_counter()
    q_slsqp = np.array([row(r) for r in p[:n_rows]])
    per_row = (time.perf_counter() - start) / n_rows
    q_ours = fe.minimizer(p[:n_rows], g)
    print(
        f"\nscipy.optimize.minimize (SLSQP): {per_row * 1e3:.1f} ms/row over {n_rows} rows; "
        f"ours {per_row_ours * 1e6:.2f} us/row (median, first shape): "
        f"{per_row / per_row_ours:,.0f}x; max |Q_slsqp - Q_ours| = "
        f"{np.abs(q_slsqp - q_ours).max():.1e} (SLSQP's tolerance)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", default=DEFAULT_SHAPES, help="ROWSxCLASSES")
    parser.add_argument("--gamma", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--no-cold", action="store_true", help="skip the fresh-process timings")
    parser.add_argument("--slsqp-rows", type=int, default=0, help="also time SLSQP on N rows")
    args = parser.parse_args()
    g = args.gamma
    print(f"gamma = {g}; numba kernel available: {kernel_available()}; {os.cpu_count()} CPUs")

    first_median = None
    for shape in args.shapes:
        n, k = (int(v) for v in shape.lower().split("x"))
        times = _bench_shape(n, k, g, args.rounds)
        _report(n, k, times)
        log_med = statistics.median(times["np.log(x)"])
        if first_median is None:
            first_median = statistics.median(times["minimizer auto"]) / n
        if args.no_cold:
            continue
        with tempfile.TemporaryDirectory() as empty_cache:
            for what in ("minimizer", "recover"):
                for label, cache in (("empty numba cache", empty_cache), ("filled cache", None)):
                    if what == "recover" and cache is not None:
                        continue  # recover is NumPy only: no compilation
                    c = _cold(n, k, g, what, cache)
                    print(
                        f"cold {what:<9} ({label:<17}): import {c['import']:.2f} s, first call "
                        f"{c['first']:.2f} s ({c['first'] / log_med:.0f}x np.log), second "
                        f"{c['second']:.3f} s"
                    )
    if args.slsqp_rows:
        k = int(args.shapes[0].lower().split("x")[1])
        p = np.random.default_rng(0).dirichlet(np.ones(k), size=args.slsqp_rows)
        _slsqp(p, g, args.slsqp_rows, first_median)


if __name__ == "__main__":
    main()
