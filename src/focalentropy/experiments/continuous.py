"""Experiment 3: continuous features, an MLP trained with focal loss learns Q*(P(.|x)).

Gaussian class-conditionals with imbalanced priors give a known posterior
P(.|x). An MLP trained with ``focalentropy.torch.focal_loss`` on sampled
labels approximates the pointwise minimizer Q*(P(.|x)), not P(.|x); the
closed-form inverse map ``recover`` brings it back to P(.|x). The check is
done on a fresh sample from the data distribution and shown along a line
through the input space.
"""

# Greek letters (γ, λ, α) are intended in figure labels and messages.
# ruff: noqa: RUF001

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
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
    config_from_dict,
    config_to_dict,
    derive_seed,
    fig_to_png,
    gammas_check,
    int_at_least,
    lbfgs_minimize,
    mean_tv,
    no_range,
    points_check,
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
    "ContinuousConfig",
    "ContinuousData",
    "GaussianMixture",
    "compute",
    "default_config",
    "make_claims",
    "make_figures",
    "make_tables",
    "planned_units",
    "run",
    "train_mlp",
]

#: Identifier, report position, section title (also used by the runner for a crash) and
#: the experiment's claim, one paragraph.
ID = "continuous"
NUMBER = 3
TITLE = "Continuous features: an MLP learns Q*(P(.|x)) pointwise"
CLAIM = (
    "On continuous inputs a focal-trained network estimates Q*(P(.|x)), the focal "
    "minimizer of the true posterior at each x, rather than P(.|x); recover() maps it "
    "back to P(.|x)."
)

CLOSER_RATIO = 0.5
BASELINE_TV = 0.04


def default_config(quick: bool = True, seed: int = 0) -> dict[str, Any]:
    """Settings of experiment 3 (the fields of :class:`ContinuousConfig`, as a dict).

    ``quick`` trains one model per gamma on 10 000 points; the full run three per gamma
    on 50 000 points, with gamma = 1 added.
    """
    if quick:
        cfg = ContinuousConfig(seed=int(seed))
    else:
        cfg = ContinuousConfig(
            gammas=(0.0, 1.0, 2.0, 5.0),
            n_train=50_000,
            n_eval=20_000,
            max_iter=600,
            seeds=3,
            seed=int(seed),
        )
    return config_to_dict(cfg)


class GaussianMixture:
    """Isotropic Gaussian class-conditionals with class priors.

    Parameters
    ----------
    priors : array_like, shape (K,)
        Class priors (normalised).
    means : array_like, shape (K, d)
        Class means.
    scale : float
        Common standard deviation.
    """

    def __init__(self, priors: ArrayLike, means: ArrayLike, scale: float = 1.0) -> None:
        self.priors = np.asarray(priors, dtype=float) / np.sum(priors)
        self.means = np.asarray(means, dtype=float)
        self.scale = float(scale)
        if self.means.shape[0] != self.priors.size:
            raise ValueError("`means` must have one row per class in `priors`")

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` labelled points: ``x`` of shape (n, d), ``y`` of shape (n,)."""
        y = rng.choice(self.priors.size, size=n, p=self.priors)
        x = self.means[y] + self.scale * rng.standard_normal((n, self.means.shape[1]))
        return x, y

    def posterior(self, x: ArrayLike) -> np.ndarray:
        """The Bayes posterior ``P(y | x)``, shape (n, K)."""
        x = np.asarray(x, dtype=float)
        d2 = ((x[:, None, :] - self.means[None]) ** 2).sum(-1)
        logits = np.log(self.priors) - d2 / (2 * self.scale**2)
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)


def train_mlp(
    x: np.ndarray,
    y: np.ndarray,
    gamma: float,
    *,
    hidden: int = 32,
    max_iter: int = 300,
    seed: int = 0,
) -> Callable[[ArrayLike], np.ndarray]:
    """Train a two-hidden-layer tanh MLP with focal loss (full-batch L-BFGS).

    Parameters
    ----------
    x : ndarray, shape (n, d)
    y : ndarray, shape (n,)
        Integer labels.
    gamma : float
        Focusing parameter.
    hidden : int
        Width of both hidden layers.
    max_iter : int
        L-BFGS iterations.
    seed : int
        Initialisation seed.

    Returns
    -------
    callable
        ``predict(x) -> ndarray (n, K)`` of softmax probabilities.
    """
    import torch

    from ..torch import focal_loss

    k = int(y.max()) + 1
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], hidden),
        torch.nn.Tanh(),
        torch.nn.Linear(hidden, hidden),
        torch.nn.Tanh(),
        torch.nn.Linear(hidden, k),
    ).double()
    xt = torch.as_tensor(x, dtype=torch.float64)
    yt = torch.as_tensor(y, dtype=torch.long)
    lbfgs_minimize(
        net.parameters(),
        lambda: focal_loss(net(xt), yt, gamma),
        max_iter=max_iter,
        history_size=20,
        tolerance_grad=1e-10,
        tolerance_change=1e-14,
    )

    def predict(xnew: ArrayLike) -> np.ndarray:
        with torch.no_grad():
            z = net(torch.as_tensor(np.asarray(xnew), dtype=torch.float64))
            return torch.softmax(z, dim=-1).numpy()

    return predict


@dataclass(frozen=True)
class ContinuousConfig:
    """Settings of experiment 3 (:func:`default_config` gives them as a dict).

    Built from the runner's dict by :func:`run`; missing keys take the quick defaults
    below, an unknown key or a value out of range raises ``ValueError``, a value of the
    wrong type ``TypeError`` (both name the key and, in a list, the first bad index),
    before anything is trained.

    Attributes
    ----------
    gammas : tuple of float
        Focusing parameters (at least one, distinct, ``>= 0``); ``0`` (cross-entropy)
        gives the baseline claim.
    priors : tuple of float, shape (K,)
        Class priors: a probability vector (``K >= 2`` positive entries summing to 1
        within ``1e-6``).
    means : tuple of tuple of float, shape (K, d)
        Class means: one finite point per class, all of dimension ``d >= 1``.
    scale : float
        Common standard deviation of the classes (``> 0``).
    n_train, n_eval : int
        Training sample size (per seed) and size of the fresh evaluation sample (``>= 1``).
    hidden, max_iter : int
        Width of the MLP's two hidden layers and L-BFGS iterations (``>= 1``).
    seeds : int
        Models trained per ``gamma`` (``>= 1``).
    line : tuple of 2 points
        End points of the line along which the posteriors are plotted (dimension ``d``).
    figures : bool
        Draw the figures (``False``: matplotlib is not even imported).
    seed : int
        Seed of the evaluation sample, the training samples and the initialisations
        (``>= 0``).
    """

    gammas: tuple[float, ...] = (0.0, 2.0, 5.0)
    priors: tuple[float, ...] = (0.7, 0.22, 0.08)
    means: tuple[tuple[float, ...], ...] = ((-1.5, 0.0), (1.5, 0.0), (0.0, 2.0))
    scale: float = 1.0
    n_train: int = 10_000
    n_eval: int = 5_000
    hidden: int = 32
    max_iter: int = 200
    seeds: int = 1
    line: tuple[tuple[float, ...], ...] = ((-4.0, 0.7), (4.0, 0.7))
    figures: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("means", "line"):
            points = getattr(self, name)
            try:
                value = tuple(tuple(float(v) for v in point) for point in points)
            except (TypeError, ValueError):
                raise TypeError(
                    f"`config[{name!r}]` of experiment {ID!r} must be a list of points "
                    f"(lists of numbers), got {points!r}"
                ) from None
            object.__setattr__(self, name, value)
        validate_config(self, ID, _CHECKS)
        if len(self.means) != len(self.priors):
            raise ValueError(
                f"`config['means']` of experiment {ID!r} must have one point per class of "
                f"`config['priors']` ({len(self.priors)}), got {len(self.means)}"
            )
        dim = len(self.means[0])
        for i, point in enumerate(self.line):
            if len(point) != dim:
                raise ValueError(
                    f"`config['line'][{i}]` of experiment {ID!r} must have {dim} coordinates "
                    f"like the class means, got {list(point)!r}"
                )

    def mixture(self) -> GaussianMixture:
        """The data distribution."""
        return GaussianMixture(self.priors, self.means, self.scale)


#: The range of every field of :class:`ContinuousConfig` (:func:`~._common.validate_config`).
_CHECKS: dict[str, FieldCheck] = {
    "gammas": gammas_check(),
    "priors": probability_vector(),
    "means": points_check(),
    "scale": real_in(0.0, lo_open=True),
    "n_train": int_at_least(1),
    "n_eval": int_at_least(1),
    "hidden": int_at_least(1),
    "max_iter": int_at_least(1),
    "seeds": int_at_least(1),
    "line": points_check(length=2),
    "figures": no_range,
    "seed": int_at_least(0),
}


@dataclass(frozen=True)
class ContinuousData:
    """What the claims, tables and figures of experiment 3 are made from.

    Attributes
    ----------
    cfg : ContinuousConfig
    mix : GaussianMixture
        The data distribution.
    metrics : dict of float to dict of str to float
        Per ``gamma``, means over seeds of ``tvQ`` = TV(learned, Q*), ``tvP`` =
        TV(learned, P), ``tvR`` = TV(recover(learned), P), ``maxQ`` = max |learned - Q*|,
        and ``gap`` = TV(Q*, P), all on the evaluation sample.
    t : ndarray, shape (m,)
        Positions along the line, in [0, 1].
    p_line : ndarray, shape (m, K)
        The Bayes posterior along the line.
    line_pred : dict of float to ndarray, shape (m, K)
        Per ``gamma``, the first seed's model along the line.
    """

    cfg: ContinuousConfig
    mix: GaussianMixture
    metrics: dict[float, dict[str, float]]
    t: np.ndarray
    p_line: np.ndarray
    line_pred: dict[float, np.ndarray]


def _line_points(cfg: ContinuousConfig) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``t`` (161) and the points of the line, shape (161, d)."""
    a, b = (np.asarray(v, dtype=float) for v in cfg.line)
    t = np.linspace(0.0, 1.0, 161)
    return t, a[None] + t[:, None] * (b - a)[None]


def _fit_seed(
    cfg: ContinuousConfig, mix: GaussianMixture, gamma: float, s: int
) -> Callable[[ArrayLike], np.ndarray]:
    """The model of seed ``s`` at ``gamma``, trained on its own sample."""
    rng = np.random.default_rng(derive_seed(cfg.seed, "train", s))
    x, y = mix.sample(cfg.n_train, rng)
    return train_mlp(
        x, y, gamma, hidden=cfg.hidden, max_iter=cfg.max_iter, seed=derive_seed(cfg.seed, "init", s)
    )


def planned_units(config: Mapping[str, Any]) -> int:
    """How many ``progress`` calls :func:`run` (its :func:`compute`) makes with ``config``:
    one per trained model, ``len(gammas) * seeds``."""
    cfg = config_from_dict(ContinuousConfig, config, ID)
    return len(cfg.gammas) * cfg.seeds


def compute(cfg: ContinuousConfig, progress: Progress) -> ContinuousData:
    """Train ``seeds`` models per ``gamma`` and measure them; one ``progress`` call per model.

    Needs torch; call it inside ``torch_threads(1)`` for the suite's single-thread numbers.
    """
    from .._minimizer import minimizer, recover

    mix = cfg.mixture()
    x_eval, _ = mix.sample(cfg.n_eval, np.random.default_rng(derive_seed(cfg.seed, "eval")))
    p_eval = mix.posterior(x_eval)
    t, x_line = _line_points(cfg)
    metrics: dict[float, dict[str, float]] = {}
    line_pred: dict[float, np.ndarray] = {}
    for g in cfg.gammas:
        q_eval = minimizer(p_eval, g)
        acc: dict[str, list[float]] = {"tvQ": [], "tvP": [], "tvR": [], "maxQ": []}
        for s in range(cfg.seeds):
            predict = _fit_seed(cfg, mix, g, s)
            learned = predict(x_eval)
            acc["tvQ"].append(mean_tv(learned, q_eval))
            acc["tvP"].append(mean_tv(learned, p_eval))
            acc["tvR"].append(mean_tv(recover(learned, g), p_eval))
            acc["maxQ"].append(float(np.abs(learned - q_eval).max()))
            if s == 0:
                line_pred[g] = predict(x_line)
            progress(1, f"continuous: γ={g:g}, seed {s}")
        metrics[g] = {key: float(np.mean(v)) for key, v in acc.items()}
        metrics[g]["gap"] = mean_tv(q_eval, p_eval)
    return ContinuousData(cfg, mix, metrics, t, mix.posterior(x_line), line_pred)


def make_claims(data: ContinuousData) -> list[Claim]:
    """The baseline claim (``gamma = 0``) and, per ``gamma > 0``, Q* and recover claims."""
    metrics = data.metrics
    claims: list[Claim] = []
    if 0.0 in metrics:
        claims.append(
            Claim.less(
                "3.baseline",
                "With γ = 0 (cross-entropy) the MLP learns the Bayes posterior P(.|x): the "
                "model class and sample size suffice.",
                "mean total variation TV(learned, P) on the evaluation sample",
                metrics[0.0]["tvP"],
                BASELINE_TV,
            )
        )
    for g in data.cfg.gammas:
        if g == 0:
            continue
        m = metrics[g]
        claims.append(
            Claim.less(
                f"3.closer_to_qstar.g{g:g}",
                f"γ = {g:g}: the focal-trained MLP approximates Q*(P(.|x)), not P(.|x).",
                "TV(learned, Q*) / TV(learned, P), mean over the evaluation sample",
                m["tvQ"] / m["tvP"],
                CLOSER_RATIO,
            )
        )
        claims.append(
            Claim.less(
                f"3.recover.g{g:g}",
                f"γ = {g:g}: recover(learned) estimates P(.|x) better than the raw focal "
                "probabilities do.",
                "TV(recover(learned), P) / TV(learned, P)",
                m["tvR"] / m["tvP"],
                CLOSER_RATIO,
            )
        )
    return claims


def make_tables(data: ContinuousData) -> list[Table]:
    """One table: the mean total variations per ``gamma``."""
    rows = [
        [g, m["tvQ"], m["tvP"], m["gap"], m["tvR"], m["maxQ"]]
        for g, m in ((g, data.metrics[g]) for g in data.cfg.gammas)
    ]
    columns = [
        "γ",
        "TV(learned, Q*)",
        "TV(learned, P)",
        "TV(Q*, P)",
        "TV(recover, P)",
        "max |learned - Q*|",
    ]
    return [Table("Mean total variation on the evaluation sample", columns, rows)]


#: Caption of each figure of :func:`make_figures`.
CAPTIONS = {
    "continuous_line.png": (
        "Class probabilities along a line through the input space: the Bayes posterior "
        "P(y|x) (dashed), its focal minimizer Q* (solid) and the focal-trained MLP (circles). "
        "Titles give the mean total-variation distances on a fresh sample."
    ),
    "continuous_setup.png": (
        "The Gaussian mixture (grey: density), its Bayes decision boundaries and the line "
        "along which the posteriors are plotted."
    ),
}


def make_figures(data: ContinuousData) -> tuple[dict[str, bytes], dict[str, str]]:
    """The figures (only called when figures are requested; imports matplotlib) and captions."""
    plt = pyplot()
    figures = {
        "continuous_line.png": _line_figure(data, plt),
        "continuous_setup.png": _setup_figure(data, plt),
    }
    return figures, dict(CAPTIONS)


def _line_figure(data: ContinuousData, plt: Any) -> bytes:
    """Posterior, minimizer and trained model along the line, one panel per ``gamma``."""
    from .._minimizer import minimizer

    gammas, mix, t = data.cfg.gammas, data.mix, data.t
    (a0, a1), (b0, b1) = data.cfg.line[0][:2], data.cfg.line[1][:2]
    k = mix.priors.size
    fig, axes = plt.subplots(1, len(gammas), figsize=(4.6 * len(gammas), 4.2), sharey=True)
    axes = np.atleast_1d(axes)
    colors = plt.cm.tab10(np.arange(k))
    for ax, g in zip(axes, gammas, strict=True):
        q_line = minimizer(data.p_line, g)
        for j in range(k):
            ax.plot(t, data.p_line[:, j], "--", color=colors[j], lw=1.2)
            ax.plot(t, q_line[:, j], "-", color=colors[j], lw=2, alpha=0.8)
            ax.plot(t[::5], data.line_pred[g][::5, j], "o", color=colors[j], ms=3.5, mfc="none")
        m = data.metrics[g]
        ax.set_title(f"γ = {g:g}:  TV to Q* {m['tvQ']:.3f}, to P {m['tvP']:.3f}")
        ax.set_xlabel(f"position along the line ({a0:g},{a1:g}) → ({b0:g},{b1:g})")
    axes[0].set_ylabel("class probability")
    handles = [
        plt.Line2D([], [], color="k", ls="--", lw=1.2, label="P(y|x) (Bayes)"),
        plt.Line2D([], [], color="k", lw=2, label="Q*(P(.|x))"),
        plt.Line2D([], [], color="k", marker="o", ls="", mfc="none", label="trained MLP"),
        *[
            plt.Line2D(
                [], [], color=colors[j], lw=3, label=f"class {j + 1} (prior {mix.priors[j]:.2f})"
            )
            for j in range(k)
        ],
    ]
    fig.legend(handles=handles, fontsize=9, loc="outside lower center", ncol=len(handles))
    fig.suptitle("Continuous features: the focal-trained MLP follows Q*(P(.|x)), not P(.|x)")
    return fig_to_png(fig)


def _setup_figure(data: ContinuousData, plt: Any) -> bytes:
    """The mixture's density, its Bayes decision boundaries and the line."""
    mix = data.mix
    k = mix.priors.size
    (a0, a1), (b0, b1) = data.cfg.line[0][:2], data.cfg.line[1][:2]
    colors = plt.cm.tab10(np.arange(k))
    xs = np.linspace(-4.5, 4.5, 160)
    ys = np.linspace(-3.0, 4.5, 140)
    gx, gy = np.meshgrid(xs, ys)
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    fig, ax = plt.subplots(figsize=(6, 4.6))
    density = np.zeros(grid.shape[0])
    for j in range(k):
        density += mix.priors[j] * np.exp(-((grid - mix.means[j]) ** 2).sum(1) / (2 * mix.scale**2))
    ax.contourf(gx, gy, density.reshape(gx.shape), levels=12, cmap="Greys", alpha=0.6)
    label = mix.posterior(grid).argmax(1).reshape(gx.shape)
    ax.contour(gx, gy, label, levels=np.arange(k) + 0.5, colors="k", linewidths=0.8)
    for j in range(k):
        ax.plot(*mix.means[j], "o", color=colors[j], ms=9, mec="k", label=f"mean of class {j + 1}")
    ax.plot([a0, b0], [a1, b1], "r-", lw=2, label="evaluation line")
    ax.set_aspect("equal")
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    ax.set_title("Data density, Bayes decision boundaries and the line")
    ax.legend(fontsize=8, loc="lower right")
    return fig_to_png(fig)


def _method_text(cfg: ContinuousConfig, mix: GaussianMixture) -> str:
    return (
        f"{mix.priors.size} isotropic Gaussian classes in 2-D with priors "
        f"{', '.join(f'{v:.2f}' for v in mix.priors)}; an MLP (2 tanh layers of "
        f"{cfg.hidden}) trained with focalentropy.torch.focal_loss on "
        f"{cfg.n_train} sampled labels (full-batch L-BFGS, {cfg.max_iter} "
        f"iterations, {cfg.seeds} seed(s)). Metric: mean total variation on "
        f"{cfg.n_eval} fresh points. Pass: TV(learned, Q*) < {CLOSER_RATIO} × "
        f"TV(learned, P) for γ > 0; TV(learned, P) < {BASELINE_TV} for γ = 0."
    )


def run(
    config: Mapping[str, Any] | None = None, progress: Progress | None = None
) -> ExperimentResult:
    """Run experiment 3: MLPs trained on Gaussian-mixture features against Q*(P(.|x)).

    Parameters
    ----------
    config : dict, optional
        The fields of :class:`ContinuousConfig` (:func:`default_config`); a missing key
        takes its quick default, an unknown key raises ``ValueError``.
    progress : callable, optional
        ``progress(advance, description)``, called once per trained model
        (:func:`planned_units` calls).

    Returns
    -------
    ExperimentResult
        Claims, tables, and the figures when ``config["figures"]`` is true (only then is
        matplotlib imported). Training runs on one torch thread; the caller's thread
        count is restored.
    """
    return run_stages(
        sys.modules[__name__],
        config,
        progress,
        config_class=ContinuousConfig,
        method=lambda cfg, data: _method_text(cfg, data.mix),
        threads=1,
    )
