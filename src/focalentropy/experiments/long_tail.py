"""Recalibrating focal-trained models: a long-tailed real data set and a synthetic check.

Two reusable experiments (they need torch and scikit-learn, imported when run):

* :func:`run_long_tail_experiment` trains a small MLP on a long-tailed version
  of scikit-learn's bundled ``load_digits`` (imbalance ratio 100 between the
  most and least frequent class, in every split) with cross-entropy and with
  focal loss for several ``gamma``, and measures accuracy, ECE, NLL and Brier
  score of the raw focal probabilities, after :class:`FocalRecalibrator`
  (``recover``), after :class:`TemperatureScaling`, after both
  (:class:`FocalTemperatureScaling`), and of the cross-entropy model. It also
  returns the test probabilities of every model so that a caller can check
  how well ``minimizer(P_ce, gamma)`` predicts the focal model's output.
* :func:`run_synthetic_recovery` draws data with a known class posterior
  ``P`` (Gaussian classes with long-tailed priors), trains a focal model and
  measures how close ``recover(Q_model)`` comes to ``P`` compared with the
  training error ``|Q_model - minimizer(P)|``.

Splits are drawn from the same long-tailed distribution (train, validation
for fitting the maps, test for the metrics), so a calibrated model must
reproduce the long-tailed posterior.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike

from ..calibration import (
    FocalRecalibrator,
    FocalTemperatureScaling,
    TemperatureScaling,
    calibration_report,
)
from ._benchmark_data import exponential_profile, shift_images
from ._common import Progress, _noop_progress, mean_tv, softmax, torch_threads, train_mlp_adam

__all__ = [
    "load_long_tail_digits",
    "run_long_tail_experiment",
    "run_synthetic_recovery",
    "train_mlp",
]

_METRIC_KEYS = ("accuracy", "ece", "ece_quantile", "classwise_ece", "nll", "brier")


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------


def load_long_tail_digits(
    imbalance_ratio: float = 100.0,
    *,
    seed: int = 0,
    augment: bool = True,
    split: Sequence[float] = (0.5, 0.2, 0.3),
) -> dict:
    """Long-tailed train/validation/test splits of ``sklearn.datasets.load_digits``.

    The 1797 images are split per class in the proportions ``split``; each
    split is (optionally) augmented with its one-pixel shifts, then class
    ``k`` (ordered by a seeded random permutation of the digits) keeps
    ``n_head * imbalance_ratio^(-k/(K-1))`` samples, so every split has the
    same long-tailed class distribution with ratio ``imbalance_ratio``
    between the largest and the smallest class.

    Parameters
    ----------
    imbalance_ratio : float, default 100
        Ratio of the largest to the smallest class size, ``>= 1``.
    seed : int, default 0
        Seed of the split, the class order and the subsampling.
    augment : bool, default True
        Add one-pixel shifts of the images (within each split, so no image
        leaks between splits).
    split : tuple of 3 floats, default (0.5, 0.2, 0.3)
        Fractions of each class going to train, validation and test.

    Returns
    -------
    dict
        ``X_train, y_train, X_val, y_val, X_test, y_test`` (features scaled
        to ``[0, 1]``, float32, shape (n, 64); labels int64 in ``0..9``),
        ``class_order`` (the digits from head to tail) and ``counts`` (per
        split, the class sizes in label order).

    Examples
    --------
    >>> from focalentropy.experiments.long_tail import load_long_tail_digits
    >>> data = load_long_tail_digits(100, seed=0, augment=False)
    >>> counts = data["counts"]["train"]
    >>> int(max(counts)), int(min(counts))
    (87, 1)
    """
    from sklearn.datasets import load_digits

    if not imbalance_ratio >= 1:
        raise ValueError(f"`imbalance_ratio` must be >= 1, got {imbalance_ratio!r}")
    fractions = np.asarray(split, dtype=float)
    if fractions.shape != (3,) or np.any(fractions <= 0) or fractions.sum() > 1 + 1e-12:
        raise ValueError(f"`split` must be 3 positive fractions summing to <= 1, got {split!r}")
    rng = np.random.default_rng(seed)
    digits = load_digits()
    images = digits.images / 16.0
    labels = digits.target
    n_classes = int(labels.max()) + 1
    class_order = rng.permutation(n_classes)
    pools = _split_per_class(labels, fractions, n_classes, rng)
    out: dict = {"class_order": class_order, "counts": {}}
    for name, parts in zip(("train", "val", "test"), pools, strict=True):
        x_split, y_split, keep = _long_tail_subsample(
            images, parts, class_order, imbalance_ratio, augment, rng
        )
        out[f"X_{name}"] = x_split
        out[f"y_{name}"] = y_split
        out["counts"][name] = keep
    return out


def _split_per_class(
    labels: np.ndarray, fractions: np.ndarray, n_classes: int, rng: np.random.Generator
) -> list[list[np.ndarray]]:
    """Indices of each class cut into train/validation/test: ``pools[split][class]``."""
    pools: list[list[np.ndarray]] = [[], [], []]
    for c in range(n_classes):
        idx = rng.permutation(np.flatnonzero(labels == c))
        cuts = np.floor(np.cumsum(fractions) * idx.size).astype(int)
        parts = np.split(idx[: cuts[2]], cuts[:2])
        for s, part in enumerate(parts):
            pools[s].append(part)
    return pools


def _long_tail_subsample(
    images: np.ndarray,
    parts: list[np.ndarray],
    class_order: np.ndarray,
    imbalance_ratio: float,
    augment: bool,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One split: ``(X, y, class sizes)``, (augmented and) subsampled to the long tail.

    ``parts[c]`` are the image indices of class ``c`` in this split; the head class keeps
    the size of the smallest pool, then the sizes decay along ``class_order``.
    """
    n_classes = len(parts)
    rank = np.empty(n_classes, dtype=int)
    rank[class_order] = np.arange(n_classes)
    xs, ys = [], []
    for c, part in enumerate(parts):
        x = images[part]
        if augment:
            x = shift_images(x)
        xs.append(x.reshape(x.shape[0], -1))
        ys.append(np.full(x.shape[0], c))
    available = np.array([y.size for y in ys])
    keep = exponential_profile(available[class_order], imbalance_ratio)[rank]
    x_split, y_split = [], []
    for c in range(n_classes):
        choice = rng.choice(ys[c].size, size=keep[c], replace=False)
        x_split.append(xs[c][choice])
        y_split.append(ys[c][choice])
    x_all = np.concatenate(x_split).astype(np.float32)
    y_all = np.concatenate(y_split).astype(np.int64)
    perm = rng.permutation(y_all.size)
    return x_all[perm], y_all[perm], keep


# ---------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------


def train_mlp(
    X: ArrayLike,
    y: ArrayLike,
    gamma: float = 0.0,
    *,
    hidden: int = 64,
    epochs: int = 60,
    batch_size: int = 64,
    lr: float = 3e-3,
    weight_decay: float = 1e-4,
    seed: int = 0,
    n_classes: int | None = None,
) -> Callable[[ArrayLike], np.ndarray]:
    """Train a one-hidden-layer MLP with focal loss (``gamma = 0``: cross-entropy).

    Adam on minibatches with :func:`focalentropy.torch.focal_loss`, CPU,
    float32, deterministic for a given ``seed``.

    Parameters
    ----------
    X : ndarray, shape (n, d)
        Features.
    y : ndarray of int, shape (n,)
        Labels in ``0..n_classes-1``.
    gamma : float, default 0
        Focusing parameter of the training loss.
    hidden, epochs, batch_size, lr, weight_decay : training hyper-parameters.
    seed : int, default 0
        Seed of the initialisation and the minibatch order.
    n_classes : int, optional
        Number of outputs (default ``y.max() + 1``).

    Returns
    -------
    callable
        ``predict_logits(X) -> ndarray (n, K)`` in float64.
    """
    import torch

    from ..torch import focal_loss

    n_classes = int(np.max(y)) + 1 if n_classes is None else int(n_classes)
    gen = torch.Generator().manual_seed(int(seed))
    torch.manual_seed(int(seed))
    xt = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    yt = torch.as_tensor(np.asarray(y), dtype=torch.int64)

    def loss(out: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return focal_loss(out, yt[idx], gamma=float(gamma))

    with torch_threads(1):
        model = train_mlp_adam(
            xt,
            n_classes,
            loss,
            hidden=hidden,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            weight_decay=weight_decay,
            generator=gen,
        )

    def predict_logits(X_new: ArrayLike) -> np.ndarray:
        with torch.no_grad(), torch_threads(1):
            return model(torch.as_tensor(np.asarray(X_new), dtype=torch.float64)).numpy()

    return predict_logits


def _row(
    model: str, gamma: float, mapping: str, probs: ArrayLike, labels: ArrayLike, n_bins: int
) -> dict:
    row = {"model": model, "gamma": float(gamma), "map": mapping}
    row.update(calibration_report(probs, labels, n_bins=n_bins))
    return row


# ---------------------------------------------------------------------------
# experiments
# ---------------------------------------------------------------------------


def run_long_tail_experiment(
    gammas: Sequence[float] = (1.0, 2.0, 3.0),
    seed: int = 0,
    quick: bool = True,
    *,
    imbalance_ratio: float = 100.0,
    n_bins: int = 15,
    epochs: int | None = None,
    augment: bool = True,
    progress: Progress | None = None,
) -> dict:
    """Focal vs cross-entropy on long-tailed digits, before and after recalibration.

    For cross-entropy and each focal ``gamma`` a small MLP is trained on the
    long-tailed training split; the maps are fitted on the validation split
    and evaluated on the test split:

    * ``raw``: the model's softmax output;
    * ``recover``: :class:`FocalRecalibrator` with the training ``gamma``;
    * ``recover(auto)``: :class:`FocalRecalibrator` with ``gamma="auto"``;
    * ``temperature``: :class:`TemperatureScaling`;
    * ``recover+temperature``: :class:`FocalTemperatureScaling`.

    Parameters
    ----------
    gammas : sequence of float, default (1, 2, 3)
        Focusing parameters of the focal models.
    seed : int, default 0
        Seed of the data split and of the training.
    quick : bool, default True
        60 epochs without, 150 epochs otherwise (the model over-fits more
        and the cross-entropy model gets more over-confident).
    imbalance_ratio : float, default 100
        Largest over smallest class size.
    n_bins : int, default 15
        Bins of the calibration errors.
    epochs : int, optional
        Overrides the number of epochs set by ``quick``.
    augment : bool, default True
        One-pixel-shift augmentation of :func:`load_long_tail_digits`.
    progress : callable, optional
        ``progress(advance, description)`` called after each trained model.

    Returns
    -------
    dict
        ``rows``: list of dicts with ``model`` ("cross-entropy" or "focal"),
        ``gamma``, ``map`` and the metrics ``accuracy, ece, ece_quantile,
        classwise_ece, nll, brier`` on the test split;
        ``labels``: test labels; ``probs``: ``{"ce": (n, K) array,
        gamma: (n, K) array, ...}`` raw test probabilities (float64) of every
        model; ``fitted``: per gamma the fitted ``temperature``,
        ``temperature_after_recover`` and ``gamma_auto`` (also under
        ``"ce"`` the CE model's temperature); ``argmax_preserved``: True if
        every map kept every test prediction; ``minimizer_check``: per gamma
        the mean total variation between the focal probabilities and
        ``minimizer(P_ce, gamma)`` next to that between the focal and the CE
        probabilities (the prediction of the theory vs no prediction);
        ``counts`` and ``config``.
    """
    progress = progress or _noop_progress
    n_epochs = int(epochs) if epochs is not None else (60 if quick else 150)
    data = load_long_tail_digits(imbalance_ratio, seed=seed, augment=augment)
    logits = _train_models(data, [float(g) for g in gammas], n_epochs, seed, progress)
    out = _evaluate_logits(logits, data["y_val"], data["y_test"], n_bins)
    out["counts"] = {k: v.tolist() for k, v in data["counts"].items()}
    out["config"] = {
        "gammas": [float(g) for g in gammas],
        "seed": int(seed),
        "quick": bool(quick),
        "imbalance_ratio": float(imbalance_ratio),
        "epochs": n_epochs,
        "n_bins": int(n_bins),
        "augment": bool(augment),
        "dataset": "sklearn.datasets.load_digits (long-tailed subsample)",
    }
    return out


def _train_models(
    data: dict, gammas: list[float], n_epochs: int, seed: int, progress: Callable
) -> dict:
    """``{"ce": (z_val, z_test), gamma: (z_val, z_test), ...}``: the logits of every model.

    One ``progress`` call after each trained model (``1 + len(gammas)`` in all).
    """
    n_classes = len(data["counts"]["train"])
    logits: dict = {}
    for key, g in [("ce", 0.0), *((g, g) for g in gammas)]:
        predict = train_mlp(
            data["X_train"], data["y_train"], g, epochs=n_epochs, seed=seed, n_classes=n_classes
        )
        logits[key] = (predict(data["X_val"]), predict(data["X_test"]))
        progress(
            1.0,
            "long-tail: cross-entropy model" if key == "ce" else f"long-tail: focal gamma={g:g}",
        )
    return logits


def _same_argmax(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a.argmax(axis=-1), b.argmax(axis=-1)))


def _evaluate_logits(logits: dict, y_val: np.ndarray, y_test: np.ndarray, n_bins: int) -> dict:
    """The metrics of every model and map from the models' logits (no training here).

    Parameters
    ----------
    logits : dict
        ``{"ce": (z_val, z_test), gamma: (z_val, z_test), ...}``, arrays of shape (n, K):
        the cross-entropy model first, then the focal models.
    y_val, y_test : ndarray of int
        Labels of the validation split (fitting the maps) and the test split (metrics).
    n_bins : int
        Bins of the calibration errors.

    Returns
    -------
    dict
        ``rows, labels, probs, fitted, argmax_preserved, minimizer_check`` as returned by
        :func:`run_long_tail_experiment`.
    """
    z_val, z_test = logits["ce"]
    ce = _evaluate_ce(z_val, z_test, y_val, y_test, n_bins)
    rows: list[dict] = ce["rows"]
    probs: dict[str | float, np.ndarray] = {"ce": ce["probs"]}
    fitted: dict[str | float, dict] = {"ce": ce["fitted"]}
    preserved, minimizer_check = ce["preserved"], {}
    for key, (z_val, z_test) in logits.items():
        if key == "ce":
            continue
        g = float(key)
        focal = _evaluate_focal(g, z_val, z_test, y_val, y_test, ce["probs"], n_bins)
        rows += focal["rows"]
        probs[g], fitted[g], minimizer_check[g] = focal["probs"], focal["fitted"], focal["check"]
        preserved &= focal["preserved"]
    return {
        "rows": rows,
        "labels": y_test,
        "probs": probs,
        "fitted": fitted,
        "argmax_preserved": bool(preserved),
        "minimizer_check": minimizer_check,
    }


def _evaluate_ce(
    z_val: np.ndarray, z_test: np.ndarray, y_val: np.ndarray, y_test: np.ndarray, n_bins: int
) -> dict:
    """Rows (raw, temperature), test probabilities and temperature of the CE model."""
    p_ce = softmax(z_test)
    ts = TemperatureScaling(from_logits=True).fit(z_val, y_val)
    p_ts = ts.transform(z_test)
    return {
        "rows": [
            _row("cross-entropy", 0.0, "raw", p_ce, y_test, n_bins),
            _row("cross-entropy", 0.0, "temperature", p_ts, y_test, n_bins),
        ],
        "probs": p_ce,
        "fitted": {"temperature": ts.temperature_},
        "preserved": _same_argmax(p_ts, p_ce),
    }


def _evaluate_focal(
    g: float,
    z_val: np.ndarray,
    z_test: np.ndarray,
    y_val: np.ndarray,
    y_test: np.ndarray,
    p_ce: np.ndarray,
    n_bins: int,
) -> dict:
    """Rows of every map, fitted parameters and the theory check of one focal model."""
    from .._minimizer import minimizer

    q = softmax(z_test)
    rec = FocalRecalibrator(g, from_logits=True).fit(z_val, y_val)
    auto = FocalRecalibrator("auto", from_logits=True).fit(z_val, y_val)
    temp = TemperatureScaling(from_logits=True).fit(z_val, y_val)
    both = FocalTemperatureScaling(g, from_logits=True).fit(z_val, y_val)
    maps = {"recover": rec, "recover(auto)": auto, "temperature": temp, "recover+temperature": both}
    rows = [_row("focal", g, "raw", q, y_test, n_bins)]
    preserved = True
    for name, cal in maps.items():
        p = cal.transform(z_test)
        preserved &= _same_argmax(p, q)
        rows.append(_row("focal", g, name, p, y_test, n_bins))
    return {
        "rows": rows,
        "probs": q,
        "preserved": preserved,
        "fitted": {
            "temperature": temp.temperature_,
            "temperature_after_recover": both.temperature_,
            "gamma_auto": auto.gamma_,
        },
        "check": {
            "tv_focal_vs_minimizer_of_ce": mean_tv(q, minimizer(p_ce, g)),
            "tv_focal_vs_ce": mean_tv(q, p_ce),
            "tv_recovered_vs_ce": mean_tv(rec.transform(z_test), p_ce),
        },
    }


def run_synthetic_recovery(
    gamma: float = 2.0,
    *,
    n_classes: int = 4,
    n_train: int | None = None,
    imbalance_ratio: float = 10.0,
    seed: int = 0,
    quick: bool = True,
    epochs: int | None = None,
) -> dict:
    """Train a focal model on data with a known posterior ``P`` and recover ``P``.

    Classes ``k`` have priors ``pi_k ∝ ratio^(-k/(K-1))`` and 2-d Gaussian
    features ``N(mu_k, I)`` with means on a circle of radius 1.5, so the
    posterior ``P(k | x) = softmax_k(mu_k . x - |mu_k|^2 / 2 + log pi_k)``
    is known exactly. An MLP trained with focal loss estimates
    ``Q* = minimizer(P, gamma)``; :class:`FocalRecalibrator` maps its output
    back to ``P``. On fresh test points the function reports the mean total
    variation of

    * ``tv_raw``: ``Q_model`` vs ``P`` (the focal distortion plus training error),
    * ``tv_recovered``: ``recover(Q_model)`` vs ``P``,
    * ``tv_training``: ``Q_model`` vs ``minimizer(P)`` (the training error),
    * ``tv_recover_exact``: ``recover(minimizer(P))`` vs ``P`` (round-off).

    Parameters
    ----------
    gamma : float, default 2
        Focusing parameter of the training loss.
    n_classes : int, default 4
        Number of classes.
    n_train : int, optional
        Training samples (default 20000 quick, 100000 otherwise).
    imbalance_ratio : float, default 10
        Ratio of the largest to the smallest prior.
    seed : int, default 0
        Seed of the data and of the training.
    quick : bool, default True
        Smaller training set and fewer epochs.
    epochs : int, optional
        Overrides the number of epochs set by ``quick``.

    Returns
    -------
    dict
        The four distances above, ``n_train``, ``epochs`` and ``gamma``.
    """
    from .._minimizer import minimizer, recover

    rng = np.random.default_rng(seed)
    n_train = int(n_train) if n_train is not None else (20_000 if quick else 100_000)
    n_epochs = int(epochs) if epochs is not None else (15 if quick else 30)
    problem = _GaussianClasses(n_classes, imbalance_ratio)
    x_train, y_train = problem.sample(n_train, rng)
    x_test, _ = problem.sample(5000, rng)
    predict = train_mlp(
        x_train,
        y_train,
        gamma,
        hidden=32,
        epochs=n_epochs,
        batch_size=256,
        lr=3e-3,
        weight_decay=0.0,
        seed=seed,
        n_classes=n_classes,
    )
    z = predict(x_test)
    q_model = softmax(z)
    p_true = problem.posterior(x_test)
    q_star = minimizer(p_true, gamma)
    p_rec = FocalRecalibrator(gamma, from_logits=True).transform(z)
    return {
        "gamma": float(gamma),
        "n_train": n_train,
        "epochs": n_epochs,
        "tv_raw": mean_tv(q_model, p_true),
        "tv_recovered": mean_tv(p_rec, p_true),
        "tv_training": mean_tv(q_model, q_star),
        "tv_recover_exact": mean_tv(recover(q_star, gamma), p_true),
    }


class _GaussianClasses:
    """2-d unit Gaussian classes, means on a circle of radius 1.5, long-tailed priors."""

    def __init__(self, n_classes: int, imbalance_ratio: float):
        self.n_classes = n_classes
        angles = 2 * np.pi * np.arange(n_classes) / n_classes
        self.means = 1.5 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        prior = imbalance_ratio ** (-np.arange(n_classes) / max(n_classes - 1, 1))
        self.prior = prior / prior.sum()

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        y = rng.choice(self.n_classes, size=n, p=self.prior)
        x = self.means[y] + rng.normal(size=(n, 2))
        return x, y

    def posterior(self, x: np.ndarray) -> np.ndarray:
        """The exact class posterior ``P(k | x)``, shape (n, K)."""
        means = self.means
        return softmax(x @ means.T - 0.5 * np.sum(means**2, axis=1) + np.log(self.prior))
