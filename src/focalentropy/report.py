"""Self-contained HTML report of the validation suite.

:func:`render_report` turns the content of ``results.json`` (see
:func:`focalentropy.experiments.reproduce`) into one HTML page with the
figures embedded as base64 PNGs: a summary table of every claim, then one
section per experiment with its claim, method, figures, tables, PASS/FAIL per
claim and notes. The page needs no network and no external files.
Importing this module imports only the standard library.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from pathlib import Path
from typing import Any

__all__ = [
    "ResultsFileError",
    "format_value",
    "render_directory",
    "render_report",
    "write_report",
]

_CSS = """
:root { --pass: #1a7f37; --fail: #cf222e; --muted: #57606a; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0;
       color: #1f2328; background: #f6f8fa; line-height: 1.45; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 60px; background: #fff; }
.table-wrap { overflow-x: auto; -webkit-overflow-scrolling: touch; margin: 8px 0 18px; }
.table-wrap > table { margin: 0; }
h1 { margin: 0 0 4px; font-size: 1.8em; }
h2 { margin-top: 2.2em; border-bottom: 2px solid var(--line); padding-bottom: 6px; }
h3 { margin-bottom: 6px; font-size: 1.05em; }
.sub { color: var(--muted); margin-top: 0; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 12px; color: #fff;
         font-weight: 600; font-size: 0.85em; vertical-align: middle; }
.badge.pass { background: var(--pass); } .badge.fail { background: var(--fail); }
.badge.supported { background: var(--pass); } .badge.refuted { background: #8250df; }
.badge.inconclusive { background: #9a6700; }
.claim { background: #f0f6ff; border-left: 4px solid #0969da; padding: 10px 14px;
         margin: 12px 0; }
.method { color: #32383f; }
table { border-collapse: collapse; margin: 8px 0 18px; font-size: 0.88em; width: 100%; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left;
         vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.fail td { background: #ffebe9; }
figure { margin: 14px 0 22px; }
figure img { max-width: 100%; border: 1px solid var(--line); border-radius: 4px; }
figcaption { color: var(--muted); font-size: 0.9em; margin-top: 4px; }
.notes { background: #fff8c5; border-left: 4px solid #d4a72c; padding: 8px 14px; }
pre { background: #f6f8fa; padding: 10px; overflow-x: auto; font-size: 0.8em; }
details summary { cursor: pointer; color: var(--muted); }
nav a { margin-right: 14px; display: inline-block; }
code { overflow-wrap: anywhere; }
@media (max-width: 640px) {
  main { padding: 14px 10px 40px; }
  h1 { font-size: 1.4em; }
  table { font-size: 0.8em; width: auto; min-width: 100%; }
  th, td { padding: 3px 5px; }
  td:not(.num) { min-width: 7em; }
}
"""


def format_value(v: Any) -> str:
    """Format a number for a table cell (4 significant digits, scientific when small).

    Examples
    --------
    >>> format_value(0.000123456), format_value(12.0), format_value(-0.4851), format_value(None)
    ('1.235e-04', '12', '-0.4851', 'n/a')
    """
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return "n/a" if math.isnan(v) else ("∞" if v > 0 else "-∞")
        if v == int(v) and abs(v) < 1e9:
            return str(int(v))
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.3e}"
        return f"{v:.4g}"
    return str(v)


def _cell(v: Any) -> str:
    if isinstance(v, dict) and "text" in v:  # pre-formatted cell, e.g. "mean ± sd", maybe bold
        text = html.escape(str(v["text"]))
        return f'<td class="num">{f"<b>{text}</b>" if v.get("bold") else text}</td>'
    cls = ' class="num"' if isinstance(v, (int, float)) and not isinstance(v, bool) else ""
    return f"<td{cls}>{html.escape(format_value(v))}</td>"


def _badge(passed: bool) -> str:
    return (
        f'<span class="badge {"pass" if passed else "fail"}">{"PASS" if passed else "FAIL"}</span>'
    )


def _claims_table(claims: list[dict], link: bool = False) -> str:
    out = [
        "<table><tr><th>id</th><th>claim</th><th>metric</th><th>value</th>"
        "<th>threshold</th><th>result</th></tr>"
    ]
    for c in claims:
        cid = html.escape(str(c["id"]))
        if link:
            anchor = "exp-" + cid.split(".")[0]
            cid = f'<a href="#{anchor}">{cid}</a>'
        out.append(
            f'<tr class="{"pass" if c["passed"] else "fail"}"><td>{cid}</td>'
            f"<td>{html.escape(str(c['statement']))}</td><td>{html.escape(str(c['metric']))}</td>"
            f"{_cell(c['value'])}<td>{html.escape(str(c['threshold']))}</td>"
            f"<td>{_badge(bool(c['passed']))}</td></tr>"
        )
    out.append("</table>")
    return _wrap("\n".join(out))


def _findings_table(findings: list[dict]) -> str:
    """Empirical findings: a status (supported / refuted / inconclusive), never PASS/FAIL."""
    out = [
        "<table><tr><th>id</th><th>finding</th><th>metric</th><th>value</th>"
        "<th>threshold</th><th>evidence</th><th>status</th></tr>"
    ]
    for f in findings:
        status = html.escape(str(f.get("status", "inconclusive")))
        out.append(
            f"<tr><td>{html.escape(str(f['id']))}</td><td>{html.escape(str(f['statement']))}</td>"
            f"<td>{html.escape(str(f['metric']))}</td>{_cell(f['value'])}"
            f"<td>{html.escape(str(f['threshold']))}</td>"
            f"<td>{html.escape(str(f.get('evidence', '')))}</td>"
            f'<td><span class="badge {status}">{status}</span></td></tr>'
        )
    out.append("</table>")
    return _wrap("\n".join(out))


def _table(t: dict) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in t["columns"])
    body = "\n".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in t["rows"])
    return f"<h3>{html.escape(t['title'])}</h3>" + _wrap(f"<table><tr>{head}</tr>\n{body}</table>")


def _wrap(table: str) -> str:
    """A table inside a horizontally scrolling box (narrow screens scroll, not overflow)."""
    return f'<div class="table-wrap">{table}</div>'


def _figure(name: str, png: bytes | None, caption: str) -> str:
    if png is None:
        return f"<p><em>figure {html.escape(name)} is missing</em></p>"
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{data}">'
        f"<figcaption><b>{html.escape(name)}</b>: {html.escape(caption)}</figcaption></figure>"
    )


def render_report(
    summary: dict[str, Any],
    *,
    figure_dir: str | os.PathLike[str] | None = None,
    figures: dict[str, bytes] | None = None,
) -> str:
    """Render the validation report as one self-contained HTML page.

    Parameters
    ----------
    summary : dict
        The content of ``results.json``: keys ``passed``, ``claims``, ``config``,
        ``experiments`` (each with ``id, number, title, claim, method, passed,
        claims, tables, figures, captions, notes, error, config``) and ``timings``.
    figure_dir : path-like, optional
        Directory holding the PNG files named in ``experiments[*]["figures"]``.
    figures : dict of str to bytes, optional
        PNG bytes by file name; takes precedence over ``figure_dir``.

    Returns
    -------
    str
        The HTML document.
    """
    figures = dict(figures or {})
    fig_dir = Path(figure_dir) if figure_dir is not None else None
    seconds = summary.get("timings", {}).get("seconds", {})
    parts = _page_head(summary, seconds.get("total"))
    if summary.get("findings"):
        parts.append(
            "<h2>Findings</h2><p>Open empirical questions tested on data. A finding is "
            "supported, refuted or inconclusive; it does not decide PASS/FAIL.</p>"
        )
        parts.append(_findings_table(summary["findings"]))
    for e in summary.get("experiments", []):
        parts += _experiment_section(e, figures, fig_dir, seconds.get(e["id"]))
    cfg = summary.get("config", {})
    parts.append(
        "<h2>Reproduce</h2><p>Same seed, same numbers: "
        f"<code>focalentropy reproduce --{html.escape(str(cfg.get('mode', 'quick')))} "
        f"--seed {html.escape(str(cfg.get('seed', 0)))}</code>. "
        "The machine-readable results are in <code>results.json</code>, the figures in "
        "<code>figures/</code>.</p>"
    )
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def _page_head(summary: dict[str, Any], total: Any) -> list[str]:
    """The document head, the title, the verdict line, the navigation and the claims table."""
    passed = bool(summary.get("passed"))
    claims = summary.get("claims", [])
    n_pass = sum(bool(c["passed"]) for c in claims)
    cfg = summary.get("config", {})
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>focalentropy validation report</title>",
        f"<style>{_CSS}</style></head><body><main>",
        "<h1>focalentropy: validation report</h1>",
        '<p class="sub">Every claim of the documentation\'s theory page (the focal-entropy and '
        "its minimizer Q*), checked in exact computation and in trained models.</p>",
        f"<p>{_badge(passed)} <b>{n_pass} of {len(claims)} claims passed</b> · mode "
        f"<code>{html.escape(str(cfg.get('mode', '?')))}</code> · seed "
        f"<code>{html.escape(str(cfg.get('seed', '?')))}</code> · jobs "
        f"<code>{html.escape(str(cfg.get('jobs', '?')))}</code> (backend "
        f"{html.escape(str(cfg.get('backend', '?')))}) · version "
        f"{html.escape(str(summary.get('version', '?')))}"
        + (f" · {format_value(float(total))} s" if total is not None else "")
        + "</p>",
        "<nav>"
        + "".join(
            f'<a href="#exp-{e["number"]}">{e["number"]}. {html.escape(e["id"])}</a>'
            for e in summary.get("experiments", [])
        )
        + "</nav>",
        "<h2>Summary of claims</h2>",
        _claims_table(claims, link=True),
    ]


def _experiment_section(
    e: dict[str, Any], figures: dict[str, bytes], fig_dir: Path | None, secs: Any
) -> list[str]:
    """One experiment: claim, method, crash, figures, claims, findings, tables, notes, config."""
    parts = [
        f'<h2 id="exp-{e["number"]}">{e["number"]}. {html.escape(e["title"])} '
        f"{_badge(bool(e['passed']))}</h2>",
        f'<div class="claim"><b>Claim.</b> {html.escape(e["claim"])}</div>',
    ]
    if e.get("method"):
        parts.append(f'<p class="method"><b>Method.</b> {html.escape(e["method"])}</p>')
    if e.get("error"):
        parts.append(f"<h3>The experiment crashed</h3><pre>{html.escape(e['error'])}</pre>")
    parts += _experiment_figures(e, figures, fig_dir)
    parts.append("<h3>Claims</h3>")
    parts.append(_claims_table(e.get("claims", [])))
    if e.get("findings"):
        parts.append("<h3>Findings (do not gate the exit code)</h3>")
        parts.append(_findings_table(e["findings"]))
    for t in e.get("tables", []):
        parts.append(_table(t))
    if e.get("notes"):
        items = "".join(f"<li>{html.escape(n)}</li>" for n in e["notes"])
        parts.append(f'<div class="notes"><b>Notes.</b><ul>{items}</ul></div>')
    parts.append(
        "<details><summary>configuration"
        + (f" · {format_value(float(secs))} s" if secs is not None else "")
        + "</summary><pre>"
        + html.escape(json.dumps(e.get("config", {}), indent=2, ensure_ascii=False))
        + "</pre></details>"
    )
    return parts


def _experiment_figures(
    e: dict[str, Any], figures: dict[str, bytes], fig_dir: Path | None
) -> list[str]:
    """The experiment's figures, from ``figures`` or else ``fig_dir`` (missing ones flagged)."""
    captions = e.get("captions", {})
    fig_entries = e.get("figures", {})
    if isinstance(fig_entries, list):
        fig_entries = {name: f"figures/{name}" for name in fig_entries}
    parts = []
    for name in fig_entries:
        png = figures.get(name)
        if png is None and fig_dir is not None and (fig_dir / name).is_file():
            png = (fig_dir / name).read_bytes()
        parts.append(_figure(name, png, captions.get(name, "")))
    return parts


def write_report(
    summary: dict[str, Any],
    path: str | os.PathLike[str],
    *,
    figure_dir: str | os.PathLike[str] | None = None,
    figures: dict[str, bytes] | None = None,
) -> Path:
    """Render :func:`render_report` to ``path`` (UTF-8, written atomically).

    Parameters
    ----------
    summary : dict
        The content of ``results.json`` (see :func:`render_report`).
    path : path-like
        The HTML file to write; missing parent directories are created.
    figure_dir : path-like, optional
        Directory holding the PNG files named in ``experiments[*]["figures"]``.
    figures : dict of str to bytes, optional
        PNG bytes by file name; takes precedence over ``figure_dir``.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    from ._io import write_text

    return write_text(path, render_report(summary, figure_dir=figure_dir, figures=figures))


class ResultsFileError(ValueError):
    """A ``results.json`` that is missing or cannot be rendered (``.path``: the file)."""

    def __init__(self, reason: str, *, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class _MissingResultsError(ResultsFileError, FileNotFoundError):
    """No ``results.json`` (also a ``FileNotFoundError``, as before)."""


_REQUIRED = {
    "claims": ("id", "statement", "metric", "value", "threshold", "passed"),
    "experiments": ("id", "number", "title", "claim", "passed"),
}


def _check_summary(summary: Any, path: Path) -> None:
    """Raise :class:`ResultsFileError` naming the first entry the report cannot use."""
    if not isinstance(summary, dict):
        raise ResultsFileError(f"expected a JSON object, got a {type(summary).__name__}", path=path)
    for key, fields in _REQUIRED.items():
        entries = summary.get(key, [])
        if not isinstance(entries, list):
            raise ResultsFileError(f"{key!r} must be a list", path=path)
        for i, entry in enumerate(entries):
            missing = [f for f in fields if not isinstance(entry, dict) or f not in entry]
            if missing:
                raise ResultsFileError(f"{key}[{i}] has no {missing[0]!r}", path=path)


def render_directory(out_dir: str | os.PathLike[str]) -> Path:
    """Re-render ``out_dir/report.html`` from ``out_dir/results.json`` and ``out_dir/figures``.

    Parameters
    ----------
    out_dir : path-like
        An output directory of ``focalentropy reproduce``.

    Returns
    -------
    pathlib.Path
        ``out_dir/report.html``.

    Raises
    ------
    ResultsFileError
        If ``results.json`` is missing, is not valid JSON or lacks what the report shows.
    """
    from ._io import InputError, read_json, write_text

    out = Path(out_dir)
    results = out / "results.json"
    if not results.is_file():
        raise _MissingResultsError(
            "not found; `focalentropy reproduce --out DIR` writes it", path=results
        )
    try:
        summary = read_json(results)
    except InputError as exc:
        where = f" (line {exc.line})" if exc.line is not None else ""
        raise ResultsFileError(exc.reason + where, path=results) from None
    _check_summary(summary, results)
    try:
        page = render_report(summary, figure_dir=out / "figures")
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ResultsFileError(
            f"malformed content ({type(exc).__name__}: {exc})", path=results
        ) from None
    return write_text(out / "report.html", page)
