"""The ``focalentropy`` command line.

Commands
--------
``focalentropy reproduce``
    Run the validation suite (every claim of THEORY.md, in exact computation and
    in trained models) and write ``report.html``, ``results.json`` and
    ``figures/``; exit status 1 if a claim fails.
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

import csv
import re
import sys
from pathlib import Path

import click
import numpy as np

__all__ = ["main"]

_CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
_EXPERIMENT_IDS = ("theory", "discrete", "continuous", "real_data")


def _console(stderr: bool = False):
    from rich.console import Console

    console = Console(stderr=stderr, highlight=False, soft_wrap=False)
    if not console.is_terminal:  # logs and pipes: wide enough for one claim per line
        console = Console(stderr=stderr, highlight=False, soft_wrap=False, width=120)
    return console


# ---------------------------------------------------------------------------
# parsing helpers
# ---------------------------------------------------------------------------


def _parse_numbers(text: str, option: str) -> np.ndarray:
    """``"0.7,0.2, 0.1"`` -> array; a clear error naming the option otherwise."""
    items = [s for s in re.split(r"[,\s;]+", text.strip()) if s]
    if not items:
        raise click.BadParameter("empty; give comma-separated numbers", param_hint=option)
    values = []
    for i, s in enumerate(items):
        try:
            values.append(float(s))
        except ValueError:
            raise click.BadParameter(
                f"must be comma-separated numbers; item {i} is {s!r}", param_hint=option
            ) from None
    arr = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise click.BadParameter(f"must contain finite numbers, got {text!r}", param_hint=option)
    return arr


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def read_counts_csv(path) -> tuple[np.ndarray, list[str] | None]:
    """Read class counts from a CSV file.

    Accepted layouts (an optional non-numeric header row is skipped):

    * two columns ``class,count`` (one class per row);
    * one column of counts;
    * one row of counts (a header row, if any, gives the class names).

    Parameters
    ----------
    path : path-like

    Returns
    -------
    counts : ndarray, shape (K,)
    names : list of str or None
        Class names when the file provides them.

    Raises
    ------
    ValueError
        If the file has no counts, a count is not a number, negative, or all are zero.
    """
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [[c.strip() for c in row] for row in csv.reader(fh)]
    rows = [r for r in rows if any(r)]
    if not rows:
        raise ValueError(f"{path}: no counts found (empty file)")
    names: list[str] | None = None
    header: list[str] | None = None
    if not all(_is_number(c) for c in rows[0] if c):
        header, rows = rows[0], rows[1:]
    if not rows:
        raise ValueError(f"{path}: only a header row, no counts")
    if (len(rows) == 1 and len(rows[0]) > 2) or (len(rows) == 1 and header and len(header) > 2):
        cells = rows[0]
        names = header if header and len(header) == len(cells) else None
    elif all(len(r) >= 2 for r in rows):
        names = [r[0] for r in rows]
        cells = [r[-1] for r in rows]
    elif all(len(r) == 1 for r in rows):
        cells = [r[0] for r in rows]
    else:
        raise ValueError(
            f"{path}: expected 'class,count' rows, one column of counts or one row of counts"
        )
    counts = []
    for i, c in enumerate(cells):
        if not _is_number(c):
            raise ValueError(f"{path}: count {i} is not a number: {c!r}")
        counts.append(float(c))
    arr = np.asarray(counts, dtype=float)
    bad = ~(arr >= 0) | ~np.isfinite(arr)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{path}: counts must be finite and >= 0; count {i} is {cells[i]!r}")
    if arr.sum() <= 0:
        raise ValueError(f"{path}: the counts sum to 0")
    return arr, names


def _load_probabilities(path: Path):
    """Load an (n, K) or (K,) array from ``.npy`` or ``.csv``; returns (array, header)."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except Exception as exc:
            raise click.BadParameter(
                f"cannot read {path} as .npy: {exc}", param_hint="--in"
            ) from None
        return np.asarray(arr, dtype=float), None
    if suffix in (".csv", ".txt"):
        with open(path, newline="", encoding="utf-8") as fh:
            rows = [[c.strip() for c in r] for r in csv.reader(fh) if any(c.strip() for c in r)]
        if not rows:
            raise click.BadParameter(f"{path} is empty", param_hint="--in")
        header = None
        if not all(_is_number(c) for c in rows[0]):
            header, rows = rows[0], rows[1:]
        widths = {len(r) for r in rows}
        if len(widths) != 1:
            raise click.BadParameter(
                f"{path}: rows have different numbers of columns {sorted(widths)}",
                param_hint="--in",
            )
        try:
            arr = np.asarray([[float(c) for c in r] for r in rows], dtype=float)
        except ValueError as exc:
            raise click.BadParameter(f"{path}: {exc}", param_hint="--in") from None
        return arr, header
    raise click.BadParameter(
        f"{path}: expected a .npy or .csv file, got {suffix or 'no suffix'!r}", param_hint="--in"
    )


# ---------------------------------------------------------------------------
# the group
# ---------------------------------------------------------------------------


@click.group(context_settings=_CONTEXT)
@click.version_option(package_name="focal-entropy", prog_name="focalentropy")
def main():
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
def reproduce(out_dir, quick, jobs, seed, backend, scheduler, only):
    """Check every claim of THEORY.md and write a report.

    Runs four experiments (theory figures, discrete features, continuous
    features, long-tailed real data), writes OUT/report.html (self-contained),
    OUT/results.json and OUT/figures/*.png, prints the claims table and exits
    with status 1 if any claim fails. The same seed gives the same numbers.
    """
    if backend == "dask" and not scheduler:
        raise click.UsageError("--backend dask needs --scheduler ADDRESS (the Dask scheduler)")
    if scheduler and backend != "dask":
        raise click.UsageError("--scheduler is only used with --backend dask")
    if out_dir.exists() and not out_dir.is_dir():
        raise click.BadParameter(f"{out_dir} exists and is not a directory", param_hint="--out")

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from .experiments.runner import default_configs, planned_units
    from .experiments.runner import reproduce as run

    console = _console()
    configs = default_configs(quick=quick, seed=seed, only=only or None)
    mode = "quick" if quick else "full"
    console.print(
        f"[bold]focalentropy reproduce[/bold] --{mode} --seed {seed} --jobs {jobs}"
        + (f" --backend {backend}" if backend != "loky" else "")
        + f"  ->  {out_dir}"
    )
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

    with progress:
        summary = run(
            out_dir,
            quick=quick,
            seed=seed,
            jobs=jobs,
            backend=backend,
            scheduler=scheduler,
            only=only or None,
            progress=on_progress,
        )
    _print_summary(console, summary, out_dir)
    if not summary["passed"]:
        sys.exit(1)


def _print_summary(console, summary: dict, out_dir: Path) -> None:
    from rich.table import Table

    from .report import format_value

    claims = summary["claims"]

    def width(key, fmt=str):
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


@main.command(context_settings=_CONTEXT)
@click.option("--p", "p_text", metavar="P1,P2,...", help="Class probabilities (sum to 1).")
@click.option(
    "--counts",
    "counts_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV of class counts of a data set (class,count rows; or one row/column of counts).",
)
@click.option("--gamma", type=float, required=True, help="Focusing parameter gamma >= 0.")
@click.option("--alpha", metavar="A1,A2,...", help="Positive class weights (one per class).")
@click.option("--names", metavar="N1,N2,...", help="Class names (default: from the CSV or 0..K-1).")
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Draw the regimes (G(p), lam, the classes, P vs Q*) to this image file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON instead.")
def minimize(p_text, counts_path, gamma, alpha, names, plot_path, as_json):
    """The focal minimizer Q* of a distribution P and where it amplifies or suppresses.

    Prints, per class, P, Q*, Q*/P, G(P) and the label (amplified, suppressed,
    over-suppressed), then the multiplier lam, G_max, p_low and p_high
    (THEORY.md sections 3-4).

    \b
    Example:
      focalentropy minimize --p 0.7,0.2,0.08,0.02 --gamma 2
      focalentropy minimize --counts class_counts.csv --gamma 2 --plot regimes.png
    """
    if (p_text is None) == (counts_path is None):
        raise click.UsageError("give exactly one of --p and --counts")
    csv_names = None
    if p_text is not None:
        p = _parse_numbers(p_text, "--p")
        total = float(p.sum())
        if np.any(p < 0):
            raise click.BadParameter(
                f"probabilities must be >= 0; item {int(np.argmax(p < 0))} is "
                f"{p[np.argmax(p < 0)]:g}",
                param_hint="--p",
            )
        if abs(total - 1.0) > 1e-6:
            raise click.BadParameter(
                f"probabilities must sum to 1, they sum to {total:.6g} "
                "(use --counts for unnormalised counts)",
                param_hint="--p",
            )
        p = p / total
    else:
        try:
            counts, csv_names = read_counts_csv(counts_path)
        except (ValueError, UnicodeDecodeError) as exc:
            raise click.BadParameter(str(exc), param_hint="--counts") from None
        p = counts / counts.sum()
    if p.size < 2:
        raise click.BadParameter("need at least 2 classes", param_hint="--p/--counts")
    alpha_arr = None
    if alpha is not None:
        alpha_arr = _parse_numbers(alpha, "--alpha")
        if alpha_arr.size not in (1, p.size):
            raise click.BadParameter(
                f"expected 1 or {p.size} weights, got {alpha_arr.size}", param_hint="--alpha"
            )
    class_names = csv_names
    if names is not None:
        class_names = [s.strip() for s in names.split(",")]
        if len(class_names) != p.size:
            raise click.BadParameter(
                f"expected {p.size} names, got {len(class_names)}", param_hint="--names"
            )
    class_names = class_names or [str(i) for i in range(p.size)]

    from ._regimes import regimes

    try:
        res = regimes(p, gamma, alpha=alpha_arr)
    except (ValueError, TypeError) as exc:
        hint = "--gamma" if "gamma" in str(exc) else ("--alpha" if "alpha" in str(exc) else None)
        raise click.BadParameter(str(exc), param_hint=hint) from None
    q = np.asarray(res.minimizer, dtype=float)
    labels = [str(s) for s in np.asarray(res.labels)]
    lam = float(np.asarray(res.multiplier))
    p_low, p_high = float(np.asarray(res.p_low)), float(np.asarray(res.p_high))
    from ._loss import gradient_weight

    target = np.asarray(res.p, dtype=float)  # P, or normalize(alpha * P)
    g_of_target = gradient_weight(target, gamma)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(p > 0, q / p, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio_w = np.where(target > 0, q / target, np.nan)
    rows = []
    for k in range(p.size):
        row = {"class": class_names[k], "p": float(p[k])}
        if alpha_arr is not None:
            row["w"] = float(target[k])
        row.update(q_star=float(q[k]), ratio=float(ratio[k]))
        if alpha_arr is not None:
            row["ratio_w"] = float(ratio_w[k])
        row.update(G=float(g_of_target[k]), label=labels[k])
        rows.append(row)
    info = {
        "gamma": float(gamma),
        "lambda": lam,
        "g_max": float(res.g_max),
        "p_low": None if np.isnan(p_low) else p_low,
        "p_high": None if np.isnan(p_high) else p_high,
        "over_suppression": bool(np.asarray(res.over_suppression)),
        "weighted": alpha_arr is not None,
    }
    if as_json:
        import json

        click.echo(json.dumps({"classes": rows, **info}, indent=2))
    else:
        _print_regimes(rows, info)
    if plot_path is not None:
        _plot_regimes(plot_path, p, q, target, labels, class_names, info)
        if not as_json:
            click.echo(f"plot: {plot_path}")


def _print_regimes(rows, info) -> None:
    from rich.table import Table

    console = _console()
    colour = {"amplified": "green", "suppressed": "yellow", "over-suppressed": "bold red"}
    weighted = info["weighted"]
    table = Table(title=f"Focal minimizer, gamma = {info['gamma']:g}", header_style="bold")
    columns = [("class", "left"), ("P", "right")]
    columns += [("w", "right")] if weighted else []
    columns += [("Q*", "right"), ("Q*/P", "right")]
    columns += [("Q*/w", "right"), ("G(w)", "right")] if weighted else [("G(P)", "right")]
    columns += [("label", "left")]
    for col, just in columns:
        table.add_column(col, justify=just)
    for r in rows:
        c = colour.get(r["label"], "")
        cells = [str(r["class"]), f"{r['p']:.6g}"]
        cells += [f"{r['w']:.6g}"] if weighted else []
        cells += [f"{r['q_star']:.6g}", f"{r['ratio']:.4f}"]
        cells += [f"{r['ratio_w']:.4f}"] if weighted else []
        cells += [f"{r['G']:.4f}", f"[{c}]{r['label']}[/{c}]" if c else r["label"]]
        table.add_row(*cells)
    console.print(table)

    def fmt(v):
        return "none" if v is None else f"{v:.6g}"

    console.print(
        f"lam = {info['lambda']:.6g}   G_max = {info['g_max']:.6g}   "
        f"p_low = {fmt(info['p_low'])}   p_high = {fmt(info['p_high'])}"
    )
    if info["weighted"]:
        console.print(
            "weights given: the loss targets w = normalize(alpha * P); G, lam and the labels "
            "refer to w (Q* > w: amplified)"
        )
    if info["over_suppression"]:
        console.print(
            "[bold red]lam > 1[/bold red]: classes below p_low are over-suppressed "
            "(focal loss pushes them below their true probability)"
        )


def _plot_regimes(path: Path, p, q, target, labels, names, info) -> None:
    from ._loss import gradient_weight
    from .experiments._common import pyplot

    plt = pyplot()
    gamma = info["gamma"]
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = {
        "amplified": "tab:green",
        "suppressed": "tab:orange",
        "over-suppressed": "tab:red",
        "unchanged": "tab:gray",
    }
    lo = max(min(float(target[target > 0].min()) / 3, 1e-2), 1e-8)
    grid = np.geomspace(lo, 1 - 1e-9, 500)
    ax0.plot(grid, gradient_weight(grid, gamma), "k", lw=2, label=f"G(p), γ={gamma:g}")
    ax0.axhline(info["lambda"], color="tab:blue", lw=1.3, label=f"λ = {info['lambda']:.4g}")
    for key, marker in (("p_low", "v"), ("p_high", "s")):
        if info[key] is not None:
            ax0.plot(
                [info[key]],
                [info["lambda"]],
                marker,
                color="tab:blue",
                mec="k",
                ms=8,
                label=f"{key} = {info[key]:.3g}",
            )
    for lab in dict.fromkeys(labels):
        sel = np.array([x == lab for x in labels])
        ax0.scatter(
            target[sel],
            gradient_weight(target[sel], gamma),
            color=colors.get(lab, "k"),
            zorder=3,
            s=30,
            label=lab,
        )
    ax0.set_xscale("log")
    ax0.set_xlabel("p" + (" (w = normalize(αP))" if info["weighted"] else ""))
    ax0.set_ylabel("G(p)")
    ax0.set_title("Regimes: amplified iff G(P) > λ")
    ax0.legend(fontsize=8)
    x = np.arange(p.size)
    ax1.bar(x - 0.2, p, 0.4, label="P", color="0.6")
    ax1.bar(x + 0.2, q, 0.4, label="Q*", color=[colors.get(lab, "k") for lab in labels])
    ax1.set_xticks(x, [str(n) for n in names], rotation=45 if p.size > 8 else 0)
    if p.max() / max(p[p > 0].min(), 1e-300) > 50:
        ax1.set_yscale("log")
    ax1.set_xlabel("class")
    ax1.set_ylabel("probability")
    ax1.set_title("P and the focal minimizer Q* (coloured by regime)")
    ax1.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")


# ---------------------------------------------------------------------------
# recover
# ---------------------------------------------------------------------------


@main.command(context_settings=_CONTEXT)
@click.option(
    "--in",
    "in_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A model's probabilities, shape (n, K): .npy or .csv (optional header row).",
)
@click.option("--gamma", type=float, required=True, help="The gamma the model was trained with.")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the recovered probabilities (.npy or .csv).",
)
@click.option("--alpha", metavar="A1,A2,...", help="Class weights used in training.")
@click.option(
    "--kind",
    type=click.Choice(["softmax", "sigmoid"]),
    default="softmax",
    show_default=True,
    help="softmax focal loss (rows sum to 1) or one-vs-rest sigmoid focal loss.",
)
def recover(in_path, gamma, out_path, alpha, kind):
    """Map a focal-trained model's probabilities back to class probabilities.

    Applies the closed-form inverse of the focal minimizer (THEORY.md section 3),
    P(x) ∝ 1 / (alpha_x phi(Q(x))), to every row of the input.

    \b
    Example:
      focalentropy recover --in test_probs.npy --gamma 2 --out recovered.npy
    """
    if out_path.suffix.lower() not in (".npy", ".csv"):
        raise click.BadParameter(
            f"must end in .npy or .csv, got {out_path.name!r}", param_hint="--out"
        )
    arr, header = _load_probabilities(in_path)
    if arr.ndim not in (1, 2) or arr.size == 0:
        raise click.BadParameter(
            f"expected an (n, K) array of probabilities, got shape {arr.shape}", param_hint="--in"
        )
    alpha_arr = None
    if alpha is not None:
        alpha_arr = _parse_numbers(alpha, "--alpha")
        if kind == "softmax" and alpha_arr.size not in (1, arr.shape[-1]):
            raise click.BadParameter(
                f"expected 1 or {arr.shape[-1]} weights, got {alpha_arr.size}",
                param_hint="--alpha",
            )
        if kind == "sigmoid":
            if alpha_arr.size != 1:
                raise click.BadParameter(
                    "the sigmoid kind takes one alpha in (0, 1)", param_hint="--alpha"
                )
            alpha_arr = float(alpha_arr[0])

    from ._minimizer import recover as recover_map

    try:
        out = recover_map(arr, gamma, alpha=alpha_arr, kind=kind)
    except (ValueError, TypeError) as exc:
        hint = (
            "--gamma" if "`gamma`" in str(exc) else ("--alpha" if "alpha" in str(exc) else "--in")
        )
        raise click.BadParameter(str(exc), param_hint=hint) from None
    out = np.asarray(out, dtype=float)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if out_path.suffix.lower() == ".npy":
        np.save(out_path, out)
    else:
        with open(out_path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            if header is not None:
                writer.writerow(header)
            for row in np.atleast_2d(out):
                writer.writerow([repr(float(v)) for v in row])
    rows = np.atleast_2d(arr)
    rec = np.atleast_2d(out)
    msg = f"recovered {rows.shape[0]} row(s) of {rows.shape[1]} classes (gamma = {gamma:g}, {kind})"
    if kind == "softmax":
        same = bool(np.array_equal(rows.argmax(-1), rec.argmax(-1)))
        tv = float(0.5 * np.abs(rec - rows).sum(-1).mean())
        msg += f"; mean change (total variation) {tv:.4g}; argmax unchanged: {same}"
    click.echo(msg)
    click.echo(f"written: {out_path}")


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------


@main.command(context_settings=_CONTEXT)
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
def report(out_dir):
    """Re-render OUT_DIR/report.html from OUT_DIR/results.json and OUT_DIR/figures."""
    from .report import render_directory

    try:
        path = render_directory(out_dir)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"report: {path}")


if __name__ == "__main__":  # pragma: no cover
    main()
