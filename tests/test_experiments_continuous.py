"""Experiment 3 (continuous features) on tiny settings."""

# Greek letters (γ) are intended: they are in the progress messages.
# ruff: noqa: RUF001

from __future__ import annotations

import numpy as np
import pytest

from _experiment_configs import assert_well_formed, block_matplotlib, recorded_run, tiny_configs
from focalentropy.experiments import continuous
from focalentropy.experiments._common import config_from_dict, config_to_dict

pytest.importorskip("torch")
pytest.importorskip("matplotlib")


def tiny_config(seed: int = 0) -> dict:
    """Settings of experiment 3 small enough for the test suite (seconds, not minutes)."""
    return tiny_configs(seed)["continuous"]


@pytest.fixture(scope="module")
def tiny():
    return {"continuous": tiny_config()}


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
        assert_well_formed(res)
        by_id = {c.id: c for c in res.claims}
        assert set(by_id) == {"3.baseline", "3.closer_to_qstar.g2", "3.recover.g2"}
        # even a tiny model is clearly closer to Q* than to P
        assert by_id["3.closer_to_qstar.g2"].value < 1.0


def micro_config(**changes) -> dict:
    """Far too small to pass the claims, but it runs every step in about a second."""
    cfg = tiny_config()
    cfg.update(gammas=[0.0, 2.0], seeds=2, n_train=300, n_eval=100, max_iter=5, hidden=4)
    cfg.update(changes)
    return cfg


class TestConfig:
    def test_dict_round_trip_and_types(self):
        raw = continuous.default_config(quick=False, seed=4)
        cfg = config_from_dict(continuous.ContinuousConfig, raw, "continuous")
        assert cfg.gammas == (0.0, 1.0, 2.0, 5.0)
        assert cfg.means[2] == (0.0, 2.0)
        assert (cfg.seed, cfg.seeds, cfg.figures) == (4, 3, True)
        with pytest.raises(AttributeError):
            cfg.seed = 1  # type: ignore[misc]  # frozen
        # the result records the settings it ran with as the same plain dict
        assert config_to_dict(cfg) == raw
        assert config_from_dict(continuous.ContinuousConfig, {}, "continuous") == (
            continuous.ContinuousConfig()
        )

    def test_unknown_key_is_named(self):
        with pytest.raises(ValueError, match="unknown key 'n_trian'"):
            continuous.run({**tiny_config(), "n_trian": 10})

    def test_missing_key_takes_the_quick_default(self):
        cfg = tiny_config()
        del cfg["hidden"], cfg["line"]
        built = config_from_dict(continuous.ContinuousConfig, cfg, "continuous")
        assert built.hidden == 32
        assert built.line == ((-4.0, 0.7), (4.0, 0.7))
        assert continuous.planned_units({"seeds": 2}) == 6  # 3 default gammas x 2 seeds

    @pytest.mark.parametrize(
        ("key", "value", "error", "match"),
        [
            ("n_train", 2.5, TypeError, r"`config\['n_train'\]` .* must be an integer"),
            ("gammas", [0.0, "2"], TypeError, r"`config\['gammas'\]\[1\]`"),
            ("means", [[0.0, "a"]], TypeError, r"`config\['means'\]` .* list of points"),
            ("line", [[0.0, 0.0]], ValueError, r"`config\['line'\]` .* 2 points"),
        ],
    )
    def test_bad_values_are_named(self, key, value, error, match):
        with pytest.raises(error, match=match):
            continuous.run({**tiny_config(), key: value})

    @pytest.mark.parametrize(
        ("key", "value", "error", "match"),
        [
            ("gammas", [], ValueError, r"`config\['gammas'\]` .* must not be empty"),
            ("gammas", [0.0, -1], ValueError, r"`config\['gammas'\]\[1\]` .* >= 0, got -1"),
            ("gammas", [2.0, 2], ValueError, r"`config\['gammas'\]\[1\]` .* repeats entry 0"),
            ("priors", [0.5, 0.6, 0.1], ValueError, r"`config\['priors'\]` .* sum to 1"),
            ("priors", [1.0, 0.0, 0.0], ValueError, r"`config\['priors'\]\[1\]` .* got 0"),
            ("priors", [1.0], ValueError, r"`config\['priors'\]` .* at least 2"),
            ("priors", [0.5, 0.5], ValueError, r"`config\['means'\]` .* one point per class"),
            ("means", [], ValueError, r"`config\['means'\]` .* must not be empty"),
            ("means", [[0.0], [1.0, 0.0], [0, 1]], ValueError, r"`config\['means'\]\[1\]`"),
            ("means", [[0.0, "nan"]] * 3, ValueError, r"`config\['means'\]\[0\]` .* finite"),
            ("means", [[], [], []], ValueError, r"`config\['means'\]\[0\]` .* non-empty"),
            ("scale", 0.0, ValueError, r"`config\['scale'\]` .* > 0, got 0"),
            ("scale", -1.0, ValueError, r"`config\['scale'\]` .* > 0, got -1"),
            ("n_train", 0, ValueError, r"`config\['n_train'\]` .* >= 1, got 0"),
            ("n_eval", -10, ValueError, r"`config\['n_eval'\]` .* >= 1, got -10"),
            ("hidden", 0, ValueError, r"`config\['hidden'\]` .* >= 1, got 0"),
            ("max_iter", 0, ValueError, r"`config\['max_iter'\]` .* >= 1, got 0"),
            ("seeds", 0, ValueError, r"`config\['seeds'\]` .* >= 1, got 0"),
            ("line", [[0.0, 0.0], [1.0]], ValueError, r"`config\['line'\]\[1\]` .* coordinates"),
            ("line", [[0.0], [1.0]], ValueError, r"`config\['line'\]\[0\]` .* 2 coordinates"),
            ("line", [[0.0, 0.0], [1.0, float("inf")]], ValueError, r"`config\['line'\]\[1\]`"),
            ("figures", 1, TypeError, r"`config\['figures'\]` .* must be a bool"),
            ("seed", -1, ValueError, r"`config\['seed'\]` .* >= 0, got -1"),
        ],
    )
    def test_out_of_range_values_are_named(self, monkeypatch, key, value, error, match):
        def compute(cfg, progress):
            raise AssertionError("a bad config must be rejected before compute")

        monkeypatch.setattr(continuous, "compute", compute)
        with pytest.raises(error, match="experiment 'continuous'") as info:
            continuous.run({**tiny_config(), key: value})
        assert info.match(match)
        with pytest.raises(error, match=match):
            continuous.planned_units({**tiny_config(), key: value})

    def test_config_must_be_a_mapping(self):
        with pytest.raises(TypeError, match="`config` of experiment 'continuous' must be a dict"):
            continuous.run([1, 2])  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def micro_run():
    """One real run with figures off, a non-default torch thread count and pyplot disabled."""
    return recorded_run(continuous.run, micro_config())


class TestRunMechanics:
    def test_progress_calls_equal_planned_units(self, micro_run):
        _, calls, _, _ = micro_run
        cfg = micro_config()
        assert len(calls) == continuous.planned_units(cfg) == 4  # 2 gammas x 2 seeds
        assert sum(a for a, _ in calls) == continuous.planned_units(cfg)
        assert [d for _, d in calls][-1] == "continuous: γ=2, seed 1"

    def test_thread_count_restored(self, micro_run):
        _, _, set_before, after = micro_run
        assert after == set_before

    def test_thread_count_restored_after_an_error(self, monkeypatch):
        import torch

        def boom(*args, **kwargs):
            assert torch.get_num_threads() == 1  # training runs single-threaded
            raise RuntimeError("deliberate")

        monkeypatch.setattr(continuous, "train_mlp", boom)
        before = torch.get_num_threads()
        torch.set_num_threads(before + 1)
        try:
            with pytest.raises(RuntimeError, match="deliberate"):
                continuous.run(micro_config())
            assert torch.get_num_threads() == before + 1
        finally:
            torch.set_num_threads(before)

    def test_no_figures_no_matplotlib(self, micro_run):
        res, _, _, _ = micro_run  # the run raised if it had imported matplotlib
        assert res.figures == {}
        assert_well_formed(res)


def _interpolating_model(monkeypatch, cfg: dict, w: float):
    """Replace training by the exact model ``(1 - w) P + w Q*(P)``: no training error.

    Then ``TV(learned, Q*) / TV(learned, P) = (1 - w) / w`` exactly, for every x.
    """
    from focalentropy._minimizer import minimizer

    mix = config_from_dict(continuous.ContinuousConfig, cfg, "continuous").mixture()

    def fake_train(x, y, gamma, **kwargs):
        def predict(xnew):
            p = mix.posterior(xnew)
            return (1 - w) * p + w * minimizer(p, gamma)

        return predict

    monkeypatch.setattr(continuous, "train_mlp", fake_train)


class TestClaims:
    def test_model_on_qstar_passes(self, monkeypatch):
        cfg = micro_config(seeds=1)
        _interpolating_model(monkeypatch, cfg, 1.0)  # the model learns Q* exactly
        by_id = {c.id: c for c in continuous.run(cfg).claims}
        assert by_id["3.baseline"].passed
        assert by_id["3.baseline"].value < 1e-12  # gamma = 0: Q* = P
        assert by_id["3.closer_to_qstar.g2"].value < 1e-12
        assert by_id["3.recover.g2"].value < 1e-8  # recover(Q*) = P
        assert all(c.passed for c in by_id.values())

    @pytest.mark.parametrize(
        ("w", "passed"), [(0.9, True), (0.7, True), (0.6, False), (0.1, False)]
    )
    def test_closer_to_qstar_ratio_is_exact(self, monkeypatch, w, passed):
        cfg = micro_config(seeds=1)
        _interpolating_model(monkeypatch, cfg, w)
        res = continuous.run(cfg)
        claim = {c.id: c for c in res.claims}["3.closer_to_qstar.g2"]
        assert claim.value == pytest.approx((1 - w) / w, rel=1e-9)
        assert claim.passed is passed  # threshold 0.5: w > 2/3 passes
        row = res.tables[0].rows[1]
        assert row[0] == 2.0
        # TV(learned, Q*) + TV(learned, P) = TV(Q*, P) on the segment between them
        assert row[1] + row[2] == pytest.approx(row[3], rel=1e-9)

    def test_matplotlib_blocker_works(self, monkeypatch):
        """The blocker of the figures-off tests does stop a run that draws figures."""
        cfg = micro_config(seeds=1, figures=True)
        _interpolating_model(monkeypatch, cfg, 1.0)
        block_matplotlib(monkeypatch)
        with pytest.raises(ImportError):
            continuous.run(cfg)

    def test_model_on_p_fails_the_focal_claims(self, monkeypatch):
        """A focal model that learned P (w = 0.02) fails: the theory's claim can fail."""
        cfg = micro_config(seeds=1)
        _interpolating_model(monkeypatch, cfg, 0.02)
        by_id = {c.id: c for c in continuous.run(cfg).claims}
        assert not by_id["3.closer_to_qstar.g2"].passed
        assert not by_id["3.recover.g2"].passed  # recover over-corrects a model already on P
        assert by_id["3.baseline"].passed
