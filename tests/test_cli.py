"""The ``focalentropy`` command line (click's CliRunner, in-process)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from focalentropy._minimizer import minimizer
from focalentropy.cli import main, read_counts_csv


@pytest.fixture
def runner():
    return CliRunner()


def invoke(runner, *args):
    return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)


class TestHelp:
    @pytest.mark.parametrize("command", [[], ["reproduce"], ["minimize"], ["recover"], ["report"]])
    def test_help(self, runner, command):
        result = invoke(runner, *command, "--help")
        assert result.exit_code == 0
        assert "Usage:" in result.output

    def test_help_does_not_import_heavy_libraries(self):
        code = (
            "import sys; from focalentropy.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'matplotlib', 'sklearn') if m in sys.modules]\n"
            "print('HEAVY', heavy)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        assert "HEAVY []" in out

    def test_unknown_command(self, runner):
        result = invoke(runner, "fly")
        assert result.exit_code == 2
        assert "No such command" in result.output


class TestMinimize:
    def test_table(self, runner):
        result = invoke(runner, "minimize", "--p", "0.7,0.2,0.08,0.02", "--gamma", "2")
        assert result.exit_code == 0, result.output
        assert "lam = 0.692072" in result.output
        assert "suppressed" in result.output
        assert result.output.count("amplified") == 3

    def test_json_matches_library(self, runner):
        p = [0.7, 0.2, 0.08, 0.02]
        result = invoke(runner, "minimize", "--p", ",".join(map(str, p)), "--gamma", "2", "--json")
        assert result.exit_code == 0
        data = json.loads(result.output)
        q, lam = minimizer(np.array(p), 2.0, return_multiplier=True)
        np.testing.assert_allclose([r["q_star"] for r in data["classes"]], q, rtol=1e-12)
        assert data["lambda"] == pytest.approx(float(lam))
        assert data["p_low"] is None
        assert [r["label"] for r in data["classes"]] == ["suppressed"] + ["amplified"] * 3

    def test_over_suppression_reported(self, runner):
        p = ",".join(["0.2475"] * 4 + ["0.01"])
        result = invoke(runner, "minimize", "--p", p, "--gamma", "2", "--json")
        data = json.loads(result.output)
        assert data["over_suppression"] is True
        assert data["classes"][-1]["label"] == "over-suppressed"
        assert data["classes"][-1]["ratio"] < 1

    def test_alpha(self, runner):
        result = invoke(
            runner, "minimize", "--p", "0.5,0.3,0.2", "--gamma", "1", "--alpha", "1,2,3", "--json"
        )
        data = json.loads(result.output)
        w = np.array([0.5, 0.6, 0.6]) / 1.7
        np.testing.assert_allclose([r["w"] for r in data["classes"]], w)
        np.testing.assert_allclose(
            [r["q_star"] for r in data["classes"]], minimizer(w, 1.0), rtol=1e-10
        )

    def test_counts_csv_layouts(self, tmp_path, runner):
        two_col = tmp_path / "two.csv"
        two_col.write_text("class,count\ncat,70\ndog,20\nbird,10\n")
        one_row = tmp_path / "row.csv"
        one_row.write_text("70,20,10\n")
        one_col = tmp_path / "col.csv"
        one_col.write_text("count\n70\n20\n10\n")
        for path in (two_col, one_row, one_col):
            counts, _ = read_counts_csv(path)
            np.testing.assert_array_equal(counts, [70, 20, 10])
        assert read_counts_csv(two_col)[1] == ["cat", "dog", "bird"]
        result = invoke(runner, "minimize", "--counts", two_col, "--gamma", "2", "--json")
        data = json.loads(result.output)
        assert [r["class"] for r in data["classes"]] == ["cat", "dog", "bird"]
        np.testing.assert_allclose([r["p"] for r in data["classes"]], [0.7, 0.2, 0.1])

    def test_plot(self, tmp_path, runner):
        out = tmp_path / "regimes.png"
        result = invoke(
            runner, "minimize", "--p", "0.7,0.2,0.08,0.02", "--gamma", "2", "--plot", out
        )
        assert result.exit_code == 0
        assert out.read_bytes().startswith(b"\x89PNG")

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--p", "0.5,abc", "--gamma", "2"], "item 1 is 'abc'"),
            (["--p", "0.5,0.4", "--gamma", "2"], "sum to 1"),
            (["--p", "0.5,-0.5,1", "--gamma", "2"], ">= 0"),
            (["--p", "1", "--gamma", "2"], "at least 2 classes"),
            (["--p", "0.5,0.5", "--gamma", "-1"], "`gamma` must be a finite number >= 0"),
            (["--p", "0.5,0.5", "--gamma", "x"], "'x' is not a valid float"),
            (["--p", "0.5,0.5"], "Missing option '--gamma'"),
            (["--gamma", "2"], "exactly one of --p and --counts"),
            (["--p", "0.5,0.5", "--gamma", "2", "--alpha", "1,2,3"], "1 or 2 weights"),
            (["--p", "0.5,0.5", "--gamma", "2", "--names", "a"], "expected 2 names"),
            (["--counts", "/no/such/file.csv", "--gamma", "2"], "does not exist"),
        ],
    )
    def test_bad_arguments(self, runner, args, message):
        result = invoke(runner, "minimize", *args)
        assert result.exit_code == 2
        assert message in result.output

    def test_bad_counts_file(self, tmp_path, runner):
        bad = tmp_path / "bad.csv"
        bad.write_text("class,count\ncat,-3\ndog,5\n")
        result = invoke(runner, "minimize", "--counts", bad, "--gamma", "2")
        assert result.exit_code == 2
        assert "count 0 is '-3'" in result.output
        empty = tmp_path / "empty.csv"
        empty.write_text("")
        result = invoke(runner, "minimize", "--counts", empty, "--gamma", "2")
        assert result.exit_code == 2
        assert "empty file" in result.output


class TestRecover:
    @pytest.fixture
    def probs(self):
        p = np.random.default_rng(0).dirichlet(np.ones(4), 6)
        return p, minimizer(p, 2.0)

    @pytest.mark.parametrize(("src", "dst"), [(".npy", ".npy"), (".csv", ".csv"), (".npy", ".csv")])
    def test_round_trip(self, tmp_path, runner, probs, src, dst):
        p, q = probs
        inp = tmp_path / f"q{src}"
        if src == ".npy":
            np.save(inp, q)
        else:
            np.savetxt(inp, q, delimiter=",", header="a,b,c,d", comments="")
        out = tmp_path / f"p{dst}"
        result = invoke(runner, "recover", "--in", inp, "--gamma", "2", "--out", out)
        assert result.exit_code == 0, result.output
        assert "argmax unchanged: True" in result.output
        if dst == ".npy":
            got = np.load(out)
        else:
            got = np.loadtxt(out, delimiter=",", skiprows=1 if src == ".csv" else 0)
        np.testing.assert_allclose(got, p, rtol=1e-10, atol=1e-14)

    def test_alpha(self, tmp_path, runner):
        p = np.array([[0.6, 0.3, 0.1]])
        alpha = np.array([1.0, 2.0, 4.0])
        inp, out = tmp_path / "q.npy", tmp_path / "p.npy"
        np.save(inp, minimizer(p, 1.0, alpha=alpha))
        result = invoke(
            runner, "recover", "--in", inp, "--gamma", "1", "--alpha", "1,2,4", "--out", out
        )
        assert result.exit_code == 0, result.output
        np.testing.assert_allclose(np.load(out), p, rtol=1e-10)

    def test_bad_arguments(self, tmp_path, runner, probs):
        inp = tmp_path / "q.npy"
        np.save(inp, probs[1])
        cases = [
            (["--in", inp, "--gamma", "2", "--out", tmp_path / "p.txt"], "must end in .npy"),
            (
                ["--in", tmp_path / "none.npy", "--gamma", "2", "--out", tmp_path / "p.npy"],
                "does not exist",
            ),
            (["--in", inp, "--gamma", "-2", "--out", tmp_path / "p.npy"], "`gamma`"),
            (
                ["--in", inp, "--gamma", "2", "--alpha", "1,2", "--out", tmp_path / "p.npy"],
                "1 or 4 weights",
            ),
        ]
        for args, message in cases:
            result = invoke(runner, "recover", *args)
            assert result.exit_code == 2, args
            assert message in result.output
        text = tmp_path / "words.csv"
        text.write_text("a,b\n0.5,zz\n")
        out = tmp_path / "o.npy"
        result = invoke(runner, "recover", "--in", text, "--gamma", "2", "--out", out)
        assert result.exit_code == 2
        assert "Invalid value for --in" in result.output
        bad = tmp_path / "bad.npy"
        np.save(bad, np.array([[0.5, 1.5]]))
        result = invoke(runner, "recover", "--in", bad, "--gamma", "2", "--out", out)
        assert result.exit_code == 2
        assert "Invalid value" in result.output


class TestReproduce:
    @pytest.fixture
    def tiny(self, monkeypatch):
        """Patch the runner to a tiny theory-only configuration."""
        pytest.importorskip("matplotlib")
        from focalentropy.experiments import runner as runner_module
        from focalentropy.experiments import theory

        cfg = theory.default_config()
        cfg.update(sweep_points=11, eps_points=5, zipf_classes=10, tail_classes=4, figures=False)
        monkeypatch.setattr(
            runner_module, "default_configs", lambda quick, seed, only: {"theory": dict(cfg)}
        )
        return cfg

    def test_runs_and_writes(self, tmp_path, runner, tiny):
        out = tmp_path / "out"
        result = invoke(runner, "reproduce", "--out", out, "--seed", "3")
        assert result.exit_code == 0, result.output
        assert "ALL CLAIMS PASS" in result.output
        assert "1.identity" in result.output
        data = json.loads((out / "results.json").read_text())
        assert data["passed"] is True
        assert data["config"]["mode"] == "quick"
        assert (out / "report.html").is_file()

    def test_failing_claim_exits_nonzero(self, tmp_path, runner, tiny, monkeypatch):
        from focalentropy.experiments import Claim, ExperimentResult, theory

        def failing(config, progress=None):
            return ExperimentResult(
                "theory", 1, "t", "c", claims=[Claim.less("1.x", "s", "m", 2.0, 1.0)]
            )

        monkeypatch.setattr(theory, "run", failing)
        result = invoke(runner, "reproduce", "--out", tmp_path / "out")
        assert result.exit_code == 1
        assert "FAIL" in result.output
        assert "SOME CLAIMS FAIL" in result.output

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--jobs", "0"], "0 is not in the range x>=1"),
            (["--seed", "-1"], "-1 is not in the range x>=0"),
            (["--backend", "spark"], "'spark' is not one of"),
            (["--backend", "dask"], "--backend dask needs --scheduler"),
            (["--scheduler", "tcp://127.0.0.1:8786"], "only used with --backend dask"),
            (["--only", "nope"], "'nope' is not one of"),
            (["--quick", "--frobnicate"], "No such option"),
        ],
    )
    def test_bad_arguments(self, runner, args, message):
        result = invoke(runner, "reproduce", *args)
        assert result.exit_code == 2
        assert message in result.output

    def test_out_is_a_file(self, tmp_path, runner):
        f = tmp_path / "file"
        f.write_text("x")
        result = invoke(runner, "reproduce", "--out", f)
        assert result.exit_code == 2


class TestReport:
    def test_rerender_missing(self, tmp_path, runner):
        result = invoke(runner, "report", tmp_path)
        assert result.exit_code == 1
        assert "no results.json" in result.output
