"""Write the 50-digit mpmath references of the countable tests: tests/data/countable/minimizer.json.

Regenerate (about a minute, single core) with

    .venv/bin/python scripts/make_countable_references.py

after changing the distributions, gammas or cutoffs below; the tests
(tests/test_countable_*.py, through tests/_countable_reference.py) compare the
file's ``distributions`` and ``gammas`` with their own and fail with a message
naming this script if the file is missing or differs.

Independent of focalentropy (only mpmath): for each distribution ``P`` and
gamma the minimizer ``Q*(x) = phi^{-1}(lam / P(x))`` is solved in 50-digit
arithmetic, every class up to a cutoff ``K`` by bracketed Newton in the logit
``t`` (``psi(t) = log phi(sigmoid t) = log lam - log P(x)``), and the
multiplier by bracketed Newton on ``ell = log lam`` for ``sum_x Q*(x) = 1``.
Beyond ``K`` the light tails (poisson, geom, nbinom) have ``P``-mass below
1e-30 and are dropped; the zipf tail is summed in closed form with Hurwitz
zeta functions through first order in ``q``, ``q = a (1 + gamma a (log(1/a) -
1) + O(a^2 log^2 a))`` with ``a = P(x) / lam``: the remainder (second order,
``~ gamma^2 a^3 log^2 a`` per class) moves ``lam`` by less than 1e-14
relative at ``K = 400`` for gamma <= 5. Stored: ``lam`` (30 digits), ``H_gamma(P) =
sum_x P(x) (1-Q*(x))^gamma (-log Q*(x))`` (30 digits) and ``Q*(x)`` (17
digits, space-separated, from ``x = 0`` to where the ``P``-mass left is below
1e-22; zipf to 200).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import mpmath as mp

mp.mp.dps = 50
OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "countable" / "minimizer.json"
GAMMAS = ("0.5", "1", "2", "5")
ZIPF_A = mp.mpf("2.5")
#: name -> (first integer of the support, cutoff K of the solve, last integer stored)
DISTRIBUTIONS = {
    "poisson(3)": (0, 45, 40),
    "geom(0.2)": (1, 305, 230),
    "geom(0.5)": (1, 110, 75),
    "nbinom(5, 0.3)": (0, 250, 190),
    "zipf(2.5)": (1, 400, 200),
}
#: the stored light tails end where the P-mass left is below this (Q* <= P / lam there)
STORED_TAIL = mp.mpf(10) ** -22
TINY = mp.mpf(10) ** -45


def pmf(name: str, x: int) -> mp.mpf:
    """``P(x)`` in closed form."""
    if name == "poisson(3)":
        return mp.exp(-3) * mp.mpf(3) ** x / mp.factorial(x)
    if name == "geom(0.2)":
        return mp.mpf("0.2") * mp.mpf("0.8") ** (x - 1)
    if name == "geom(0.5)":
        return mp.mpf("0.5") ** x
    if name == "nbinom(5, 0.3)":
        return mp.binomial(x + 4, x) * mp.mpf("0.3") ** 5 * mp.mpf("0.7") ** x
    if name == "zipf(2.5)":
        return mp.mpf(x) ** -ZIPF_A / mp.zeta(ZIPF_A)
    raise KeyError(name)


def psi(t: mp.mpf, g: mp.mpf) -> tuple[mp.mpf, mp.mpf, mp.mpf, mp.mpf]:
    """``log phi(sigmoid t)``, its derivative in ``t``, ``q`` and ``1 - q``.

    ``phi(q) = (1-q)^gamma / q (1 + gamma v)``, ``v = q log(1/q) / (1-q)``
    (docs/theory.rst, "The loss term").
    """
    e = mp.exp(t)
    q, r = e / (1 + e), 1 / (1 + e)
    neg_log_r = mp.log1p(e)
    neg_log_q = neg_log_r - t
    v = e * neg_log_q
    value = neg_log_q - g * neg_log_r + mp.log(1 + g * v)
    slope = -g * q - r + g * (v - q) / (1 + g * v)
    return value, slope, q, r


def solve_logit(y: mp.mpf, g: mp.mpf, t0: mp.mpf) -> mp.mpf:
    """The ``t`` with ``psi(t) = y`` (``psi`` decreasing): bracketed Newton from ``t0``."""
    lo, hi, step = t0, t0, mp.mpf(1)
    while psi(lo, g)[0] < y:
        lo, step = lo - step, 2 * step
    step = mp.mpf(1)
    while psi(hi, g)[0] > y:
        hi, step = hi + step, 2 * step
    t = t0
    for _ in range(200):
        value, slope, _, _ = psi(t, g)
        if value > y:
            lo = t
        else:
            hi = t
        new = t - (value - y) / slope
        if not lo <= new <= hi:
            new = (lo + hi) / 2
        if abs(new - t) < TINY * max(1, abs(t)):
            return new
        t = new
    raise RuntimeError(f"logit solve did not converge (y = {y})")


def zipf_tail(ell: mp.mpf, g: mp.mpf, k: int) -> tuple[mp.mpf, mp.mpf]:
    """``sum_{x > k} Q*(x)`` and its derivative in ``ell``, through first order in ``q``."""
    z = mp.zeta(ZIPF_A)
    lam = mp.exp(ell)
    s1 = mp.zeta(ZIPF_A, k + 1) / z
    s2 = mp.zeta(2 * ZIPF_A, k + 1) / z**2
    s2_log_x = -mp.zeta(2 * ZIPF_A, k + 1, derivative=1) / z**2
    # sum P^2 log(lam / P) = s2 (ell + log z) + a sum P^2 log x
    s2_log = s2 * (ell + mp.log(z)) + ZIPF_A * s2_log_x
    tail = s1 / lam + g * (s2_log - s2) / lam**2
    dtail = -s1 / lam + g * (s2 - 2 * (s2_log - s2)) / lam**2
    return tail, dtail


def zipf_entropy_tail(lam: mp.mpf, g: mp.mpf, k: int) -> mp.mpf:
    """``sum_{x > k} P(x) l(Q*(x))`` through first order in ``a = P/lam``.

    ``l(q) = L - 2 gamma a L + gamma a + O(a^2 L^2)`` with ``L = log(1/a)``.
    """
    z = mp.zeta(ZIPF_A)
    log_z, log_lam = mp.log(z), mp.log(lam)
    s1 = mp.zeta(ZIPF_A, k + 1) / z
    s1_log_x = -mp.zeta(ZIPF_A, k + 1, derivative=1) / z
    s2 = mp.zeta(2 * ZIPF_A, k + 1) / z**2
    s2_log_x = -mp.zeta(2 * ZIPF_A, k + 1, derivative=1) / z**2
    sum_p_l = s1 * (log_lam + log_z) + ZIPF_A * s1_log_x  # sum P log(lam / P)
    sum_p2_l = s2 * (log_lam + log_z) + ZIPF_A * s2_log_x  # sum P^2 log(lam / P)
    return sum_p_l - 2 * g * sum_p2_l / lam + g * s2 / lam


def solve(name: str, gamma: str) -> dict:
    """``lam``, ``Q*`` on ``0..K`` and ``H_gamma(P)`` in 50 digits."""
    g = mp.mpf(gamma)
    first, k, last = DISTRIBUTIONS[name]
    xs = range(first, k + 1)
    log_w = {x: mp.log(pmf(name, x)) for x in xs}
    ell, lo, hi = mp.mpf(0), -mp.inf, mp.inf
    t = {x: log_w[x] - ell for x in xs}  # q ~ P / lam for small q
    for _ in range(100):
        t = {x: solve_logit(ell - log_w[x], g, t[x]) for x in xs}
        total, slope = mp.mpf(0), mp.mpf(0)
        for x in xs:
            _, dpsi, q, r = psi(t[x], g)
            total += q
            slope += q * r / dpsi  # dq/d ell
        if name == "zipf(2.5)":
            tail, dtail = zipf_tail(ell, g, k)
            total, slope = total + tail, slope + dtail
        f = total - 1
        if f > 0:
            lo = ell
        else:
            hi = ell
        new = ell - f / slope
        if not lo <= new <= hi:
            new = (lo + hi) / 2 if mp.isfinite(lo + hi) else ell + (1 if f > 0 else -1)
        if abs(new - ell) < TINY:
            break
        ell = new
    else:
        raise RuntimeError(f"multiplier of {name}, gamma = {gamma} did not converge")
    t = {x: solve_logit(ell - log_w[x], g, t[x]) for x in xs}
    q = {x: 1 / (1 + mp.exp(-t[x])) for x in xs}
    entropy = mp.fsum(pmf(name, x) * (1 - q[x]) ** g * -mp.log(q[x]) for x in xs)
    if name == "zipf(2.5)":
        entropy += zipf_entropy_tail(mp.exp(ell), g, k)
    if name != "zipf(2.5)":
        left = mp.fsum(pmf(name, x) for x in range(last + 1, k + 1))
        assert left < STORED_TAIL, (name, left)
    return {
        "lam": mp.nstr(mp.exp(ell), 30),
        "entropy": mp.nstr(entropy, 30),
        "q": " ".join(["0"] * first + [mp.nstr(q[x], 17) for x in range(first, last + 1)]),
    }


def self_check() -> None:
    """The closed-form zipf tails agree with direct sums (the entropy tail to its O(a^2) rest)."""
    k, far = 200, 3000
    tail, _ = zipf_tail(mp.mpf(0), mp.mpf(0), k)
    direct = 1 - mp.fsum(pmf("zipf(2.5)", x) for x in range(1, k + 1))
    assert abs(tail - direct) < mp.mpf(10) ** -40, (tail, direct)
    lam, g = mp.mpf("1.3"), mp.mpf(2)
    head = mp.mpf(0)
    for x in range(k + 1, far + 1):
        p = pmf("zipf(2.5)", x)
        q = 1 / (1 + mp.exp(-solve_logit(mp.log(lam / p), g, mp.log(p / lam))))
        head += p * (1 - q) ** g * -mp.log(q)
    expected = zipf_entropy_tail(lam, g, k) - zipf_entropy_tail(lam, g, far)
    assert abs(head / expected - 1) < 1e-8, (head, expected)


def main() -> None:
    start = time.perf_counter()
    self_check()
    data = {
        "about": __doc__.split("\n\n")[0],
        "regenerate": ".venv/bin/python scripts/make_countable_references.py",
        "dps": mp.mp.dps,
        "gammas": list(GAMMAS),
        "distributions": {
            name: {
                "first": first,
                "cutoff": k,
                "by_gamma": {gamma: solve(name, gamma) for gamma in GAMMAS},
            }
            for name, (first, k, _) in DISTRIBUTIONS.items()
        },
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes) in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
