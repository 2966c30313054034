"""Structured results shared by the experiments of the validation suite.

Every experiment is a function ``run(config, progress=None) -> ExperimentResult``.
The result is plain data (numbers, strings, PNG bytes) so that it can travel
back from a joblib worker or a Dask cluster and be rendered by
:mod:`focalentropy.report` without re-running anything.
"""

from __future__ import annotations

import contextlib
import io
import math
import numbers
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np

if TYPE_CHECKING:
    import torch
    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike

__all__ = [
    "Claim",
    "ExperimentResult",
    "FieldCheck",
    "Finding",
    "Progress",
    "Table",
    "coerce_config_fields",
    "config_from_dict",
    "config_to_dict",
    "derive_seed",
    "fig_to_png",
    "fit_loglog_slope",
    "gammas_check",
    "int_at_least",
    "ints_at_least",
    "lbfgs_minimize",
    "mean_tv",
    "no_range",
    "one_of",
    "points_check",
    "probability_vector",
    "pyplot",
    "real_in",
    "reals_in",
    "run_stages",
    "softmax",
    "subset_of",
    "to_builtin",
    "torch_threads",
    "train_mlp_adam",
    "validate_config",
]

#: ``progress(advance, description)``: called by experiments after each unit of work.
Progress = Callable[[float, str], None]


def _noop_progress(advance: float = 1.0, description: str = "") -> None:
    return None


@dataclass
class Claim:
    """One checked statement.

    Attributes
    ----------
    id : str
        Stable identifier, e.g. ``"2.slope.free"``.
    statement : str
        The claim in words (what the theory page, docs/theory.rst, predicts).
    metric : str
        What ``value`` measures.
    value : float
        The measured value.
    threshold : str
        The pass condition in words, e.g. ``"in [-0.7, -0.3]"`` or ``"< 1e-8"``.
    passed : bool
        Whether ``value`` satisfies the threshold.
    """

    id: str
    statement: str
    metric: str
    value: float
    threshold: str
    passed: bool

    @classmethod
    def less(cls, id: str, statement: str, metric: str, value: float, bound: float) -> Claim:
        """Claim ``value < bound``."""
        value = float(value)
        return cls(id, statement, metric, value, f"< {bound:.3g}", bool(value < bound))

    @classmethod
    def greater(cls, id: str, statement: str, metric: str, value: float, bound: float) -> Claim:
        """Claim ``value > bound``."""
        value = float(value)
        return cls(id, statement, metric, value, f"> {bound:.3g}", bool(value > bound))

    @classmethod
    def between(
        cls, id: str, statement: str, metric: str, value: float, lo: float, hi: float
    ) -> Claim:
        """Claim ``lo <= value <= hi``."""
        value = float(value)
        return cls(
            id, statement, metric, value, f"in [{lo:.3g}, {hi:.3g}]", bool(lo <= value <= hi)
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["value"] = to_builtin(d["value"])
        return d


#: Status of a :class:`Finding`.
FINDING_STATUSES = ("supported", "refuted", "inconclusive")


@dataclass
class Finding:
    """An empirical statement tested on data: recorded with a status, never gating.

    A :class:`Claim` checks the library (its failure sets the exit code); a
    finding answers an open empirical question (e.g. "recover alone lowers
    ECE") with ``status`` ``"supported"``, ``"refuted"`` or ``"inconclusive"``;
    a refuted finding is a result, not a failure.

    Attributes
    ----------
    id, statement, metric, value, threshold
        As for :class:`Claim`.
    status : {"supported", "refuted", "inconclusive"}
    evidence : str
        The numbers behind the status, in words.
    """

    id: str
    statement: str
    metric: str
    value: float
    threshold: str
    status: str
    evidence: str = ""

    def __post_init__(self) -> None:
        if self.status not in FINDING_STATUSES:
            raise ValueError(f"`status` must be one of {FINDING_STATUSES}, got {self.status!r}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["value"] = to_builtin(d["value"])
        d["kind"] = "finding"
        return d


@dataclass
class Table:
    """A small table: a title, column names and rows of plain values."""

    title: str
    columns: list[str]
    rows: list[list[Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "columns": list(self.columns), "rows": to_builtin(self.rows)}


@dataclass
class ExperimentResult:
    """What an experiment hands to the runner and the report.

    Attributes
    ----------
    id : str
        Short identifier (``"theory"``, ``"discrete"``, ...).
    number : int
        Position in the report (1-4).
    title : str
        Section title.
    claim : str
        The experiment's claim, one paragraph.
    method : str
        How it is checked (data, model, training, metric), one paragraph.
    claims : list of Claim
        The checked statements; the experiment passes iff all pass.
    tables : list of Table
        Tables shown in the report.
    figures : dict of str to bytes
        PNG images keyed by file name (``"ratio_vs_p.png"``).
    captions : dict of str to str
        Caption per figure.
    config : dict
        The settings the experiment ran with (seed included).
    seconds : float
        Wall-clock time (not part of the reproducible numbers).
    notes : list of str
        Observations worth reporting that are not claims (e.g. a metric that did not improve).
    error : str or None
        Traceback text if the experiment crashed (then ``claims`` holds one failing claim).
    findings : list of Finding
        Empirical statements with a status; they do not decide ``passed``.
    records : dict of str to list of dict
        Per-unit result tables (``results.json["tables"]``), e.g. one record per cell.
    """

    id: str
    number: int
    title: str
    claim: str
    method: str = ""
    claims: list[Claim] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: dict[str, bytes] = field(default_factory=dict)
    captions: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    findings: list[Finding] = field(default_factory=list)
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.claims) and all(c.passed for c in self.claims)

    def to_dict(self, figure_paths: dict[str, str] | None = None) -> dict[str, Any]:
        """JSON-ready summary; figures are given as paths (when written) not bytes."""
        return {
            "id": self.id,
            "number": self.number,
            "title": self.title,
            "claim": self.claim,
            "method": self.method,
            "passed": self.passed,
            "claims": [c.to_dict() for c in self.claims],
            "findings": [f.to_dict() for f in self.findings],
            "tables": [t.to_dict() for t in self.tables],
            "figures": figure_paths if figure_paths is not None else sorted(self.figures),
            "config": to_builtin(self.config),
            "notes": list(self.notes),
            "error": self.error,
        }


_Config = TypeVar("_Config")

#: Converters of the scalar field types a config dataclass may declare.
_SCALAR_TYPES: dict[str, tuple[type, str]] = {
    "int": (int, "an integer"),
    "float": (float, "a real number"),
    "bool": (bool, "a bool"),
    "str": (str, "a string"),
}


def _convert(value: Any, kind: str, key: str, experiment: str, optional: bool = False) -> Any:
    """``value`` as the scalar type ``kind``, or a TypeError naming ``key``."""
    if optional and value is None:
        return None
    target, text = _SCALAR_TYPES[kind]
    if kind == "bool":
        ok = isinstance(value, (bool, np.bool_))
    elif kind == "str":
        ok = isinstance(value, str)
    elif isinstance(value, (bool, np.bool_)):
        ok = False
    elif kind == "int":
        ok = isinstance(value, numbers.Integral) or (
            isinstance(value, numbers.Real) and float(value).is_integer()
        )
    else:
        ok = isinstance(value, numbers.Real)
    if not ok:
        text += " or None" if optional else ""
        raise TypeError(f"`{key}` of experiment {experiment!r} must be {text}, got {value!r}")
    return target(value)


def _split_optional(kind: str) -> tuple[str, bool]:
    """``("int", True)`` for ``"int | None"``, ``("int", False)`` for ``"int"``."""
    for suffix in (" | None", "|None"):
        if kind.endswith(suffix):
            return kind[: -len(suffix)].strip(), True
    return kind, False


def coerce_config_fields(cfg: Any, experiment: str) -> None:
    """Convert the fields of the config dataclass ``cfg`` to their declared types, in place.

    Fields annotated ``int``, ``float``, ``bool``, ``str`` (optionally ``| None``) or
    ``tuple[<one of those>, ...]`` / ``list[<one of those>]`` are converted (a list becomes a
    tuple for a tuple field, ``1e3`` an ``int``); other fields are left alone. Call it from
    ``__post_init__`` (:func:`validate_config` does).

    Raises
    ------
    TypeError
        Naming the key and, in a sequence, the first bad index:
        ``"`config['ks'][2]` of experiment 'theory' must be an integer, got 2.5"``.
    """
    for f in fields(cfg):
        kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
        value = getattr(cfg, f.name)
        key = f"config[{f.name!r}]"
        base, optional = _split_optional(kind)
        container: type | None = None
        if base in _SCALAR_TYPES:
            new = _convert(value, base, key, experiment, optional)
        elif base.startswith("tuple[") and base.endswith(", ...]"):
            container, item = tuple, base[len("tuple[") : -len(", ...]")]
        elif base.startswith("list[") and base.endswith("]") and not optional:
            container, item = list, base[len("list[") : -1]
        else:
            continue
        if container is not None:
            item, item_optional = _split_optional(item)
            if item not in _SCALAR_TYPES or optional:
                continue
            new = container(
                _convert(v, item, f"{key}[{i}]", experiment, item_optional)
                for i, v in enumerate(_as_sequence(value, f.name, experiment))
            )
        object.__setattr__(cfg, f.name, new)


# ---------------------------------------------------------------------------
# range checks of config fields (validate_config)
# ---------------------------------------------------------------------------

#: A range check of one config field: ``check(value, key, experiment)`` raises a
#: ``ValueError`` (``TypeError`` for a value of the wrong kind) naming the key.
FieldCheck = Callable[[Any, str, str], None]

#: Tolerance on the sum of a probability vector (:func:`probability_vector`).
PROBABILITY_SUM_TOL = 1e-6


def _where(key: str, experiment: str, index: int | None = None) -> str:
    """``"`config['key'][i]` of experiment 'name'"``."""
    item = "" if index is None else f"[{index}]"
    return f"`config[{key!r}]{item}` of experiment {experiment!r}"


def _interval_text(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    """``"a finite number >= 0"``, ``"a finite number in (0, 1]"``, ..."""
    if lo is not None and hi is not None:
        left, right = "(" if lo_open else "[", ")" if hi_open else "]"
        return f"a finite number in {left}{lo:g}, {hi:g}{right}"
    if lo is not None:
        return f"a finite number {'>' if lo_open else '>='} {lo:g}"
    if hi is not None:
        return f"a finite number {'<' if hi_open else '<='} {hi:g}"
    return "a finite number"


def _in_interval(
    v: float, lo: float | None, hi: float | None, lo_open: bool, hi_open: bool
) -> bool:
    if not math.isfinite(v):
        return False
    if lo is not None and (v <= lo if lo_open else v < lo):
        return False
    return not (hi is not None and (v >= hi if hi_open else v > hi))


def _as_sequence(value: Any, key: str, experiment: str) -> list[Any]:
    if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{_where(key, experiment)} must be a list, got {value!r}")
    return list(value)


def no_range(value: Any, key: str, experiment: str) -> None:
    """The check of a field without a range (a bool switch, a seed-free flag): its type is
    checked by :func:`coerce_config_fields`, nothing more."""
    return None


def int_at_least(minimum: int) -> FieldCheck:
    """Check: an integer ``>= minimum``."""

    def check(value: Any, key: str, experiment: str) -> None:
        if value < minimum:
            raise ValueError(f"{_where(key, experiment)} must be >= {minimum}, got {value!r}")

    return check


def real_in(
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> FieldCheck:
    """Check: a finite real number in the interval from ``lo`` to ``hi`` (``None``: unbounded;
    ``lo_open``/``hi_open`` exclude the end point)."""
    text = _interval_text(lo, hi, lo_open, hi_open)

    def check(value: Any, key: str, experiment: str) -> None:
        if not _in_interval(float(value), lo, hi, lo_open, hi_open):
            raise ValueError(f"{_where(key, experiment)} must be {text}, got {value!r}")

    return check


def _check_items(
    items: list[Any],
    key: str,
    experiment: str,
    min_length: int,
    distinct: bool,
    increasing: bool,
) -> None:
    if len(items) < min_length:
        need = "must not be empty" if min_length == 1 else f"needs at least {min_length} entries"
        raise ValueError(f"{_where(key, experiment)} {need}, got {items!r}")
    seen: dict[Any, int] = {}
    for i, v in enumerate(items):
        if distinct and v in seen:
            raise ValueError(
                f"{_where(key, experiment, i)} repeats entry {seen[v]}: the entries must be "
                f"distinct, got {v!r}"
            )
        seen.setdefault(v, i)
        if increasing and i > 0 and not v > items[i - 1]:
            raise ValueError(
                f"{_where(key, experiment, i)} must be greater than the entry before it "
                f"({items[i - 1]!r}): the entries must increase, got {v!r}"
            )


def reals_in(
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    min_length: int = 1,
    distinct: bool = False,
    increasing: bool = False,
) -> FieldCheck:
    """Check: a sequence of at least ``min_length`` finite reals, each as for :func:`real_in`
    (``None`` entries are allowed when the field is declared ``list[float | None]``), distinct
    or increasing when asked."""
    text = _interval_text(lo, hi, lo_open, hi_open)

    def check(value: Any, key: str, experiment: str) -> None:
        items = _as_sequence(value, key, experiment)
        for i, v in enumerate(items):
            if v is not None and not _in_interval(float(v), lo, hi, lo_open, hi_open):
                raise ValueError(f"{_where(key, experiment, i)} must be {text}, got {v!r}")
        _check_items(items, key, experiment, min_length, distinct, increasing)

    return check


def ints_at_least(
    minimum: int, *, min_length: int = 1, distinct: bool = False, increasing: bool = False
) -> FieldCheck:
    """Check: a sequence of at least ``min_length`` integers ``>= minimum``."""

    def check(value: Any, key: str, experiment: str) -> None:
        items = _as_sequence(value, key, experiment)
        for i, v in enumerate(items):
            if v < minimum:
                raise ValueError(f"{_where(key, experiment, i)} must be >= {minimum}, got {v!r}")
        _check_items(items, key, experiment, min_length, distinct, increasing)

    return check


def gammas_check(*, positive: bool = False) -> FieldCheck:
    """Check: a non-empty sequence of distinct focusing parameters ``gamma >= 0``
    (``> 0`` when ``positive``)."""
    return reals_in(0.0, lo_open=positive, distinct=True)


def probability_vector(*, min_length: int = 2) -> FieldCheck:
    """Check: at least ``min_length`` finite positive entries summing to 1 (within
    :data:`PROBABILITY_SUM_TOL`)."""

    def check(value: Any, key: str, experiment: str) -> None:
        items = _as_sequence(value, key, experiment)
        for i, v in enumerate(items):
            if not _in_interval(float(v), 0.0, 1.0, True, False):
                raise ValueError(
                    f"{_where(key, experiment, i)} must be a probability in (0, 1], got {v!r}"
                )
        _check_items(items, key, experiment, min_length, False, False)
        total = math.fsum(float(v) for v in items)
        if abs(total - 1.0) > PROBABILITY_SUM_TOL:
            raise ValueError(
                f"{_where(key, experiment)} must sum to 1 (a probability vector), "
                f"got {items!r} (sum {total:.6g})"
            )

    return check


def points_check(*, min_length: int = 1, length: int | None = None) -> FieldCheck:
    """Check: a list of points (each a non-empty list of finite reals, all of one dimension),
    at least ``min_length`` of them, exactly ``length`` when given."""

    def check(value: Any, key: str, experiment: str) -> None:
        items = _as_sequence(value, key, experiment)
        if length is not None and len(items) != length:
            raise ValueError(
                f"{_where(key, experiment)} must be {length} points, got {len(items)}: {items!r}"
            )
        _check_items(items, key, experiment, min_length, False, False)
        dim = None
        for i, point in enumerate(items):
            if isinstance(point, (str, bytes, Mapping)) or not hasattr(point, "__iter__"):
                raise TypeError(
                    f"{_where(key, experiment, i)} must be a point (a list of numbers), "
                    f"got {point!r}"
                )
            coords = list(point)
            if not coords or not all(math.isfinite(float(c)) for c in coords):
                raise ValueError(
                    f"{_where(key, experiment, i)} must be a non-empty list of finite numbers, "
                    f"got {point!r}"
                )
            if dim is not None and len(coords) != dim:
                raise ValueError(
                    f"{_where(key, experiment, i)} must have {dim} coordinates like the "
                    f"first point, got {point!r}"
                )
            dim = len(coords)

    return check


def one_of(options: Sequence[str]) -> FieldCheck:
    """Check: one of ``options``."""

    def check(value: Any, key: str, experiment: str) -> None:
        if value not in options:
            raise ValueError(
                f"{_where(key, experiment)} must be one of {', '.join(map(repr, options))}, "
                f"got {value!r}"
            )

    return check


def subset_of(options: Sequence[str], *, min_length: int = 1) -> FieldCheck:
    """Check: at least ``min_length`` distinct entries, each one of ``options``."""

    def check(value: Any, key: str, experiment: str) -> None:
        items = _as_sequence(value, key, experiment)
        for i, v in enumerate(items):
            if v not in options:
                raise ValueError(
                    f"{_where(key, experiment, i)} must be one of "
                    f"{', '.join(map(repr, options))}, got {v!r}"
                )
        _check_items(items, key, experiment, min_length, True, False)

    return check


def validate_config(cfg: Any, experiment: str, checks: Mapping[str, FieldCheck]) -> None:
    """Convert (:func:`coerce_config_fields`) and range-check every field of ``cfg``.

    The body of a config dataclass's ``__post_init__``: ``checks`` maps every field
    name to its check (:func:`int_at_least`, :func:`real_in`, :func:`reals_in`,
    :func:`gammas_check`, :func:`probability_vector`, :func:`one_of`, :func:`subset_of`,
    or :func:`no_range` for a switch), so a field cannot be left unchecked.

    Raises
    ------
    TypeError
        A value of the wrong type (from :func:`coerce_config_fields`), or ``checks``
        does not cover exactly the fields of ``cfg`` (a programming error).
    ValueError
        A value out of range, naming the experiment, the key, the first bad index and the
        value: ``"`config['gammas'][0]` of experiment 'theory' must be a finite number
        >= 0, got -1.0"``.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Demo:
    ...     steps: int = 10
    ...     def __post_init__(self) -> None:
    ...         validate_config(self, "demo", {"steps": int_at_least(1)})
    >>> Demo(0)
    Traceback (most recent call last):
    ...
    ValueError: `config['steps']` of experiment 'demo' must be >= 1, got 0
    """
    coerce_config_fields(cfg, experiment)
    names = [f.name for f in fields(cfg)]
    unchecked, unknown = sorted(set(names) - set(checks)), sorted(set(checks) - set(names))
    if unchecked or unknown:
        raise TypeError(
            f"the checks of {type(cfg).__name__} must cover exactly its fields: "
            f"unchecked {unchecked}, unknown {unknown}"
        )
    for name in names:
        checks[name](getattr(cfg, name), name, experiment)


def config_from_dict(
    cls: type[_Config], config: Mapping[str, Any] | None, experiment: str
) -> _Config:
    """Build the config dataclass ``cls`` of ``experiment`` from the dict the runner passes.

    Parameters
    ----------
    cls : dataclass type
        Every field has a default (the quick settings); missing keys take it.
    config : mapping or None
        ``{field: value}``; ``None`` gives ``cls()``.
    experiment : str
        Named in the error messages.

    Raises
    ------
    TypeError
        ``config`` is not a mapping.
    ValueError
        ``config`` has a key that is not a field of ``cls`` (the first such key is named).

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Demo:
    ...     steps: int = 10
    >>> config_from_dict(Demo, {"steps": 3}, "demo")
    Demo(steps=3)
    >>> config_from_dict(Demo, {"step": 3}, "demo")
    Traceback (most recent call last):
    ...
    ValueError: `config` of experiment 'demo' has an unknown key 'step'; expected keys: steps
    """
    if not (isinstance(cls, type) and is_dataclass(cls)):
        raise TypeError(f"`cls` must be a dataclass type, got {cls!r}")
    if config is None:
        return cls()
    if not isinstance(config, Mapping):
        raise TypeError(
            f"`config` of experiment {experiment!r} must be a dict, got {type(config).__name__}"
        )
    known = {f.name for f in fields(cls)}
    for key in config:
        if key not in known:
            raise ValueError(
                f"`config` of experiment {experiment!r} has an unknown key {key!r}; "
                f"expected keys: {', '.join(sorted(known))}"
            )
    return cls(**config)


class _DrawsFigures(Protocol):
    """A config dataclass with a ``figures`` switch."""

    @property
    def figures(self) -> bool: ...


_RunConfig = TypeVar("_RunConfig", bound=_DrawsFigures)


def run_stages(
    experiment: ModuleType,
    config: Mapping[str, Any] | None,
    progress: Progress | None,
    *,
    config_class: type[_RunConfig],
    method: Callable[[_RunConfig, Any], str],
    threads: int | None = None,
    extras: Callable[[_RunConfig, Any], Mapping[str, Any]] | None = None,
) -> ExperimentResult:
    """Run an experiment module's stages, compute -> claims -> tables -> figures.

    The body of every experiment's ``run``. ``experiment`` is the experiment's module;
    it declares ``ID``, ``NUMBER``, ``TITLE`` and ``CLAIM`` and the stages
    ``default_config()``, ``compute(cfg, progress) -> data``, ``make_claims(data)``,
    ``make_tables(data)`` and ``make_figures(data) -> (figures, captions)``, looked up
    when called. The config dataclass is built from the runner's dict
    (:func:`config_from_dict`; ``default_config()`` when ``config`` is None), the data
    computed (inside ``torch_threads(threads)`` when ``threads`` is given), then the
    claims, the tables and, when the config's ``figures`` field is true, the figures
    (matplotlib is imported only then).

    Parameters
    ----------
    experiment : module
        The experiment module, as described above.
    config : mapping or None
        The runner's dict for ``config_class``.
    progress : callable or None
        ``progress(advance, description)``, passed to ``compute`` (no-op when None).
    config_class : dataclass type
        The experiment's settings, with a ``figures`` field.
    method : callable
        ``method(cfg, data) -> str``: the result's ``method`` paragraph.
    threads : int, optional
        torch's thread count while computing (the caller's count is restored).
    extras : callable, optional
        ``extras(cfg, data) -> {field: value}``: more fields of the
        :class:`ExperimentResult` (``notes``, ``findings``, ``records``), or a
        ``config`` replacing ``config_to_dict(cfg)``.

    Returns
    -------
    ExperimentResult
    """
    if config is not None and not isinstance(config, Mapping):
        raise TypeError(
            f"`config` of experiment {experiment.ID!r} must be a dict, got "
            f"{type(config).__name__}: {config!r}"
        )
    raw = experiment.default_config() if config is None else config
    cfg = config_from_dict(config_class, raw, experiment.ID)
    progress = progress or _noop_progress
    with torch_threads(threads) if threads is not None else contextlib.nullcontext():
        data = experiment.compute(cfg, progress)
    claims = experiment.make_claims(data)
    tables = experiment.make_tables(data)
    figures, captions = experiment.make_figures(data) if cfg.figures else ({}, {})
    more: dict[str, Any] = {"config": config_to_dict(cfg)}
    if extras is not None:
        more.update(extras(cfg, data))
    return ExperimentResult(
        id=experiment.ID,
        number=experiment.NUMBER,
        title=experiment.TITLE,
        claim=experiment.CLAIM,
        method=method(cfg, data),
        claims=claims,
        tables=tables,
        figures=figures,
        captions=captions,
        **more,
    )


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """The plain dict of a config dataclass (tuples, also nested ones, become lists): the
    inverse of :func:`config_from_dict`, stored in :attr:`ExperimentResult.config`."""
    return {f.name: _tuples_to_lists(getattr(cfg, f.name)) for f in fields(cfg)}


def _tuples_to_lists(value: Any) -> Any:
    """``value`` with every tuple, at any depth, made a list."""
    return [_tuples_to_lists(v) for v in value] if isinstance(value, tuple) else value


def fig_to_png(fig: Figure, dpi: int = 110) -> bytes:
    """Render a matplotlib figure to PNG bytes and close it.

    The PNG metadata (software version, date) is stripped so that the same
    run gives byte-identical images.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def fit_loglog_slope(x: ArrayLike, y: ArrayLike) -> float:
    """Least-squares slope of ``log y`` against ``log x``.

    Parameters
    ----------
    x, y : array_like, shape (m,)
        Positive values, ``m >= 2``.

    Returns
    -------
    float
        The fitted exponent ``b`` in ``y ~ a x^b``.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or x.size < 2:
        raise ValueError("`x` and `y` must be 1-d arrays of the same length >= 2")
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("`x` and `y` must be positive for a log-log fit")
    slope, _ = np.polyfit(np.log(x), np.log(y), 1)
    return float(slope)


def derive_seed(seed: int, *keys: int | str) -> int:
    """A 32-bit seed derived deterministically from ``seed`` and ``keys``."""
    words = [int(seed)]
    for k in keys:
        if isinstance(k, str):
            words.extend(k.encode())
        else:
            words.append(int(k))
    return int(np.random.SeedSequence(words).generate_state(1)[0])


def softmax(z: np.ndarray) -> np.ndarray:
    """Class probabilities of the scores ``z`` (softmax over the last axis)."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def mean_tv(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over rows of the total-variation distance between ``a`` and ``b``."""
    return float(np.mean(0.5 * np.abs(a - b).sum(axis=-1)))


def to_builtin(obj: Any) -> Any:
    """Convert numpy scalars/arrays (nested in lists/dicts) to JSON-ready builtins."""
    if isinstance(obj, dict):
        return {str(k): to_builtin(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_builtin(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_builtin(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    return obj


_STYLE = {
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "font.size": 10,
}


class _Plotting:
    """Figure factory that does not use pyplot's global figure manager.

    Figures are :class:`matplotlib.figure.Figure` objects rendered by the Agg
    canvas, so experiments can draw concurrently in threads (joblib threading
    or a Dask worker with several threads).
    """

    def __init__(self) -> None:
        import matplotlib
        import matplotlib.cm
        import matplotlib.lines

        self.cm = matplotlib.cm
        self.Line2D = matplotlib.lines.Line2D
        params: Any = matplotlib.rcParams  # typed with Literal keys
        params.update(_STYLE)

    def subplots(
        self,
        nrows: int = 1,
        ncols: int = 1,
        *,
        figsize: tuple[float, float] | None = None,
        **kwargs: Any,
    ) -> tuple[Figure, Any]:
        from matplotlib.figure import Figure

        fig = Figure(figsize=figsize, layout="constrained")
        return fig, fig.subplots(nrows, ncols, **kwargs)


def pyplot() -> _Plotting:
    """A thread-safe stand-in for ``matplotlib.pyplot`` (``subplots``, ``cm``, ``Line2D``)."""
    return _Plotting()


# torch's thread count is process-wide: experiments running side by side in threads
# (run_suite(backend="threading")) share one saved count, restored by the last to leave
_THREADS_LOCK = threading.Lock()
_threads_depth = 0
_threads_saved = 0


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)`` and restore the caller's count after.

    Experiments train with one thread (reproducible timings, no oversubscription under
    joblib); a notebook user must not be left single-threaded afterwards. Nested and
    concurrent uses (threads) restore the count only when the last one exits.
    """
    import torch

    global _threads_depth, _threads_saved
    with _THREADS_LOCK:
        if _threads_depth == 0:
            _threads_saved = torch.get_num_threads()
        _threads_depth += 1
        torch.set_num_threads(n)
    try:
        yield
    finally:
        with _THREADS_LOCK:
            _threads_depth -= 1
            if _threads_depth == 0:
                torch.set_num_threads(_threads_saved)


def _adam(
    params: Sequence[torch.Tensor],
    lr: float,
    weight_decay: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> Callable[[], None]:
    """A minimal Adam (L2 weight decay added to the gradient, as ``torch.optim.Adam``).

    Written out because constructing a ``torch.optim`` optimizer imports
    ``torch._dynamo``, which costs seconds; the update is the textbook one.
    """
    import torch

    m = [torch.zeros_like(p) for p in params]
    v = [torch.zeros_like(p) for p in params]
    t = [0]

    @torch.no_grad()
    def step() -> None:
        t[0] += 1
        c1 = 1.0 - betas[0] ** t[0]
        c2 = 1.0 - betas[1] ** t[0]
        for p, m_p, v_p in zip(params, m, v, strict=True):
            if p.grad is None:  # not used by the loss: left alone, as torch.optim.Adam does
                continue
            g = p.grad + weight_decay * p
            m_p.mul_(betas[0]).add_(g, alpha=1.0 - betas[0])
            v_p.mul_(betas[1]).addcmul_(g, g, value=1.0 - betas[1])
            p.sub_(lr * (m_p / c1) / ((v_p / c2).sqrt() + eps))

    return step


def train_mlp_adam(
    x: torch.Tensor,
    n_out: int,
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    hidden: int,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    generator: torch.Generator,
) -> torch.nn.Module:
    """Train a one-hidden-layer ReLU MLP with minibatch Adam; return it in float64, eval mode.

    The weights are initialised from torch's global generator (seed it first); the
    minibatch order comes from ``generator``: one ``randperm`` of the rows per epoch,
    batches of ``batch_size`` in that order. Runs with the caller's torch threads.

    Parameters
    ----------
    x : torch.Tensor, shape (n, d)
        Float32 features.
    n_out : int
        Number of outputs.
    loss : callable
        ``loss(outputs, idx) -> scalar tensor``: the loss of the minibatch of rows
        ``idx`` (a tensor of indices into ``x``), ``outputs`` of shape (len(idx), n_out).
    hidden, epochs, batch_size, lr, weight_decay
        Training hyper-parameters.
    generator : torch.Generator
        Draws the minibatch order.

    Returns
    -------
    torch.nn.Module
        ``x (m, d) -> logits (m, n_out)``, float64, in eval mode.
    """
    import torch

    model = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, n_out),
    )
    params = list(model.parameters())
    step = _adam(params, lr=lr, weight_decay=weight_decay)
    n = x.shape[0]
    for _ in range(epochs):
        perm = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            for p in params:
                p.grad = None
            loss(model(x[idx]), idx).backward()
            step()
    return model.double().eval()


def lbfgs_minimize(
    params: Iterable[torch.Tensor],
    loss: Callable[[], torch.Tensor],
    *,
    max_iter: int,
    history_size: int,
    tolerance_grad: float,
    tolerance_change: float,
) -> None:
    """Minimise ``loss()`` over ``params`` with one full-batch L-BFGS run, in place.

    ``torch.optim.LBFGS`` with unit step and the strong-Wolfe line search; the
    closure zeroes the gradients, evaluates ``loss()`` and back-propagates.

    Parameters
    ----------
    params : iterable of torch.Tensor
        The tensors to optimise (``requires_grad``).
    loss : callable
        ``loss() -> scalar tensor`` of the current ``params``.
    max_iter, history_size, tolerance_grad, tolerance_change
        As for ``torch.optim.LBFGS``.
    """
    import torch

    opt = torch.optim.LBFGS(
        params,
        lr=1.0,
        max_iter=max_iter,
        history_size=history_size,
        tolerance_grad=tolerance_grad,
        tolerance_change=tolerance_change,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        opt.zero_grad()
        value = loss()
        value.backward()
        return value

    opt.step(closure)
