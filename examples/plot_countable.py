"""
Countably infinite alphabets: Q*/P on the head and the tail
============================================================

For each distribution and gamma the table shows the ratio Q*(x)/P(x) on the
first classes and on the last kept class, the limit 1/lam of the ratio, the
number of integers kept and the proven bound on the Q*-mass beyond them,
then the focal entropy with its certified error bound (the theory page,
section "Countable alphabets"). The figure draws Q*/P over the
kept support: it tends to 1/lam in the tail.

Run: ``python examples/plot_countable.py`` (a few seconds).
"""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
from scipy import stats

from focalentropy import TruncationWarning, countable_entropy, countable_minimizer

DISTRIBUTIONS = {
    "poisson(3)": (stats.poisson(3), 1e-12),
    "geom(0.2)": (stats.geom(0.2), 1e-12),
    "nbinom(5, 0.3)": (stats.nbinom(5, 0.3), 1e-12),
    # zipf's heavy tail needs ~tol^(-2/3) terms; 1e-8 keeps this quick
    "zipf(2.5)": (stats.zipf(2.5), 1e-8),
}
GAMMAS = (0.5, 1.0, 2.0, 5.0)
HEAD = 5


def main() -> None:
    header = (
        f"{'distribution':<15}{'gamma':>6}  "
        + "".join(f"{'x=' + str(i):>8}" for i in range(HEAD))
        + f"{'last x':>9}{'ratio':>8}{'1/lam':>8}{'kept':>9}{'tail bound':>12}"
    )
    print("Q*(x) / P(x) on the head and at the last kept class")
    print(header)
    print("-" * len(header))
    for name, (dist, tol) in DISTRIBUTIONS.items():
        for gamma in GAMMAS:
            res = countable_minimizer(dist, gamma, tol=tol)
            ratios = res.q[:HEAD] / res.p[:HEAD]
            head = "".join(f"{r:8.4f}" for r in ratios)
            # the first kept class of zipf is x = 1
            first = int(res.support[0])
            head = " " * 8 * first + head[: 8 * (HEAD - first)]
            last = res.q[-1] / res.p[-1]
            print(
                f"{name:<15}{gamma:6g}  {head}{int(res.support[-1]):9d}{last:8.4f}"
                f"{res.tail_ratio:8.4f}{len(res.support):9d}{res.tail_bound:12.2e}"
            )
    print()
    print("Focal entropy H_gamma(P) with certified error bounds")
    print(f"{'distribution':<15}" + "".join(f"{'gamma=' + format(g, 'g'):>26}" for g in GAMMAS))
    for name, (dist, tol) in DISTRIBUTIONS.items():
        cells = []
        for gamma in GAMMAS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", TruncationWarning)
                value = countable_entropy(dist, gamma, tol=tol)
            cells.append(f"{value.value:.12f} ± {value.error_bound:.0e}")
        print(f"{name:<15}" + "".join(f"{c:>26}" for c in cells))


def plot(gamma: float = 2.0) -> None:
    _fig, ax = plt.subplots(figsize=(7, 3.8), constrained_layout=True)
    for i, (name, (dist, tol)) in enumerate(DISTRIBUTIONS.items()):
        res = countable_minimizer(dist, gamma, tol=tol)
        color = f"C{i}"
        ax.semilogx(res.support, res.q / res.p, ".-", color=color, ms=3, label=name)
        ax.axhline(res.tail_ratio, color=color, ls=":", lw=1)
    ax.axhline(1.0, color="0.5", lw=0.8)
    ax.set_xlabel("x")
    ax.set_ylabel("Q*(x) / P(x)")
    ax.set_title(f"gamma = {gamma:g}: the ratio tends to 1/lam (dotted) in the tail", fontsize=10)
    ax.legend(fontsize=8)


# %%
# The tables, then the figure.
if __name__ == "__main__":
    main()
    plot()
    plt.show()
