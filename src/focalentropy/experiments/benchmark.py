"""Experiment 5: a benchmark of focal loss, the theory and ``recover`` on many real data sets.

Multi-class sets (softmax focal loss) are split first (stratified train /
validation / test) and every split is subsampled to the same exponential
long-tailed class profile; binary KEEL sets (sigmoid focal loss, RetinaNet
form, with and without ``alpha = 0.25``) keep their natural imbalance. An MLP
is trained with cross-entropy and with focal loss per ``gamma`` and seed.
Per cell (data set x imbalance x gamma x seed), with ``P_ce`` the
cross-entropy model's test probabilities, it measures whether the focal model
lands on ``minimizer(P_ce)`` and whether ``recover`` brings it back to
``P_ce`` (total-variation ratios), and the calibration of five maps of the
focal model. On the binary sets a small LightGBM model, trained with the log
loss (``P_logloss``) and with the focal objective of
:mod:`focalentropy.boosting`, is compared the same way when lightgbm is
installed (skipped with a note otherwise). The shape is compute -> claims ->
tables -> figures.

Checks of the library (``recover`` inverts ``minimizer`` on the real
``P_ce``; every map keeps the predictions; the subsampled splits follow the
declared profile) gate the exit code. Empirical statements (the model lands
on ``Q*``; recover lowers ECE; over-suppression in trained networks) are
*findings* with a status and do not.
"""

# Greek letters (γ, λ, α) are intended in figure labels and messages.
# ruff: noqa: RUF001

from __future__ import annotations

import importlib.util
import itertools
import math
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from ._benchmark_data import (
    SPLIT,
    DatasetSpec,
    binary_splits,
    load_dataset,
    long_tail_splits,
    profile_matches,
    rarest_test_count,
)
from ._common import (
    Claim,
    ExperimentResult,
    FieldCheck,
    Finding,
    Progress,
    Table,
    config_from_dict,
    derive_seed,
    fig_to_png,
    gammas_check,
    int_at_least,
    mean_tv,
    no_range,
    pyplot,
    real_in,
    reals_in,
    run_stages,
    softmax,
    subset_of,
    torch_threads,
    train_mlp_adam,
    validate_config,
)

__all__ = [
    "CLAIM",
    "DATASETS",
    "ID",
    "NUMBER",
    "TITLE",
    "BenchmarkConfig",
    "default_config",
    "planned_units",
    "run",
]

#: Identifier, report position, section title (also used by the runner for a crash) and
#: the experiment's claim, one paragraph.
ID = "benchmark"
NUMBER = 5
TITLE = "Benchmark: focal loss, the theory and recover on real data sets"
CLAIM = (
    "On many real data sets the focal model's probabilities are predicted by "
    "minimizer(P_ce, γ) from the cross-entropy model's, recover maps them back, and "
    "recover + temperature scaling calibrates them; over-suppression is tested as an "
    "open question."
)

#: Every data set the benchmark knows (name -> where it comes from).
DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("digits", "sklearn-digits", augment=True),
        DatasetSpec("letter"),
        DatasetSpec("penbased"),
        DatasetSpec("optdigits"),
        DatasetSpec("satimage"),
        DatasetSpec("texture"),
        DatasetSpec("marketing"),
        DatasetSpec("letter-discretized", "keel-processed", keel_name="letter"),
        DatasetSpec("segment"),
        DatasetSpec("vowel"),
        DatasetSpec("vehicle"),
        *(
            DatasetSpec(name, collection="imbalanced")
            for name in (
                "yeast1",
                "segment0",
                "yeast3",
                "page-blocks0",
                "shuttle-c0-vs-c4",
                "yeast4",
                "abalone-17_vs_7-8-9-10",
                "yeast6",
                "shuttle-2_vs_5",
                "abalone19",
            )
        ),
    )
}

#: Calibration maps of a focal model, in table order.
METHODS = ("raw", "recover", "temperature", "recover_temperature", "auto")
METHOD_LABELS = {
    "raw": "focal raw",
    "recover": "recover",
    "temperature": "temperature",
    "recover_temperature": "recover + T",
    "auto": 'recover(γ="auto")',
    "ce_raw": "CE raw",
    "ce_temperature": "CE + T",
}
METRICS = ("accuracy", "ece", "ece_quantile", "classwise_ece", "nll", "brier")
#: Bins of P_ce for the regime analysis.
REGIME_BINS = (0.0, 1e-3, 1e-2, 0.05, 0.2, 0.5, 1.0)
TV_BOUND = 0.8
SHARE = 0.9

#: Output layer of a model: one score per class, or one sigmoid score (binary sets).
Kind = Literal["softmax", "sigmoid"]
#: One unit of work: (data set, imbalance ratio or None for a binary set, seed index).
Unit = tuple[str, float | None, int]


#: The multi-class data sets (``multiclass``) and the binary ones (``binary``).
MULTICLASS_SETS = tuple(n for n, s in DATASETS.items() if s.collection != "imbalanced")
BINARY_SETS = tuple(n for n, s in DATASETS.items() if s.collection == "imbalanced")


@dataclass(frozen=True)
class BenchmarkConfig:
    """Settings of the benchmark (``default_config`` returns them as a dict).

    Built from the runner's dict by :func:`run` (the first five fields have no default);
    an unknown key or a value out of range raises ``ValueError``, a value of the wrong
    type ``TypeError`` (both name the key and, in a list, the first bad index), before any
    data set is loaded.

    Attributes
    ----------
    multiclass, binary : list of str
        Names of multi-class and binary (KEEL imbalanced) sets of :data:`DATASETS`,
        without repeats; at least one set in all.
    seeds, hidden, steps : int
        Seeds per unit, MLP width and Adam steps (``>= 1``).
    ratios : list of float
        Imbalance ratios of the multi-class sets (at least one, distinct, ``>= 1``).
    gammas : list of float
        Focusing parameters of the focal models (at least one, distinct, ``> 0``).
    alphas : list of float or None
        Class weights of the binary focal models (``None`` or in ``(0, 1)``, at least one).
    summary_gamma : float
        The gamma of the summary tables and the boosted models; one of ``gammas``.
    batch_size, min_rare_test, n_bins : int
        Adam batch size, fewest rare-class test rows of a run ratio, calibration bins
        (``>= 1``).
    lr, weight_decay : float
        Adam learning rate (``> 0``) and L2 weight decay (``>= 0``).
    n_jobs : int
        joblib processes (``>= 1``, or negative as joblib counts: ``-1`` all cores).
    seed : int
        The run's seed (``>= 0``).
    quick, figures : bool
        Quick settings; draw the figures.
    """

    multiclass: list[str]
    binary: list[str]
    seeds: int
    hidden: int
    steps: int
    # 100 leaves < 20 rare test rows on every set here (skipped and reported); 3 and 10 run
    ratios: list[float] = field(default_factory=lambda: [3.0, 10.0, 100.0])
    gammas: list[float] = field(default_factory=lambda: [1.0, 2.0, 3.0])
    alphas: list[float | None] = field(default_factory=lambda: [None, 0.25])
    summary_gamma: float = 2.0
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 1e-4
    min_rare_test: int = 20
    n_bins: int = 15
    n_jobs: int = 2
    seed: int = 0
    quick: bool = True
    figures: bool = True

    def __post_init__(self) -> None:
        validate_config(self, ID, _CHECKS)
        if not self.multiclass and not self.binary:
            raise ValueError(
                f"`config['multiclass']` and `config['binary']` of experiment {ID!r} are both "
                "empty: name at least one data set"
            )
        if self.summary_gamma not in self.gammas:
            raise ValueError(
                f"`config['summary_gamma']` of experiment {ID!r} must be one of "
                f"`config['gammas']` {self.gammas!r}, got {self.summary_gamma!r}"
            )


def _n_jobs_check(value: int, key: str, experiment: str) -> None:
    """joblib's ``n_jobs``: a positive count, or negative (``-1``: all cores); not 0."""
    if value == 0:
        raise ValueError(
            f"`config[{key!r}]` of experiment {experiment!r} must be >= 1 or negative "
            f"(joblib: -1 uses all cores), got {value!r}"
        )


#: The range of every field of :class:`BenchmarkConfig` (:func:`~._common.validate_config`).
_CHECKS: dict[str, FieldCheck] = {
    "multiclass": subset_of(MULTICLASS_SETS, min_length=0),
    "binary": subset_of(BINARY_SETS, min_length=0),
    "seeds": int_at_least(1),
    "hidden": int_at_least(1),
    "steps": int_at_least(1),
    "ratios": reals_in(1.0, distinct=True),
    # gamma = 0 is the cross-entropy model every unit trains anyway
    "gammas": gammas_check(positive=True),
    "alphas": reals_in(0.0, 1.0, lo_open=True, hi_open=True, distinct=True),
    "summary_gamma": real_in(0.0, lo_open=True),
    "batch_size": int_at_least(1),
    "lr": real_in(0.0, lo_open=True),
    "weight_decay": real_in(0.0),
    "min_rare_test": int_at_least(1),
    "n_bins": int_at_least(1),
    "n_jobs": _n_jobs_check,
    "seed": int_at_least(0),
    "quick": no_range,
    "figures": no_range,
}


def default_config(quick: bool = True, seed: int = 0) -> dict:
    """Quick: 2 multi-class and 2 binary sets, 2 seeds, small models; full: everything."""
    if quick:
        cfg = BenchmarkConfig(
            multiclass=["penbased", "letter"],
            binary=["yeast3", "abalone19"],
            seeds=2,
            hidden=32,
            steps=400,
            seed=int(seed),
            quick=True,
        )
    else:
        cfg = BenchmarkConfig(
            multiclass=[n for n, s in DATASETS.items() if s.collection == "balanced"],
            binary=[n for n, s in DATASETS.items() if s.collection == "imbalanced"],
            seeds=5,
            hidden=64,
            steps=3000,
            seed=int(seed),
            quick=False,
        )
    return asdict(cfg)


def planned_units(config: dict) -> int:
    """Progress calls of :func:`run`: one per (data set, imbalance, seed) unit
    (``config`` is checked as :func:`run` checks it)."""
    cfg = config_from_dict(BenchmarkConfig, config, ID)
    return (len(cfg.multiclass) * len(cfg.ratios) + len(cfg.binary)) * cfg.seeds


# ---------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Model:
    """One trained model: the loss (``gamma = 0``: cross-entropy) and its test/val logits."""

    gamma: float
    alpha: float | None
    z_val: np.ndarray
    z_test: np.ndarray


#: One model trains at a time per process: two trainings in threads of one process (a Dask
#: worker with several threads) gave different numbers than the same trainings in sequence.
_TRAIN_LOCK = threading.Lock()


def _train(
    data: dict,
    gamma: float,
    alpha: float | None,
    cfg: BenchmarkConfig,
    seed: int,
    binary: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Train a one-hidden-layer MLP; return (validation, test) logits in float64."""
    import torch

    from ..torch import focal_loss, sigmoid_focal_loss

    x, y = data["X_train"], data["y_train"]
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    n_out = 1 if binary else int(data["n_classes"])
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    xt = torch.as_tensor((x - mean) / std, dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.float32 if binary else torch.int64)

    def loss(out: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        if binary:
            return sigmoid_focal_loss(
                out[:, 0], yt[idx], alpha=alpha, gamma=gamma, reduction="mean"
            )
        return focal_loss(out, yt[idx], gamma=gamma)

    n, bs = xt.shape[0], cfg.batch_size
    epochs = max(1, math.ceil(cfg.steps * bs / n))
    with _TRAIN_LOCK, torch_threads(1):
        model = train_mlp_adam(
            xt,
            n_out,
            loss,
            hidden=cfg.hidden,
            epochs=epochs,
            batch_size=bs,
            lr=cfg.lr,
            weight_decay=cfg.weight_decay,
            generator=gen,
        )
        with torch.no_grad():
            z = [
                model(torch.as_tensor((data[k] - mean) / std, dtype=torch.float64)).numpy()
                for k in ("X_val", "X_test")
            ]
    return z[0], z[1]


# ---------------------------------------------------------------------------
# evaluation of one cell
# ---------------------------------------------------------------------------


def _probs(z: np.ndarray, kind: Kind) -> np.ndarray:
    """Class probabilities (n, K); sigmoid scores become two columns [1 - p, p]."""
    if kind == "softmax":
        return softmax(z)
    return _two(1.0 / (1.0 + np.exp(-z.reshape(-1))))


#: Binary probabilities are clipped to [EPS, 1 - EPS] for the metrics (as scikit-learn's
#: log_loss does): a sigmoid output that rounds to exactly 0 or 1 in float64 would otherwise
#: give an infinite NLL on one misclassified row.
EPS = float(np.finfo(np.float64).eps)


def _metrics(prefix: str, probs: np.ndarray, y: np.ndarray, n_bins: int) -> dict:
    from ..calibration import calibration_report

    if probs.shape[-1] == 2:
        probs = _two(np.clip(probs[:, 1], EPS, 1.0 - EPS))
    rep = calibration_report(probs, y, n_bins=n_bins)
    return {f"{prefix}_{k}": float(rep[k]) for k in METRICS}


def _order_kept(before: np.ndarray, after: np.ndarray, kind: Kind) -> bool:
    """Softmax: same argmax per row; sigmoid: the map is non-decreasing in the score."""
    if kind == "softmax":
        return bool(np.array_equal(before.argmax(axis=-1), after.argmax(axis=-1)))
    order = np.argsort(before[:, 1], kind="stable")
    return bool(np.all(np.diff(after[order, 1]) >= -1e-12))


def _fit_maps(model: Model, y_val: np.ndarray, kind: Kind) -> dict:
    from ..calibration import FocalRecalibrator, FocalTemperatureScaling, TemperatureScaling

    g, a = model.gamma, model.alpha
    z_val, yv = _columns(model.z_val, kind), _columns(y_val, kind)
    return {
        "recover": FocalRecalibrator(g, alpha=a, from_logits=True, kind=kind).fit(z_val, yv),
        "temperature": TemperatureScaling(from_logits=True, kind=kind).fit(z_val, yv),
        "recover_temperature": FocalTemperatureScaling(g, alpha=a, from_logits=True, kind=kind).fit(
            z_val, yv
        ),
        "auto": FocalRecalibrator("auto", alpha=a, from_logits=True, kind=kind).fit(z_val, yv),
    }


def _theory_fields(p_ce: np.ndarray, q: np.ndarray, model: Model, kind: Kind) -> dict:
    """TV ratios and the round trip ``recover(minimizer(P_ce)) = P_ce`` of one cell."""
    from .._minimizer import minimizer, recover

    g, a = model.gamma, model.alpha
    if kind == "softmax":
        q_star, q_rec = minimizer(p_ce, g), recover(q, g)
        roundtrip = recover(q_star, g)
    else:
        q_star = _two(minimizer(p_ce[:, 1], g, alpha=a, kind="sigmoid"))
        q_rec = _two(recover(q[:, 1], g, alpha=a, kind="sigmoid"))
        roundtrip = _two(recover(q_star[:, 1], g, alpha=a, kind="sigmoid"))
    tv_ce = mean_tv(q, p_ce)
    tv_minimizer, tv_recover = mean_tv(q, q_star), mean_tv(q_rec, p_ce)
    return {
        "tv_focal_ce": tv_ce,
        "tv_focal_minimizer": tv_minimizer,
        "tv_recover_ce": tv_recover,
        "tv_ratio_minimizer": tv_minimizer / tv_ce,
        "tv_ratio_recover": tv_recover / tv_ce,
        "roundtrip_error": float(np.max(np.abs(roundtrip - p_ce))),
    }


def _two(p: np.ndarray) -> np.ndarray:
    """The two columns ``[1 - p, p]`` of the probabilities ``p`` of class 1."""
    return np.stack([1.0 - p, p], axis=1)


def _columns(a: np.ndarray, kind: Kind) -> np.ndarray:
    """A calibration map's input: logits (labels) as they are for softmax, one column for
    sigmoid."""
    return a if kind == "softmax" else a.reshape(-1, 1)


def _map_probs(p: np.ndarray, kind: Kind) -> np.ndarray:
    """A calibration map's output as class probabilities (n, K): sigmoid gets two columns."""
    return p if kind == "softmax" else _two(p.reshape(-1))


def evaluate_cell(
    p_ce: np.ndarray, model: Model, y_val: np.ndarray, y_test: np.ndarray, kind: Kind, n_bins: int
) -> dict:
    """Theory fields and the metrics of every map of one focal model (a cell)."""
    q = _probs(model.z_test, kind)
    maps = _fit_maps(model, y_val, kind)
    z_test = _columns(model.z_test, kind)
    out = {**_theory_fields(p_ce, q, model, kind), **_metrics("raw", q, y_test, n_bins)}
    kept = True
    for name, cal in maps.items():
        p = _map_probs(cal.transform(z_test), kind)
        kept &= _order_kept(q, p, kind)
        out.update(_metrics(name, p, y_test, n_bins))
    out["order_preserved"] = bool(kept)
    out["temperature"] = float(maps["temperature"].temperature_)
    out["temperature_after_recover"] = float(maps["recover_temperature"].temperature_)
    out["gamma_auto"] = float(maps["auto"].gamma_)
    return out


def _log_ratios(p_ce: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, ...]:
    with np.errstate(divide="ignore", invalid="ignore"):
        return tuple(np.log(o) - np.log(p_ce) for o in others)


def _median_or_none(a: np.ndarray, fn: Callable[[float], float] | None = None) -> float | None:
    if not a.size:
        return None
    m = float(np.median(a))
    return fn(m) if fn is not None else m


def _bin_summary(lp: np.ndarray, lo_: np.ndarray, lc: np.ndarray) -> dict:
    """Median predicted / observed / control log-ratios and the sign agreement of one bin."""
    sure = np.abs(lp) > 1e-3
    return {
        "n": int(lp.size),
        "median_log_pred": _median_or_none(lp),
        "median_log_obs": _median_or_none(lo_),
        "median_abs_log_control": _median_or_none(np.abs(lc)),
        "sign_agreement": float(np.mean(np.sign(lp[sure]) == np.sign(lo_[sure])))
        if sure.any()
        else None,
    }


def regime_records(
    p_ce: np.ndarray, q: np.ndarray, gamma: float, p_control: np.ndarray
) -> tuple[list[dict], dict]:
    """Predicted ``minimizer(P_ce)/P_ce`` against observed ``focal/P_ce`` per entry.

    Returns per-bin summaries (bins of ``P_ce``) and the over-suppression summary:
    entries of rows with ``λ(P_ce(x)) > 1`` whose class has ``P_ce < 5%`` and a
    predicted ratio below 1 (the theory's over-suppressed classes).
    ``p_control`` (a second cross-entropy model, another initialisation) gives the
    noise floor: how far two CE models differ on the same entries.
    """
    from .._minimizer import minimizer

    q_star, lam = minimizer(p_ce, gamma, return_multiplier=True)
    log_pred, log_obs, log_ctl = _log_ratios(p_ce, q_star, q, p_control)
    ok = np.isfinite(log_pred) & np.isfinite(log_obs) & np.isfinite(log_ctl)
    bins = []
    for lo, hi in itertools.pairwise(REGIME_BINS):
        m = ok & (p_ce > lo) & (p_ce <= hi)
        bins.append(
            {"bin_lo": lo, "bin_hi": hi, **_bin_summary(log_pred[m], log_obs[m], log_ctl[m])}
        )
    over = ok & (np.asarray(lam)[..., None] > 1) & (p_ce < 0.05) & (log_pred < 0)
    lp, lo_, lc = log_pred[over], log_obs[over], log_ctl[over]
    summary = {
        "n_rows_lam_gt1": int(np.sum(np.asarray(lam) > 1)),
        "n_over": int(over.sum()),
        "median_pred_over": _median_or_none(lp, math.exp),
        "median_obs_over": _median_or_none(lo_, math.exp),
        "frac_below_over": float(np.mean(lo_ < 0)) if lo_.size else None,
        "median_abs_log_pred_over": _median_or_none(np.abs(lp)),
        "median_abs_log_control_over": _median_or_none(np.abs(lc)),
        "frac_below_control_over": float(np.mean(lc < 0)) if lc.size else None,
    }
    return bins, summary


# ---------------------------------------------------------------------------
# one unit of work: a data set at one imbalance and one seed
# ---------------------------------------------------------------------------


def _prepare(spec: DatasetSpec, ratio: float | None, seed: int) -> dict:
    x, y, classes = load_dataset(spec)
    if ratio is None:
        data = binary_splits(x, y, seed)
    else:
        data = long_tail_splits(x, y, ratio, seed, augment=spec.augment)
        order = data["class_order"]
        data["profile_ok"] = all(profile_matches(c[order], ratio) for c in data["counts"].values())
    data["n_classes"] = len(classes)
    data["natural_imbalance"] = _imbalance(np.bincount(y))
    return data


def run_unit(cfg: BenchmarkConfig, name: str, ratio: float | None, rep: int) -> dict:
    """Train and evaluate every model of (data set, imbalance, seed); plain records back."""
    spec = DATASETS[name]
    kind: Kind = "sigmoid" if ratio is None else "softmax"
    unit_seed = derive_seed(cfg.seed, "benchmark", name, round(1000 * (ratio or 0)), rep)
    data = _prepare(spec, ratio, unit_seed)
    y_val, y_test = data["y_val"], data["y_test"]
    ce = Model(0.0, None, *_train(data, 0.0, None, cfg, unit_seed, ratio is None))
    p_ce = _probs(ce.z_test, kind)
    ce_fields = _ce_fields(ce, y_val, y_test, kind, cfg.n_bins)
    counts = data["counts"]
    base = {
        "dataset": name,
        "task": "binary" if ratio is None else "multiclass",
        "imbalance": data["natural_imbalance"] if ratio is None else float(ratio),
        "seed": rep,
        "run_seed": unit_seed,
        "n_train": int(counts["train"].sum()),
        "n_test": int(counts["test"].sum()),
        "n_rare_test": int(counts["test"].min()),
        "profile_ok": bool(data.get("profile_ok", True)),
    }
    if kind == "softmax":  # a second CE model (other initialisation): the noise floor
        control = _train(data, 0.0, None, cfg, derive_seed(unit_seed, "ce-control"), False)[1]
        p_control = _probs(control, kind)
    records, regime = [], []
    for alpha in cfg.alphas if ratio is None else [None]:
        for g in cfg.gammas:
            model = Model(float(g), alpha, *_train(data, g, alpha, cfg, unit_seed, ratio is None))
            cell = {**base, "gamma": float(g), "alpha": alpha, **ce_fields}
            cell.update(evaluate_cell(p_ce, model, y_val, y_test, kind, cfg.n_bins))
            records.append(cell)
            if kind == "softmax":
                q = _probs(model.z_test, kind)
                bins, over = regime_records(p_ce, q, float(g), p_control)
                regime += [{**base, "gamma": float(g), **b} for b in bins]
                cell.update(over)
    boosted = []
    if kind == "sigmoid" and lightgbm_available():
        cells = boosted_cells(data, cfg.summary_gamma, cfg.alphas, unit_seed, cfg.n_bins)
        boosted = [{**base, **c} for c in cells]
    return {
        "records": records,
        "regime": regime,
        "boosted": boosted,
        "name": name,
        "ratio": ratio,
        "rep": rep,
    }


def _imbalance(train_counts: np.ndarray) -> float:
    return round(float(train_counts.max() / max(train_counts.min(), 1)), 1)


def _ce_fields(ce: Model, y_val: np.ndarray, y_test: np.ndarray, kind: Kind, n_bins: int) -> dict:
    from ..calibration import TemperatureScaling

    ts = TemperatureScaling(from_logits=True, kind=kind).fit(
        _columns(ce.z_val, kind), _columns(y_val, kind)
    )
    p = _map_probs(ts.transform(_columns(ce.z_test, kind)), kind)
    return {
        **_metrics("ce_raw", _probs(ce.z_test, kind), y_test, n_bins),
        **_metrics("ce_temperature", p, y_test, n_bins),
        "ce_temperature_fitted": float(ts.temperature_),
    }


# ---------------------------------------------------------------------------
# the boosted model (binary sets; optional: needs lightgbm)
# ---------------------------------------------------------------------------

#: A small LightGBM model: the same trees for the log-loss and the focal objective.
BOOST_PARAMS = {
    "num_leaves": 15,
    "learning_rate": 0.1,
    "num_threads": 1,
    "deterministic": True,
    "force_row_wise": True,
    "verbose": -1,
}
BOOST_ROUNDS = 100


def lightgbm_available() -> bool:
    """Whether lightgbm can be imported (the boosted part is skipped without it)."""
    return importlib.util.find_spec("lightgbm") is not None


def _boost_raw(
    data: dict,
    seed: int,
    objective: str | Callable[..., Any],
    init: float | np.ndarray | None = None,
) -> np.ndarray:
    """Train LightGBM on the train split; raw test scores (``init`` added back)."""
    import lightgbm as lgb

    x, y = data["X_train"], data["y_train"].astype(np.float64)
    init_score = None if init is None else np.full(y.size, float(init))
    params = {**BOOST_PARAMS, "objective": objective, "seed": int(seed)}
    booster = lgb.train(
        params, lgb.Dataset(x, y, init_score=init_score), num_boost_round=BOOST_ROUNDS
    )
    raw = np.asarray(booster.predict(data["X_test"], raw_score=True), dtype=np.float64)
    return raw if init is None else raw + float(init)


def boosted_cells(
    data: dict, gamma: float, alphas: Iterable[float | None], seed: int, n_bins: int
) -> list[dict]:
    """LightGBM with the log loss (``P_lgb``) and with the focal objective per ``alpha``.

    Per ``alpha``: TV ratios of the focal model's test probabilities ``Q`` against
    ``minimizer(P_lgb)`` and of ``recover_from_raw`` against ``P_lgb`` (as in the
    MLP cells), and the ECE of ``P_lgb``, ``Q`` and the recovered probabilities.
    """
    from .._minimizer import minimizer
    from ..boosting import initial_score, lightgbm_objective, probabilities_from_raw
    from ..boosting import recover_from_raw as recover_raw

    y_train, y_test = data["y_train"], data["y_test"]
    p_lgb = _two(probabilities_from_raw(_boost_raw(data, seed, "binary")))
    ce = _metrics("logloss", p_lgb, y_test, n_bins)
    out = []
    for alpha in alphas:
        g = float(gamma)
        init = initial_score(y_train, g, alpha=alpha)
        raw = _boost_raw(data, seed, lightgbm_objective(g, alpha=alpha), init)
        q = _two(probabilities_from_raw(raw))
        q_star = _two(minimizer(p_lgb[:, 1], g, alpha=alpha, kind="sigmoid"))
        q_rec = _two(recover_raw(raw, g, alpha=alpha))
        tv_ce = mean_tv(q, p_lgb)
        tv_minimizer, tv_recover = mean_tv(q, q_star), mean_tv(q_rec, p_lgb)
        out.append(
            {
                "model": "lightgbm",
                "gamma": g,
                "alpha": alpha,
                "tv_focal_logloss": tv_ce,
                "tv_focal_minimizer": tv_minimizer,
                "tv_recover_logloss": tv_recover,
                "tv_ratio_minimizer": tv_minimizer / tv_ce,
                "tv_ratio_recover": tv_recover / tv_ce,
                "logloss_ece": ce["logloss_ece"],
                "raw_ece": _metrics("raw", q, y_test, n_bins)["raw_ece"],
                "recover_ece": _metrics("recover", q_rec, y_test, n_bins)["recover_ece"],
            }
        )
    return out


# ---------------------------------------------------------------------------
# compute
# ---------------------------------------------------------------------------


@dataclass
class BenchmarkData:
    """Everything the claims, tables and figures are made from (plain data)."""

    cfg: BenchmarkConfig
    records: list[dict]
    regime: list[dict]
    skipped: list[dict]
    datasets: list[dict]
    #: LightGBM cells of the binary sets (empty when lightgbm is not installed)
    boosted: list[dict] = field(default_factory=list)


def plan_units(cfg: BenchmarkConfig) -> tuple[list[Unit], list[dict], list[dict]]:
    """Units ``(name, ratio, rep)`` to run, skipped (data set, ratio) pairs, data set facts.

    A multi-class ratio is skipped when the rarest test class would keep fewer than
    ``min_rare_test`` rows (this depends only on the class sizes, not on the seed).
    """
    units: list[Unit] = []
    skipped: list[dict] = []
    info: list[dict] = []
    for name in cfg.multiclass:
        spec = DATASETS[name]
        x, y, classes = load_dataset(spec)
        factor = 5 if spec.augment else 1
        run_ratios = []
        for ratio in cfg.ratios:
            rare = rarest_test_count(y, ratio, SPLIT, factor)
            if rare < cfg.min_rare_test:
                skipped.append({"dataset": name, "imbalance": float(ratio), "rare_test": rare})
            else:
                run_ratios.append(float(ratio))
                units += [(name, float(ratio), rep) for rep in range(cfg.seeds)]
        info.append(_info(spec, x, y, classes, run_ratios))
    for name in cfg.binary:
        spec = DATASETS[name]
        x, y, classes = load_dataset(spec)
        units += [(name, None, rep) for rep in range(cfg.seeds)]
        info.append(_info(spec, x, y, classes, [_imbalance(np.bincount(y))]))
    return units, skipped, info


def _info(
    spec: DatasetSpec, x: np.ndarray, y: np.ndarray, classes: Sequence[str], ratios: list[float]
) -> dict:
    counts = np.bincount(y)
    return {
        "dataset": spec.name,
        "version": spec.version,
        "rows": int(y.size),
        "features": int(np.prod(x.shape[1:])),
        "classes": len(classes),
        "natural_imbalance": round(float(counts.max() / counts.min()), 1),
        "imbalance_run": ratios,
    }


def _dask_worker() -> bool:
    """Whether this runs inside a Dask worker (``--backend dask``)."""
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return False
    return True


def _map_units(cfg: BenchmarkConfig, units: list[Unit]) -> Iterable[dict[str, Any]]:
    """Results of :func:`run_unit` in the order of ``units``.

    joblib processes over units (``n_jobs``); inside a Dask worker (``--backend dask``)
    the units are submitted to the same cluster instead.
    """
    if len(units) > 1 and _dask_worker():
        from distributed import worker_client

        with worker_client() as client:
            names, ratios, reps = zip(*units, strict=True)
            futures = client.map(run_unit, [cfg] * len(units), names, ratios, reps, pure=False)
            return client.gather(futures)
    if cfg.n_jobs == 1 or len(units) < 2:
        return (run_unit(cfg, *u) for u in units)
    from joblib import Parallel, delayed

    return Parallel(n_jobs=cfg.n_jobs, return_as="generator")(
        delayed(run_unit)(cfg, *u) for u in units
    )


def compute(cfg: BenchmarkConfig, progress: Progress) -> BenchmarkData:
    """Train and evaluate every unit; records sorted by (task, data set, imbalance, seed)."""
    units, skipped, info = plan_units(cfg)
    n_skipped = len(skipped) * cfg.seeds
    if n_skipped:
        progress(float(n_skipped), f"benchmark: {len(skipped)} (set, ratio) pairs skipped")
    records, regime, boosted = [], [], []
    for out in _map_units(cfg, units):
        records += out["records"]
        regime += out["regime"]
        boosted += out.get("boosted", [])
        ratio = "natural" if out["ratio"] is None else f"{out['ratio']:g}"
        progress(1.0, f"benchmark: {out['name']} (imbalance {ratio}, seed {out['rep']})")
    return BenchmarkData(cfg, records, regime, skipped, info, boosted)


# ---------------------------------------------------------------------------
# claims and findings
# ---------------------------------------------------------------------------


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def share_finding(
    fid: str, statement: str, metric: str, hits: Iterable[Any], threshold: float
) -> Finding:
    """A finding "the share of units with property X is at least ``threshold``".

    Status: ``supported`` if the observed share reaches ``threshold`` (5 units or
    more); ``refuted`` if even the upper end of its 95% Wilson interval stays below
    it; ``inconclusive`` otherwise (fewer than 5 units, or the interval covers it).
    """
    hits = [bool(h) for h in hits]
    n, k = len(hits), sum(hits)
    share = k / n if n else float("nan")
    lo, hi = wilson(k, n)
    if n >= 5 and share >= threshold:
        status = "supported"
    elif n >= 5 and hi < threshold:
        status = "refuted"
    else:
        status = "inconclusive"
    evidence = f"{k} of {n} ({share:.0%}; 95% interval {lo:.2f}-{hi:.2f})" if n else "no units"
    return Finding(fid, statement, metric, share, f">= {threshold:.3g}", status, evidence)


def _rows(records: list[dict]) -> dict[tuple, list[dict]]:
    """Records grouped by table row: (task, data set, imbalance, alpha)."""
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault((r["task"], r["dataset"], r["imbalance"], r["alpha"]), []).append(r)
    return groups


def make_claims(data: BenchmarkData) -> list[Claim]:
    """Checks of the library and of the data pipeline (they gate the exit code)."""
    recs = data.records
    roundtrip = max((r["roundtrip_error"] for r in recs), default=float("inf"))
    rare = [r["n_rare_test"] for r in recs if r["task"] == "multiclass"]
    profile = all(r["profile_ok"] for r in recs) and min(rare, default=10**9) >= (
        data.cfg.min_rare_test
    )
    return [
        Claim.greater(
            "5.cells", "The benchmark trains and evaluates cells.", "number of cells", len(recs), 0
        ),
        Claim.less(
            "5.roundtrip",
            "recover inverts minimizer on every real P_ce (softmax, and sigmoid with and "
            "without α): recover(minimizer(P_ce, γ), γ) = P_ce.",
            "max |recover(minimizer(P_ce)) - P_ce| over all cells and test rows",
            roundtrip,
            1e-8,
        ),
        Claim.greater(
            "5.order",
            "Every recalibration map keeps the predictions (softmax: argmax; sigmoid: "
            "the map is non-decreasing in the score).",
            "1 if kept in every cell, else 0",
            float(bool(recs) and all(r["order_preserved"] for r in recs)),
            0.5,
        ),
        Claim.greater(
            "5.splits",
            "Every split follows the declared exponential class profile and every run cell "
            f"has at least {data.cfg.min_rare_test} test rows in its rarest class.",
            "1 if so, else 0",
            float(profile),
            0.5,
        ),
    ]


def make_findings(data: BenchmarkData) -> list[Finding]:
    """Empirical statements with a status (they do not gate the exit code)."""
    recs = data.records
    soft = [r for r in recs if r["task"] == "multiclass"]
    sig = [r for r in recs if r["task"] == "binary"]
    out = [
        share_finding(
            f"5.lands_on_minimizer.{task}",
            f"{label}: the focal model lands on minimizer(P_ce, γ) rather than on P_ce: "
            f"TV ratio < {TV_BOUND} in at least {SHARE:.0%} of cells.",
            "share of cells with TV(focal, minimizer(P_ce)) / TV(focal, P_ce) < 0.8",
            [r["tv_ratio_minimizer"] < TV_BOUND for r in group],
            SHARE,
        )
        for task, label, group in (
            ("softmax", "Multi-class (softmax)", soft),
            ("sigmoid", "Binary (sigmoid)", sig),
        )
    ]
    out.append(
        share_finding(
            "5.recover_to_ce",
            f"recover(focal) lands near P_ce: TV ratio < {TV_BOUND} in at least "
            f"{SHARE:.0%} of cells.",
            "share of cells with TV(recover(focal), P_ce) / TV(focal, P_ce) < 0.8",
            [r["tv_ratio_recover"] < TV_BOUND for r in recs],
            SHARE,
        )
    )
    out.append(
        share_finding(
            "5.recover_lowers_ece",
            "recover alone lowers the focal model's ECE (equal width) in the majority of cells.",
            "share of cells with ECE(recover) < ECE(raw)",
            [r["recover_ece"] < r["raw_ece"] for r in recs],
            0.5,
        )
    )
    out.append(_best_nll_finding(data))
    out += _regime_findings(data)
    out += _boosted_findings(data)
    return out


def _boosted_findings(data: BenchmarkData) -> list[Finding]:
    """The MLP statements for a LightGBM model against its own log-loss model P_logloss."""
    if not data.boosted:
        return []
    return [
        share_finding(
            "5.boosted_lands_on_minimizer",
            "Binary sets, LightGBM: the boosted focal model lands on minimizer(P_logloss, γ) "
            "rather than on P_logloss (the same trees trained with the log loss): TV ratio "
            f"< {TV_BOUND} in at least {SHARE:.0%} of cells.",
            "share of cells with TV(focal, minimizer(P_logloss)) / TV(focal, P_logloss) < 0.8",
            [r["tv_ratio_minimizer"] < TV_BOUND for r in data.boosted],
            SHARE,
        ),
        share_finding(
            "5.boosted_recover_to_logloss",
            "Binary sets, LightGBM: recover_from_raw(focal raw scores) lands near P_logloss: "
            f"TV ratio < {TV_BOUND} in at least {SHARE:.0%} of cells.",
            "share of cells with TV(recover(focal), P_logloss) / TV(focal, P_logloss) < 0.8",
            [r["tv_ratio_recover"] < TV_BOUND for r in data.boosted],
            SHARE,
        ),
    ]


def _best_nll_finding(data: BenchmarkData) -> Finding:
    hits = []
    for rows in _rows(data.records).values():
        for g in data.cfg.gammas:
            cells = [r for r in rows if r["gamma"] == g]
            means = {m: np.mean([r[f"{m}_nll"] for r in cells]) for m in METHODS}
            hits.append(min(means, key=lambda m: means[m]) == "recover_temperature")
    return share_finding(
        "5.recover_temperature_best_nll",
        "recover + temperature has the lowest NLL of the five focal maps in the majority "
        "of (data set, imbalance, α, γ) rows (mean over seeds).",
        "share of rows where recover + T has the lowest mean NLL",
        hits,
        0.5,
    )


def _regime_findings(data: BenchmarkData) -> list[Finding]:
    soft = [r for r in data.records if r["task"] == "multiclass"]
    over = [r for r in soft if r.get("n_over", 0) >= 5]
    out = [
        share_finding(
            "5.over_suppression",
            "Over-suppression in trained networks: in rows with λ(P_ce(x)) > 1, classes with "
            "P_ce < 5% that the theory predicts below P_ce come out below P_ce in the focal "
            "model (median over those entries < 1) in the majority of cells.",
            "share of cells (with >= 5 such entries) whose median focal/P_ce is < 1",
            [r["median_obs_over"] < 1 for r in over],
            0.5,
        )
    ]
    out.append(
        share_finding(
            "5.over_suppression_resolvable",
            "The predicted over-suppression is larger than the noise floor: in the same "
            "entries, the median |log(minimizer(P_ce)/P_ce)| exceeds the median |log(P_ce'/P_ce)| "
            "between two cross-entropy models that differ only in their initialisation, in the "
            "majority of cells.",
            "share of cells (with >= 5 such entries) where the prediction exceeds the noise floor",
            [r["median_abs_log_pred_over"] > r["median_abs_log_control_over"] for r in over],
            0.5,
        )
    )
    for label, lo, hi in (("head", 0.5, 1.0), ("tail", 0.0, 0.01)):
        bins = [b for b in data.regime if b["bin_lo"] >= lo and b["bin_hi"] <= hi]
        hits = [b["sign_agreement"] > 0.5 for b in bins if b["sign_agreement"] is not None]
        out.append(
            share_finding(
                f"5.regime_direction.{label}",
                f"For entries with P_ce in ({lo:g}, {hi:g}] the focal model moves away from "
                "P_ce in the direction minimizer(P_ce) predicts (up or down) for most entries, "
                "in the majority of (cell, bin) pairs.",
                "share of (cell, P_ce bin) pairs with sign agreement > 50%",
                hits,
                0.5,
            )
        )
    return out


# ---------------------------------------------------------------------------
# tables
# ---------------------------------------------------------------------------

SUMMARY_COLUMNS = ("ce_raw", "ce_temperature", *METHODS)


def _row_label(key: tuple) -> list:
    task, name, imbalance, alpha = key
    return [name, task, imbalance, "-" if alpha is None else alpha]


def summary_table(data: BenchmarkData, metric: str, title: str) -> Table:
    """Rows: data sets; columns: methods; mean ± sd over seeds at γ = summary_gamma; best bold."""
    g = data.cfg.summary_gamma
    rows = []
    for key, group in _rows(data.records).items():
        cells = [r for r in group if r["gamma"] == g]
        if not cells:
            continue
        stats = {m: _mean_sd([r[f"{m}_{metric}"] for r in cells]) for m in SUMMARY_COLUMNS}
        best = min(stats, key=lambda m: stats[m][0])
        row = [*_row_label(key), len(cells)]
        for m in SUMMARY_COLUMNS:
            mean, sd = stats[m]
            row.append({"text": f"{mean:.4f} ± {sd:.4f}", "bold": m == best})
        rows.append(row)
    columns = ["data set", "task", "imbalance", "α", "seeds"]
    return Table(title, columns + [METHOD_LABELS[m] for m in SUMMARY_COLUMNS], rows)


def _mean_sd(values: ArrayLike) -> tuple[float, float]:
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0


def tv_table(data: BenchmarkData) -> Table:
    rows = []
    for key, group in _rows(data.records).items():
        pred = np.array([r["tv_ratio_minimizer"] for r in group])
        rec = np.array([r["tv_ratio_recover"] for r in group])
        rows.append(
            [
                *_row_label(key),
                len(group),
                float(np.median(pred)),
                float(np.mean(pred < TV_BOUND)),
                float(np.mean(pred < 1.0)),
                float(np.median(rec)),
                float(np.mean(rec < TV_BOUND)),
            ]
        )
    return Table(
        "TV ratios per data set (all γ and seeds): does the focal model land on minimizer(P_ce)?",
        [
            "data set",
            "task",
            "imbalance",
            "α",
            "cells",
            "median TV(focal, Q*(P_ce)) / TV(focal, P_ce)",
            "share < 0.8",
            "share < 1",
            "median TV(recover(focal), P_ce) / TV(focal, P_ce)",
            "share < 0.8",
        ],
        rows,
    )


def boosted_table(data: BenchmarkData) -> Table:
    """One row per (binary set, α): the LightGBM focal model against P_logloss."""
    groups: dict[tuple, list[dict]] = {}
    for r in data.boosted:
        groups.setdefault((r["dataset"], r["imbalance"], r["alpha"]), []).append(r)
    rows = []
    for (name, imbalance, alpha), group in groups.items():
        pred = np.array([r["tv_ratio_minimizer"] for r in group])
        rec = np.array([r["tv_ratio_recover"] for r in group])
        rows.append(
            [
                name,
                imbalance,
                "-" if alpha is None else alpha,
                len(group),
                float(np.median(pred)),
                float(np.mean(pred < TV_BOUND)),
                float(np.median(rec)),
                float(np.mean(rec < TV_BOUND)),
                float(np.mean([r["logloss_ece"] for r in group])),
                float(np.mean([r["raw_ece"] for r in group])),
                float(np.mean([r["recover_ece"] for r in group])),
            ]
        )
    return Table(
        f"Boosted model (LightGBM, {BOOST_ROUNDS} rounds, {BOOST_PARAMS['num_leaves']} leaves, "
        f"γ = {data.cfg.summary_gamma:g}) on the binary sets: does the focal model land on "
        "minimizer(P_logloss)? (P_logloss: the same trees trained with the log loss; ECE mean "
        "over seeds)",
        [
            "data set",
            "imbalance",
            "α",
            "cells",
            "median TV(focal, Q*(P_logloss)) / TV(focal, P_logloss)",
            "share < 0.8",
            "median TV(recover(focal), P_logloss) / TV(focal, P_logloss)",
            "share < 0.8",
            "ECE log loss",
            "ECE focal raw",
            "ECE recover",
        ],
        rows,
    )


def regime_table(data: BenchmarkData) -> Table:
    rows = []
    for g in data.cfg.gammas:
        for lo, hi in itertools.pairwise(REGIME_BINS):
            bins = [b for b in data.regime if b["gamma"] == g and b["bin_lo"] == lo and b["n"]]
            if not bins:
                continue
            agree = [b["sign_agreement"] for b in bins if b["sign_agreement"] is not None]
            rows.append(
                [
                    g,
                    f"({lo:g}, {hi:g}]",
                    sum(b["n"] for b in bins),
                    float(np.exp(np.median([b["median_log_pred"] for b in bins]))),
                    float(np.exp(np.median([b["median_log_obs"] for b in bins]))),
                    float(np.mean(agree)) if agree else None,
                ]
            )
    return Table(
        "Predicted vs observed ratio per P_ce bin (multi-class test entries; medians over cells)",
        ["γ", "P_ce bin", "entries", "minimizer(P_ce)/P_ce", "focal/P_ce", "sign agreement"],
        rows,
    )


def over_table(data: BenchmarkData) -> Table:
    rows = []
    soft = [r for r in data.records if r["task"] == "multiclass"]
    for name in dict.fromkeys(r["dataset"] for r in soft):
        for g in data.cfg.gammas:
            cells = [r for r in soft if r["dataset"] == name and r["gamma"] == g]
            used = [r for r in cells if r["n_over"] >= 5]
            rows.append(
                [
                    name,
                    g,
                    len(cells),
                    sum(r["n_rows_lam_gt1"] for r in cells),
                    sum(r["n_over"] for r in cells),
                    len(used),
                    _median([r["median_pred_over"] for r in used]),
                    _median([r["median_obs_over"] for r in used]),
                    _median([r["frac_below_over"] for r in used]),
                    _median([r["frac_below_control_over"] for r in used]),
                    _median([r["median_abs_log_pred_over"] for r in used]),
                    _median([r["median_abs_log_control_over"] for r in used]),
                ]
            )
    return Table(
        "Over-suppression on real data: rows with λ(P_ce) > 1, classes with P_ce < 5% "
        "predicted below P_ce (medians over cells with >= 5 such entries)",
        [
            "data set",
            "γ",
            "cells",
            "test rows with λ > 1",
            "predicted over-suppressed entries",
            "cells used",
            "minimizer(P_ce)/P_ce",
            "focal/P_ce",
            "share of entries with focal < P_ce",
            "CE control: share with P_ce' < P_ce",
            "|log predicted ratio|",
            "CE control: |log P_ce'/P_ce|",
        ],
        rows,
    )


def _median(values: Iterable[float | None]) -> float | None:
    v = [x for x in values if x is not None]
    return float(np.median(v)) if v else None


def data_table(data: BenchmarkData) -> Table:
    skipped: dict[str, list[str]] = {}
    for s in data.skipped:
        skipped.setdefault(s["dataset"], []).append(
            f"{s['imbalance']:g} (rarest test {s['rare_test']})"
        )
    rows = [
        [
            d["dataset"],
            d["version"],
            d["rows"],
            d["features"],
            d["classes"],
            d["natural_imbalance"],
            ", ".join(f"{r:g}" for r in d["imbalance_run"]) or "none",
            "; ".join(skipped.get(d["dataset"], [])) or "-",
        ]
        for d in data.datasets
    ]
    return Table(
        "Data sets (version used; imbalance ratios run; ratios skipped because the rarest test "
        f"class would have fewer than {data.cfg.min_rare_test} rows)",
        [
            "data set",
            "version",
            "rows",
            "features",
            "classes",
            "natural imbalance",
            "run at",
            "skipped",
        ],
        rows,
    )


def make_tables(data: BenchmarkData) -> list[Table]:
    g = data.cfg.summary_gamma
    return [
        summary_table(data, "ece", f"ECE (equal width, 15 bins), γ = {g:g}: mean ± sd over seeds"),
        summary_table(data, "nll", f"NLL, γ = {g:g}: mean ± sd over seeds"),
        summary_table(data, "classwise_ece", f"Classwise ECE, γ = {g:g}: mean ± sd over seeds"),
        tv_table(data),
        *([boosted_table(data)] if data.boosted else []),
        regime_table(data),
        over_table(data),
        data_table(data),
    ]


def recover_ece_note(data: BenchmarkData) -> str:
    """The paragraph on where recover alone does not lower the ECE, from the numbers."""
    recs = data.records
    worse = [r for r in recs if r["recover_ece"] >= r["raw_ece"]]
    better = [r for r in recs if r["recover_ece"] < r["raw_ece"]]
    if not worse:
        return f"recover alone lowered the ECE in all {len(recs)} cells."
    t_worse = float(np.median([r["ce_temperature_fitted"] for r in worse]))  # not empty
    t_better = _median([r["ce_temperature_fitted"] for r in better])
    fixed = sum(r["recover_temperature_ece"] < r["raw_ece"] for r in worse)
    sets = ", ".join(sorted({r["dataset"] for r in worse}))
    text = (
        f"Where recover alone does not lower ECE: in {len(worse)} of {len(recs)} cells "
        f"ECE(recover) >= ECE(raw) (data sets: {sets}). The median temperature fitted to the "
        f"cross-entropy model on the validation split is {t_worse:.2f} in those cells and "
        + ("n/a" if t_better is None else f"{t_better:.2f}")
        + " in the others. "
    )
    if t_worse > 1.1 and (t_better is None or t_worse > t_better):
        text += (
            "So in those cells the network itself is over-confident (T > 1): the focal "
            "under-confidence partly cancels that over-confidence, and recover, which maps the "
            "focal model back towards the cross-entropy model, brings it back. "
        )
    else:
        text += (
            "These numbers do not show the cross-entropy model's over-confidence as the cause "
            "(its temperature is not larger there); the cells are too few or too noisy to say. "
        )
    return text + (
        f"recover + temperature lowers the ECE below raw in {fixed} of those {len(worse)} cells."
    )


# ---------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------


def _row_name(key: tuple) -> str:
    task, name, imbalance, alpha = key
    if task == "multiclass":
        return f"{name} ×{imbalance:g}"
    return f"{name} (α={alpha})" if alpha is not None else name


def tv_figure(data: BenchmarkData) -> bytes:
    """Per-cell TV ratios by data set row, coloured by γ."""
    plt = pyplot()
    groups = _rows(data.records)
    fig, axes = plt.subplots(2, 1, figsize=(12, 7.5), sharex=True)
    colors = dict(
        zip(data.cfg.gammas, ("tab:blue", "tab:orange", "tab:green", "tab:red"), strict=False)
    )
    rng = np.random.default_rng(0)  # jitter only
    for ax, key, label in (
        (axes[0], "tv_ratio_minimizer", "TV(focal, minimizer(P_ce)) / TV(focal, P_ce)"),
        (axes[1], "tv_ratio_recover", "TV(recover(focal), P_ce) / TV(focal, P_ce)"),
    ):
        for i, rows in enumerate(groups.values()):
            for g in data.cfg.gammas:
                v = [r[key] for r in rows if r["gamma"] == g]
                ax.scatter(i + rng.uniform(-0.25, 0.25, len(v)), v, s=14, color=colors.get(g))
        ax.axhline(1.0, color="k", lw=1)
        ax.axhline(TV_BOUND, color="k", lw=1, ls="--")
        ax.set_yscale("log")
        ax.set_ylabel(label, fontsize=8)
    axes[1].set_xticks(
        range(len(groups)), [_row_name(k) for k in groups], rotation=60, ha="right", fontsize=8
    )
    handles = [
        plt.Line2D([], [], marker="o", ls="", color=c, label=f"γ={g:g}") for g, c in colors.items()
    ]
    axes[0].legend(handles=handles, fontsize=8, ncol=len(handles))
    axes[0].set_title("Per-cell TV ratios (below 1: the theory beats 'no distortion'; dashed: 0.8)")
    return fig_to_png(fig)


def regime_figure(data: BenchmarkData) -> bytes:
    """Predicted vs observed log-ratio by P_ce bin, and the over-suppression cells."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    centers = np.sqrt(np.maximum(REGIME_BINS[:-1], 1e-4) * np.asarray(REGIME_BINS[1:]))
    for g, color in zip(data.cfg.gammas, ("tab:blue", "tab:orange", "tab:green"), strict=False):
        for j, lo in enumerate(REGIME_BINS[:-1]):
            bins = [b for b in data.regime if b["gamma"] == g and b["bin_lo"] == lo and b["n"]]
            if not bins:
                continue
            obs = [b["median_log_obs"] for b in bins]
            axes[0].scatter(np.full(len(obs), centers[j]) * 1.05, obs, s=8, color=color, alpha=0.4)
            axes[0].scatter(
                centers[j] / 1.05,
                np.median([b["median_log_pred"] for b in bins]),
                marker="_",
                s=200,
                color=color,
            )
        axes[0].plot([], [], color=color, label=f"γ={g:g}: dots observed per cell, bar predicted")
    axes[0].axhline(0, color="k", lw=1)
    axes[0].set_xscale("log")
    axes[0].set_xlabel("P_ce bin (geometric centre)")
    axes[0].set_ylabel("median log(ratio to P_ce)")
    axes[0].set_title("Predicted minimizer(P_ce)/P_ce vs observed focal/P_ce")
    axes[0].legend(fontsize=7)
    soft = [r for r in data.records if r["task"] == "multiclass" and r.get("n_over", 0) >= 5]
    names = sorted({r["dataset"] for r in soft})
    for i, name in enumerate(names):
        pts = [r for r in soft if r["dataset"] == name]
        axes[1].scatter(
            [r["median_pred_over"] for r in pts],
            [r["median_obs_over"] for r in pts],
            s=18,
            color=plt.cm.tab10(i % 10),
            label=name,
        )
    axes[1].axhline(1.0, color="k", lw=1, label="P_ce (no distortion)")
    xs = [r["median_pred_over"] for r in soft]
    if xs:
        axes[1].plot(
            [min(xs), max(xs)], [min(xs), max(xs)], "k--", lw=1, label="theory: = prediction"
        )
    axes[1].set_yscale("log")
    axes[1].set_xlabel("predicted minimizer(P_ce)/P_ce (median, over-suppressed entries)")
    axes[1].set_ylabel("observed focal/P_ce (median)")
    axes[1].set_title("Predicted over-suppressed entries (λ > 1, P_ce < 5%)")
    if names:
        axes[1].legend(fontsize=7)
    return fig_to_png(fig)


def make_figures(data: BenchmarkData) -> tuple[dict[str, bytes], dict[str, str]]:
    """The figures (only called when figures are requested) and their captions."""
    figures = {
        "benchmark_tv_ratios.png": tv_figure(data),
        "benchmark_regime.png": regime_figure(data),
    }
    captions = {
        "benchmark_tv_ratios.png": (
            "Every cell (data set x imbalance x γ x seed) of the benchmark. Top: how much closer "
            "the focal model's test probabilities are to minimizer(P_ce, γ) than to P_ce. "
            "Bottom: how much closer recover(focal) is to P_ce than the focal model itself."
        ),
        "benchmark_regime.png": (
            "Left: per bin of P_ce, the theory's ratio minimizer(P_ce)/P_ce (bars, median over "
            "cells) and the observed focal/P_ce (dots, one per cell). Right: cells with at least "
            "5 predicted over-suppressed entries; points above the line contradict the theory."
        ),
    }
    return figures, captions


# ---------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------


def run(
    config: Mapping[str, Any] | None = None, progress: Progress | None = None
) -> ExperimentResult:
    """Run the benchmark: focal, cross-entropy and the calibration maps on real data sets.

    Parameters
    ----------
    config : dict, optional
        The fields of :class:`BenchmarkConfig` (:func:`default_config`); an unknown key
        raises ``ValueError``.
    progress : callable, optional
        ``progress(advance, description)``, called once per (data set, imbalance, seed)
        unit (:func:`planned_units` calls).

    Returns
    -------
    ExperimentResult
        Claims, findings, tables, notes, the per-cell ``records``, and the figures when
        ``config["figures"]`` is true (only then is matplotlib imported). Training runs
        on one torch thread; the caller's thread count is restored.
    """
    return run_stages(
        sys.modules[__name__],
        config,
        progress,
        config_class=BenchmarkConfig,
        method=_method_text,
        threads=1,
        extras=lambda cfg, data: {
            "findings": make_findings(data),
            "notes": [recover_ece_note(data), *_boosted_note(data)],
            "records": {
                "benchmark": data.records,
                "benchmark_regime": data.regime,
                "benchmark_boosted": data.boosted,
            },
        },
    )


def _boosted_note(data: BenchmarkData) -> list[str]:
    if data.boosted or not data.cfg.binary:
        return []
    return [
        "The boosted-model comparison on the binary sets was skipped: lightgbm is not "
        "installed (pip install 'lightgbm>=4', part of the experiments extra)."
    ]


def _method_text(cfg: BenchmarkConfig, data: BenchmarkData) -> str:
    n_multi = len({r["dataset"] for r in data.records if r["task"] == "multiclass"})
    n_bin = len({r["dataset"] for r in data.records if r["task"] == "binary"})
    gammas = ", ".join(f"{g:g}" for g in cfg.gammas)
    return (
        f"{n_multi} multi-class data sets split first (stratified {SPLIT[0]:g}/{SPLIT[1]:g}/"
        f"{SPLIT[2]:g} train/validation/test), then every split subsampled to the same "
        f"exponential class profile at imbalance ratios {', '.join(f'{r:g}' for r in cfg.ratios)} "
        f"(a ratio is skipped when the rarest test class would have < {cfg.min_rare_test} rows); "
        f"{n_bin} binary KEEL sets at their natural imbalance (sigmoid focal loss, α = None and "
        f"0.25). One-hidden-layer MLP ({cfg.hidden} units, Adam, ~{cfg.steps} steps of "
        f"{cfg.batch_size}) trained with cross-entropy and focal loss γ ∈ {{{gammas}}}, "
        f"{cfg.seeds} seeds (a seed draws the split, the class order and the initialisation, "
        "shared by the CE and focal models). Maps fitted on validation, metrics on test. "
        "Binary probabilities are clipped to [2.2e-16, 1 - 2.2e-16] for the metrics. "
        f"Binary sets also get a LightGBM model ({BOOST_ROUNDS} rounds, "
        f"{BOOST_PARAMS['num_leaves']} leaves, learning rate {BOOST_PARAMS['learning_rate']:g}, "
        "seed of the cell) trained with the log loss (P_logloss) and with the focal objective "
        f"(γ = {cfg.summary_gamma:g}, same α, started from initial_score), when lightgbm is "
        "installed. "
        "Checks gate the exit code; findings are supported when the observed share reaches "
        "its threshold (>= 5 units), refuted when the upper end of its 95% Wilson interval "
        "stays below it, inconclusive otherwise."
    )
