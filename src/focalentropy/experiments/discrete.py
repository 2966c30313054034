"""Experiment 2: discrete features, trained models converge to Q*, not to P.

X is uniform on M cells and each cell has a known class posterior P(.|x)
(balanced, imbalanced, head + rare tail). For each gamma and sample size n
we draw n labelled samples and train with ``focalentropy.torch.focal_loss``

* a free logit vector per cell, and
* an MLP on the one-hot encoding of x,

both full-batch with L-BFGS to convergence. Samples that share a cell have
identical inputs, so the sum of the per-sample losses equals the loss on the
per-cell empirical class frequencies weighted by the cell counts; training
on those soft targets is therefore exactly training on the samples, and the
free-logit model converges to ``minimizer(empirical frequencies)``. Its
distance to Q* = minimizer(P) is pure sampling error and falls like n^(-1/2),
while its distance to P stays at |Q* - P| > 0 for gamma > 0.
"""

# Greek letters (γ, λ, α) are intended in figure labels and messages.
# ruff: noqa: RUF001

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from ._common import (
    Claim,
    ExperimentResult,
    FieldCheck,
    Progress,
    Table,
    config_from_dict,
    config_to_dict,
    derive_seed,
    fig_to_png,
    fit_loglog_slope,
    gammas_check,
    int_at_least,
    ints_at_least,
    lbfgs_minimize,
    no_range,
    pyplot,
    real_in,
    run_stages,
    subset_of,
    validate_config,
)

if TYPE_CHECKING:
    import torch

__all__ = [
    "CLAIM",
    "ID",
    "NUMBER",
    "TITLE",
    "DiscreteConfig",
    "DiscreteData",
    "cell_posteriors",
    "compute",
    "default_config",
    "fit_cells",
    "make_claims",
    "make_figures",
    "make_tables",
    "planned_units",
    "run",
    "sample_frequencies",
]

#: Identifier, report position, section title (also used by the runner for a crash) and
#: the experiment's claim, one paragraph.
ID = "discrete"
NUMBER = 2
TITLE = "Discrete features: trained models learn Q*, at the n^(-1/2) rate"
CLAIM = (
    "With a free logit vector per cell (or an MLP on one-hot x) trained with focal "
    "loss on n samples, the learned class probabilities converge to "
    "Q* = minimizer(P(.|x), γ) with error ∝ n^(-1/2), and not to P(.|x) when γ > 0; "
    "over-suppressed classes come out below P."
)

SLOPE_RANGE = (-0.7, -0.3)
BIAS_RATIO = 5.0
MODELS = ("free logits", "MLP")
#: Per (model, gamma): arrays (len(sample_sizes), repetitions) of these error statistics.
STATS = ("meanQ", "maxQ", "meanP", "maxP", "rare")


@dataclass(frozen=True)
class DiscreteConfig:
    """Settings of experiment 2 (:func:`default_config` gives them as a dict).

    Built from the runner's dict by :func:`run`; an unknown key or a value out of range
    raises ``ValueError``, a value of the wrong type ``TypeError`` (both name the key and,
    in a list, the first bad index), before anything is fitted.

    Attributes
    ----------
    gammas : tuple of float
        Focusing parameters (at least one, distinct, ``>= 0``; ``0``: cross-entropy,
        where Q* = P).
    sample_sizes : tuple of int
        Sample sizes n, increasing, ``>= 1`` (at least two: the convergence slope is
        fitted over them).
    repetitions : int
        Data sets drawn per n (``>= 1``).
    classes : int
        Number of classes K (``>= 5`` so the head + rare-tail cell is over-suppressed).
    rare_probability : float
        Probability of the rare class in the head + rare-tail cell, in ``(0, 1/K)``.
    hidden, max_iter : int
        MLP width and L-BFGS iterations (:func:`fit_cells`), ``>= 1``.
    models : tuple of str
        Non-empty subset of ``("free logits", "MLP")``, without repeats.
    figures : bool
        Draw the figures.
    seed : int
        Seed of the data draws and the MLP initialisation (``>= 0``).
    """

    gammas: tuple[float, ...] = (0.0, 1.0, 2.0, 5.0)
    sample_sizes: tuple[int, ...] = (10**3, 10**4, 10**5, 10**6)
    repetitions: int = 4
    classes: int = 10
    rare_probability: float = 0.01
    hidden: int = 16
    max_iter: int = 250
    models: tuple[str, ...] = MODELS
    figures: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        validate_config(self, ID, _CHECKS)
        if not self.rare_probability < 1.0 / self.classes:
            raise ValueError(
                f"`config['rare_probability']` of experiment {ID!r} must be < 1/classes = "
                f"{1.0 / self.classes:.6g} (the rare class is the rarest), "
                f"got {self.rare_probability!r}"
            )


#: The range of every field of :class:`DiscreteConfig` (:func:`~._common.validate_config`).
_CHECKS: dict[str, FieldCheck] = {
    "gammas": gammas_check(),
    # the convergence slope is fitted over the sample sizes
    "sample_sizes": ints_at_least(1, min_length=2, increasing=True),
    "repetitions": int_at_least(1),
    # over-suppression of the rare class needs K >= 5 (docs/theory.rst, "Regimes")
    "classes": int_at_least(5),
    "rare_probability": real_in(0.0, 1.0, lo_open=True, hi_open=True),
    "hidden": int_at_least(1),
    "max_iter": int_at_least(1),
    "models": subset_of(MODELS),
    "figures": no_range,
    "seed": int_at_least(0),
}


def default_config(quick: bool = True, seed: int = 0) -> dict[str, Any]:
    """Settings of experiment 2.

    ``quick`` uses n in {1e3, 1e4, 1e5, 1e6} and 4 repetitions; the full run uses
    half-decade steps and 10 repetitions.
    """
    if quick:
        cfg = DiscreteConfig(seed=int(seed))
    else:
        cfg = DiscreteConfig(
            sample_sizes=tuple(round(10**e) for e in np.arange(3.0, 6.01, 0.5)),
            repetitions=10,
            seed=int(seed),
        )
    return config_to_dict(cfg)


def cell_posteriors(k: int = 10, rare: float = 0.01) -> dict[str, np.ndarray]:
    """The class posteriors of the three cells.

    Parameters
    ----------
    k : int
        Number of classes (``k >= 5`` so the head + rare-tail cell is over-suppressed).
    rare : float
        Probability of the rare class in the head + rare-tail cell.

    Returns
    -------
    dict of str to ndarray, shape (k,)
        ``"balanced"`` (probabilities from 0.15 to 0.05), ``"imbalanced"``
        (geometric, ratio 0.55), ``"head + rare tail"`` (k-1 equal classes and one
        of probability ``rare``).
    """
    balanced = np.linspace(1.5, 0.5, k)
    imbalanced = 0.55 ** np.arange(k)
    head_tail = np.concatenate([np.full(k - 1, (1.0 - rare) / (k - 1)), [rare]])
    return {
        "balanced": balanced / balanced.sum(),
        "imbalanced": imbalanced / imbalanced.sum(),
        "head + rare tail": head_tail,
    }


def sample_frequencies(
    p: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` samples (x uniform on the M cells, y ~ P(.|x)).

    Parameters
    ----------
    p : ndarray, shape (M, K)
        Class posterior per cell.
    n : int
        Sample size.
    rng : numpy.random.Generator

    Returns
    -------
    counts : ndarray, shape (M,)
        Samples per cell.
    freq : ndarray, shape (M, K)
        Empirical class frequencies per cell (uniform where a cell is empty).
    """
    m, k = p.shape
    counts = rng.multinomial(n, np.full(m, 1.0 / m))
    labels = np.stack([rng.multinomial(c, row) for c, row in zip(counts, p, strict=True)])
    with np.errstate(invalid="ignore", divide="ignore"):
        freq = labels / counts[:, None]
    freq[counts == 0] = 1.0 / k
    return counts, freq


def _cell_model(
    model: str, shape: tuple[int, int, int], hidden: int, seed: int
) -> tuple[list[torch.Tensor], Callable[[], torch.Tensor]]:
    """``(params, logits)`` of ``b`` independent models of M cells and K classes.

    ``logits()`` has shape (b, M, K). The MLP is initialised like ``nn.Linear``
    (uniform in ``±1/sqrt(fan_in)``) from a generator seeded with ``seed``.
    """
    import torch

    b, m, k = shape
    if model == "free logits":
        z = torch.zeros(b, m, k, dtype=torch.float64, requires_grad=True)
        return [z], lambda: z
    if model != "MLP":
        raise ValueError(f"`model` must be 'free logits' or 'MLP', got {model!r}")
    gen = torch.Generator().manual_seed(seed)

    def uniform(*size: int, fan_in: int) -> torch.Tensor:
        bound = 1.0 / np.sqrt(fan_in)
        t = (torch.rand(*size, generator=gen, dtype=torch.float64) * 2 - 1) * bound
        return t.requires_grad_(True)

    # one-hot input: the first layer's output for cell j is column j of W1.
    w1 = uniform(b, m, hidden, fan_in=m)
    b1 = uniform(b, 1, hidden, fan_in=m)
    w2 = uniform(b, hidden, k, fan_in=hidden)
    b2 = uniform(b, 1, k, fan_in=hidden)
    return [w1, b1, w2, b2], lambda: torch.bmm(torch.tanh(w1 + b1), w2) + b2


def fit_cells(
    freq: ArrayLike,
    counts: ArrayLike,
    gamma: float,
    *,
    model: str = "free logits",
    hidden: int = 16,
    max_iter: int = 400,
    seed: int = 0,
) -> np.ndarray:
    """Train on the samples summarised by ``(counts, freq)``; return the model's probabilities.

    Several independent data sets can be fitted at once (a leading batch axis):
    their losses are summed and the parameters are disjoint, so each data set
    gets its own model.

    Parameters
    ----------
    freq : ndarray, shape (..., M, K)
        Empirical class frequencies per cell (soft targets).
    counts : ndarray, shape (..., M)
        Samples per cell (loss weights, normalised per data set).
    gamma : float
        Focusing parameter of ``focalentropy.torch.focal_loss``.
    model : {"free logits", "MLP"}
        A free logit vector per cell, or an MLP (one hidden tanh layer of width
        ``hidden``) on the one-hot encoding of the cell.
    hidden : int
        MLP width.
    max_iter : int
        L-BFGS iterations.
    seed : int
        Seed of the MLP initialisation (PyTorch's default ``nn.Linear`` scheme).

    Returns
    -------
    ndarray, shape (..., M, K)
        softmax of the trained logits.
    """
    import torch

    from ..torch import focal_loss

    f = np.asarray(freq, dtype=float)
    batch_shape = f.shape[:-2]
    m, k = f.shape[-2:]
    f = f.reshape(-1, m, k)
    c = np.asarray(counts, dtype=float).reshape(-1, m)
    b = f.shape[0]
    target = torch.as_tensor(f.reshape(-1, k), dtype=torch.float64)
    weight = torch.as_tensor((c / c.sum(axis=1, keepdims=True)).ravel())
    params, logits = _cell_model(model, (b, m, k), hidden, int(seed))

    def loss() -> torch.Tensor:
        per_cell = focal_loss(logits().reshape(-1, k), target, gamma, reduction="none")
        return (weight * per_cell).sum()

    lbfgs_minimize(
        params,
        loss,
        max_iter=max_iter,
        history_size=50,
        tolerance_grad=1e-13,
        tolerance_change=1e-16,
    )
    with torch.no_grad():
        q = torch.softmax(logits(), dim=-1).numpy().astype(np.float64)
    return q.reshape(*batch_shape, m, k)


# ---------------------------------------------------------------------------
# compute
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DiscreteData:
    """What :func:`compute` returns.

    Attributes
    ----------
    cfg : DiscreteConfig
    names : list of str
        The cells, in the row order of ``p``.
    p : ndarray, shape (M, K)
        True class posterior per cell.
    q_star : dict of float to ndarray, shape (M, K)
        ``minimizer(p, gamma)`` per gamma.
    stats : dict of (model, gamma) to dict of str to ndarray, shape (len(ns), reps)
        Per data set: mean/max |learned - Q*| (``meanQ``, ``maxQ``), mean/max
        |learned - P| (``meanP``, ``maxP``) and learned/P of the rare class (``rare``).
    learned_last : dict of (model, gamma) to ndarray, shape (reps, M, K)
        The learned probabilities at the largest n.
    slopes : dict of (model, gamma) to float
        Log-log slope of the mean |learned - Q*| (over repetitions) against n.
    """

    cfg: DiscreteConfig
    names: list[str]
    p: np.ndarray
    q_star: dict[float, np.ndarray]
    stats: dict[tuple[str, float], dict[str, np.ndarray]]
    learned_last: dict[tuple[str, float], np.ndarray]
    slopes: dict[tuple[str, float], float]

    @property
    def rare_cell(self) -> int:
        """Row of the head + rare-tail cell."""
        return self.names.index("head + rare tail")


def _draw_data_sets(cfg: DiscreteConfig, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(counts, freq)`` of shapes (len(ns), reps, M) and (len(ns), reps, M, K).

    The same data sets (common random numbers) serve every gamma and model.
    """
    ns, reps = cfg.sample_sizes, cfg.repetitions
    draws = [
        sample_frequencies(p, n, np.random.default_rng(derive_seed(cfg.seed, "discrete", i, r)))
        for i, n in enumerate(ns)
        for r in range(reps)
    ]
    counts = np.stack([c for c, _ in draws]).reshape(len(ns), reps, -1)
    freq = np.stack([f for _, f in draws]).reshape(len(ns), reps, *p.shape)
    return counts, freq


def _errors(q: np.ndarray, q_star: np.ndarray, p: np.ndarray, rare_cell: int) -> dict:
    """The :data:`STATS` of learned probabilities ``q`` (shape (len(ns), reps, M, K))."""
    return {
        "meanQ": np.mean(np.abs(q - q_star), axis=(-2, -1)),
        "maxQ": np.max(np.abs(q - q_star), axis=(-2, -1)),
        "meanP": np.mean(np.abs(q - p), axis=(-2, -1)),
        "maxP": np.max(np.abs(q - p), axis=(-2, -1)),
        "rare": q[..., rare_cell, -1] / p[rare_cell, -1],
    }


def planned_units(config: dict[str, Any]) -> int:
    """How many ``progress`` calls :func:`compute` makes: one per (gamma, model) fit
    (``config`` is checked as :func:`run` checks it)."""
    cfg = config_from_dict(DiscreteConfig, config, ID)
    return len(cfg.gammas) * len(cfg.models)


def compute(cfg: DiscreteConfig, progress: Progress) -> DiscreteData:
    """Draw the data sets, fit every (gamma, model), calling ``progress`` after each fit."""
    from .._minimizer import minimizer

    cells = cell_posteriors(cfg.classes, cfg.rare_probability)
    names = list(cells)
    p = np.stack([cells[c] for c in names])
    rare_cell = names.index("head + rare tail")
    q_star = {g: minimizer(p, g) for g in cfg.gammas}
    counts, freq = _draw_data_sets(cfg, p)
    stats, learned_last = {}, {}
    for g in cfg.gammas:
        for mod in cfg.models:
            q = fit_cells(
                freq,
                counts,
                g,
                model=mod,
                hidden=cfg.hidden,
                max_iter=cfg.max_iter,
                seed=derive_seed(cfg.seed, "discrete-init", mod),
            )
            stats[(mod, g)] = _errors(q, q_star[g], p, rare_cell)
            learned_last[(mod, g)] = q[-1]
            progress(1, f"discrete: γ={g:g}, {mod}")
    slopes = {
        key: fit_loglog_slope(cfg.sample_sizes, s["meanQ"].mean(axis=1)) for key, s in stats.items()
    }
    return DiscreteData(cfg, names, p, q_star, stats, learned_last, slopes)


# ---------------------------------------------------------------------------
# claims and tables
# ---------------------------------------------------------------------------


def _short(model: str) -> str:
    return "free" if model == "free logits" else "mlp"


def _slope_claims(data: DiscreteData) -> list[Claim]:
    return [
        Claim.between(
            f"2.slope.{_short(mod)}.g{g:g}",
            f"{mod}, γ={g:g}: the learned probabilities converge to Q* at the "
            "sampling rate n^(-1/2).",
            "fitted log-log slope of mean |learned - Q*| against n",
            data.slopes[(mod, g)],
            *SLOPE_RANGE,
        )
        for mod in data.cfg.models
        for g in data.cfg.gammas
    ]


def _bias_claims(data: DiscreteData) -> list[Claim]:
    n_max = data.cfg.sample_sizes[-1]
    claims = []
    for g in data.cfg.gammas:
        if g == 0:
            continue  # Q* = P: nothing to separate
        for mod in data.cfg.models:
            s = data.stats[(mod, g)]
            claims.append(
                Claim.greater(
                    f"2.bias.{_short(mod)}.g{g:g}",
                    f"{mod}, γ={g:g}: the learned probabilities do not converge to P.",
                    f"mean |learned - P| / mean |learned - Q*| at n={n_max:.0e}",
                    float(s["meanP"][-1].mean() / s["meanQ"][-1].mean()),
                    BIAS_RATIO,
                )
            )
    return claims


def _over_suppressed_claims(data: DiscreteData) -> list[Claim]:
    cfg, p, j = data.cfg, data.p, data.rare_cell
    over = [g for g in cfg.gammas if g > 0 and data.q_star[g][j, -1] < p[j, -1]]
    if not over:
        return []
    worst = max(float(data.stats[(mod, g)]["rare"][-1].max()) for mod in cfg.models for g in over)
    return [
        Claim.less(
            "2.over_suppressed",
            "In the head + rare-tail cell (over-suppressed, λ > 1) the trained models put "
            "the rare class below its true probability, for γ = "
            + ", ".join(f"{g:g}" for g in over)
            + ".",
            "max over γ, models and repetitions of learned/P for the rare class, "
            f"n={cfg.sample_sizes[-1]:.0e}",
            worst,
            1.0,
        )
    ]


def make_claims(data: DiscreteData) -> list[Claim]:
    """The checked statements: slopes, bias (gamma > 0), over-suppression, in report order."""
    return [*_slope_claims(data), *_bias_claims(data), *_over_suppressed_claims(data)]


def _summary_row(data: DiscreteData, mod: str, g: float) -> list[Any]:
    from .._minimizer import minimizer

    s, p, j = data.stats[(mod, g)], data.p, data.rare_cell
    return [
        mod,
        g,
        data.slopes[(mod, g)],
        float(s["meanQ"].mean(axis=1)[-1]),
        float(s["maxQ"][-1].max()),
        float(s["meanP"][-1].mean()),
        float(s["maxP"][-1].max()),
        float(np.mean(np.abs(data.q_star[g] - p))),
        float(s["rare"][-1].mean()),
        float(minimizer(p[j], g)[-1] / p[j, -1]),
    ]


def make_tables(data: DiscreteData) -> list[Table]:
    """The convergence summary per (model, gamma) and mean |learned - Q*| per n (free logits,
    when trained)."""
    cfg = data.cfg
    ns = cfg.sample_sizes
    tables = [
        Table(
            f"Convergence (mean over {cfg.repetitions} repetitions; errors at n = {ns[-1]:.0e})",
            [
                "model",
                "γ",
                "slope vs Q*",
                "mean |learned-Q*|",
                "max |learned-Q*|",
                "mean |learned-P|",
                "max |learned-P|",
                "mean |Q*-P|",
                "rare: learned/P",
                "rare: Q*/P",
            ],
            [_summary_row(data, mod, g) for mod in cfg.models for g in cfg.gammas],
        )
    ]
    if "free logits" in cfg.models:
        free = {g: data.stats[("free logits", g)]["meanQ"] for g in cfg.gammas}
        tables.append(
            Table(
                "Mean |learned - Q*| by sample size (free logits)",
                ["n", *[f"γ={g:g}" for g in cfg.gammas]],
                [[n, *[float(free[g][i].mean()) for g in cfg.gammas]] for i, n in enumerate(ns)],
            )
        )
    return tables


# ---------------------------------------------------------------------------
# figures (only drawn when ``config["figures"]`` is true)
# ---------------------------------------------------------------------------


def convergence_figure(data: DiscreteData) -> bytes:
    """Mean |learned - Q*| and |learned - P| against n, one panel per model."""
    plt = pyplot()
    cfg, stats = data.cfg, data.stats
    models, gammas = cfg.models, cfg.gammas
    fig, axes = plt.subplots(1, len(models), figsize=(5.6 * len(models), 4.4), sharey=True)
    axes = np.atleast_1d(axes)
    colors = plt.cm.viridis(np.linspace(0.0, 0.85, len(gammas)))
    n_arr = np.asarray(cfg.sample_sizes, dtype=float)
    for ax, mod in zip(axes, models, strict=True):
        for color, g in zip(colors, gammas, strict=True):
            s = stats[(mod, g)]
            ax.plot(
                n_arr,
                s["meanQ"].mean(axis=1),
                "o-",
                color=color,
                label=f"γ={g:g}: |learned-Q*|, slope {data.slopes[(mod, g)]:.2f}",
            )
            if g > 0:
                ax.plot(n_arr, s["meanP"].mean(axis=1), "s--", color=color, ms=4, lw=1)
        ref = stats[(mod, gammas[0])]["meanQ"].mean(axis=1)[0] * (n_arr / n_arr[0]) ** -0.5
        ax.plot(n_arr, ref, "k:", lw=1, label="n^(-1/2) reference")
        ax.plot([], [], "ks--", ms=4, lw=1, label="|learned-P| (γ>0, dashed)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("sample size n")
        ax.set_title(f"{mod}")
        ax.legend(fontsize=7.5, loc="lower left")
    axes[0].set_ylabel("mean absolute error over cells and classes")
    fig.suptitle("Discrete features: focal-trained models converge to Q*, not to P")
    return fig_to_png(fig)


def cells_figure(data: DiscreteData) -> bytes:
    """Per cell and class: Q*/P (lines) and the learned/P at the largest n (circles)."""
    plt = pyplot()
    cfg, p = data.cfg, data.p
    mod = _cells_model(cfg)
    colors = plt.cm.viridis(np.linspace(0.0, 0.85, len(cfg.gammas)))
    fig, axes = plt.subplots(1, len(data.names), figsize=(15, 4.2), sharey=True)
    cls = np.arange(1, p.shape[1] + 1)
    for ax, (j, name) in zip(axes, enumerate(data.names), strict=True):
        for color, g in zip(colors, cfg.gammas, strict=True):
            if g == 0:
                continue
            ax.plot(cls, data.q_star[g][j] / p[j], "-", color=color, lw=1.5, label=f"Q*/P, γ={g:g}")
            learned = np.mean([q[j] for q in data.learned_last[(mod, g)]], axis=0)
            ax.plot(cls, learned / p[j], "o", color=color, ms=5, mfc="none")
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_xticks(cls)
        ax.set_xlabel("class")
        ax.set_title(name)
    axes[0].plot([], [], "ko", mfc="none", label=f"learned/P ({mod}, n={cfg.sample_sizes[-1]:.0e})")
    axes[0].set_ylabel("ratio to the true posterior P(y|x)")
    axes[0].legend(fontsize=8)
    fig.suptitle("Per-cell learned probabilities against Q*/P (ratio < 1: suppressed)")
    return fig_to_png(fig)


def _cells_model(cfg: DiscreteConfig) -> str:
    """The model of the per-cell figure: free logits when trained."""
    return "free logits" if "free logits" in cfg.models else cfg.models[0]


def make_figures(data: DiscreteData) -> tuple[dict[str, bytes], dict[str, str]]:
    """The two figures (PNG bytes) and their captions; imports matplotlib."""
    drawn = "free-logit" if _cells_model(data.cfg) == "free logits" else "MLP"
    figures = {
        "discrete_convergence.png": convergence_figure(data),
        "discrete_cells.png": cells_figure(data),
    }
    captions = {
        "discrete_convergence.png": (
            "Mean |learned - Q*| (solid) falls like n^(-1/2) for every γ and both models; "
            "mean |learned - P| (dashed) levels off at |Q* - P| > 0 for γ > 0."
        ),
        "discrete_cells.png": (
            "Ratio to the true posterior for each class of each cell: lines are Q*/P, circles "
            f"the trained {drawn} models at the largest n. In the head + rare-tail cell the "
            "rare class (class 10) is over-suppressed: both Q* and the trained model lie below P."
        ),
    }
    return figures, captions


# ---------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------


def _method_text(data: DiscreteData) -> str:
    cfg = data.cfg
    return (
        f"X uniform on {len(data.names)} cells ({', '.join(data.names)}), "
        f"K = {data.p.shape[1]} classes; "
        f"γ ∈ {{{', '.join(f'{g:g}' for g in cfg.gammas)}}}; "
        f"n ∈ {{{', '.join(f'{n:.0e}' for n in cfg.sample_sizes)}}}; "
        f"{cfg.repetitions} repetitions. Full-batch L-BFGS on the focal loss of "
        "focalentropy.torch (per-cell soft empirical targets weighted by the cell counts, which "
        "equals the sum of per-sample losses). Pass: slope of mean |learned - Q*| in "
        f"[{SLOPE_RANGE[0]}, {SLOPE_RANGE[1]}]; mean |learned - P| at least {BIAS_RATIO:g}× "
        "mean |learned - Q*| at the largest n; rare class below P."
    )


def run(config: dict[str, Any] | None = None, progress: Progress | None = None) -> ExperimentResult:
    """Run experiment 2: free logits and an MLP trained on discrete features.

    Parameters
    ----------
    config : dict, optional
        The fields of :class:`DiscreteConfig` (:func:`default_config`); a missing key takes
        its quick default, an unknown key raises ``ValueError``.
    progress : callable, optional
        ``progress(advance, description)``, called once per (gamma, model)
        (:func:`planned_units`).

    Returns
    -------
    ExperimentResult
        Claims, the convergence table, and the figures when ``config["figures"]`` is true
        (only then is matplotlib imported). Training runs on one torch thread; the
        caller's thread count is restored.
    """
    return run_stages(
        sys.modules[__name__],
        config,
        progress,
        config_class=DiscreteConfig,
        method=lambda cfg, data: _method_text(data),
        threads=1,
    )
