"""The ``focalentropy`` command line.

Commands
--------
``focalentropy reproduce``
    Run the validation suite (every claim of the documentation's theory page,
    in exact computation and in trained models) and write ``report.html``,
    ``results.json`` and ``figures/``; exit status 1 if a claim fails.
``focalentropy minimize``
    The focal minimizer Q* of a class distribution and its regimes table.
``focalentropy recover``
    The inverse map on a model's saved probabilities.
``focalentropy report``
    Re-render ``report.html`` from an output directory.

Heavy libraries (torch, matplotlib, scikit-learn) are imported inside the
commands, so ``focalentropy --help`` is fast.
"""

# Greek letters (γ, λ, α) are intended in figure labels and messages.
# ruff: noqa: RUF001

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click
import numpy as np

from ._io import (
    InputError,
    OutputError,
    as_probabilities,
    atomic_write,
    check_output_dir,
    check_output_file,
    check_tcp_address,
    dumps_json,
    parse_numbers,
    read_array,
    read_counts,
    write_array,
)
from ._regimes import LABELS, RegimesResult

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["main"]

_CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
#: the runner's experiments (kept here so that `--help` does not import the runner;
#: a test holds the two equal)
_EXPERIMENT_IDS = ("theory", "discrete", "continuous", "real_data", "benchmark")


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    console = Console(stderr=stderr, highlight=False, soft_wrap=False)
    if not console.is_terminal:  # logs and pipes: wide enough for one claim per line
        console = Console(stderr=stderr, highlight=False, soft_wrap=False, width=120)
    return console


# ---------------------------------------------------------------------------
# errors: every bad file, path or option is a one-line message and exit status 2
# ---------------------------------------------------------------------------

_NUMPY_SCALAR = re.compile(r"\bnp\.(?:float|int|uint|bool|complex)\w*\(([^()]*)\)")


def _plain(message: str) -> str:
    """``np.float64(-2.0)`` -> ``-2.0`` in a library message shown to a user."""
    return _NUMPY_SCALAR.sub(r"\1", message)


def _bad(option: str, exc: Exception | str, hint: str = "") -> click.BadParameter:
    """The option's error: exit status 2, a one-line message."""
    return click.BadParameter(" ".join(str(exc).split("\n")) + hint, param_hint=option)


def _library_error(
    option: str, exc: Exception, prefix: str = "", hint: str = ""
) -> click.BadParameter:
    """A library function's ValueError/TypeError shown as the error of ``option``."""
    return _bad(option, prefix + _plain(str(exc)), hint)


def _checked_gamma(gamma: float) -> float:
    from ._validation import check_gamma

    try:
        return check_gamma(gamma)
    except (TypeError, ValueError) as exc:
        raise _library_error("--gamma", exc) from None


def _parsed(text: str, option: str, *, positive: bool = False) -> np.ndarray:
    try:
        return parse_numbers(text, positive=positive)
    except InputError as exc:
        raise _bad(option, exc) from None


def read_counts_csv(
    path: str | os.PathLike[str], header: bool | None = None
) -> tuple[np.ndarray, list[str] | None]:
    """Class counts and names from a CSV file (see :func:`focalentropy._io.read_counts`).

    Raises
    ------
    ValueError
        (an ``InputError``) naming the file and line.
    """
    return read_counts(path, header=header)


# ---------------------------------------------------------------------------
# the group
# ---------------------------------------------------------------------------


@click.group(context_settings=_CONTEXT)
@click.version_option(package_name="focal-entropy", prog_name="focalentropy")
def main() -> None:
    """focalentropy: the focal-entropy, its minimizer Q*, and the validation suite.

    \b
    Main job:   focalentropy reproduce --quick --out reproduce-out
    Theory:     focalentropy minimize --p 0.7,0.2,0.08,0.02 --gamma 2
    Recalibrate: focalentropy recover --in probs.npy --gamma 2 --out recovered.npy
    """


# ---------------------------------------------------------------------------
# reproduce
# ---------------------------------------------------------------------------


@main.command(context_settings=_CONTEXT)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reproduce-out"),
    show_default=True,
    help="Output directory for report.html, results.json and figures/.",
)
@click.option(
    "--quick/--full",
    default=True,
    show_default=True,
    help="Quick settings (< 5 min on 2 cores) or the whole grid with more seeds.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Experiments run in parallel (joblib processes).",
)
@click.option(
    "--seed", type=click.IntRange(min=0), default=0, show_default=True, help="The run's seed."
)
@click.option(
    "--backend",
    type=click.Choice(["loky", "threading", "dask"]),
    default="loky",
    show_default=True,
    help="joblib backend; 'dask' sends the experiments to the cluster at --scheduler.",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    default=None,
    help="Dask scheduler address (tcp://host:8786); only with --backend dask.",
)
@click.option(
    "--only",
    multiple=True,
    type=click.Choice(_EXPERIMENT_IDS),
    help="Run only this experiment (repeatable).",
)
def reproduce(
    out_dir: Path,
    quick: bool,
    jobs: int,
    seed: int,
    backend: str,
    scheduler: str | None,
    only: tuple[str, ...],
) -> None:
    """Check every claim of the theory (docs/theory.rst) and write a report.

    Runs five experiments (theory figures, discrete features, continuous
    features, long-tailed real data, and the benchmark on many real data sets),
    writes OUT/report.html (self-contained), OUT/results.json and
    OUT/figures/*.png, prints the claims table and exits with status 1 if any
    check fails. Findings (open empirical questions: supported, refuted or
    inconclusive) are reported but do not set the exit status. The same seed
    gives the same numbers.
    """
    _check_reproduce_options(out_dir, backend, scheduler)
    from .experiments.runner import default_configs
    from .experiments.runner import reproduce as run

    console = _console()
    configs = default_configs(quick=quick, seed=seed, only=only or None)
    console.print(
        f"[bold]focalentropy reproduce[/bold] --{'quick' if quick else 'full'} --seed {seed} "
        f"--jobs {jobs}"
        + (f" --backend {backend}" if backend != "loky" else "")
        + f"  ->  {out_dir}"
    )
    progress, on_progress = _progress_display(console, configs)
    try:
        with progress:
            summary = run(
                out_dir, quick=quick, seed=seed, jobs=jobs, backend=backend,
                scheduler=scheduler, only=only or None, progress=on_progress,
            )  # fmt: skip
    except OSError as exc:  # the experiments' own errors are reported in the table
        if exc.filename is not None:
            raise _bad("--out", f"cannot write {exc.filename}: {exc.strerror or exc}") from None
        if backend == "dask":
            raise _bad("--scheduler", f"the Dask scheduler at {scheduler} failed: {exc}") from None
        raise
    _print_summary(console, summary, out_dir)
    if not summary["passed"]:
        sys.exit(1)


def _check_reproduce_options(out_dir: Path, backend: str, scheduler: str | None) -> None:
    """Option combinations, --out and the Dask scheduler, before any experiment runs."""
    if backend == "dask" and not scheduler:
        raise click.UsageError("--backend dask needs --scheduler ADDRESS (the Dask scheduler)")
    if scheduler and backend != "dask":
        raise click.UsageError("--scheduler is only used with --backend dask")
    try:  # before any experiment runs: a bad --out must not cost a 30-minute run
        check_output_dir(out_dir)
    except OutputError as exc:
        raise _bad("--out", exc) from None
    if backend == "dask":
        _check_dask(str(scheduler))


def _progress_display(console: Console, configs: dict[str, Any]) -> tuple[Any, Any]:
    """A rich progress bar per experiment and the runner's ``progress`` callback.

    On a terminal the bars move; in logs and pipes each experiment prints one
    ``[i/n] name: done`` line when it finishes.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from .experiments.runner import planned_units

    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.fields[name]:<11}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
        disable=not console.is_terminal,
    )
    tasks = {
        name: progress.add_task("waiting", total=planned_units(name, cfg), name=name)
        for name, cfg in configs.items()
    }
    done_count = [0]

    def on_progress(name: str, advance: float, description: str) -> None:
        task = progress.tasks[tasks[name]]
        progress.update(tasks[name], advance=advance, description=description)
        if task.finished and not console.is_terminal:
            done_count[0] += 1
            console.print(f"[{done_count[0]}/{len(tasks)}] {name}: done")

    return progress, on_progress


def _check_dask(scheduler: str) -> None:
    """dask.distributed is installed and the scheduler answers (before any work)."""
    import importlib.util

    if importlib.util.find_spec("distributed") is None:
        raise _bad("--backend", "dask needs dask.distributed: pip install 'focal-entropy[dask]'")
    try:
        check_tcp_address(scheduler, default_port=8786)
    except InputError as exc:
        raise _bad("--scheduler", f"no Dask scheduler at {scheduler!r}: {exc}") from None


def _print_summary(console: Console, summary: dict[str, Any], out_dir: Path) -> None:
    from rich.table import Table

    from .report import format_value

    claims = summary["claims"]

    def width(key: str, fmt: Callable[[Any], str] = str) -> int:
        return max([len(fmt(c[key])) for c in claims] + [len(key)])

    table = Table(title="Claims", header_style="bold")
    table.add_column("id", no_wrap=True, min_width=width("id"))
    table.add_column("value", justify="right", no_wrap=True, min_width=width("value", format_value))
    table.add_column("threshold", no_wrap=True, min_width=width("threshold"))
    table.add_column("result", no_wrap=True, min_width=6)
    table.add_column("metric", no_wrap=True, overflow="ellipsis", ratio=1)
    for c in summary["claims"]:
        table.add_row(
            c["id"],
            format_value(c["value"]),
            c["threshold"],
            "[green]PASS[/green]" if c["passed"] else "[bold red]FAIL[/bold red]",
            c["metric"],
        )
    console.print(table)
    secs = summary["timings"]["seconds"]
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in secs.items() if v is not None)
    for e in summary["experiments"]:
        if e.get("error"):
            console.print(f"[bold red]experiment {e['id']} crashed:[/bold red]\n{e['error']}")
    verdict = (
        "[bold green]ALL CLAIMS PASS[/bold green]"
        if summary["passed"]
        else ("[bold red]SOME CLAIMS FAIL[/bold red]")
    )
    console.print(
        f"{verdict}: {summary['n_passed']}/{summary['n_claims']} claims passed ({timing})"
    )
    console.print(f"report: {Path(out_dir) / 'report.html'}")


# ---------------------------------------------------------------------------
# minimize
# ---------------------------------------------------------------------------

_HEADER_OPTION = click.option(
    "--header/--no-header",
    default=None,
    help="The CSV's first row is / is not a header. Default: a header only if it cannot be data.",
)


@main.command(context_settings=_CONTEXT)
@click.option("--p", "p_text", metavar="P1,P2,...", help="Class probabilities (sum to 1).")
@click.option(
    "--counts",
    "counts_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV of class counts of a data set (class,count rows; or one row/column of counts).",
)
@_HEADER_OPTION
@click.option("--gamma", type=float, required=True, help="Focusing parameter gamma >= 0.")
@click.option("--alpha", metavar="A1,A2,...", help="Positive class weights (one per class).")
@click.option("--names", metavar="N1,N2,...", help="Class names (default: from the CSV or 0..K-1).")
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Draw the regimes (G(p), lam, the classes, P vs Q*) to exactly this file; "
    "the suffix is the format (.png, .svg, .pdf, ...).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the table as JSON instead (valid JSON: NaN and infinities are null).",
)
def minimize(
    p_text: str | None,
    counts_path: Path | None,
    header: bool | None,
    gamma: float,
    alpha: str | None,
    names: str | None,
    plot_path: Path | None,
    as_json: bool,
) -> None:
    """The focal minimizer Q* of a distribution P and where it amplifies or suppresses.

    Prints, per class, P, Q*, Q*/P, G(P) and the label (amplified, suppressed,
    over-suppressed, unchanged), then the multiplier lam, G_max, p_low and p_high.

    \b
    --counts CSV layouts: 'class,count' rows, one column of counts, or one row
    of counts. The first row is a header only if its count field is not a
    number (or with --header); any other bad row is an error naming its line.

    \b
    --json prints {"classes": [{"class", "p", "q_star", "ratio", "G", "label"}, ...],
    "gamma", "lambda", "g_max", "p_low", "p_high", "over_suppression", "weighted",
    "reference"}; undefined or non-finite values (Q*/P of a class with P = 0, an
    absent p_low) are null. With --alpha each class also has "w" (the target
    w = normalize(alpha * P)) and "ratio_p" (Q*/P), and "ratio", "G" and "label"
    all refer to w ("reference": "w").

    \b
    Example:
      focalentropy minimize --p 0.7,0.2,0.08,0.02 --gamma 2
      focalentropy minimize --counts class_counts.csv --gamma 2 --plot regimes.png
    """
    if (p_text is None) == (counts_path is None):
        raise click.UsageError("give exactly one of --p and --counts")
    if header is not None and counts_path is None:
        raise click.UsageError("--header/--no-header only apply to --counts")
    plot_format = _check_plot_path(plot_path) if plot_path is not None else None
    gamma = _checked_gamma(gamma)
    p, source, class_names = _distribution_option(p_text, counts_path, header)
    alpha_arr = _class_weights_option(alpha, p.size)
    class_names = _names_option(names, class_names, p.size)

    from ._regimes import regimes

    try:  # gamma and alpha are checked above: what is left is the distribution's
        res = regimes(p, gamma, alpha=alpha_arr, class_names=class_names)
    except (ValueError, TypeError) as exc:
        raise _library_error(source, exc) from None
    weighted = alpha_arr is not None
    rows, info = _regimes_rows(res, p, weighted=weighted), _regimes_info(res, weighted=weighted)
    if as_json:
        click.echo(dumps_json({"classes": rows, **info}))
    else:
        _print_regimes(rows, info)
    if plot_path is not None and plot_format is not None:
        try:
            _plot_regimes(plot_path, plot_format, res, weighted=weighted)
        except OSError as exc:
            raise _bad("--plot", f"cannot write {plot_path}: {exc.strerror or exc}") from None
        if not as_json:
            click.echo(f"plot: {plot_path}")


def _distribution_option(
    p_text: str | None, counts_path: Path | None, header: bool | None
) -> tuple[np.ndarray, str, list[str] | None]:
    """P from --p (summing to 1) or --counts, the option it came from and the CSV's names."""
    csv_names = None
    if p_text is not None:
        source = "--p"
        p = _parsed(p_text, "--p")
        if np.any(p < 0):
            i = int(np.argmax(p < 0))
            raise _bad("--p", f"probabilities must be >= 0; item {i} is {float(p[i]):g}")
        total = float(p.sum())
        if abs(total - 1.0) > 1e-6:
            raise _bad(
                "--p",
                f"probabilities must sum to 1, they sum to {total:.6g} "
                "(use --counts for unnormalised counts)",
            )
        p = p / total
    elif counts_path is not None:
        source = "--counts"
        try:
            counts, csv_names = read_counts(counts_path, header=header)
        except InputError as exc:
            raise _bad("--counts", exc) from None
        p = counts / counts.sum()
    else:
        raise click.UsageError("give exactly one of --p and --counts")
    if p.size < 2:
        raise _bad(source, f"need at least 2 classes, got {p.size}")
    return p, source, csv_names


def _class_weights_option(alpha: str | None, n_classes: int) -> np.ndarray | None:
    """--alpha of minimize (and of recover, softmax): one positive weight, or one per class."""
    if alpha is None:
        return None
    alpha_arr = _parsed(alpha, "--alpha", positive=True)
    if alpha_arr.size not in (1, n_classes):
        raise _bad("--alpha", f"expected 1 or {n_classes} weights, got {alpha_arr.size}")
    return alpha_arr


def _names_option(names: str | None, csv_names: list[str] | None, n_classes: int) -> list[str]:
    """--names, else the CSV's class names, else 0..K-1."""
    if names is None:
        return csv_names or [str(i) for i in range(n_classes)]
    class_names = [s.strip() for s in names.split(",")]
    if len(class_names) != n_classes:
        raise _bad("--names", f"expected {n_classes} names, got {len(class_names)}")
    return class_names


def _check_plot_path(path: Path) -> str:
    """The image format of ``--plot`` (its suffix); the path must be writable."""
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        raise _bad(
            "--plot", "drawing needs matplotlib: pip install 'focal-entropy[plot]'"
        ) from None
    formats = sorted(FigureCanvasBase.get_supported_filetypes())
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in formats:
        got = f"suffix {path.suffix!r}" if path.suffix else "no suffix"
        raise _bad(
            "--plot",
            f"{path}: unknown image format ({got}); use one of "
            + ", ".join("." + f for f in formats),
        )
    try:
        check_output_file(path)
    except OutputError as exc:
        raise _bad("--plot", exc) from None
    return fmt


def _regimes_rows(res: RegimesResult, p: np.ndarray, *, weighted: bool) -> list[dict[str, Any]]:
    """The per-class rows of ``res`` (:meth:`RegimesResult.table`), as JSON-ready builtins.

    ``p`` is the user's P. Without weights the result's target is P itself; with
    weights it is ``w = normalize(alpha * P)`` (``"w"``), and ``"ratio"``, ``"G"`` and
    ``"label"`` refer to w while ``"ratio_p"`` is Q*/P.
    """
    rows = []
    for rec, p_k in zip(res.table(), p.tolist(), strict=True):
        row: dict[str, Any] = {"class": str(rec["class"]), "p": p_k}
        if weighted:
            ratio_p = rec["q_star"] / p_k if p_k > 0 else math.nan
            row.update(w=rec["p"], q_star=rec["q_star"], ratio=rec["ratio"], ratio_p=ratio_p)
        else:
            row.update(q_star=rec["q_star"], ratio=rec["ratio"])
        row.update(G=rec["G(p)"], label=rec["label"])
        rows.append(row)
    return rows


def _regimes_info(res: RegimesResult, *, weighted: bool) -> dict[str, Any]:
    """The summary fields of one distribution's ``res`` (absent crossings: None)."""

    def optional(value: Any) -> float | None:
        v = float(value)
        return None if math.isnan(v) else v

    return {
        "gamma": float(res.gamma),
        "lambda": float(res.multiplier),
        "g_max": float(res.g_max),
        "p_low": optional(res.p_low),
        "p_high": optional(res.p_high),
        "over_suppression": bool(res.over_suppression),
        "weighted": weighted,
        "reference": "w" if weighted else "p",
    }


#: rich styles of the labels in the printed table
_LABEL_STYLE = dict(zip(LABELS, ("green", "yellow", "bold red", ""), strict=True))


def _print_regimes(rows: list[dict[str, Any]], info: dict[str, Any]) -> None:
    from rich.table import Table

    console = _console()
    weighted = info["weighted"]
    table = Table(title=f"Focal minimizer, gamma = {info['gamma']:g}", header_style="bold")
    columns: list[tuple[str, Literal["left", "right"]]] = [("class", "left"), ("P", "right")]
    columns += [("w", "right")] if weighted else []
    columns += [("Q*", "right"), ("Q*/P", "right")]
    columns += [("Q*/w", "right"), ("G(w)", "right")] if weighted else [("G(P)", "right")]
    columns += [("label", "left")]
    for col, just in columns:
        table.add_column(col, justify=just)
    for r in rows:
        style = _LABEL_STYLE.get(r["label"], "")
        cells = [str(r["class"]), f"{r['p']:.6g}"]
        if weighted:
            cells += [f"{r['w']:.6g}", f"{r['q_star']:.6g}", f"{r['ratio_p']:.4f}"]
        else:
            cells += [f"{r['q_star']:.6g}"]
        cells += [f"{r['ratio']:.4f}"]
        cells += [f"{r['G']:.4f}", f"[{style}]{r['label']}[/{style}]" if style else r["label"]]
        table.add_row(*cells)
    console.print(table)

    def fmt(v: float | None) -> str:
        return "none" if v is None else f"{v:.6g}"

    console.print(
        f"lam = {info['lambda']:.6g}   G_max = {info['g_max']:.6g}   "
        f"p_low = {fmt(info['p_low'])}   p_high = {fmt(info['p_high'])}"
    )
    if weighted:
        console.print(
            "weights given: the loss targets w = normalize(alpha * P); G, lam and the labels "
            "refer to w (Q* > w: amplified)"
        )
    if info["over_suppression"]:
        console.print(
            "[bold red]lam > 1[/bold red]: classes below p_low are over-suppressed "
            "(focal loss pushes them below their true probability)"
        )


def _plot_regimes(path: Path, fmt: str, res: RegimesResult, *, weighted: bool) -> None:
    """:func:`~focalentropy.plotting.regimes_plot` and ``regimes_bars`` side by side."""
    from .experiments._common import pyplot
    from .plotting import regimes_bars, regimes_plot

    fig, (ax0, ax1) = pyplot().subplots(1, 2, figsize=(11, 4.2))
    regimes_plot(res, ax=ax0)
    target = "w = normalize(αP)" if weighted else "P"  # the points and grey bars: the target
    regimes_bars(res, ax=ax1, target_label=target)
    if weighted:
        ax0.set_xlabel(target)
    with atomic_write(path, binary=True) as fh:  # exactly `path`, whatever its suffix
        fig.savefig(fh, format=fmt, dpi=110, bbox_inches="tight")


# ---------------------------------------------------------------------------
# recover
# ---------------------------------------------------------------------------


@main.command(context_settings=_CONTEXT)
@click.option(
    "--in",
    "in_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A model's probabilities (or logits), shape (n, K): .npy or .csv.",
)
@_HEADER_OPTION
@click.option("--gamma", type=float, required=True, help="The gamma the model was trained with.")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the recovered probabilities to exactly this file (.npy or .csv).",
)
@click.option("--alpha", metavar="A1,A2,...", help="Class weights used in training.")
@click.option(
    "--kind",
    type=click.Choice(["softmax", "sigmoid"]),
    default="softmax",
    show_default=True,
    help="softmax focal loss (rows sum to 1) or one-vs-rest sigmoid focal loss.",
)
@click.option(
    "--renormalize",
    is_flag=True,
    help="Rescale every row to sum to 1 (for rows off by more than their precision).",
)
@click.option(
    "--from-logits",
    is_flag=True,
    help="The input holds logits: softmax (sigmoid for --kind sigmoid) is applied first.",
)
def recover(
    in_path: Path,
    header: bool | None,
    gamma: float,
    out_path: Path,
    alpha: str | None,
    kind: Literal["softmax", "sigmoid"],
    renormalize: bool,
    from_logits: bool,
) -> None:
    """Map a focal-trained model's probabilities back to class probabilities.

    Applies the closed-form inverse of the focal minimizer,
    P(x) ∝ 1 / (alpha_x phi(Q(x))), to every row of the input.

    \b
    Input: a .npy array keeps its dtype, so float32 rows need to sum to 1 only
    to float32 precision; CSV rows whose sum is off by no more than the
    rounding of their printed digits (e.g. %.6f) are rescaled (and counted in
    the output). In a CSV the first row is a header only if no field in it is
    a number (or with --header); any other bad row is an error naming its line.
    Output: written to exactly --out (no suffix added), atomically; a CSV gets
    the input's header row.

    \b
    Example:
      focalentropy recover --in test_probs.npy --gamma 2 --out recovered.npy
      focalentropy recover --in test_logits.csv --from-logits --gamma 2 --out p.csv
    """
    if renormalize and from_logits:
        raise click.UsageError("--renormalize and --from-logits exclude each other")
    if renormalize and kind == "sigmoid":
        raise click.UsageError("--renormalize applies to --kind softmax (rows that sum to 1)")
    try:
        check_output_file(out_path, suffixes=(".npy", ".csv"))
    except OutputError as exc:
        raise _bad("--out", exc) from None
    gamma = _checked_gamma(gamma)
    try:
        data = read_array(in_path, header=header)
        values, rescaled = as_probabilities(
            data, kind=kind, renormalize=renormalize, from_logits=from_logits
        )
    except InputError as exc:
        raise _bad("--in", exc) from None
    alpha_arg = _recover_alpha_option(alpha, kind, values.shape[-1])

    from ._minimizer import recover as recover_map

    try:  # gamma and alpha are checked above: what is left is the input's
        out = np.asarray(recover_map(values, gamma, alpha=alpha_arg, kind=kind), dtype=float)
    except (ValueError, TypeError) as exc:
        hint = _recover_hint(kind, renormalize, from_logits)
        raise _library_error("--in", exc, f"{in_path}: ", hint) from None
    try:
        write_array(out_path, out, header=data.header if data.lines is not None else None)
    except OSError as exc:
        raise _bad("--out", f"cannot write {out_path}: {exc.strerror or exc}") from None
    click.echo(_recover_message(values, out, gamma, kind))
    if rescaled:
        click.echo(
            f"note: rescaled {rescaled} row(s) whose sum differs from 1 by no more than the "
            "rounding of their printed digits"
        )
    click.echo(f"written: {out_path}")


def _recover_alpha_option(
    alpha: str | None, kind: str, n_classes: int
) -> np.ndarray | float | None:
    """--alpha of recover: 1 or K weights (softmax), one alpha in (0, 1) (sigmoid)."""
    if alpha is None or kind == "softmax":
        return _class_weights_option(alpha, n_classes)
    alpha_arr = _parsed(alpha, "--alpha", positive=True)
    from ._validation import check_sigmoid_alpha

    if alpha_arr.size != 1:
        raise _bad("--alpha", "the sigmoid kind takes one alpha in (0, 1)")
    try:
        return check_sigmoid_alpha(float(alpha_arr[0]))
    except (TypeError, ValueError) as exc:
        raise _library_error("--alpha", exc) from None


def _recover_hint(kind: str, renormalize: bool, from_logits: bool) -> str:
    """What to try when the input is not a valid set of probabilities."""
    if renormalize or from_logits:
        return ""
    if kind == "softmax":
        return " (--renormalize rescales rows to sum to 1; --from-logits takes logits)"
    return " (--from-logits takes logits)"


def _recover_message(values: np.ndarray, out: np.ndarray, gamma: float, kind: str) -> str:
    """One line: rows and classes, and (softmax) the mean change and whether argmax moved."""
    rows = np.atleast_2d(values).astype(float)
    rec = np.atleast_2d(out)
    msg = f"recovered {rows.shape[0]} row(s) of {rows.shape[1]} classes (gamma = {gamma:g}, {kind})"
    if kind == "softmax":
        same = bool(np.array_equal(rows.argmax(-1), rec.argmax(-1)))
        tv = float(0.5 * np.abs(rec - rows).sum(-1).mean())
        msg += f"; mean change (total variation) {tv:.4g}; argmax unchanged: {same}"
    return msg


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------


@main.command(context_settings=_CONTEXT)
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
def report(out_dir: Path) -> None:
    """Re-render OUT_DIR/report.html from OUT_DIR/results.json and OUT_DIR/figures.

    A missing or malformed results.json is an error (exit status 2) naming it.
    """
    from .report import ResultsFileError, render_directory

    try:
        path = render_directory(out_dir)
    except ResultsFileError as exc:
        raise _bad("OUT_DIR", exc) from None
    except OSError as exc:
        raise _bad("OUT_DIR", f"cannot write {exc.filename or out_dir}: {exc.strerror}") from None
    click.echo(f"report: {path}")


if __name__ == "__main__":  # pragma: no cover
    main()
