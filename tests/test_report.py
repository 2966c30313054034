"""The self-contained HTML report."""

from __future__ import annotations

import base64
import json

import pytest

from focalentropy import report

PNG = b"\x89PNG\r\n\x1a\n" + b"fake image bytes"


def _summary(passed: bool = True) -> dict:
    claims = [
        {
            "id": "1.identity",
            "statement": "λ Q*/P = G(Q*) <exactly>",
            "metric": "max error",
            "value": 2.2e-15,
            "threshold": "< 1e-09",
            "passed": True,
        },
        {
            "id": "2.slope.free.g2",
            "statement": "converges at n^(-1/2)",
            "metric": "slope",
            "value": -0.48 if passed else -0.1,
            "threshold": "in [-0.7, -0.3]",
            "passed": passed,
        },
    ]
    return {
        "passed": passed,
        "version": "0.1.0",
        "claims": claims,
        "config": {"mode": "quick", "seed": 7, "jobs": 2, "backend": "loky"},
        "timings": {"seconds": {"theory": 1.5, "discrete": 2.0, "total": 3.5}},
        "experiments": [
            {
                "id": "theory",
                "number": 1,
                "title": "Theory",
                "claim": "Q* is characterised by <G>.",
                "method": "exact",
                "passed": True,
                "claims": claims[:1],
                "tables": [{"title": "T", "columns": ["a", "b"], "rows": [[1, 0.5], ["x", None]]}],
                "figures": {"one.png": "figures/one.png", "missing.png": "figures/missing.png"},
                "captions": {"one.png": "the first figure"},
                "notes": ["a note & more"],
                "config": {"k": 1},
                "error": None,
            },
            {
                "id": "discrete",
                "number": 2,
                "title": "Discrete",
                "claim": "converges",
                "method": "",
                "passed": passed,
                "claims": claims[1:],
                "tables": [],
                "figures": {},
                "captions": {},
                "notes": [],
                "config": {},
                "error": None if passed else "Traceback: boom",
            },
        ],
    }


class TestFormatValue:
    @pytest.mark.parametrize(
        ("value", "text"),
        [
            (None, "n/a"),
            (True, "yes"),
            (3, "3"),
            (2.0, "2"),
            (0.5, "0.5"),
            (-0.48512, "-0.4851"),
            (1.2346e-6, "1.235e-06"),
            (float("nan"), "n/a"),
            (float("inf"), "∞"),
            (0.0, "0"),
        ],
    )
    def test_values(self, value, text):
        assert report.format_value(value) == text


class TestRenderReport:
    def test_contents(self):
        html = report.render_report(_summary(), figures={"one.png": PNG})
        assert html.startswith("<!DOCTYPE html>")
        assert "2 of 2 claims passed" in html
        assert html.count('class="badge pass"') >= 3  # overall, two sections, claims
        assert 'class="badge fail"' not in html
        # figure embedded, caption shown, the missing one flagged
        assert "data:image/png;base64," + base64.b64encode(PNG).decode() in html
        assert "the first figure" in html
        assert "figure missing.png is missing" in html
        # user text is escaped
        assert "&lt;exactly&gt;" in html
        assert "<exactly>" not in html
        assert "a note &amp; more" in html
        # seed and reproduce command
        assert "--seed 7" in html
        assert 'id="exp-1"' in html
        assert 'href="#exp-2"' in html

    def test_failure_is_visible(self):
        html = report.render_report(_summary(passed=False))
        assert "1 of 2 claims passed" in html
        assert 'class="badge fail"' in html
        assert '<tr class="fail">' in html
        assert "Traceback: boom" in html
        assert "The experiment crashed" in html

    def test_no_external_resources(self):
        html = report.render_report(_summary(), figures={"one.png": PNG})
        assert "http://" not in html
        assert "https://" not in html
        assert "<script" not in html

    def test_figures_from_directory(self, tmp_path):
        (tmp_path / "figures").mkdir()
        (tmp_path / "figures" / "one.png").write_bytes(PNG)
        path = report.write_report(
            _summary(), tmp_path / "r" / "report.html", figure_dir=tmp_path / "figures"
        )
        assert path.is_file()
        assert base64.b64encode(PNG).decode() in path.read_text(encoding="utf-8")

    def test_render_directory(self, tmp_path):
        (tmp_path / "figures").mkdir()
        (tmp_path / "figures" / "one.png").write_bytes(PNG)
        (tmp_path / "results.json").write_text(json.dumps(_summary()), encoding="utf-8")
        path = report.render_directory(tmp_path)
        assert path == tmp_path / "report.html"
        assert "data:image/png;base64," in path.read_text(encoding="utf-8")

    def test_render_directory_without_results(self, tmp_path):
        with pytest.raises(FileNotFoundError, match=r"results\.json: not found"):
            report.render_directory(tmp_path)

    def test_render_directory_malformed(self, tmp_path):
        (tmp_path / "results.json").write_text('{"experiments": [{"id": "x"}]}')
        with pytest.raises(report.ResultsFileError, match=r"experiments\[0\] has no 'number'"):
            report.render_directory(tmp_path)
        (tmp_path / "results.json").write_text("{")
        with pytest.raises(ValueError, match=r"results\.json: not valid JSON"):
            report.render_directory(tmp_path)


class TestSections:
    def test_experiment_section_order(self):
        summary = _summary(passed=False)
        theory = summary["experiments"][0]
        theory["error"] = "Traceback: theory"
        theory["findings"] = [
            {"id": "1.f", "statement": "s", "metric": "m", "value": 0.5, "threshold": "t",
             "status": "refuted", "evidence": "e"}
        ]  # fmt: skip
        html = report.render_report(summary, figures={"one.png": PNG})
        start, end = html.index('id="exp-1"'), html.index('id="exp-2"')
        section = html[start:end]
        markers = [
            "<b>Claim.</b> Q* is characterised by &lt;G&gt;.",
            "<b>Method.</b> exact",
            "The experiment crashed",
            "<b>one.png</b>: the first figure",
            "figure missing.png is missing",
            "<h3>Claims</h3>",
            "Findings (do not gate the exit code)",
            '<span class="badge refuted">refuted</span>',
            "<h3>T</h3>",
            "a note &amp; more",
            "configuration · 1.5 s",
            "&quot;k&quot;: 1",
        ]
        positions = [section.index(m) for m in markers]
        assert positions == sorted(positions)
        # the second experiment: no method, no figures, no tables, its own time
        second = html[end : html.index("<h2>Reproduce</h2>")]
        assert "Method." not in second
        assert "<figure>" not in second
        assert "configuration · 2 s" in second
        assert "Traceback: boom" in second

    def test_head_and_navigation(self):
        html = report.render_report(_summary())
        head = html[: html.index("<h2>Summary of claims</h2>")]
        assert "mode <code>quick</code> · seed <code>7</code> · jobs <code>2</code>" in head
        assert "(backend loky) · version 0.1.0 · 3.5 s" in head
        assert '<a href="#exp-1">1. theory</a><a href="#exp-2">2. discrete</a>' in head
        assert html.rstrip().endswith("</main></body></html>")
        assert "focalentropy reproduce --quick --seed 7" in html

    def test_findings_and_figure_list(self, tmp_path):
        summary = _summary()
        summary["findings"] = [
            {"id": "9.f", "statement": "<maybe>", "metric": "m", "value": 1e-6,
             "threshold": "t"}
        ]  # fmt: skip
        summary["experiments"][1]["figures"] = ["two.png"]  # older results.json: a list
        (tmp_path / "two.png").write_bytes(PNG + b"2")
        html = report.render_report(summary, figure_dir=tmp_path)
        findings = html[html.index("<h2>Findings</h2>") : html.index('id="exp-1"')]
        assert "&lt;maybe&gt;" in findings
        assert '<span class="badge inconclusive">inconclusive</span>' in findings
        assert "1.000e-06" in findings
        assert base64.b64encode(PNG + b"2").decode() in html
        assert "figure one.png is missing" in html  # not in figure_dir, not given


class TestNarrowScreens:
    def test_every_table_scrolls_inside_its_own_box(self):
        import re

        html = report.render_report(_summary())
        tables = html.count("<table>")
        assert tables == 4  # summary, two experiments' claims, one data table
        assert html.count('<div class="table-wrap"><table>') == tables
        css = re.search(r"<style>(.*)</style>", html, re.S).group(1)
        assert ".table-wrap { overflow-x: auto;" in css
        assert "@media (max-width: 640px)" in css


class TestExperimentText:
    def test_theory_caption_counts_come_from_the_configuration(self):
        pytest.importorskip("matplotlib")
        from focalentropy.experiments import theory

        cfg = theory.default_config()
        # captions come with the figures (a run without figures draws and captions nothing)
        cfg.update(sweep_points=11, eps_points=5, zipf_classes=10, figures=True)
        cfg.update(head_classes=4, tail_classes=3)
        caption = theory.run(cfg).captions["ratio_vs_p.png"]
        assert "4 head classes and a tail of 3 rare classes" in caption
        assert "nine" not in caption

    def test_real_data_tables_show_every_computed_map(self, monkeypatch):
        pytest.importorskip("torch")
        pytest.importorskip("matplotlib")
        import numpy as np

        from focalentropy._minimizer import minimizer
        from focalentropy.experiments import long_tail, real_data

        rng = np.random.default_rng(0)
        p_ce = rng.dirichlet(np.ones(3), 40)
        maps = ["raw", "recover", "recover(auto)", "temperature", "recover+temperature"]

        def row(model, g, mp):
            return {"model": model, "gamma": g, "map": mp, "accuracy": 0.9, "ece": 0.05,
                    "nll": 0.3}  # fmt: skip

        def fake(gammas, seed, quick, **kwargs):
            rows = [row("cross-entropy", 0.0, "raw"), row("cross-entropy", 0.0, "temperature")]
            rows += [row("focal", g, mp) for g in gammas for mp in maps]
            fitted = {"ce": {"temperature": 1.3}}
            fitted.update(
                {
                    g: {"temperature": 0.8, "temperature_after_recover": 1.2, "gamma_auto": 1.9}
                    for g in gammas
                }
            )
            check = {"tv_focal_vs_minimizer_of_ce": 0.05, "tv_focal_vs_ce": 0.1,
                     "tv_recovered_vs_ce": 0.03}  # fmt: skip
            return {
                "rows": rows,
                "labels": rng.integers(0, 3, 40),
                "probs": {"ce": p_ce, **{g: minimizer(p_ce, g) for g in gammas}},
                "fitted": fitted,
                "argmax_preserved": True,
                "minimizer_check": dict.fromkeys(gammas, check),
                "counts": {"train": [10, 5, 1], "val": [4, 2, 1], "test": [20, 15, 5]},
                "config": {"dataset": "fake", "imbalance_ratio": 10.0, "epochs": 1},
            }

        monkeypatch.setattr(long_tail, "run_long_tail_experiment", fake)
        cfg = {**real_data.default_config(), "gammas": [2.0], "figures": False}
        res = real_data.run(cfg)
        calibration = next(t for t in res.tables if t.title.startswith("Calibration"))
        assert [(r[0], r[2]) for r in calibration.rows] == [
            ("cross-entropy", "raw"),
            ("cross-entropy", "temperature"),
            ("focal", "raw"),
            ("focal", "temperature"),
            ("focal", "recover"),
            ("focal", "recover(auto)"),
            ("focal", "recover+temperature"),
        ]
        fitted = next(t for t in res.tables if t.title.startswith("Fitted"))
        assert fitted.rows == [[2.0, 0.8, 1.2, 1.9]]
        html = report.render_report({"claims": [], "experiments": [res.to_dict()]})
        assert "recover(auto)" in html
        assert "T, temperature alone" in html
