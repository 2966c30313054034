"""The validation-suite experiments theory and discrete on tiny settings, and the runner.

Experiments 3-5 have their own files (test_experiments_continuous.py,
test_experiments_real_data.py, test_benchmark_experiment.py).
"""

# Greek letters (γ, λ) are the tables' column names.
# ruff: noqa: RUF001

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass

import mpmath as mp
import numpy as np
import pytest

from _experiment_configs import PNG_MAGIC, assert_well_formed, tiny_configs
from _mp_reference import mp_minimizer, mp_phi
from focalentropy._minimizer import minimizer
from focalentropy.experiments import (
    EXPERIMENTS,
    Claim,
    ExperimentResult,
    _common,
    default_configs,
    discrete,
    run_experiment,
    run_suite,
    runner,
    theory,
)

torch = pytest.importorskip("torch")
pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def tiny():
    return tiny_configs()


@pytest.fixture(scope="module")
def theory_result(tiny):
    return theory.run(tiny["theory"])


@pytest.fixture(scope="module")
def discrete_result(tiny):
    return discrete.run({**tiny["discrete"], "figures": True})


def _table(res: ExperimentResult, prefix: str):
    table = next(t for t in res.tables if t.title.startswith(prefix))
    return [dict(zip(table.columns, row, strict=True)) for row in table.rows]


def _mp_g(p: float, gamma: float) -> float:
    """G(p) = p phi(p) in 50-digit arithmetic (tests/_mp_reference.py)."""
    return float(mp.mpf(p) * mp_phi(p, gamma))


def _progress_calls(module, config) -> list[float]:
    calls: list[float] = []
    module.run(config, progress=lambda a=1.0, d="": calls.append(a))
    return calls


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

    def test_torch_threads_restores_the_count(self):
        before = torch.get_num_threads()
        target = 1 if before != 1 else 2
        inside = []

        def body():
            with _common.torch_threads(target):
                inside.append(torch.get_num_threads())
                raise RuntimeError("inside")

        with pytest.raises(RuntimeError, match="inside"):
            body()
        assert inside == [target]
        assert torch.get_num_threads() == before

    def test_torch_threads_overlapping_threads_restore_once_all_left(self):
        """Two experiments in threads: the first to finish must not restore the
        caller's count while the other still trains single-threaded."""
        import threading

        before = torch.get_num_threads()
        target = 1 if before != 1 else 2
        first_in, first_out, second_done = threading.Event(), threading.Event(), threading.Event()
        seen = {}

        def first():
            with _common.torch_threads(target):
                first_in.set()
                first_out.wait(10)
            seen["after_first"] = torch.get_num_threads()
            second_done.wait(10)

        def second():
            first_in.wait(10)
            with _common.torch_threads(target):
                first_out.set()
                threads[0].join(0.5)  # the first has left its block by now
                seen["while_second"] = torch.get_num_threads()
            second_done.set()

        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert seen == {"after_first": target, "while_second": target}
        assert torch.get_num_threads() == before


@dataclass(frozen=True)
class _Demo:
    steps: int = 10
    rate: float = 0.5
    sizes: tuple[int, ...] = (1, 2)
    names: tuple[str, ...] = ("a",)
    flag: bool = True

    def __post_init__(self) -> None:
        _common.coerce_config_fields(self, "demo")


class TestConfig:
    def test_from_dict_converts_and_fills_defaults(self):
        cfg = _common.config_from_dict(_Demo, {"steps": 3.0, "sizes": [1e3, 10]}, "demo")
        assert cfg == _Demo(steps=3, sizes=(1000, 10))
        assert type(cfg.steps) is int
        assert type(cfg.sizes[0]) is int
        assert _common.config_from_dict(_Demo, None, "demo") == _Demo()
        assert _common.config_to_dict(cfg) == {
            "steps": 3,
            "rate": 0.5,
            "sizes": [1000, 10],
            "names": ["a"],
            "flag": True,
        }

    def test_unknown_key_is_named(self):
        with pytest.raises(ValueError, match="experiment 'demo' has an unknown key 'stpes'"):
            _common.config_from_dict(_Demo, {"stpes": 3}, "demo")
        with pytest.raises(TypeError, match="`config` of experiment 'demo' must be a dict"):
            _common.config_from_dict(_Demo, [("steps", 3)], "demo")

    @pytest.mark.parametrize(
        ("key", "value", "message"),
        [
            ("steps", 2.5, r"`config\['steps'\]` of experiment 'demo' must be an integer"),
            ("steps", True, r"`config\['steps'\]` .* must be an integer, got True"),
            ("rate", "fast", r"`config\['rate'\]` .* must be a real number"),
            ("sizes", [1, 2, 3.5], r"`config\['sizes'\]\[2\]` .* must be an integer, got 3.5"),
            ("sizes", 5, r"`config\['sizes'\]` .* must be a list"),
            ("names", ["a", 1], r"`config\['names'\]\[1\]` .* must be a string"),
            ("flag", "yes", r"`config\['flag'\]` .* must be a bool"),
        ],
    )
    def test_bad_value_is_named(self, key, value, message):
        with pytest.raises(TypeError, match=message):
            _common.config_from_dict(_Demo, {key: value}, "demo")

    def test_frozen(self):
        cfg = theory.TheoryConfig()
        with pytest.raises(AttributeError):
            cfg.ks = (3,)  # type: ignore[misc]

    @pytest.mark.parametrize("module", [theory, discrete])
    def test_default_config_round_trips(self, module):
        for quick in (True, False):
            raw = module.default_config(quick=quick, seed=7)
            cls = theory.TheoryConfig if module is theory else discrete.DiscreteConfig
            cfg = _common.config_from_dict(cls, raw, module.ID)
            assert _common.config_to_dict(cfg) == raw
            assert cfg.seed == 7

    @pytest.mark.parametrize("module", [theory, discrete])
    def test_run_rejects_an_unknown_key(self, module, tiny):
        with pytest.raises(ValueError, match=f"experiment '{module.ID}' has an unknown key 'gama'"):
            module.run({**tiny[module.ID], "gama": 2.0})

    def test_value_checks(self, tiny):
        with pytest.raises(ValueError, match=r"`config\['ks'\]\[1\]` .* must be >= 2, got 1"):
            theory.run({**tiny["theory"], "ks": [2, 1]})
        with pytest.raises(ValueError, match=r"`config\['models'\]\[0\]` .* got 'tree'"):
            discrete.run({**tiny["discrete"], "models": ["tree"]})


def _no_compute(monkeypatch: pytest.MonkeyPatch, module) -> None:
    """Make ``module.compute`` fail the test: a bad config must be rejected before it."""

    def compute(cfg, progress):
        raise AssertionError(f"{module.ID}: compute ran with a bad config {cfg!r}")

    monkeypatch.setattr(module, "compute", compute)


class TestConfigRanges:
    """Every field's range is checked before anything is computed; the message names the
    experiment, the key, the first bad index and the value."""

    @pytest.mark.parametrize(
        ("key", "value", "error", "message"),
        [
            ("gammas", [], ValueError, r"`config\['gammas'\]` .* must not be empty"),
            ("gammas", [1.0, -1], ValueError, r"`config\['gammas'\]\[1\]` .* >= 0, got -1"),
            ("gammas", [1.0, float("nan")], ValueError, r"`config\['gammas'\]\[1\]` .* finite"),
            ("gammas", [2.0, 2.0], ValueError, r"`config\['gammas'\]\[1\]` .* repeats entry 0"),
            ("gammas", 2.0, TypeError, r"`config\['gammas'\]` .* must be a list"),
            ("zipf_classes", 0, ValueError, r"`config\['zipf_classes'\]` .* >= 2, got 0"),
            ("zipf_classes", 1, ValueError, r"`config\['zipf_classes'\]` .* >= 2, got 1"),
            ("zipf_exponent", 0.0, ValueError, r"`config\['zipf_exponent'\]` .* > 0, got 0"),
            ("zipf_exponent", float("inf"), ValueError, r"`config\['zipf_exponent'\]` .*"),
            ("head_classes", 0, ValueError, r"`config\['head_classes'\]` .* >= 1, got 0"),
            ("tail_classes", -2, ValueError, r"`config\['tail_classes'\]` .* >= 1, got -2"),
            ("sweep_prior", [0.5, 0.6], ValueError, r"`config\['sweep_prior'\]` .* sum to 1"),
            ("sweep_prior", [1.0], ValueError, r"`config\['sweep_prior'\]` .* at least 2"),
            ("sweep_prior", [], ValueError, r"`config\['sweep_prior'\]` .* at least 2"),
            ("sweep_prior", [1.2, -0.2], ValueError, r"`config\['sweep_prior'\]\[0\]` .* 1.2"),
            ("sweep_prior", [0.5, 0.5, 0], ValueError, r"`config\['sweep_prior'\]\[2\]`.* 0"),
            ("sweep_gamma_max", 3.0, ValueError, r"`config\['sweep_gamma_max'\]` .* >= 4"),
            ("sweep_points", -3, ValueError, r"`config\['sweep_points'\]` .* >= 2, got -3"),
            ("sweep_points", 1, ValueError, r"`config\['sweep_points'\]` .* >= 2, got 1"),
            ("eps_points", 0, ValueError, r"`config\['eps_points'\]` .* >= 2, got 0"),
            ("ks", [], ValueError, r"`config\['ks'\]` .* must not be empty"),
            ("ks", [2, 1], ValueError, r"`config\['ks'\]\[1\]` .* >= 2, got 1"),
            ("ks", [3, 3], ValueError, r"`config\['ks'\]\[1\]` .* repeats entry 0"),
            ("ks", [2, 2.5], TypeError, r"`config\['ks'\]\[1\]` .* must be an integer"),
            ("figures", "yes", TypeError, r"`config\['figures'\]` .* must be a bool"),
            ("seed", -1, ValueError, r"`config\['seed'\]` .* >= 0, got -1"),
        ],
    )
    def test_theory_rejects(self, monkeypatch, tiny, key, value, error, message):
        _no_compute(monkeypatch, theory)
        with pytest.raises(error, match="experiment 'theory'") as info:
            theory.run({**tiny["theory"], key: value})
        assert info.match(message)

    @pytest.mark.parametrize(
        ("key", "value", "error", "message"),
        [
            ("gammas", [], ValueError, r"`config\['gammas'\]` .* must not be empty"),
            ("gammas", [0.0, -1], ValueError, r"`config\['gammas'\]\[1\]` .* >= 0, got -1"),
            ("gammas", [1.0, 1], ValueError, r"`config\['gammas'\]\[1\]` .* repeats entry 0"),
            ("sample_sizes", [1000], ValueError, r"`config\['sample_sizes'\]` .* at least 2"),
            ("sample_sizes", [1000, 0], ValueError, r"`config\['sample_sizes'\]\[1\]`.* >= 1"),
            ("sample_sizes", [10, 10], ValueError, r"`config\['sample_sizes'\]\[1\]`.* increase"),
            ("sample_sizes", [100, 10], ValueError, r"`config\['sample_sizes'\]\[1\]`.* greater"),
            ("repetitions", 0, ValueError, r"`config\['repetitions'\]` .* >= 1, got 0"),
            ("classes", 4, ValueError, r"`config\['classes'\]` .* >= 5, got 4"),
            ("rare_probability", 0.0, ValueError, r"`config\['rare_probability'\]` .* \(0, 1\)"),
            ("rare_probability", 1.5, ValueError, r"`config\['rare_probability'\]` .* 1.5"),
            ("rare_probability", 0.2, ValueError, r"`config\['rare_probability'\]` .* 1/classes"),
            ("hidden", 0, ValueError, r"`config\['hidden'\]` .* >= 1, got 0"),
            ("max_iter", -5, ValueError, r"`config\['max_iter'\]` .* >= 1, got -5"),
            ("models", [], ValueError, r"`config\['models'\]` .* must not be empty"),
            ("models", ["tree"], ValueError, r"`config\['models'\]\[0\]` .* got 'tree'"),
            ("models", ["MLP", "MLP"], ValueError, r"`config\['models'\]\[1\]` .* repeats"),
            ("seed", -3, ValueError, r"`config\['seed'\]` .* >= 0, got -3"),
        ],
    )
    def test_discrete_rejects(self, monkeypatch, tiny, key, value, error, message):
        _no_compute(monkeypatch, discrete)
        with pytest.raises(error, match="experiment 'discrete'") as info:
            discrete.run({**tiny["discrete"], key: value})
        assert info.match(message)
        # the progress plan checks the config the same way
        with pytest.raises(error, match=message):
            discrete.planned_units({**tiny["discrete"], key: value})

    @pytest.mark.parametrize("module", [theory, discrete])
    @pytest.mark.parametrize("config", [[1, 2], "gammas", 3])
    def test_config_must_be_a_mapping(self, monkeypatch, module, config):
        _no_compute(monkeypatch, module)
        with pytest.raises(TypeError, match=f"`config` of experiment '{module.ID}' must be a dict"):
            module.run(config)

    @pytest.mark.parametrize("quick", [True, False])
    def test_default_configs_validate(self, quick):
        classes = {
            "theory": theory.TheoryConfig,
            "discrete": discrete.DiscreteConfig,
            "continuous": importlib.import_module(
                "focalentropy.experiments.continuous"
            ).ContinuousConfig,
            "real_data": importlib.import_module(
                "focalentropy.experiments.real_data"
            ).RealDataConfig,
            "benchmark": importlib.import_module(
                "focalentropy.experiments.benchmark"
            ).BenchmarkConfig,
        }
        configs = default_configs(quick=quick, seed=3)
        assert set(configs) == set(classes) == set(EXPERIMENTS)
        for name, raw in configs.items():
            cfg = _common.config_from_dict(classes[name], raw, name)
            assert cfg.seed == 3
            assert runner.planned_units(name, raw) >= 1

    def test_bad_config_in_a_parallel_suite_is_a_crashed_result(self, tiny):
        configs = {
            "theory": {**tiny["theory"], "sweep_prior": [0.5, 0.6]},
            "discrete": {**tiny["discrete"], "gammas": []},
        }
        seen: list[tuple[str, float, str]] = []
        results = run_suite(
            configs, jobs=2, backend="threading", progress=lambda *a: seen.append(a)
        )
        assert [r.id for r in results] == ["theory", "discrete"]
        assert not any(r.passed for r in results)
        assert "`config['sweep_prior']` of experiment 'theory' must sum to 1" in results[0].error
        assert "`config['gammas']` of experiment 'discrete' must not be empty" in results[1].error
        assert sorted(seen) == [("discrete", 1.0, "done"), ("theory", 4.0, "done")]

    def test_validate_config_demands_a_check_per_field(self):
        @dataclass(frozen=True)
        class Partial:
            steps: int = 10
            rate: float = 0.5

            def __post_init__(self) -> None:
                _common.validate_config(self, "demo", {"steps": _common.int_at_least(1)})

        with pytest.raises(TypeError, match=r"cover exactly its fields: unchecked \['rate'\]"):
            Partial()

    def test_sweep_order_follows_the_prior_not_the_list(self):
        # a prior listed in increasing order: Q* keeps P's order, so no violation is counted
        cfg = theory.TheoryConfig(sweep_prior=(0.03, 0.07, 0.15, 0.25, 0.5), sweep_points=11)
        part = theory._sweep_part(cfg)
        assert part.order_violations == 0
        assert part.monotone_violations == 0


class TestTheory:
    def test_all_claims_pass(self, theory_result):
        assert_well_formed(theory_result)
        failed = [(c.id, c.value) for c in theory_result.claims if not c.passed]
        assert not failed
        assert [c.id for c in theory_result.claims] == [
            "1.identity",
            "1.recover",
            "1.order",
            "1.regimes",
            "1.tail",
            "1.gamma_sweep",
            "1.large_gamma",
            "1.over_suppression_K",
            "1.lambda_K4",
            "1.binary",
            "1.top_class_31",
        ]
        assert theory_result.figures == {}  # figures off in the tiny configuration
        assert theory_result.captions == {}

    def test_priors(self):
        p = theory.head_tail_prior(6, 5)
        assert p.sum() == pytest.approx(1.0)
        assert p[-1] == pytest.approx(1e-5)
        rows = theory.rare_class_prior(5, [1e-3, 1e-2])
        assert rows.shape == (2, 5)
        np.testing.assert_allclose(rows.sum(axis=1), 1.0)
        assert np.all(np.diff(theory.zipf_prior(10, 2.0)) < 0)

    def test_over_suppression_table_against_mpmath(self, theory_result):
        rows = _table(theory_result, "Over-suppression")
        assert {r["K"]: r["over-suppressed"] for r in rows} == {
            k: k >= 5 for k in theory.default_config()["ks"]
        }
        for r in rows:
            k = r["K"]
            if k > 2:  # G(1/(K-1)), the eps -> 0 limit of lam, in 50 digits
                assert r["G(1/(K-1))"] == pytest.approx(_mp_g(1 / (k - 1), 2.0), rel=1e-12)
                assert r["λ at smallest ε"] == pytest.approx(r["G(1/(K-1))"], rel=2e-3)
        k4 = next(r for r in rows if r["K"] == 4)
        assert k4["G(1/(K-1))"] == pytest.approx(0.9327, abs=1e-4)  # the 0.933 of claim 1.lambda_K4

    def test_regimes_table_against_mpmath(self, theory_result, tiny):
        cfg = tiny["theory"]
        priors = {
            "Zipf long tail": theory.zipf_prior(cfg["zipf_classes"], cfg["zipf_exponent"]),
            "head + rare tail": theory.head_tail_prior(cfg["head_classes"], cfg["tail_classes"]),
        }
        rows = {r["prior"]: r for r in _table(theory_result, "Regimes at γ = 2")}
        assert set(rows) == set(priors)
        for name, p in priors.items():
            q, lam = mp_minimizer([float(v) for v in p], 2.0)
            r = rows[name]
            assert r["λ"] == pytest.approx(float(lam), rel=1e-10)
            amplified = sum(qi > pi for qi, pi in zip(q, p, strict=True))
            assert r["# amplified"] == amplified
            assert r["# amplified"] + r["# suppressed"] + r["# over-suppressed"] == p.size
            for key in ("p_low", "p_high"):  # the crossings solve G(p) = lam
                if np.isfinite(r[key]):
                    assert _mp_g(r[key], 2.0) == pytest.approx(float(lam), rel=1e-9)
            if float(lam) < 1:
                assert np.isnan(r["p_low"])
                assert r["# over-suppressed"] == 0
            else:  # the over-suppressed classes are exactly those below p_low
                assert r["# over-suppressed"] == int(np.sum(p < r["p_low"])) > 0

    def test_ratio_table_against_mpmath(self, theory_result):
        rows = _table(theory_result, "Q*/P at the head")
        row = next(r for r in rows if r["prior"] == "head + rare tail" and r["γ"] == 2.0)
        regime = next(r for r in _table(theory_result, "Regimes") if r["prior"] == row["prior"])
        assert row["λ"] == regime["λ"]
        assert row["1/λ"] == pytest.approx(1 / row["λ"])
        p = theory.head_tail_prior(6, 6)
        q, _ = mp_minimizer([float(v) for v in p], 2.0)
        assert row["Q*/P (head)"] == pytest.approx(float(q[0] / mp.mpf(p[0])), rel=1e-10)
        assert row["Q*/P (rarest)"] == pytest.approx(float(q[-1] / mp.mpf(p[-1])), rel=1e-9)

    def test_sweep_table_against_minimizer(self, theory_result, tiny):
        p = np.asarray(tiny["theory"]["sweep_prior"], dtype=float)
        p = p / p.sum()
        table = next(t for t in theory_result.tables if t.title.startswith("γ sweep"))
        assert [row[0] for row in table.rows] == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
        assert table.rows[0][1:-1] == pytest.approx(list(p), abs=1e-15)  # gamma = 0: Q* = P
        for row in table.rows[1:]:
            q, _ = mp_minimizer(list(p), row[0])
            assert row[1:-1] == pytest.approx([float(v) for v in q], rel=1e-10)
            assert row[-1] == pytest.approx(float(max(abs(v - mp.mpf(1) / p.size) for v in q)))

    def test_regimes_figure_panels_are_regimes_plot(self, tiny, monkeypatch):
        """Each panel is plotting.regimes_plot of the prior's regimes, legend replaced."""
        pytest.importorskip("matplotlib")
        from focalentropy import plotting

        drawn = []

        def spy(res, *args, **kwargs):
            ax = real(res, *args, **kwargs)
            drawn.append((res, kwargs.get("legend"), ax))
            return ax

        real = plotting.regimes_plot
        monkeypatch.setattr(plotting, "regimes_plot", spy)
        cfg = _common.config_from_dict(theory.TheoryConfig, tiny["theory"], "theory")
        data = theory.compute(cfg, lambda advance, description: None)
        assert theory.regimes_figure(data).startswith(PNG_MAGIC)
        assert [res for res, _, _ in drawn] == list(data.regimes.regimes.values())
        for res, legend, ax in drawn:
            assert legend is False
            texts = [t.get_text() for t in ax.get_legend().get_texts()]
            assert f"G_max = {data.regimes.g_max:.3f}" in texts  # an extra of this figure
            assert f"λ = {float(res.multiplier):.4g}" in texts  # from regimes_plot


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
        assert_well_formed(discrete_result)
        assert sorted(discrete_result.figures) == ["discrete_cells.png", "discrete_convergence.png"]
        by_id = {c.id: c for c in discrete_result.claims}
        for g in ("0", "2"):
            for mod in ("free", "mlp"):
                slope = by_id[f"2.slope.{mod}.g{g}"]
                assert slope.passed, slope
        assert by_id["2.bias.free.g2"].value > 2.0  # 5 at the full n = 1e6
        assert "2.bias.free.g0" not in by_id  # gamma = 0: Q* = P, nothing to separate
        assert by_id["2.over_suppressed"].passed

    def test_tables_against_mpmath_and_claims(self, discrete_result, tiny):
        """The Q* columns match an mpmath minimizer; the learned columns match the claims."""
        cfg = tiny["discrete"]
        cells = discrete.cell_posteriors(cfg["classes"], cfg["rare_probability"])
        rare = cells["head + rare tail"]
        q_rare, _ = mp_minimizer([float(v) for v in rare], 2.0)
        rows = _table(discrete_result, "Convergence")
        assert [(r["model"], r["γ"]) for r in rows] == [
            (m, g) for m in ("free logits", "MLP") for g in (0.0, 2.0)
        ]
        qs = {name: mp_minimizer([float(v) for v in pc], 2.0)[0] for name, pc in cells.items()}
        mean_qp = np.mean([float(abs(q - p)) for c in cells for q, p in zip(qs[c], cells[c])])
        by_id = {c.id: c for c in discrete_result.claims}
        for r in rows:
            short = "free" if r["model"] == "free logits" else "mlp"
            g = r["γ"]
            assert r["slope vs Q*"] == by_id[f"2.slope.{short}.g{g:g}"].value
            if g == 0:
                assert r["mean |Q*-P|"] == pytest.approx(0.0, abs=1e-15)  # gamma = 0: Q* = P
                assert r["rare: Q*/P"] == pytest.approx(1.0)
                continue
            assert r["rare: Q*/P"] == pytest.approx(float(q_rare[-1] / mp.mpf(rare[-1])), rel=1e-9)
            assert r["mean |Q*-P|"] == pytest.approx(mean_qp, rel=1e-9)
            ratio = r["mean |learned-P|"] / r["mean |learned-Q*|"]
            assert ratio == pytest.approx(by_id[f"2.bias.{short}.g2"].value, rel=1e-12)
            # at the largest n (1e5 here) the learned probabilities sit nearer Q* than P
            assert r["mean |learned-Q*|"] < 0.5 * r["mean |Q*-P|"]
            assert r["rare: learned/P"] < 1.0
        by_n = _table(discrete_result, "Mean |learned - Q*| by sample size")
        assert [r["n"] for r in by_n] == cfg["sample_sizes"]
        free = next(r for r in rows if r["model"] == "free logits" and r["γ"] == 2.0)
        assert by_n[-1]["γ=2"] == pytest.approx(free["mean |learned-Q*|"], rel=1e-12)
        slope = _common.fit_loglog_slope([r["n"] for r in by_n], [r["γ=2"] for r in by_n])
        assert slope == pytest.approx(free["slope vs Q*"], rel=1e-12)

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

    def test_mlp_only(self, tiny):
        """Without free logits there is no per-n table (it used to raise a KeyError)."""
        cfg = {
            **tiny["discrete"],
            "gammas": [2.0],
            "models": ["MLP"],
            "sample_sizes": [1000, 10_000],
            "repetitions": 1,
            "max_iter": 40,
        }
        res = discrete.run(cfg)
        assert_well_formed(res)
        assert [t.title.split(" (")[0] for t in res.tables] == ["Convergence"]
        assert [c.id for c in res.claims] == [
            "2.slope.mlp.g2",
            "2.bias.mlp.g2",
            "2.over_suppressed",
        ]

    def test_restores_the_callers_torch_threads(self, tiny):
        cfg = {**tiny["discrete"], "gammas": [1.0], "models": ["MLP"], "repetitions": 1}
        before = torch.get_num_threads()
        target = 2 if before == 1 else before  # anything but 1, the experiment's count
        torch.set_num_threads(target)
        try:
            seen = []
            discrete.run(cfg, progress=lambda a=1.0, d="": seen.append(torch.get_num_threads()))
            assert seen == [1]  # trained with one thread
            assert torch.get_num_threads() == target
        finally:
            torch.set_num_threads(before)


class TestFiguresOff:
    """With ``figures`` false no figure is drawn and matplotlib is not even imported."""

    @pytest.mark.parametrize("module", [theory, discrete])
    def test_figure_function_not_called(self, module, tiny, monkeypatch):
        def boom(data):
            raise AssertionError("make_figures called with figures off")

        monkeypatch.setattr(module, "make_figures", boom)
        res = module.run({**tiny[module.ID], "figures": False})
        assert res.figures == {}
        assert res.captions == {}
        with pytest.raises(AssertionError, match="figures off"):
            module.run({**tiny[module.ID], "figures": True})

    def test_matplotlib_not_imported(self, tiny):
        small = {"gammas": [2.0], "models": ["MLP"], "sample_sizes": [1000, 10_000]}
        cfgs = {"theory": tiny["theory"], "discrete": {**tiny["discrete"], **small}}
        code = textwrap.dedent(
            f"""
            import json, sys
            from focalentropy.experiments import discrete, theory
            cfgs = json.loads({json.dumps(json.dumps(cfgs))})
            for module in (theory, discrete):
                assert module.run(cfgs[module.ID]).claims
            print(sorted(m for m in sys.modules if m.split(".")[0] == "matplotlib"))
            """
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
        )
        assert out.stdout.strip() == "[]"


class TestRunner:
    def test_default_configs(self):
        cfgs = default_configs(quick=True, seed=3)
        assert list(cfgs) == list(EXPERIMENTS)
        assert all(c["seed"] == 3 for c in cfgs.values())
        full = default_configs(quick=False)
        assert len(full["discrete"]["sample_sizes"]) > len(cfgs["discrete"]["sample_sizes"])
        assert full["discrete"]["repetitions"] > cfgs["discrete"]["repetitions"]
        assert full["theory"]["sweep_points"] > cfgs["theory"]["sweep_points"]

    @pytest.mark.parametrize("seed", [-1, 1.5, True])
    def test_bad_seed(self, seed):
        with pytest.raises(ValueError, match="`seed`"):
            default_configs(seed=seed)

    def test_unknown_experiment(self):
        with pytest.raises(ValueError, match="unknown experiment 'nope'"):
            default_configs(only=["nope"])

    def test_modules_declare_their_place(self):
        assert (theory.ID, theory.NUMBER) == ("theory", 1)
        assert (discrete.ID, discrete.NUMBER) == ("discrete", 2)
        # every module of the suite declares ID, NUMBER (its 1-based position), TITLE, CLAIM:
        # the runner reads them for a crashed experiment, with no fallback
        for position, name in enumerate(EXPERIMENTS, start=1):
            module = importlib.import_module(f"focalentropy.experiments.{name}")
            assert (name, position) == (module.ID, module.NUMBER)
            assert type(module.NUMBER) is int
            for text in (module.TITLE, module.CLAIM):
                assert isinstance(text, str)
                assert text.strip()
            assert {"ID", "NUMBER", "TITLE", "CLAIM"} <= set(module.__all__)

    @pytest.mark.parametrize("name", ["continuous", "real_data", "benchmark"])
    def test_crash_of_any_module_takes_its_declared_title(self, monkeypatch, name):
        module = importlib.import_module(f"focalentropy.experiments.{name}")

        def boom(config, progress=None):
            raise RuntimeError("deliberate")

        monkeypatch.setattr(module, "run", boom)
        res = run_experiment(name, {})
        assert (res.id, res.number, res.title) == (name, module.NUMBER, f"{module.TITLE} (crashed)")
        assert [c.id for c in res.claims] == [f"{module.NUMBER}.completed"]
        assert res.claim == module.CLAIM

    @pytest.mark.parametrize(
        ("name", "update", "expected"),
        [
            ("theory", {"ks": [2, 5], "gammas": [1.0]}, 4),
            ("discrete", {"gammas": [0.0, 1.0, 3.0], "models": ["MLP", "free logits"]}, 6),
            ("discrete", {"gammas": [2.0], "models": ["free logits"]}, 1),
        ],
    )
    def test_planned_units_match_progress_calls(self, tiny, name, update, expected):
        cfg = {**tiny[name], **update}
        if name == "discrete":  # the count does not depend on these: keep the fits small
            cfg.update(repetitions=1, sample_sizes=[1000, 10_000], max_iter=40)
        calls = _progress_calls({"theory": theory, "discrete": discrete}[name], cfg)
        assert calls == [1] * expected
        assert runner.planned_units(name, cfg) == expected

    def test_crash_becomes_failing_claim(self, monkeypatch):
        def boom(config, progress=None):
            raise RuntimeError("deliberate")

        monkeypatch.setattr(discrete, "run", boom)
        res = run_experiment("discrete", {})
        assert not res.passed
        assert "deliberate" in res.error
        assert [c.id for c in res.claims] == ["2.completed"]
        assert res.number == 2
        assert res.title == f"{discrete.TITLE} (crashed)"

    def test_bad_config_becomes_failing_claim(self, tiny):
        res = run_experiment("theory", {**tiny["theory"], "zipf": 3})
        assert not res.passed
        assert "unknown key 'zipf'" in res.error

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

    def test_reproduce_writes_outputs(self, tmp_path, monkeypatch, tiny, theory_result):
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
        assert sorted(data["experiments"][0]["captions"]) == figs
        # drawing the figures changes no number
        assert data["claims"] == [c.to_dict() for c in theory_result.claims]
        assert data["experiments"][0]["tables"] == [t.to_dict() for t in theory_result.tables]
        html = (out / "report.html").read_text()
        assert html.count("data:image/png;base64,") == len(figs)


@dataclass(frozen=True)
class _StageConfig:
    steps: int = 2
    figures: bool = True


class TestRunStages:
    """``_common.run_stages``: the compute -> claims -> tables -> figures body of every ``run``."""

    @staticmethod
    def _module(calls: list[str]):
        import types

        def compute(cfg, progress):
            calls.append("compute")
            for _ in range(cfg.steps):
                progress(1.0, "step")
            return {"value": 0.25 * cfg.steps}

        def make_figures(data):
            calls.append("figures")
            return {"a.png": b"png"}, {"a.png": "caption"}

        return types.SimpleNamespace(
            ID="stages",
            NUMBER=7,
            TITLE="Stages",
            CLAIM="A claim.",
            default_config=lambda: {"steps": 3, "figures": False},
            compute=compute,
            make_claims=lambda data: [Claim.less("7.v", "s", "m", data["value"], 1.0)],
            make_tables=lambda data: [],
            make_figures=make_figures,
        )

    def test_result_fields_and_progress(self):
        calls: list[str] = []
        ticks: list[float] = []
        res = _common.run_stages(
            self._module(calls),
            {"steps": 2},
            lambda advance, description: ticks.append(advance),
            config_class=_StageConfig,
            method=lambda cfg, data: f"{cfg.steps} steps, value {data['value']}",
        )
        assert (res.id, res.number, res.title, res.claim) == ("stages", 7, "Stages", "A claim.")
        assert res.method == "2 steps, value 0.5"
        assert [(c.id, c.value, c.passed) for c in res.claims] == [("7.v", 0.5, True)]
        assert res.config == {"steps": 2, "figures": True}
        assert (res.figures, res.captions) == ({"a.png": b"png"}, {"a.png": "caption"})
        assert calls == ["compute", "figures"]
        assert ticks == [1.0, 1.0]

    def test_defaults_no_figures_extras_and_unknown_key(self):
        calls: list[str] = []
        module = self._module(calls)
        res = _common.run_stages(
            module,
            None,  # default_config(): 3 steps, figures off
            None,
            config_class=_StageConfig,
            method=lambda cfg, data: "m",
            extras=lambda cfg, data: {"notes": ["n"], "config": {"custom": cfg.steps}},
        )
        assert calls == ["compute"]  # make_figures is not called with figures off
        assert (res.figures, res.notes, res.config) == ({}, ["n"], {"custom": 3})
        with pytest.raises(ValueError, match="experiment 'stages' has an unknown key 'step'"):
            _common.run_stages(
                module, {"step": 1}, None, config_class=_StageConfig, method=lambda c, d: ""
            )

    def test_threads_set_while_computing_and_restored(self):
        torch = pytest.importorskip("torch")
        seen: list[int] = []
        module = self._module([])
        module.compute = lambda cfg, progress: (
            seen.append(torch.get_num_threads()) or {"value": 0.0}
        )
        before = torch.get_num_threads()
        torch.set_num_threads(before + 1)
        try:
            _common.run_stages(
                module, {}, None, config_class=_StageConfig, method=lambda c, d: "", threads=1
            )
            after = torch.get_num_threads()
        finally:
            torch.set_num_threads(before)
        assert (seen, after) == ([1], before + 1)


class TestTrainingHelpers:
    def test_lbfgs_minimize_solves_a_least_squares_problem(self):
        torch = pytest.importorskip("torch")
        rng = np.random.default_rng(0)
        a = rng.normal(size=(20, 3))
        b = rng.normal(size=20)
        w = torch.zeros(3, dtype=torch.float64, requires_grad=True)
        at, bt = torch.as_tensor(a), torch.as_tensor(b)
        _common.lbfgs_minimize(
            [w],
            lambda: ((at @ w - bt) ** 2).sum(),
            max_iter=100,
            history_size=10,
            tolerance_grad=1e-12,
            tolerance_change=1e-15,
        )
        exact = np.linalg.lstsq(a, b, rcond=None)[0]  # the normal equations, independently
        np.testing.assert_allclose(w.detach().numpy(), exact, rtol=1e-8, atol=1e-10)

    def test_train_mlp_adam_is_seeded_and_fits(self):
        torch = pytest.importorskip("torch")
        x = torch.as_tensor(np.random.default_rng(1).normal(size=(64, 2)), dtype=torch.float32)
        y = (x[:, 0] > 0).long()

        def fit(seed: int):
            torch.manual_seed(seed)
            gen = torch.Generator().manual_seed(seed)
            return _common.train_mlp_adam(
                x,
                2,
                lambda out, idx: torch.nn.functional.cross_entropy(out, y[idx]),
                hidden=8,
                epochs=40,
                batch_size=16,
                lr=1e-2,
                weight_decay=0.0,
                generator=gen,
            )

        first, again = fit(3), fit(3)
        for p, q in zip(first.parameters(), again.parameters(), strict=True):
            assert p.dtype == torch.float64
            assert torch.equal(p, q)
        assert not first.training
        with torch.no_grad():
            accuracy = (first(x.double()).argmax(dim=1) == y).double().mean().item()
        assert accuracy > 0.9
