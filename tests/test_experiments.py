"""The validation-suite experiments on tiny settings, and the runner."""

from __future__ import annotations

import json

import numpy as np
import pytest

from focalentropy._minimizer import minimizer
from focalentropy.experiments import (
    EXPERIMENTS,
    Claim,
    ExperimentResult,
    _common,
    continuous,
    default_configs,
    discrete,
    run_experiment,
    run_suite,
    runner,
    theory,
)

pytest.importorskip("torch")
pytest.importorskip("matplotlib")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def tiny_configs(seed: int = 0) -> dict[str, dict]:
    """Settings small enough for the test suite (seconds, not minutes)."""
    cfgs = default_configs(quick=True, seed=seed, only=["theory", "discrete", "continuous"])
    for cfg in cfgs.values():
        cfg["figures"] = False  # rendering dominates the run time; tested where it matters
    cfgs["theory"].update(sweep_points=21, eps_points=7, zipf_classes=20, tail_classes=6)
    cfgs["discrete"].update(
        gammas=[0.0, 2.0], sample_sizes=[1000, 10_000, 100_000], repetitions=2, max_iter=150
    )
    cfgs["continuous"].update(gammas=[0.0, 2.0], n_train=2000, n_eval=400, max_iter=80, hidden=16)
    return cfgs


@pytest.fixture(scope="module")
def tiny():
    return tiny_configs()


@pytest.fixture(scope="module")
def theory_result(tiny):
    return theory.run(tiny["theory"])


@pytest.fixture(scope="module")
def discrete_result(tiny):
    return discrete.run({**tiny["discrete"], "figures": True})


def _assert_well_formed(res: ExperimentResult):
    assert res.claims, "an experiment must check at least one claim"
    ids = [c.id for c in res.claims]
    assert len(ids) == len(set(ids))
    assert all(i.startswith(f"{res.number}.") for i in ids)
    for name, png in res.figures.items():
        assert name.endswith(".png")
        assert png.startswith(PNG_MAGIC)
        assert name in res.captions
    for t in res.tables:
        assert all(len(row) == len(t.columns) for row in t.rows)
    json.dumps(res.to_dict())  # JSON-ready


class TestCommon:
    def test_claim_constructors(self):
        assert Claim.less("a", "s", "m", 0.1, 0.2).passed
        assert not Claim.less("a", "s", "m", 0.2, 0.2).passed
        assert Claim.greater("a", "s", "m", 3.0, 2.0).passed
        assert not Claim.greater("a", "s", "m", float("nan"), 2.0).passed
        c = Claim.between("a", "s", "m", -0.5, -0.7, -0.3)
        assert c.passed
        assert c.threshold == "in [-0.7, -0.3]"
        assert not Claim.between("a", "s", "m", -0.2, -0.7, -0.3).passed
        assert set(c.to_dict()) == {"id", "statement", "metric", "value", "threshold", "passed"}

    def test_fit_loglog_slope(self):
        n = np.array([1e3, 1e4, 1e5])
        assert _common.fit_loglog_slope(n, 3.0 * n**-0.5) == pytest.approx(-0.5)
        with pytest.raises(ValueError, match="positive"):
            _common.fit_loglog_slope(n, [1.0, 0.0, 1.0])
        with pytest.raises(ValueError, match="same length"):
            _common.fit_loglog_slope(n, [1.0, 2.0])

    def test_derive_seed(self):
        assert _common.derive_seed(0, "a", 1) == _common.derive_seed(0, "a", 1)
        assert _common.derive_seed(0, "a", 1) != _common.derive_seed(1, "a", 1)
        assert _common.derive_seed(0, "a", 1) != _common.derive_seed(0, "a", 2)

    def test_to_builtin(self):
        out = _common.to_builtin({"a": np.float64(np.nan), "b": np.arange(2), "c": np.bool_(1)})
        assert out == {"a": None, "b": [0, 1], "c": True}

    def test_passed_requires_claims_and_no_error(self):
        res = ExperimentResult("x", 1, "t", "c")
        assert not res.passed
        res.claims.append(Claim.less("1.a", "s", "m", 0.0, 1.0))
        assert res.passed
        res.error = "boom"
        assert not res.passed


class TestTheory:
    def test_all_claims_pass(self, theory_result):
        _assert_well_formed(theory_result)
        failed = [(c.id, c.value) for c in theory_result.claims if not c.passed]
        assert not failed
        assert theory_result.figures == {}  # figures off in the tiny configuration

    def test_priors(self):
        p = theory.head_tail_prior(6, 5)
        assert p.sum() == pytest.approx(1.0)
        assert p[-1] == pytest.approx(1e-5)
        rows = theory.rare_class_prior(5, [1e-3, 1e-2])
        assert rows.shape == (2, 5)
        np.testing.assert_allclose(rows.sum(axis=1), 1.0)
        assert np.all(np.diff(theory.zipf_prior(10, 2.0)) < 0)

    def test_over_suppression_matches_theory(self, theory_result):
        table = next(t for t in theory_result.tables if t.title.startswith("Over-suppression"))
        over = {row[0]: row[-1] for row in table.rows}
        assert over == {k: k >= 5 for k in theory.default_config()["ks"]}


class TestDiscrete:
    def test_sample_frequencies(self):
        p = np.stack(list(discrete.cell_posteriors(6, 0.02).values()))
        counts, freq = discrete.sample_frequencies(p, 5000, np.random.default_rng(1))
        assert counts.sum() == 5000
        assert freq.shape == p.shape
        np.testing.assert_allclose(freq.sum(axis=1), 1.0)

    @pytest.mark.parametrize("model", ["free logits", "MLP"])
    def test_training_reaches_the_empirical_minimizer(self, model):
        """Full-batch training on n samples converges to minimizer(empirical frequencies)."""
        p = np.stack(list(discrete.cell_posteriors(5, 0.02).values()))
        counts, freq = discrete.sample_frequencies(p, 20_000, np.random.default_rng(3))
        q = discrete.fit_cells(freq, counts, 2.0, model=model, max_iter=300)
        target = minimizer(freq, 2.0)
        assert np.max(np.abs(q - target)) < 1e-5
        # and that is measurably not the frequencies themselves
        assert np.max(np.abs(q - freq)) > 1e-2

    def test_batched_fits_are_independent(self):
        p = np.stack(list(discrete.cell_posteriors(5, 0.02).values()))
        rng = np.random.default_rng(4)
        draws = [discrete.sample_frequencies(p, 10_000, rng) for _ in range(2)]
        counts = np.stack([c for c, _ in draws])
        freq = np.stack([f for _, f in draws])
        q = discrete.fit_cells(freq, counts, 1.0, max_iter=300)
        assert q.shape == freq.shape
        np.testing.assert_allclose(q, minimizer(freq, 1.0), atol=1e-5)

    def test_bad_model(self):
        with pytest.raises(ValueError, match="`model` must be"):
            discrete.fit_cells(np.full((1, 2), 0.5), np.ones(1), 1.0, model="tree")

    def test_claims(self, discrete_result):
        _assert_well_formed(discrete_result)
        by_id = {c.id: c for c in discrete_result.claims}
        for g in ("0", "2"):
            for mod in ("free", "mlp"):
                slope = by_id[f"2.slope.{mod}.g{g}"]
                assert slope.passed, slope
        assert by_id["2.bias.free.g2"].value > 2.0  # 5 at the full n = 1e6
        assert "2.bias.free.g0" not in by_id  # gamma = 0: Q* = P, nothing to separate
        assert "2.over_suppressed" in by_id

    def test_same_seed_same_numbers(self, tiny):
        cfg = {
            **tiny["discrete"],
            "gammas": [2.0],
            "models": ["free logits"],
            "sample_sizes": [1000, 10_000],
            "repetitions": 1,
        }
        first = [c.value for c in discrete.run(cfg).claims]
        assert [c.value for c in discrete.run(cfg).claims] == first
        assert [c.value for c in discrete.run({**cfg, "seed": 1}).claims] != first


class TestContinuous:
    def test_posterior_is_bayes(self):
        mix = continuous.GaussianMixture([0.7, 0.3], [[0.0, 0.0], [2.0, 0.0]])
        post = mix.posterior(np.array([[1.0, 0.0], [1.0, 5.0]]))
        # on the perpendicular bisector the likelihoods are equal: posterior = prior
        np.testing.assert_allclose(post, [[0.7, 0.3], [0.7, 0.3]])
        x, y = mix.sample(100, np.random.default_rng(0))
        assert x.shape == (100, 2)
        assert set(np.unique(y)) <= {0, 1}
        with pytest.raises(ValueError, match="`means`"):
            continuous.GaussianMixture([0.5, 0.5], [[0.0, 0.0]])

    def test_tiny_run(self, tiny):
        res = continuous.run({**tiny["continuous"], "figures": True})
        _assert_well_formed(res)
        by_id = {c.id: c for c in res.claims}
        assert set(by_id) == {"3.baseline", "3.closer_to_qstar.g2", "3.recover.g2"}
        # even a tiny model is clearly closer to Q* than to P
        assert by_id["3.closer_to_qstar.g2"].value < 1.0


class TestRealData:
    def test_claims_from_long_tail_output(self, monkeypatch):
        """The claims are computed from run_long_tail_experiment's output (faked here)."""
        from focalentropy.experiments import long_tail, real_data

        rng = np.random.default_rng(0)
        labels = rng.integers(0, 3, 50)
        p_ce = rng.dirichlet(np.ones(3), 50)

        def row(model, g, mp, ece, nll):
            return {"model": model, "gamma": g, "map": mp, "accuracy": 0.9, "ece": ece, "nll": nll}

        def fake(gammas, seed, quick, **kwargs):
            rows = [row("cross-entropy", 0.0, "raw", 0.02, 0.3)]
            for g in gammas:
                rows += [
                    row("focal", g, "raw", 0.08, 0.36),
                    row("focal", g, "recover", 0.03, 0.35),
                    row("focal", g, "recover+temperature", 0.02, 0.31),
                ]
            return {
                "rows": rows,
                "labels": labels,
                "probs": {"ce": p_ce, **{g: minimizer(p_ce, g) for g in gammas}},
                "fitted": {"ce": {"temperature": 1.3}},
                "argmax_preserved": True,
                "minimizer_check": {
                    g: {
                        "tv_focal_vs_minimizer_of_ce": 0.05,
                        "tv_focal_vs_ce": 0.1,
                        "tv_recovered_vs_ce": 0.03,
                    }
                    for g in gammas
                },
                "counts": {"train": [10, 5, 1], "val": [4, 2, 1], "test": [30, 15, 5]},
                "config": {"dataset": "fake", "imbalance_ratio": 10.0, "epochs": 1},
            }

        monkeypatch.setattr(long_tail, "run_long_tail_experiment", fake)
        res = real_data.run({**real_data.default_config(), "gammas": [1.0, 3.0]})
        _assert_well_formed(res)
        ids = {c.id for c in res.claims}
        assert "4.ece_recover.g3" in ids
        assert "4.ece_recover.g1" not in ids  # only claimed for gamma >= 2
        assert all(c.passed for c in res.claims)


class TestRunner:
    def test_default_configs(self):
        cfgs = default_configs(quick=True, seed=3)
        assert list(cfgs) == list(EXPERIMENTS)
        assert all(c["seed"] == 3 for c in cfgs.values())
        full = default_configs(quick=False)
        assert len(full["discrete"]["sample_sizes"]) > len(cfgs["discrete"]["sample_sizes"])
        assert full["discrete"]["repetitions"] > cfgs["discrete"]["repetitions"]

    @pytest.mark.parametrize("seed", [-1, 1.5, True])
    def test_bad_seed(self, seed):
        with pytest.raises(ValueError, match="`seed`"):
            default_configs(seed=seed)

    def test_unknown_experiment(self):
        with pytest.raises(ValueError, match="unknown experiment 'nope'"):
            default_configs(only=["nope"])

    def test_planned_units_match_progress_calls(self, tiny):
        calls = []
        theory.run(tiny["theory"], progress=lambda a=1.0, d="": calls.append(a))
        assert sum(calls) == runner.planned_units("theory", tiny["theory"])

    def test_crash_becomes_failing_claim(self, monkeypatch):
        def boom(config, progress=None):
            raise RuntimeError("deliberate")

        monkeypatch.setattr(theory, "run", boom)
        res = run_experiment("theory", {})
        assert not res.passed
        assert "deliberate" in res.error
        assert [c.id for c in res.claims] == ["1.completed"]

    def test_bad_backend_arguments(self, tiny):
        with pytest.raises(ValueError, match="`backend`"):
            run_suite(tiny, backend="spark")
        with pytest.raises(ValueError, match="`scheduler`"):
            run_suite(tiny, backend="dask")
        with pytest.raises(ValueError, match="`scheduler` only"):
            run_suite(tiny, scheduler="tcp://x:1")
        with pytest.raises(ValueError, match="`jobs`"):
            run_suite(tiny, jobs=0)

    def test_parallel_equals_sequential(self, tiny, theory_result):
        cfgs = {"theory": tiny["theory"]}
        seen = []
        par = run_suite(
            {**cfgs, "continuous": {**tiny["continuous"], "gammas": [0.0]}},
            jobs=2,
            backend="threading",
            progress=lambda name, a, d: seen.append(name),
        )
        assert [r.id for r in par] == ["theory", "continuous"]
        assert [c.value for c in par[0].claims] == [c.value for c in theory_result.claims]
        assert sorted(set(seen)) == ["continuous", "theory"]

    def test_dask_local_cluster(self, tiny, theory_result):
        distributed = pytest.importorskip("dask.distributed")
        with distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster:
            res = run_suite(
                {"theory": tiny["theory"]}, backend="dask", scheduler=cluster.scheduler_address
            )
        assert res[0].passed
        assert [c.value for c in res[0].claims] == [c.value for c in theory_result.claims]

    def test_reproduce_writes_outputs(self, tmp_path, monkeypatch, tiny):
        monkeypatch.setattr(
            runner,
            "default_configs",
            lambda quick, seed, only: {"theory": {**tiny["theory"], "figures": True}},
        )
        summary = runner.reproduce(tmp_path / "out", quick=True, seed=0)
        out = tmp_path / "out"
        data = json.loads((out / "results.json").read_text())
        assert data["passed"] is True
        assert data == json.loads(json.dumps(summary))
        assert data["config"]["seed"] == 0
        assert data["config"]["experiments"]["theory"]["sweep_points"] == 21
        for c in data["claims"]:
            assert set(c) == {"id", "statement", "metric", "value", "threshold", "passed"}
        figs = sorted(p.name for p in (out / "figures").iterdir())
        assert figs == ["gamma_sweep.png", "over_suppression.png", "ratio_vs_p.png", "regimes.png"]
        assert figs == sorted(data["experiments"][0]["figures"])
        html = (out / "report.html").read_text()
        assert html.count("data:image/png;base64,") == len(figs)
