"""Run the validation suite and write ``results.json``, ``figures/`` and ``report.html``.

The experiments are independent functions; :func:`run_suite` runs them
in order, in parallel with joblib (``jobs > 1``), or on an existing Dask
cluster through joblib's Dask backend (``backend="dask"``). Every experiment
is seeded from the one ``seed`` (NumPy ``SeedSequence`` per draw,
``torch.manual_seed`` per model, one torch thread), so the same seed gives the
same numbers whatever ``jobs`` and backend.
"""

from __future__ import annotations

import importlib
import os
import platform
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from ._common import Claim, ExperimentResult, Progress, to_builtin

__all__ = [
    "BACKENDS",
    "EXPERIMENTS",
    "default_configs",
    "planned_units",
    "reproduce",
    "run_experiment",
    "run_suite",
    "write_outputs",
]

#: Experiment ids in report order.
EXPERIMENTS = ("theory", "discrete", "continuous", "real_data", "benchmark")
BACKENDS = ("loky", "threading", "dask")

#: ``progress(experiment_id, advance, description)``.
SuiteProgress = Callable[[str, float, str], None]


def _module(name: str) -> ModuleType:
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose from {', '.join(EXPERIMENTS)}")
    return importlib.import_module(f"{__package__}.{name}")


def _check_only(only: Iterable[str] | None) -> list[str]:
    if only is None:
        return list(EXPERIMENTS)
    names = list(only)
    for name in names:
        _module(name)  # raises on an unknown name
    if not names:
        raise ValueError("`only` must name at least one experiment")
    return [n for n in EXPERIMENTS if n in names]


def default_configs(
    quick: bool = True, seed: int = 0, only: Iterable[str] | None = None
) -> dict[str, dict]:
    """The configuration of every selected experiment.

    Parameters
    ----------
    quick : bool
        Quick settings (a few minutes on 2 cores) or the full grid.
    seed : int
        The run's seed, passed to every experiment.
    only : iterable of str, optional
        Experiment ids to run (default: all of :data:`EXPERIMENTS`).

    Returns
    -------
    dict
        ``{experiment_id: config}`` in report order.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"`seed` must be a non-negative integer, got {seed!r}")
    return {
        name: _module(name).default_config(quick=quick, seed=seed) for name in _check_only(only)
    }


def planned_units(name: str, config: dict) -> int:
    """How many ``progress`` calls experiment ``name`` makes with ``config``.

    Each experiment module declares its own count (``planned_units(config)``) next to
    the loop that makes the calls.
    """
    return int(_module(name).planned_units(config))


def run_experiment(
    name: str, config: dict[str, Any], progress: Progress | None = None
) -> ExperimentResult:
    """Run one experiment; a crash becomes a failing result instead of an exception.

    Parameters
    ----------
    name : str
        One of :data:`EXPERIMENTS`.
    config : dict
        Its configuration (see :func:`default_configs`).
    progress : callable, optional
        ``progress(advance, description)``.

    Returns
    -------
    ExperimentResult
        With ``seconds`` set; on an exception ``error`` holds the traceback
        and ``claims`` one failing claim ``"<n>.completed"``.
    """
    module = _module(name)
    start = time.perf_counter()
    try:
        result = module.run(config, progress=progress)
    except Exception:  # reported, not raised: the other experiments still run
        number, title = int(module.NUMBER), str(module.TITLE)
        result = ExperimentResult(
            id=name,
            number=number,
            title=f"{title} (crashed)",
            claim=str(module.CLAIM),
            claims=[
                Claim(
                    f"{number}.completed",
                    "The experiment runs to completion.",
                    "1 if it completed, else 0",
                    0.0,
                    "> 0.5",
                    False,
                )
            ],
            config=config,
            error=traceback.format_exc(),
        )
    result.seconds = time.perf_counter() - start
    return result


def _units_done(name: str, config: dict) -> float:
    """The progress units of a finished experiment; 1 when its config is invalid (the
    experiment then crashed with the error naming the key, kept in its result)."""
    try:
        return float(planned_units(name, config))
    except (TypeError, ValueError):
        return 1.0


def _run_in_worker(name: str, config: dict) -> ExperimentResult:
    return run_experiment(name, config)


def run_suite(
    configs: dict[str, dict],
    *,
    jobs: int = 1,
    backend: str = "loky",
    scheduler: str | None = None,
    progress: SuiteProgress | None = None,
) -> list[ExperimentResult]:
    """Run the experiments of ``configs``, sequentially or in parallel.

    Parameters
    ----------
    configs : dict
        ``{experiment_id: config}`` as returned by :func:`default_configs`.
    jobs : int
        Number of experiments run at the same time (``jobs = 1``: in this process,
        with fine-grained progress). Ignored for ``backend="dask"``, where the
        cluster's workers decide.
    backend : {"loky", "threading", "dask"}
        joblib backend. ``"dask"`` sends the experiments to the Dask cluster at
        ``scheduler`` (``dask.distributed`` must be installed, and focalentropy on the
        workers).
    scheduler : str, optional
        Address of the Dask scheduler, e.g. ``"tcp://10.0.0.1:8786"``; required
        with ``backend="dask"``.
    progress : callable, optional
        ``progress(experiment_id, advance, description)``.

    Returns
    -------
    list of ExperimentResult
        In report order.
    """
    if backend not in BACKENDS:
        raise ValueError(f"`backend` must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"`jobs` must be a positive integer, got {jobs!r}")
    if backend == "dask" and not scheduler:
        raise ValueError("`scheduler` (the Dask scheduler address) is required with backend='dask'")
    if backend != "dask" and scheduler:
        raise ValueError("`scheduler` only applies to backend='dask'")
    names = list(configs)

    def report(name: str, advance: float, description: str) -> None:
        if progress is not None:
            progress(name, advance, description)

    def reporter(name: str) -> Progress:
        def bound(advance: float = 1.0, description: str = "") -> None:
            report(name, advance, description)

        return bound

    if backend != "dask" and (jobs == 1 or len(names) == 1):
        return [run_experiment(name, configs[name], progress=reporter(name)) for name in names]

    from joblib import Parallel, delayed, parallel_config

    tasks = [delayed(_run_in_worker)(name, configs[name]) for name in names]
    results: dict[str, ExperimentResult] = {}

    def collect(parallel: Parallel) -> None:
        for res in parallel(tasks):
            results[res.id] = res
            report(res.id, _units_done(res.id, configs[res.id]), "done")

    if backend == "dask":
        try:
            from dask.distributed import Client
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "backend='dask' needs dask.distributed: pip install 'focal-entropy[dask]'"
            ) from exc
        client = Client(scheduler)
        try:
            with parallel_config(backend="dask", client=client):
                collect(Parallel(n_jobs=-1, return_as="generator_unordered"))
        finally:
            client.close()
    else:
        collect(Parallel(n_jobs=jobs, backend=backend, return_as="generator_unordered"))
    return [results[name] for name in names]


def write_outputs(
    results: list[ExperimentResult],
    out_dir: str | os.PathLike[str],
    run_config: dict[str, Any],
    total_seconds: float | None = None,
) -> dict[str, Any]:
    """Write ``figures/*.png``, ``results.json`` and ``report.html`` under ``out_dir``.

    Parameters
    ----------
    results : list of ExperimentResult
    out_dir : path-like
        Created if missing.
    run_config : dict
        The run's configuration (stored in ``results.json``).
    total_seconds : float, optional
        Wall-clock time of the whole run.

    Returns
    -------
    dict
        The content of ``results.json``.
    """
    from .. import report as report_module
    from .._io import write_bytes, write_json

    out = Path(out_dir)
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    seen: dict[str, str] = {}
    experiments = []
    for res in results:
        paths = {}
        for fname, png in res.figures.items():
            if fname in seen:
                raise ValueError(f"figure name {fname!r} used by {seen[fname]} and {res.id}")
            seen[fname] = res.id
            write_bytes(fig_dir / fname, png)
            paths[fname] = f"figures/{fname}"
        d = res.to_dict(figure_paths=paths)
        d["captions"] = dict(res.captions)
        experiments.append(d)
    claims = [c.to_dict() for res in results for c in res.claims]
    # findings (empirical questions with a status) never decide `passed`
    findings = [f.to_dict() for res in results for f in res.findings]
    summary = {
        "package": "focalentropy",
        "version": _version(),
        "passed": bool(results) and all(res.passed for res in results),
        "n_claims": len(claims),
        "n_passed": sum(bool(c["passed"]) for c in claims),
        "claims": claims,
        "findings": findings,
        "tables": {name: to_builtin(rows) for res in results for name, rows in res.records.items()},
        "config": to_builtin(run_config),
        "seeds": {
            "seed": run_config.get("seed"),
            "scheme": "numpy.random.SeedSequence([seed, *keys]) for every data draw and model "
            "initialisation; torch.manual_seed per model; torch.set_num_threads(1)",
        },
        "experiments": experiments,
        "timings": {
            "seconds": {
                **{res.id: round(res.seconds, 2) for res in results},
                "total": None if total_seconds is None else round(total_seconds, 2),
            },
            "environment": {"python": platform.python_version(), "platform": platform.platform()},
        },
    }
    write_json(out / "results.json", summary)  # atomic; NaN and infinities become null
    report_module.write_report(summary, out / "report.html", figure_dir=fig_dir)
    return summary


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("focal-entropy")
    except Exception:  # pragma: no cover - not installed
        return "unknown"


def reproduce(
    out_dir: str | os.PathLike[str] = "reproduce-out",
    *,
    quick: bool = True,
    seed: int = 0,
    jobs: int = 1,
    backend: str = "loky",
    scheduler: str | None = None,
    only: Iterable[str] | None = None,
    progress: SuiteProgress | None = None,
) -> dict[str, Any]:
    """Run the validation suite and write its report: the engine of ``focalentropy reproduce``.

    Parameters
    ----------
    out_dir : path-like
        Output directory (``report.html``, ``results.json``, ``figures/``).
    quick : bool
        Quick settings (default) or the full grid with more seeds.
    seed : int
        The run's seed.
    jobs, backend, scheduler
        See :func:`run_suite`.
    only : iterable of str, optional
        Subset of :data:`EXPERIMENTS`.
    progress : callable, optional
        ``progress(experiment_id, advance, description)``.

    Returns
    -------
    dict
        The content of ``results.json``; ``summary["passed"]`` is True iff every claim passed.
    """
    configs = default_configs(quick=quick, seed=seed, only=only)
    start = time.perf_counter()
    results = run_suite(configs, jobs=jobs, backend=backend, scheduler=scheduler, progress=progress)
    total = time.perf_counter() - start
    run_config = {
        "mode": "quick" if quick else "full",
        "seed": seed,
        "jobs": jobs,
        "backend": backend,
        "scheduler": scheduler,
        "experiments": configs,
    }
    return write_outputs(results, out_dir, run_config, total_seconds=total)
