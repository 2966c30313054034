"""The 50-digit references of the countable tests, read from tests/data/countable/minimizer.json.

The file is written by ``scripts/make_countable_references.py`` (mpmath only,
independent of focalentropy; its docstring has the method). ``reference``
fails with a message naming that script if the file is missing or was made
for other distributions or gammas than the tests use.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import mpmath as mp
import numpy as np
import pytest
from scipy import stats

mp.mp.dps = 50

DATA = Path(__file__).resolve().parent / "data" / "countable" / "minimizer.json"
REGENERATE = ".venv/bin/python scripts/make_countable_references.py"

GAMMAS = (0.5, 1.0, 2.0, 5.0)
#: name -> (frozen scipy distribution, tol used by the tests)
DISTS = {
    "poisson(3)": (stats.poisson(3), 1e-12),
    "geom(0.2)": (stats.geom(0.2), 1e-12),
    "nbinom(5, 0.3)": (stats.nbinom(5, 0.3), 1e-12),
    # zipf's tail needs N ~ tol^(-2/3) terms: a moderate tol keeps the tests fast
    "zipf(2.5)": (stats.zipf(2.5), 1e-5),
}
#: also in the file: geom(0.5) (P(x) = 2^-x, x >= 1)
NAMES = (*DISTS, "geom(0.5)")


@functools.cache
def _load() -> dict:
    if not DATA.exists():
        pytest.fail(f"{DATA} is missing: run `{REGENERATE}`")
    data = json.loads(DATA.read_text())
    gammas = tuple(float(g) for g in data["gammas"])
    if gammas != GAMMAS or set(data["distributions"]) != set(NAMES):
        pytest.fail(
            f"{DATA} is stale (gammas {gammas}, distributions {sorted(data['distributions'])}; "
            f"the tests need {GAMMAS}, {sorted(NAMES)}): run `{REGENERATE}`"
        )
    return data


def _key(gamma: float) -> str:
    return format(gamma, "g")


@functools.cache
def reference(name: str, gamma: float) -> tuple[mp.mpf, dict[int, mp.mpf]]:
    """``(lam, {x: Q*(x)})``: ``lam`` in 30 digits, ``Q*`` in 17 from the first integer on.

    Light tails are stored up to where the ``P``-mass left is below 1e-22, zipf up to 200.
    """
    entry = _load()["distributions"][name]
    ref = entry["by_gamma"][_key(gamma)]
    q = {x: mp.mpf(v) for x, v in enumerate(ref["q"].split()) if x >= entry["first"]}
    return mp.mpf(ref["lam"]), q


def reference_entropy(name: str, gamma: float) -> mp.mpf:
    """``H_gamma(P)`` in 30 digits."""
    return mp.mpf(_load()["distributions"][name]["by_gamma"][_key(gamma)]["entropy"])


def mp_pmf(name: str, x: int) -> mp.mpf:
    """``P(x)`` of the distribution ``name`` of :data:`DISTS` in closed form, 50 digits."""
    return mp_scipy_pmf(DISTS[name][0], x)


def mp_scipy_pmf(dist, x: int) -> mp.mpf:
    """``P(x)`` of a frozen scipy distribution, from its closed form in 50 digits."""
    name, args = dist.dist.name, [mp.mpf(str(a)) for a in dist.args]
    y = x - int(dist.kwds.get("loc", 0))
    if name == "poisson":
        (mu,) = args
        return mp.exp(-mu) * mu**y / mp.factorial(y) if y >= 0 else mp.mpf(0)
    if name == "geom":
        (p,) = args
        return p * (1 - p) ** (y - 1) if y >= 1 else mp.mpf(0)
    if name == "nbinom":
        n, p = args
        return mp.binomial(y + n - 1, y) * p**n * (1 - p) ** y if y >= 0 else mp.mpf(0)
    if name == "logser":
        (p,) = args
        return -(p**y) / (y * mp.log1p(-p)) if y >= 1 else mp.mpf(0)
    if name == "planck":
        (lam,) = args
        return -mp.expm1(-lam) * mp.exp(-lam * y) if y >= 0 else mp.mpf(0)
    if name == "zipf":
        (a,) = args
        return mp.mpf(y) ** -a / mp.zeta(a) if y >= 1 else mp.mpf(0)
    raise KeyError(name)


# geom(0.2) as a user pmf: module-level functions, so that its sources and results pickle


def geometric_pmf(x: np.ndarray) -> np.ndarray:
    return 0.2 * 0.8 ** (x - 1.0)


def geometric_sf(n: int) -> float:
    return 0.8**n
