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
from test_plotting import mp_regimes


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

    def test_json_matches_the_50_digit_reference(self, runner):
        p = (0.7, 0.2, 0.08, 0.02)
        result = invoke(runner, "minimize", "--p", ",".join(map(str, p)), "--gamma", "2", "--json")
        assert result.exit_code == 0
        data = json.loads(result.output)
        ref = mp_regimes(p, 2.0)
        np.testing.assert_allclose([r["q_star"] for r in data["classes"]], ref["q"], rtol=1e-12)
        assert data["lambda"] == pytest.approx(ref["lam"], rel=1e-12)
        assert data["p_low"] is None
        assert data["p_high"] == pytest.approx(ref["p_high"], rel=1e-9)
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
        np.testing.assert_allclose([r["w"] for r in data["classes"]], w, rtol=1e-15)
        ref = mp_regimes((0.5, 0.3, 0.2), 1.0, alpha=(1, 2, 3))
        np.testing.assert_allclose([r["q_star"] for r in data["classes"]], ref["q"], rtol=1e-12)

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
        assert message in _error_line(result)

    def test_bad_counts_file(self, tmp_path, runner):
        bad = tmp_path / "bad.csv"
        bad.write_text("class,count\ncat,-3\ndog,5\n")
        result = invoke(runner, "minimize", "--counts", bad, "--gamma", "2")
        assert result.exit_code == 2
        assert "bad.csv, line 2: count of 'cat' must be finite and >= 0, got '-3'" in result.output
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
        assert result.exit_code == 2
        assert "results.json: not found" in result.output


def _strict_json(text):
    """json.loads that refuses NaN/Infinity (not JSON)."""

    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def _error_line(result):
    """The one 'Error: ...' line of a failed command."""
    lines = [ln for ln in result.output.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


class TestCountsInput:
    def test_first_row_is_not_dropped(self, tmp_path, runner):
        path = tmp_path / "c.csv"
        path.write_text("cat,500\ndog,300\nbird,150\nfish,40\nnewt,10\n")
        result = invoke(runner, "minimize", "--counts", path, "--gamma", "2")
        assert result.exit_code == 0, result.output
        assert "cat" in result.output
        data = _strict_json(
            invoke(runner, "minimize", "--counts", path, "--gamma", "2", "--json").output
        )
        assert [r["class"] for r in data["classes"]] == ["cat", "dog", "bird", "fish", "newt"]
        np.testing.assert_allclose(data["classes"][0]["p"], 0.5)

    def test_header_option(self, tmp_path, runner):
        path = tmp_path / "ids.csv"
        path.write_text("0,500\n1,300\n2,200\n")
        result = invoke(runner, "minimize", "--counts", path, "--gamma", "2", "--json")
        assert [r["class"] for r in _strict_json(result.output)["classes"]] == ["0", "1", "2"]
        result = invoke(runner, "minimize", "--counts", path, "--header", "--gamma", "2", "--json")
        assert [r["class"] for r in _strict_json(result.output)["classes"]] == ["1", "2"]
        named = tmp_path / "named.csv"
        named.write_text("class,count\ncat,5\ndog,3\n")
        result = invoke(runner, "minimize", "--counts", named, "--no-header", "--gamma", "2")
        assert result.exit_code == 2
        assert _error_line(result) == (
            f"Error: Invalid value for --counts: {named}, line 1: "
            "count of 'class' is not a number: 'count'"
        )
        result = invoke(runner, "minimize", "--p", "0.5,0.5", "--header", "--gamma", "2")
        assert result.exit_code == 2
        assert "--header/--no-header only apply to --counts" in result.output

    @pytest.mark.parametrize(("text", "n"), [("70,20,10\n", 3), ("70\n20\n10\n", 3), ("7,3\n", 2)])
    def test_one_row_and_one_column(self, tmp_path, runner, text, n):
        path = tmp_path / "c.csv"
        path.write_text(text)
        result = invoke(runner, "minimize", "--counts", path, "--gamma", "1", "--json")
        assert result.exit_code == 0, result.output
        assert len(_strict_json(result.output)["classes"]) == n

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            (b"\x89PNG\r\n\x1a\n\x00\x00", "not a text file (it contains NUL bytes)"),
            ("caf\xe9,5\ntea,3\n".encode("latin-1"), "line 1: not UTF-8 text (byte 0xe9"),
            (b"cat,5\ndog,3,1\n", "line 2: expected 'class,count' rows"),
        ],
    )
    def test_bad_files(self, tmp_path, runner, content, message):
        path = tmp_path / "c.csv"
        path.write_bytes(content)
        result = invoke(runner, "minimize", "--counts", path, "--gamma", "2")
        assert result.exit_code == 2
        assert message in _error_line(result)


class TestMinimizeOutput:
    def test_json_is_valid_with_null_for_undefined(self, runner):
        result = invoke(runner, "minimize", "--p", "0.5,0.5,0", "--gamma", "1", "--json")
        assert result.exit_code == 0
        assert "NaN" not in result.output
        data = _strict_json(result.output)
        assert data["classes"][2]["ratio"] is None
        assert data["p_low"] is None

    def test_json_alpha_labels_and_ratios_refer_to_w(self, runner):
        args = ["--p", "0.5,0.3,0.2", "--gamma", "1", "--alpha", "1,2,5", "--json"]
        data = _strict_json(invoke(runner, "minimize", *args).output)
        assert data["reference"] == "w"
        ref = mp_regimes((0.5, 0.3, 0.2), 1.0, alpha=(1, 2, 5))
        np.testing.assert_allclose(ref["w"], np.array([0.5, 0.6, 1.0]) / 2.1, rtol=1e-15)
        q, w = ref["q"], ref["w"]
        for k, row in enumerate(data["classes"]):
            assert row["w"] == pytest.approx(w[k], rel=1e-15)
            assert row["ratio"] == pytest.approx(q[k] / w[k], rel=1e-12)
            assert row["ratio_p"] == pytest.approx(q[k] / [0.5, 0.3, 0.2][k], rel=1e-12)
            assert row["G"] == pytest.approx(ref["G"][k], rel=1e-12)
            assert row["label"] == ref["labels"][k]
        assert data["lambda"] == pytest.approx(ref["lam"], rel=1e-12)
        assert data["p_low"] == pytest.approx(ref["p_low"], rel=1e-9)
        assert data["p_high"] == pytest.approx(ref["p_high"], rel=1e-9)
        # class 0: Q*/P < 1 but amplified with respect to w
        assert data["classes"][0]["label"] == "amplified"
        assert data["classes"][0]["ratio_p"] < 1

    def test_messages_print_plain_numbers(self, runner):
        from focalentropy.cli import _plain

        assert _plain("found np.float64(-2.0) at index np.int64(2)") == "found -2.0 at index 2"
        result = invoke(
            runner, "minimize", "--p", "0.5,0.3,0.2", "--gamma", "1", "--alpha", "1,2,-2"
        )
        assert result.exit_code == 2
        assert (
            _error_line(result)
            == "Error: Invalid value for --alpha: must be positive; item 2 is '-2'"
        )

    def test_plot_exact_name_and_format(self, tmp_path, runner):
        out = tmp_path / "X.PNG"
        result = invoke(runner, "minimize", "--p", "0.7,0.3", "--gamma", "2", "--plot", out)
        assert result.exit_code == 0, result.output
        assert f"plot: {out}" in result.output
        assert out.read_bytes().startswith(b"\x89PNG")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["X.PNG"]
        svg = tmp_path / "r.svg"
        invoke(runner, "minimize", "--p", "0.7,0.3", "--gamma", "2", "--plot", svg)
        assert b"<svg" in svg.read_bytes()

    @pytest.mark.parametrize(
        ("name", "message"),
        [
            ("regimes", "unknown image format (no suffix); use one of"),
            ("regimes.xyz", "unknown image format (suffix '.xyz')"),
            ("afile/r.png", "afile is a file, not a folder"),
        ],
    )
    def test_bad_plot_path(self, tmp_path, runner, name, message):
        (tmp_path / "afile").write_text("x")
        result = invoke(
            runner, "minimize", "--p", "0.7,0.3", "--gamma", "2", "--plot", tmp_path / name
        )
        assert result.exit_code == 2
        assert "Invalid value for --plot" in _error_line(result)
        assert message in result.output
        assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def _printed_table(output):
    """The rows of the rich table (cells split on the box character) and the summary line."""
    rows = [
        [c.strip() for c in ln.strip().strip(bar).split(bar)]
        for ln in output.splitlines()
        for bar in ("┃", "│")  # the header's box character, then the body's
        if ln.startswith(bar)
    ]
    (line,) = [ln for ln in output.splitlines() if ln.startswith("lam = ")]
    fields = dict(item.split(" = ") for item in line.split("   "))
    return rows, fields


#: (P, gamma): uniform (every class unchanged, lam = G(1/K) > 1), binary, gamma = 0
#: (Q* = P, lam = 1), and one with every regime but "unchanged" (lam > 1)
TABLE_CASES = [
    ((0.25, 0.25, 0.25, 0.25), 2.0),
    ((0.8, 0.2), 2.0),
    ((0.6, 0.3, 0.1), 0.0),
    ((0.3, 0.2, 0.2, 0.2, 0.0999, 0.0001), 2.0),
]


class TestMinimizeTableAgainstReferences:
    """Every number and label of the table against the theory in 50 digits (not regimes())."""

    @pytest.mark.parametrize(("p", "gamma"), TABLE_CASES)
    def test_json(self, runner, p, gamma):
        args = ["--p", ",".join(map(str, p)), "--gamma", gamma, "--json"]
        data = _strict_json(invoke(runner, "minimize", *args).output)
        ref = mp_regimes(p, gamma)
        rows = data["classes"]
        assert [r["class"] for r in rows] == [str(k) for k in range(len(p))]
        np.testing.assert_allclose([r["p"] for r in rows], p, rtol=1e-15)
        np.testing.assert_allclose([r["q_star"] for r in rows], ref["q"], rtol=1e-12)
        np.testing.assert_allclose([r["ratio"] for r in rows], ref["q"] / ref["w"], rtol=1e-12)
        np.testing.assert_allclose([r["G"] for r in rows], ref["G"], rtol=1e-12)
        assert [r["label"] for r in rows] == ref["labels"]
        assert data["gamma"] == gamma
        assert data["lambda"] == pytest.approx(ref["lam"], rel=1e-12)
        assert data["over_suppression"] is (ref["lam"] > 1)
        for key in ("p_low", "p_high"):
            if ref[key] is None:
                assert data[key] is None, key
            else:
                assert data[key] == pytest.approx(ref[key], rel=1e-9), key
        assert (data["weighted"], data["reference"]) == (False, "p")

    def test_known_cases_in_closed_form(self, runner):
        # uniform P: Q* = P, every class unchanged, lam = G(1/4) = (3/4)^2 + (3/4) log 4 / 2,
        # and 1/4 is the crossing p_high (G decreases there)
        data = _strict_json(
            invoke(
                runner, "minimize", "--p", "0.25,0.25,0.25,0.25", "--gamma", "2", "--json"
            ).output
        )
        g = 0.5625 + 0.375 * np.log(4)
        assert {r["label"] for r in data["classes"]} == {"unchanged"}
        np.testing.assert_allclose([r["G"] for r in data["classes"]], g, rtol=1e-14)
        np.testing.assert_allclose([r["ratio"] for r in data["classes"]], 1.0, rtol=1e-14)
        assert data["lambda"] == pytest.approx(g, rel=1e-12)
        assert data["p_high"] == pytest.approx(0.25, rel=1e-9)
        # gamma = 0: cross-entropy, Q* = P, G = 1 = lam, no crossings
        data = _strict_json(
            invoke(runner, "minimize", "--p", "0.6,0.3,0.1", "--gamma", "0", "--json").output
        )
        assert [r["q_star"] for r in data["classes"]] == pytest.approx([0.6, 0.3, 0.1], rel=1e-15)
        assert {r["label"] for r in data["classes"]} == {"unchanged"}
        assert (data["lambda"], data["g_max"], data["p_low"], data["p_high"]) == (1, 1, None, None)

    @pytest.mark.parametrize(("p", "gamma"), TABLE_CASES)
    def test_printed_table(self, runner, p, gamma):
        result = invoke(runner, "minimize", "--p", ",".join(map(str, p)), "--gamma", gamma)
        assert result.exit_code == 0, result.output
        rows, fields = _printed_table(result.output)
        ref = mp_regimes(p, gamma)
        assert rows[0] == ["class", "P", "Q*", "Q*/P", "G(P)", "label"]
        assert len(rows) == len(p) + 1
        for k, row in enumerate(rows[1:]):
            assert row[0] == str(k)
            assert float(row[1]) == pytest.approx(p[k], rel=1e-6)
            assert float(row[2]) == pytest.approx(ref["q"][k], rel=6e-6)
            assert float(row[3]) == pytest.approx(ref["q"][k] / p[k], abs=6e-5)
            assert float(row[4]) == pytest.approx(ref["G"][k], abs=6e-5)
            assert row[5] == ref["labels"][k]
        assert float(fields["lam"]) == pytest.approx(ref["lam"], rel=6e-6)
        for key in ("p_low", "p_high"):
            want = ref[key]
            assert (
                fields[key] == "none"
                if want is None
                else float(fields[key]) == pytest.approx(want, rel=6e-6)
            )
        assert ("classes below p_low are over-suppressed" in result.output) is (ref["lam"] > 1)

    def test_printed_weighted_table(self, runner):
        args = ["--p", "0.5,0.3,0.2", "--gamma", "1", "--alpha", "1,2,5"]
        rows, fields = _printed_table(invoke(runner, "minimize", *args).output)
        ref = mp_regimes((0.5, 0.3, 0.2), 1.0, alpha=(1, 2, 5))
        assert rows[0] == ["class", "P", "w", "Q*", "Q*/P", "Q*/w", "G(w)", "label"]
        for k, row in enumerate(rows[1:]):
            assert float(row[2]) == pytest.approx(ref["w"][k], rel=6e-6)
            assert float(row[3]) == pytest.approx(ref["q"][k], rel=6e-6)
            assert float(row[4]) == pytest.approx(ref["q"][k] / [0.5, 0.3, 0.2][k], abs=6e-5)
            assert float(row[5]) == pytest.approx(ref["q"][k] / ref["w"][k], abs=6e-5)
            assert float(row[6]) == pytest.approx(ref["G"][k], abs=6e-5)
            assert row[7] == ref["labels"][k]
        assert float(fields["p_low"]) == pytest.approx(ref["p_low"], rel=6e-6)

    def test_plot_draws_the_table(self, tmp_path, runner, monkeypatch):
        """The saved figure's points and bars are the classes of the table, by regime colour."""
        from matplotlib.colors import to_rgba
        from matplotlib.figure import Figure

        saved = []
        save = Figure.savefig

        def spy(fig, *args, **kwargs):
            saved.append(fig)
            return save(fig, *args, **kwargs)

        monkeypatch.setattr(Figure, "savefig", spy)
        p = (0.3, 0.2, 0.2, 0.2, 0.0999, 0.0001)
        out = tmp_path / "r.png"
        args = ["--p", ",".join(map(str, p)), "--gamma", "2", "--names", "a,b,c,d,e,f"]
        result = invoke(runner, "minimize", *args, "--plot", out)
        assert result.exit_code == 0, result.output
        assert out.read_bytes().startswith(b"\x89PNG")
        (fig,) = saved
        curve_ax, bar_ax = fig.axes
        ref = mp_regimes(p, 2.0)
        colour = {
            "amplified": "tab:green",
            "suppressed": "tab:orange",
            "over-suppressed": "tab:red",
        }
        points = {}
        for coll in curve_ax.collections:
            for x, y in coll.get_offsets():
                points[float(x)] = (float(y), tuple(coll.get_facecolors()[0]))
        assert sum(len(c.get_offsets()) for c in curve_ax.collections) == len(p)
        assert len(points) == 4  # the three classes at 0.2 are drawn at one place
        for k, x in enumerate(p):
            y, c = min(points.items(), key=lambda item: abs(item[0] - x))[1]
            assert y == pytest.approx(ref["G"][k], rel=1e-10)
            assert c == to_rgba(colour[ref["labels"][k]])
        p_bars, q_bars = bar_ax.containers
        assert [t.get_text() for t in bar_ax.get_xticklabels()] == list("abcdef")
        np.testing.assert_allclose([b.get_height() for b in q_bars], ref["q"], rtol=1e-10)
        assert [b.get_facecolor() for b in q_bars] == [
            to_rgba(colour[lab]) for lab in ref["labels"]
        ]
        assert len(p_bars) == len(p)

    def test_plot_without_matplotlib_names_the_extra(self, tmp_path, runner, monkeypatch):
        monkeypatch.setitem(sys.modules, "matplotlib.backend_bases", None)
        args = ["--p", "0.7,0.3", "--gamma", "2", "--plot", tmp_path / "r.png"]
        result = invoke(runner, "minimize", *args)
        assert result.exit_code == 2
        assert _error_line(result) == (
            "Error: Invalid value for --plot: drawing needs matplotlib: "
            "pip install 'focal-entropy[plot]'"
        )
        assert not (tmp_path / "r.png").exists()

    def test_weighted_plot_names_the_target(self, tmp_path, runner, monkeypatch):
        from matplotlib.figure import Figure

        saved = []
        save = Figure.savefig
        monkeypatch.setattr(
            Figure, "savefig", lambda fig, *a, **k: (saved.append(fig), save(fig, *a, **k))[1]
        )
        args = ["--p", "0.5,0.3,0.2", "--gamma", "1", "--alpha", "1,2,5"]
        result = invoke(runner, "minimize", *args, "--plot", tmp_path / "w.svg")
        assert result.exit_code == 0, result.output
        curve_ax, bar_ax = saved[0].axes
        assert curve_ax.get_xlabel() == "w = normalize(\u03b1P)"
        ref = mp_regimes((0.5, 0.3, 0.2), 1.0, alpha=(1, 2, 5))
        np.testing.assert_allclose(
            [b.get_height() for b in bar_ax.containers[0]], ref["w"], rtol=1e-14
        )
        assert bar_ax.get_legend().get_texts()[0].get_text() == "w = normalize(\u03b1P)"


class TestRecoverInput:
    @pytest.fixture
    def p(self):
        return np.random.default_rng(2).dirichlet(np.ones(6), 200)

    @pytest.fixture
    def q(self, p):
        return minimizer(p, 2.0)

    def test_float32_npy(self, tmp_path, runner, p, q):
        inp = tmp_path / "q.npy"
        np.save(inp, q.astype(np.float32))
        out = tmp_path / "p.npy"
        result = invoke(runner, "recover", "--in", inp, "--gamma", "2", "--out", out)
        assert result.exit_code == 0, result.output
        np.testing.assert_allclose(np.load(out), p, atol=1e-5)

    def test_csv_with_six_decimals(self, tmp_path, runner, p, q):
        inp = tmp_path / "q.csv"
        np.savetxt(inp, q, fmt="%.6f", delimiter=",")
        out = tmp_path / "p.csv"
        result = invoke(runner, "recover", "--in", inp, "--gamma", "2", "--out", out)
        assert result.exit_code == 0, result.output
        assert "whose sum differs from 1 by no more than the rounding" in result.output
        np.testing.assert_allclose(np.loadtxt(out, delimiter=","), p, atol=2e-5)

    def test_renormalize_and_from_logits(self, tmp_path, runner, p, q):
        inp, out = tmp_path / "q.npy", tmp_path / "p.npy"
        np.save(inp, q * 1.01)
        result = invoke(runner, "recover", "--in", inp, "--gamma", "2", "--out", out)
        assert result.exit_code == 2
        line = _error_line(result)
        assert "must sum to 1 along the class axis (row 0)" in line
        assert "--renormalize rescales rows" in line
        result = invoke(
            runner, "recover", "--in", inp, "--gamma", "2", "--out", out, "--renormalize"
        )
        assert result.exit_code == 0, result.output
        np.testing.assert_allclose(np.load(out), p, rtol=1e-10)
        np.save(inp, np.log(q) + 3.0)  # logits
        result = invoke(
            runner, "recover", "--in", inp, "--gamma", "2", "--out", out, "--from-logits"
        )
        assert result.exit_code == 0, result.output
        np.testing.assert_allclose(np.load(out), p, rtol=1e-9)
        result = invoke(
            runner, "recover", "--in", inp, "--gamma", "2", "--out", out,
            "--from-logits", "--renormalize",
        )  # fmt: skip
        assert result.exit_code == 2
        assert "--renormalize and --from-logits exclude each other" in result.output

    def test_header_rules(self, tmp_path, runner):
        out = tmp_path / "p.csv"
        mixed = tmp_path / "mixed.csv"
        mixed.write_text("a,0.5\n0.5,0.5\n")
        result = invoke(runner, "recover", "--in", mixed, "--gamma", "2", "--out", out)
        assert result.exit_code == 2
        assert _error_line(result) == (
            f"Error: Invalid value for --in: {mixed}, line 1: field 0 is not a number: 'a' "
            "(declare a header row with --header)"
        )
        result = invoke(runner, "recover", "--in", mixed, "--header", "--gamma", "2", "--out", out)
        assert result.exit_code == 0, result.output
        assert out.read_text().splitlines() == ["a,0.5", "0.5,0.5"]
        later = tmp_path / "later.csv"
        later.write_text("p0,p1\n0.5,0.5\n0.25,x\n")
        result = invoke(runner, "recover", "--in", later, "--gamma", "2", "--out", out)
        assert result.exit_code == 2
        assert f"{later}, line 3: field 1 is not a number: 'x'" in _error_line(result)

    @pytest.mark.parametrize(
        ("name", "make", "message"),
        [
            ("s.npy", lambda p: np.save(p, np.array([["0.5", "0.5"]])), "holds <U3 values"),
            (
                "o.npy",
                lambda p: np.save(p, np.array([[0.5, None]], dtype=object), allow_pickle=True),
                "holds Python objects (object dtype), not numbers",
            ),
            ("b.csv", lambda p: p.write_bytes(b"\x00\x01binary"), "contains NUL bytes"),
            ("l.csv", lambda p: p.write_bytes(b"0.5,0.5\n\xe9\n"), "line 2: not UTF-8 text"),
            ("t.npy", lambda p: p.write_bytes(b"garbage"), "not a readable .npy file"),
            ("x.json", lambda p: p.write_text("[]"), "expected a .npy or .csv file"),
        ],
    )
    def test_bad_files(self, tmp_path, runner, name, make, message):
        path = tmp_path / name
        make(path)
        result = invoke(
            runner, "recover", "--in", path, "--gamma", "2", "--out", tmp_path / "p.npy"
        )
        assert result.exit_code == 2
        line = _error_line(result)
        assert line.startswith(f"Error: Invalid value for --in: {path}")
        assert message in line


class TestRecoverOutput:
    @pytest.fixture
    def inp(self, tmp_path):
        path = tmp_path / "q.npy"
        np.save(path, minimizer(np.array([[0.6, 0.3, 0.1]]), 2.0))
        return path

    def test_exact_name(self, tmp_path, runner, inp):
        out = tmp_path / "X.NPY"
        result = invoke(runner, "recover", "--in", inp, "--gamma", "2", "--out", out)
        assert result.exit_code == 0, result.output
        assert result.output.splitlines()[-1] == f"written: {out}"
        assert out.is_file()
        assert not (tmp_path / "X.NPY.npy").exists()
        np.testing.assert_allclose(np.load(out), [[0.6, 0.3, 0.1]], rtol=1e-10)

    def test_checked_before_reading(self, tmp_path, runner):
        (tmp_path / "afile").write_text("x")
        bad_input = tmp_path / "bad.csv"
        bad_input.write_text("not,numbers\n1,x\n")
        out = tmp_path / "afile" / "p.npy"
        result = invoke(runner, "recover", "--in", bad_input, "--gamma", "2", "--out", out)
        assert result.exit_code == 2
        assert _error_line(result) == (
            f"Error: Invalid value for --out: {out}: {tmp_path / 'afile'} is a file, not a folder"
        )

    def test_interrupted_write_keeps_the_old_file(self, tmp_path, runner, inp, monkeypatch):
        out = tmp_path / "p.npy"
        out.write_bytes(b"old")

        def half_then_full_disk(fh, arr, *args, **kwargs):
            fh.write(b"\x93NUMPY\x01\x00half")
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(np, "save", half_then_full_disk)
        result = invoke(runner, "recover", "--in", inp, "--gamma", "2", "--out", out)
        assert result.exit_code == 2
        assert _error_line(result) == (
            f"Error: Invalid value for --out: cannot write {out}: No space left on device"
        )
        assert out.read_bytes() == b"old"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["p.npy", "q.npy"]


class TestReproduceChecks:
    def test_out_under_a_file_fails_before_any_experiment(self, tmp_path, runner, monkeypatch):
        from focalentropy.experiments import runner as runner_module

        def must_not_run(*args, **kwargs):
            raise AssertionError("an experiment ran")

        monkeypatch.setattr(runner_module, "reproduce", must_not_run)
        monkeypatch.setattr(runner_module, "run_suite", must_not_run)
        (tmp_path / "afile").write_text("x")
        result = invoke(
            runner, "reproduce", "--out", tmp_path / "afile" / "sub", "--only", "theory"
        )
        assert result.exit_code == 2
        assert _error_line(result) == (
            f"Error: Invalid value for --out: {tmp_path / 'afile' / 'sub'}: "
            f"{tmp_path / 'afile'} is a file, not a folder"
        )

    def test_unreachable_dask_scheduler(self, tmp_path, runner):
        import socket

        pytest.importorskip("distributed")
        with socket.socket() as s:  # a port nothing listens on once closed
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        address = f"tcp://127.0.0.1:{port}"
        result = invoke(
            runner, "reproduce", "--backend", "dask", "--scheduler", address,
            "--out", tmp_path / "out",
        )  # fmt: skip
        assert result.exit_code == 2
        line = _error_line(result)
        assert line.startswith(
            f"Error: Invalid value for --scheduler: no Dask scheduler at '{address}'"
        )

    def test_results_json_is_valid_json(self, tmp_path):
        from focalentropy.experiments import Claim, ExperimentResult
        from focalentropy.experiments.runner import write_outputs

        res = ExperimentResult(
            "theory", 1, "t", "c", claims=[Claim.less("1.x", "s", "m", float("nan"), 1.0)]
        )
        write_outputs([res], tmp_path, {"mode": "quick", "seed": 0, "inf": float("inf")})
        data = _strict_json((tmp_path / "results.json").read_text())
        assert data["claims"][0]["value"] is None
        assert data["config"]["inf"] is None
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            "figures",
            "report.html",
            "results.json",
        ]


class TestReportErrors:
    @pytest.mark.parametrize(
        ("content", "message"),
        [
            (b'{"claims": [', "results.json: not valid JSON (Expecting value) (line 1)"),
            (b"[1, 2]", "results.json: expected a JSON object, got a list"),
            (b'{"claims": [{"id": "x"}]}', "results.json: claims[0] has no 'statement'"),
            (b"\xff\xfe{}", "results.json: not UTF-8 text"),
            (
                b'{"experiments": [{"id": "x", "number": 1, "title": "t", "claim": "c", '
                b'"passed": true, "claims": 5}]}',
                "results.json: malformed content (TypeError",
            ),
        ],
    )
    def test_malformed_results(self, tmp_path, runner, content, message):
        (tmp_path / "results.json").write_bytes(content)
        result = invoke(runner, "report", tmp_path)
        assert result.exit_code == 2
        line = _error_line(result)
        assert line.startswith("Error: Invalid value for OUT_DIR:")
        assert message in line
        assert not (tmp_path / "report.html").exists()


def test_reproduce_offers_every_experiment_of_the_runner():
    from focalentropy.cli import _EXPERIMENT_IDS
    from focalentropy.experiments.runner import EXPERIMENTS

    assert tuple(_EXPERIMENT_IDS) == tuple(EXPERIMENTS)
