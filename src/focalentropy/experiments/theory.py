"""Experiment 1: the theory figures (docs/theory.rst, "The minimizer" to "Asymptotics"), exactly.

No training here: every number comes from the library's minimizer, regimes
and inverse map, and every claim is an identity or a limit stated on
the documentation's theory page (docs/theory.rst) or in the paper (arXiv:2603.02533),
checked to numerical precision.

* Q*/P against P for gamma in {0.5, 1, 2, 5}, for a Zipf long tail (lam < 1:
  the whole tail is amplified) and for a head + rare-tail prior
  (lam > 1: the rare classes are over-suppressed, Q*/P -> 1/lam < 1).
* The regime picture: G(p) with the multiplier lines and p_low/p_high.
* Q* of a fixed imbalanced prior as gamma sweeps 0..10, with the uniform
  limit and the large-gamma expansion.
* Over-suppression: the rare-class ratio against eps and K.
"""

# Greek letters (γ, λ, α) are intended in figure labels and messages.
# ruff: noqa: RUF001

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._common import (
    Claim,
    ExperimentResult,
    FieldCheck,
    Progress,
    Table,
    config_to_dict,
    fig_to_png,
    gammas_check,
    int_at_least,
    ints_at_least,
    no_range,
    probability_vector,
    pyplot,
    real_in,
    run_stages,
    validate_config,
)

__all__ = [
    "CLAIM",
    "ID",
    "NUMBER",
    "TITLE",
    "TheoryConfig",
    "TheoryData",
    "compute",
    "default_config",
    "head_tail_prior",
    "make_claims",
    "make_figures",
    "make_tables",
    "planned_units",
    "rare_class_prior",
    "run",
    "zipf_prior",
]

#: Identifier, report position, section title (also used by the runner for a crash) and
#: the experiment's claim, one paragraph.
ID = "theory"
NUMBER = 1
TITLE = "Theory: where focal loss amplifies, suppresses and over-suppresses"
CLAIM = (
    "The population minimizer Q* of the focal cross-entropy is characterised by "
    "λ Q*/P = G(Q*): classes with G(P) > λ are amplified, the others suppressed, and "
    "when λ > 1 the rarest classes are over-suppressed (Q*/P → 1/λ < 1). Q* keeps the "
    "order of P, tends to uniform as γ grows, and P is recovered in closed form."
)

#: How experiment 1 checks its claims (the result's ``method``).
METHOD = (
    "Exact computation with focalentropy's minimizer, regimes and recover on fixed "
    "priors; every claim is an identity or limit of the theory page checked to numerical "
    "precision."
)

GAMMAS = (0.5, 1.0, 2.0, 5.0)
#: gamma of the regime picture and of the over-suppression study.
REGIME_GAMMA = 2.0
#: The large-gamma expansion is drawn along the sweep from this gamma on.
LARGE_GAMMA_FROM = 4.0


@dataclass(frozen=True)
class TheoryConfig:
    """Settings of experiment 1 (:func:`default_config` gives them as a dict).

    Built from the runner's dict by :func:`run`; an unknown key or a value out of range
    raises ``ValueError``, a value of the wrong type ``TypeError`` (both name the key and,
    in a list, the first bad index), before anything is computed.

    Attributes
    ----------
    gammas : tuple of float
        gamma values of the Q*/P figure: at least one, distinct, ``>= 0``.
    zipf_classes, zipf_exponent : int, float
        The Zipf long-tail prior ``P(x) ∝ x^(-exponent)``: ``>= 2`` classes, exponent ``> 0``.
    head_classes, tail_classes : int
        The head + rare-tail prior (:func:`head_tail_prior`): ``>= 1`` each.
    sweep_prior : tuple of float
        Prior of the gamma sweep: a probability vector (``>= 2`` positive entries summing
        to 1 within ``1e-6``; renormalised).
    sweep_gamma_max : float
        The sweep runs over ``sweep_points`` values in ``[0, sweep_gamma_max]``;
        ``>= 4`` (the large-gamma expansion is compared from gamma = 4 on).
    sweep_points, eps_points : int
        Grid sizes (the quick settings use fewer): ``>= 2``.
    ks : tuple of int
        Numbers of classes of the over-suppression study: at least one, distinct, ``K >= 2``.
    figures : bool
        Draw the figures.
    seed : int
        The run's seed (nothing here is random): ``>= 0``.
    """

    gammas: tuple[float, ...] = GAMMAS
    zipf_classes: int = 50
    zipf_exponent: float = 2.0
    head_classes: int = 6
    tail_classes: int = 12
    sweep_prior: tuple[float, ...] = (0.5, 0.25, 0.15, 0.07, 0.03)
    sweep_gamma_max: float = 10.0
    sweep_points: int = 81
    eps_points: int = 25
    ks: tuple[int, ...] = (2, 3, 4, 5, 6, 8, 10)
    figures: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        validate_config(self, ID, _CHECKS)


#: The range of every field of :class:`TheoryConfig` (:func:`~._common.validate_config`).
_CHECKS: dict[str, FieldCheck] = {
    "gammas": gammas_check(),
    "zipf_classes": int_at_least(2),
    "zipf_exponent": real_in(0.0, lo_open=True),
    "head_classes": int_at_least(1),
    "tail_classes": int_at_least(1),
    "sweep_prior": probability_vector(),
    # the large-gamma expansion is compared on the part of the sweep with gamma >= 4
    "sweep_gamma_max": real_in(LARGE_GAMMA_FROM),
    "sweep_points": int_at_least(2),
    "eps_points": int_at_least(2),
    "ks": ints_at_least(2, distinct=True),
    "figures": no_range,
    "seed": int_at_least(0),
}


def default_config(quick: bool = True, seed: int = 0) -> dict[str, Any]:
    """Settings of experiment 1 (``quick`` only changes grid resolution)."""
    return config_to_dict(
        TheoryConfig(
            sweep_points=81 if quick else 201, eps_points=25 if quick else 61, seed=int(seed)
        )
    )


def zipf_prior(k: int, exponent: float) -> np.ndarray:
    """``P(x) ∝ x^(-exponent)`` for ``x = 1..k`` (decreasing)."""
    w = np.arange(1, k + 1, dtype=float) ** (-float(exponent))
    return w / w.sum()


def head_tail_prior(
    head: int, tail: int, tail_max: float = 1e-2, tail_min: float = 1e-5
) -> np.ndarray:
    """``head`` equal head classes and ``tail`` rare classes spaced log-uniformly."""
    rare = np.geomspace(tail_max, tail_min, tail)
    return np.concatenate([np.full(head, (1.0 - rare.sum()) / head), rare])


def rare_class_prior(k: int, eps: ArrayLike) -> np.ndarray:
    """``((1-eps)/(K-1), ..., (1-eps)/(K-1), eps)``, one row per ``eps``."""
    e = np.atleast_1d(np.asarray(eps, dtype=float))
    head = np.repeat(((1.0 - e) / (k - 1))[:, None], k - 1, axis=1)
    return np.concatenate([head, e[:, None]], axis=1)


def _large_gamma(p: np.ndarray, gamma: float) -> np.ndarray:
    """Large-gamma expansion of Q* (docs/theory.rst, "Asymptotics") evaluated at ``gamma``."""
    from ..asymptotics import large_gamma

    return large_gamma(p)(gamma)


# ---------------------------------------------------------------------------
# compute
# ---------------------------------------------------------------------------


def _priors(cfg: TheoryConfig) -> dict[str, np.ndarray]:
    return {
        "Zipf long tail": zipf_prior(cfg.zipf_classes, cfg.zipf_exponent),
        "head + rare tail": head_tail_prior(cfg.head_classes, cfg.tail_classes),
    }


@dataclass(frozen=True)
class RatioPart:
    """Q*/P for the two priors and every gamma, with the checks of the identity.

    ``curves[prior]`` lists ``(gamma, lam, Q*/P)`` per gamma; the errors are maxima
    over both priors and all gammas; ``rows`` is the table.
    """

    priors: dict[str, np.ndarray]
    curves: dict[str, list[tuple[float, float, np.ndarray]]]
    identity_err: float
    recover_err: float
    order_violations: int
    label_mismatch: int
    tail_dev: float
    rows: list[list[Any]]


def _ratio_part(cfg: TheoryConfig) -> RatioPart:
    from .._loss import gradient_weight
    from .._minimizer import minimizer, recover
    from .._regimes import regimes

    priors = _priors(cfg)
    identity_err = recover_err = tail_dev = 0.0
    order_violations = label_mismatch = 0
    rows: list[list[Any]] = []
    curves: dict[str, list[tuple[float, float, np.ndarray]]] = {name: [] for name in priors}
    for name, p in priors.items():
        for g in cfg.gammas:
            q, multiplier = minimizer(p, g, return_multiplier=True)
            lam = float(multiplier)
            ratio = q / p
            curves[name].append((g, lam, ratio))
            identity_err = max(
                identity_err, float(np.max(np.abs(lam * ratio - gradient_weight(q, g))))
            )
            recover_err = max(recover_err, float(np.max(np.abs(recover(q, g) - p) / p)))
            order = np.argsort(-p, kind="stable")
            order_violations += int(np.sum(np.diff(q[order]) > 0))
            labels = np.asarray(regimes(p, g).labels)
            amplified = q > p
            predicted = gradient_weight(p, g) > lam
            label_mismatch += int(np.sum(amplified != predicted))
            label_mismatch += int(np.sum((labels == "amplified") != amplified))
            n_over = int(np.sum(labels == "over-suppressed"))
            if name == "head + rare tail":
                tail_dev = max(tail_dev, abs(lam * ratio[-1] - 1.0))
            rows.append([name, g, lam, float(ratio[0]), float(ratio[-1]), 1.0 / lam, n_over])
    return RatioPart(
        priors, curves, identity_err, recover_err, order_violations, label_mismatch, tail_dev, rows
    )


@dataclass(frozen=True)
class RegimePart:
    """The regimes of both priors at ``gamma`` (:func:`focalentropy.regimes` results)."""

    gamma: float
    g_max: float
    p_at_max: float
    priors: dict[str, np.ndarray]
    regimes: dict[str, Any]
    rows: list[list[Any]]


def _regime_part(cfg: TheoryConfig) -> RegimePart:
    from .._loss import max_gradient_weight
    from .._regimes import regimes

    g = REGIME_GAMMA
    g_max, p_at_max = max_gradient_weight(g)
    priors = _priors(cfg)
    results = {name: regimes(p, g) for name, p in priors.items()}
    rows = []
    for name, res in results.items():
        labels = np.asarray(res.labels)
        rows.append(
            [
                name,
                float(np.asarray(res.multiplier)),
                float(np.asarray(res.p_low)),
                float(np.asarray(res.p_high)),
                int(np.sum(labels == "amplified")),
                int(np.sum(labels == "suppressed")),
                int(np.sum(labels == "over-suppressed")),
            ]
        )
    return RegimePart(g, float(g_max), float(p_at_max), priors, results, rows)


@dataclass(frozen=True)
class SweepPart:
    """Q* of ``p`` along ``gammas`` (rows of ``qs``), its distance to uniform, the large-gamma
    expansion ``approx`` on ``gammas[large]`` and its errors at gamma = 5 and 10."""

    p: np.ndarray
    gammas: np.ndarray
    qs: np.ndarray
    dist_uniform: np.ndarray
    monotone_violations: int
    order_violations: int
    large: np.ndarray
    approx: np.ndarray
    err5: float
    err10: float


def _sweep_part(cfg: TheoryConfig) -> SweepPart:
    from .._minimizer import minimizer

    p = np.asarray(cfg.sweep_prior, dtype=float)
    p = p / p.sum()
    k = p.size
    sweep = np.linspace(0.0, cfg.sweep_gamma_max, cfg.sweep_points)
    qs = np.stack([minimizer(p, float(gg)) for gg in sweep])
    dist_uniform = np.max(np.abs(qs - 1.0 / k), axis=1)
    large = sweep >= LARGE_GAMMA_FROM
    order = np.argsort(-p, kind="stable")  # Q* keeps the order of P: compare in that order
    return SweepPart(
        p=p,
        gammas=sweep,
        qs=qs,
        dist_uniform=dist_uniform,
        monotone_violations=int(np.sum(np.diff(dist_uniform) > 1e-12)),
        order_violations=int(np.sum(np.diff(qs[:, order], axis=1) > 0)),
        large=large,
        approx=np.stack([_large_gamma(p, float(gg)) for gg in sweep[large]]),
        err5=float(np.max(np.abs(minimizer(p, 5.0) - _large_gamma(p, 5.0)))),
        err10=float(np.max(np.abs(minimizer(p, 10.0) - _large_gamma(p, 10.0)))),
    )


@dataclass(frozen=True)
class OverPart:
    """The rare-class ratio ``Q*(rare)/eps`` per K (``ratios[K]``, along ``eps``) at ``gamma``;
    ``lam_limits[K] = (lam at the smallest eps, G(1/(K-1)))``; ``q31`` is Q*(top) of the
    31-class example."""

    gamma: float
    eps: np.ndarray
    ks: tuple[int, ...]
    ratios: dict[int, np.ndarray]
    lam_limits: dict[int, tuple[float, float]]
    mismatch: int
    min_ratio_binary: float
    rows: list[list[Any]]
    q31: float


def _over_part(cfg: TheoryConfig) -> OverPart:
    from .._loss import gradient_weight
    from .._minimizer import minimizer

    g = REGIME_GAMMA
    eps = np.geomspace(1e-6, 1e-1, cfg.eps_points)
    ratios, lam_limits, rows = {}, {}, []
    mismatch = 0
    min_ratio_binary = np.inf
    for kk in cfg.ks:
        q, lam = minimizer(rare_class_prior(kk, eps), g, return_multiplier=True)
        ratio = q[:, -1] / eps
        ratios[kk] = ratio
        lam_limit = float(gradient_weight(1.0 / (kk - 1), g)) if kk > 2 else 0.0
        lam_limits[kk] = (float(lam[0]), lam_limit)
        over = bool(ratio[0] < 1.0)
        mismatch += int(over != (kk >= 5))
        if kk == 2:
            min_ratio_binary = float(ratio.min())
        rows.append([kk, float(lam[0]), lam_limit, float(ratio[0]), float(ratio[-1]), over])
    p31 = np.concatenate([[0.2], np.full(30, 0.8 / 30)])
    q31 = float(minimizer(p31, 1.0)[0])
    return OverPart(g, eps, cfg.ks, ratios, lam_limits, mismatch, min_ratio_binary, rows, q31)


@dataclass(frozen=True)
class TheoryData:
    """What :func:`compute` returns: the configuration and the four parts."""

    cfg: TheoryConfig
    ratio: RatioPart
    regimes: RegimePart
    sweep: SweepPart
    over: OverPart


#: The parts of :func:`compute`, in order: (field of TheoryData, function, progress text).
_PARTS: tuple[tuple[str, Callable[[TheoryConfig], Any], str], ...] = (
    ("ratio", _ratio_part, "theory: ratio figure"),
    ("regimes", _regime_part, "theory: regimes figure"),
    ("sweep", _sweep_part, "theory: gamma sweep"),
    ("over", _over_part, "theory: over-suppression"),
)


def planned_units(config: dict[str, Any]) -> int:
    """How many ``progress`` calls :func:`compute` makes: one per part, whatever ``config``."""
    return len(_PARTS)


def compute(cfg: TheoryConfig, progress: Progress) -> TheoryData:
    """Compute the four parts, calling ``progress(1, description)`` after each."""
    parts = {}
    for name, part, description in _PARTS:
        parts[name] = part(cfg)
        progress(1, description)
    return TheoryData(cfg=cfg, **parts)


# ---------------------------------------------------------------------------
# claims and tables
# ---------------------------------------------------------------------------


def _ratio_claims(r: RatioPart) -> list[Claim]:
    return [
        Claim.less(
            "1.identity",
            "The exact identity λ Q*(x)/P(x) = G(Q*(x)) holds for every class (theory: Regimes).",
            "max |λ Q*/P - G(Q*)| over both priors and all γ",
            r.identity_err,
            1e-9,
        ),
        Claim.less(
            "1.recover",
            "The closed-form inverse map recovers P from Q* (theory: The inverse map).",
            "max relative error |recover(Q*) - P| / P",
            r.recover_err,
            1e-9,
        ),
        Claim.less(
            "1.order",
            "Q* preserves the order of P (focal loss is classification-calibrated).",
            "number of order violations",
            r.order_violations,
            0.5,
        ),
        Claim.less(
            "1.regimes",
            "Class x is amplified (Q* > P) iff G(P(x)) > λ, and regimes() labels agree.",
            "number of mismatching classes",
            r.label_mismatch,
            0.5,
        ),
        Claim.less(
            "1.tail",
            "As P(x) → 0, Q*(x)/P(x) → 1/λ (checked at the rarest class, P = 1e-5).",
            "max |λ Q*/P - 1| at the rarest class",
            r.tail_dev,
            2e-3,
        ),
    ]


def _sweep_claims(s: SweepPart) -> list[Claim]:
    return [
        Claim.less(
            "1.gamma_sweep",
            "Q* moves monotonically towards the uniform distribution as γ grows, keeping the "
            "order of P.",
            "increases of max|Q* - 1/K| plus order violations along the sweep",
            s.monotone_violations + s.order_violations,
            0.5,
        ),
        Claim.greater(
            "1.large_gamma",
            "The large-γ expansion is accurate to O(1/γ²) (theory: Asymptotics).",
            "error at γ=5 / error at γ=10 (4 for an exact 1/γ² term)",
            s.err5 / s.err10,
            2.5,
        ),
    ]


def _over_claims(o: OverPart) -> list[Claim]:
    return [
        Claim.less(
            "1.over_suppression_K",
            "With γ=2 and P = ((1-ε)/(K-1), …, ε), the rare class is over-suppressed as ε → 0 "
            "exactly when K ≥ 5.",
            f"number of K in {list(o.ks)} that disagree (ε = {o.eps[0]:.0e})",
            o.mismatch,
            0.5,
        ),
        Claim.less(
            "1.lambda_K4",
            "For K = 4, λ → G(1/3) = 0.933 < 1 as ε → 0.",
            "|λ(ε=1e-6) - 0.933|",
            abs(o.lam_limits.get(4, (np.nan, np.nan))[0] - 0.933),
            1e-3,
        ),
        Claim.greater(
            "1.binary",
            "Binary problems (K = 2) always amplify the minority class.",
            "min over ε of Q*(rare)/ε, K = 2",
            o.min_ratio_binary,
            1.0,
        ),
        Claim.less(
            "1.top_class_31",
            "Focal loss is not always under-confident: a top class of 0.2 among 31 classes is "
            "amplified to Q* = 0.207 (γ = 1).",
            "|Q*(top) - 0.207|",
            abs(o.q31 - 0.207),
            5e-4,
        ),
    ]


def make_claims(data: TheoryData) -> list[Claim]:
    """The checked statements, in report order."""
    return [*_ratio_claims(data.ratio), *_sweep_claims(data.sweep), *_over_claims(data.over)]


def make_tables(data: TheoryData) -> list[Table]:
    """The four tables: Q*/P, regimes, gamma sweep, over-suppression."""
    s, o = data.sweep, data.over
    k = s.p.size
    return [
        Table(
            "Q*/P at the head and at the rarest class",
            ["prior", "γ", "λ", "Q*/P (head)", "Q*/P (rarest)", "1/λ", "# over-suppressed"],
            data.ratio.rows,
        ),
        Table(
            "Regimes at γ = 2",
            ["prior", "λ", "p_low", "p_high", "# amplified", "# suppressed", "# over-suppressed"],
            data.regimes.rows,
        ),
        Table(
            "γ sweep (prior " + ", ".join(f"{v:.2f}" for v in s.p) + ")",
            ["γ", *[f"Q*(x{j + 1})" for j in range(k)], "max |Q* - 1/K|"],
            [
                [float(s.gammas[i]), *map(float, s.qs[i]), float(s.dist_uniform[i])]
                for i in np.linspace(0, s.gammas.size - 1, 6).astype(int)
            ],
        ),
        Table(
            f"Over-suppression (γ = 2, ε from {o.eps[0]:.0e} to {o.eps[-1]:.0e})",
            [
                "K",
                "λ at smallest ε",
                "G(1/(K-1))",
                "ratio at smallest ε",
                "ratio at ε=0.1",
                "over-suppressed",
            ],
            o.rows,
        ),
    ]


# ---------------------------------------------------------------------------
# figures (only drawn when ``config["figures"]`` is true)
# ---------------------------------------------------------------------------


def ratio_figure(data: TheoryData) -> bytes:
    """Q*/P against P for both priors, one curve per gamma, with the 1/lam limits."""
    plt = pyplot()
    r = data.ratio
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    colors = plt.cm.viridis(np.linspace(0.0, 0.85, len(data.cfg.gammas)))
    for ax, (name, p) in zip(axes, r.priors.items(), strict=True):
        for color, (g, lam, ratio) in zip(colors, r.curves[name], strict=True):
            ax.plot(p, ratio, "o-", ms=3, lw=1.2, color=color, label=f"γ={g:g} (λ={lam:.3f})")
            ax.axhline(1.0 / lam, color=color, ls=":", lw=1)
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("class probability P(x)")
        ax.set_title(f"{name} (K={p.size})")
    axes[0].set_ylabel("Q*(x) / P(x)")
    axes[0].legend(fontsize=8, loc="upper right")
    axes[1].legend(fontsize=8, loc="upper right")
    fig.suptitle("Focal minimizer relative to the data distribution (dotted: 1/λ, the P→0 limit)")
    return fig_to_png(fig)


def regimes_figure(data: TheoryData) -> bytes:
    """G(p) with each prior's multiplier, crossings and classes coloured by regime.

    Each panel is :func:`focalentropy.plotting.regimes_plot` of the prior's
    :func:`~focalentropy.regimes` result, with the extras of this figure: ``G_max``, the
    line ``G = 1`` (``lam`` above it means over-suppression), the crossings as vertical
    lines, and a common ``G`` axis.
    """
    from ..plotting import regimes_plot

    plt = pyplot()
    rp = data.regimes
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
    for ax, name in zip(axes, rp.priors, strict=True):
        res = rp.regimes[name]
        regimes_plot(res, ax=ax, legend=False)
        lam = float(np.asarray(res.multiplier))
        ax.axhline(1.0, color="0.5", lw=0.8, ls="--")
        ax.plot([rp.p_at_max], [rp.g_max], "k^", ms=7, label=f"G_max = {rp.g_max:.3f}")
        for crossing in (res.p_low, res.p_high):
            if np.isfinite(value := float(np.asarray(crossing))):
                ax.axvline(value, color="tab:blue", lw=0.8, ls=":")
        ax.set_ylim(0, 1.45)
        ax.set_ylabel("")
        ax.set_title(f"{name}: λ {'<' if lam < 1 else '>'} 1")
        ax.legend(fontsize=8, loc="lower left")
    axes[0].set_ylabel("G(p) = p φ(p)")
    fig.suptitle(
        f"Regimes (γ = {rp.gamma:g}): class x is amplified iff G(P(x)) > λ; dots are the classes"
    )
    return fig_to_png(fig)


def sweep_figure(data: TheoryData) -> bytes:
    """Q* of the sweep prior against gamma, with the uniform limit and the large-gamma expansion."""
    plt = pyplot()
    s = data.sweep
    p, k = s.p, s.p.size
    fig, ax = plt.subplots(figsize=(8, 4.6))
    cl = plt.cm.tab10(np.arange(k))
    for j in range(k):
        ax.plot(s.gammas, s.qs[:, j], color=cl[j], lw=2, label=f"Q*(x{j + 1}), P={p[j]:.2f}")
        ax.plot(s.gammas[s.large], s.approx[:, j], color=cl[j], lw=1, ls=":")
    ax.axhline(1.0 / k, color="k", ls="--", lw=1, label=f"uniform limit 1/K = {1 / k:.2f}")
    ax.plot([], [], "k:", lw=1, label="large-γ expansion (γ ≥ 4)")
    ax.set_ylim(0.0, max(0.55, float(p.max()) + 0.05))
    ax.set_xlabel("γ")
    ax.set_ylabel("Q*(x)")
    ax.set_title(f"Q* as γ sweeps 0..{s.gammas[-1]:g}: the minimizer flattens towards uniform")
    ax.legend(fontsize=8, ncol=2)
    return fig_to_png(fig)


def over_figure(data: TheoryData) -> bytes:
    """The rare-class ratio against eps per K, and the limit of lam against K."""
    from .._loss import gradient_weight

    plt = pyplot()
    o = data.over
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    cmap = plt.cm.plasma(np.linspace(0.0, 0.85, len(o.ks)))
    for color, kk in zip(cmap, o.ks, strict=True):
        axes[0].plot(o.eps, o.ratios[kk], color=color, lw=1.8, label=f"K={kk}")
    axes[0].axhline(1.0, color="k", lw=0.8)
    axes[0].set_xscale("log")
    axes[0].set_ylim(0.75, 2.0)
    axes[0].annotate(f"K=2: ratio ≥ {o.min_ratio_binary:.1f} (off scale)", (2e-6, 1.9), fontsize=8)
    axes[0].set_xlabel("rare-class probability ε")
    axes[0].set_ylabel("Q*(rare) / ε")
    axes[0].set_title("Rare-class ratio, P = ((1-ε)/(K-1), …, ε), γ=2")
    axes[0].legend(fontsize=8, ncol=2)
    kk_grid = np.arange(3, 31)
    axes[1].plot(
        kk_grid, gradient_weight(1.0 / (kk_grid - 1), o.gamma), "o-", ms=3, color="tab:red"
    )
    axes[1].axhline(1.0, color="k", lw=0.8)
    axes[1].axvline(4.5, color="0.5", ls="--", lw=0.8)
    axes[1].annotate("over-suppression\n(K ≥ 5)", (5.5, 1.02), fontsize=9)
    axes[1].set_xlabel("number of classes K")
    axes[1].set_ylabel("lim λ = G(1/(K-1)) as ε → 0")
    axes[1].set_title("Limit of λ as ε → 0; above 1 the rare class is over-suppressed")
    return fig_to_png(fig)


def make_figures(data: TheoryData) -> tuple[dict[str, bytes], dict[str, str]]:
    """The four figures (PNG bytes) and their captions; imports matplotlib."""
    cfg = data.cfg
    figures = {
        "ratio_vs_p.png": ratio_figure(data),
        "regimes.png": regimes_figure(data),
        "gamma_sweep.png": sweep_figure(data),
        "over_suppression.png": over_figure(data),
    }
    captions = {
        "ratio_vs_p.png": (
            "Q*/P per class against P (log axis). Left: a Zipf long tail, λ < 1, every class "
            f"below p_high is amplified. Right: {cfg.head_classes} head classes and a tail of "
            f"{cfg.tail_classes} rare classes, λ > 1, the "
            "rare classes are over-suppressed and their ratio tends to 1/λ < 1 (dotted)."
        ),
        "regimes.png": (
            "The gradient weight G(p) for γ = 2 with the multiplier λ of the two priors. "
            "Classes whose G(P) lies above λ are amplified; with λ > 1 there are two "
            "crossings and classes below p_low are over-suppressed."
        ),
        "gamma_sweep.png": (
            "Q* for a fixed imbalanced prior as γ grows: at γ = 0 it is P, it keeps the order "
            "of P, and it tends to the uniform distribution; dotted lines are the large-γ "
            "expansion 1/K + (K-1)/(Kγ)(log P - mean log P)."
        ),
        "over_suppression.png": (
            "Left: Q*(rare)/ε against ε for K classes (γ = 2); below 1 the rare class is pushed "
            "further towards 0 than the data. Right: the limit λ = G(1/(K-1)) exceeds 1 "
            "exactly from K = 5 on."
        ),
    }
    return figures, captions


# ---------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------


def run(config: dict[str, Any] | None = None, progress: Progress | None = None) -> ExperimentResult:
    """Run experiment 1: every theory claim checked exactly, no training.

    Parameters
    ----------
    config : dict, optional
        The fields of :class:`TheoryConfig` (:func:`default_config`); a missing key takes
        its quick default, an unknown key raises ``ValueError``.
    progress : callable, optional
        ``progress(advance, description)`` called after each part (:func:`planned_units`).

    Returns
    -------
    ExperimentResult
        Claims, tables, and the four figures when ``config["figures"]`` is true (only
        then is matplotlib imported).
    """
    return run_stages(
        sys.modules[__name__],
        config,
        progress,
        config_class=TheoryConfig,
        method=lambda cfg, data: METHOD,
    )
