"""Experiment 4 (long-tailed real data): claims, tables and figures from the training output."""

from __future__ import annotations

import numpy as np
import pytest

from _experiment_configs import assert_well_formed, block_matplotlib, recorded_run
from focalentropy._minimizer import minimizer

pytest.importorskip("torch")
pytest.importorskip("matplotlib")


def controlled_long_tail(focal: str, gammas=(1.0, 3.0), n: int = 20_000, seed: int = 0) -> dict:
    """The output of ``run_long_tail_experiment`` for models with known probabilities.

    Two classes; the cross-entropy model's probabilities ``P_ce`` are the true posterior
    (the labels are drawn from them, so ``P_ce`` is calibrated). The focal model is either
    ``focal="theory"``: exactly ``minimizer(P_ce, gamma)``, what the theory predicts; or
    ``focal="sharp"``: ``softmax(2 z_ce)``, over-confident instead of under-confident.
    Only the training is replaced: the maps and metrics are those of ``long_tail``.
    """
    from focalentropy.experiments import long_tail
    from focalentropy.experiments._common import softmax

    rng = np.random.default_rng(seed)
    z = [np.stack([np.zeros(n), rng.normal(0.0, 2.0, n)], axis=1) for _ in range(2)]
    p = [softmax(zi) for zi in z]
    y = [(rng.random(n) < pi[:, 1]).astype(np.int64) for pi in p]
    logits: dict = {"ce": (z[0], z[1])}
    for g in gammas:
        if focal == "theory":
            logits[g] = (np.log(minimizer(p[0], g)), np.log(minimizer(p[1], g)))
        else:
            logits[g] = (2 * z[0], 2 * z[1])
    out = long_tail._evaluate_logits(logits, y[0], y[1], n_bins=15)
    out["counts"] = {"train": [n, n], "val": np.bincount(y[0]).tolist(), "test": [n // 2] * 2}
    out["config"] = {"dataset": "controlled", "imbalance_ratio": 1.0, "epochs": 0}
    return out


@pytest.fixture(scope="module", params=["theory", "sharp"])
def controlled(request):
    return request.param, controlled_long_tail(request.param)


def _run_on(monkeypatch, out: dict, **changes):
    from focalentropy.experiments import long_tail, real_data

    def fake(gammas, seed, quick, **kwargs):
        assert [float(g) for g in gammas] == sorted(g for g in out["minimizer_check"])
        return out

    monkeypatch.setattr(long_tail, "run_long_tail_experiment", fake)
    return real_data.run({**real_data.default_config(), "gammas": [1.0, 3.0], **changes})


class TestRealData:
    def test_claims_from_long_tail_output(self, monkeypatch, controlled):
        """Models with known probabilities: the theory's model passes, a sharpened one fails."""
        focal, out = controlled
        res = _run_on(monkeypatch, out)
        assert_well_formed(res)
        by_id = {c.id: c for c in res.claims}
        assert "4.ece_recover.g3" in by_id
        assert "4.ece_recover.g1" not in by_id  # only claimed for gamma >= 2
        for g in ("1", "3"):
            pred, rec = by_id[f"4.minimizer_predicts.g{g}"], by_id[f"4.recover_matches_ce.g{g}"]
            if focal == "theory":  # focal = minimizer(P_ce) and recover(focal) = P_ce exactly
                assert pred.value < 1e-12
                assert rec.value < 1e-12
            else:
                # two classes: P_ce lies between minimizer(P_ce) and the sharpened model
                # (and recover sharpens further), so both ratios exceed 1
                assert pred.value > 1.0
                assert rec.value > 1.0
            assert pred.passed is rec.passed is (focal == "theory")
            # temperature scaling after recover calibrates both models
            assert by_id[f"4.calibrated.g{g}"].passed
        # recover lowers the ECE of the under-confident model only
        assert by_id["4.ece_recover.g3"].passed is (focal == "theory")
        assert by_id["4.argmax"].passed
        assert res.passed is (focal == "theory")
        assert any("recover alone did not lower the ECE" in n for n in res.notes) is (
            focal == "sharp"
        )

    def test_tables_hold_the_long_tail_numbers(self, monkeypatch, controlled):
        _, out = controlled
        res = _run_on(monkeypatch, out, figures=False)
        pred, cal, fit = res.tables
        for row, g in zip(pred.rows, (1.0, 3.0), strict=True):
            c = out["minimizer_check"][g]
            assert row[:4] == [
                g,
                c["tv_focal_vs_ce"],
                c["tv_focal_vs_minimizer_of_ce"],
                c["tv_recovered_vs_ce"],
            ]
        # CE: raw and temperature; each focal model: all five maps, in the report's order
        assert [r[2] for r in cal.rows] == ["raw", "temperature"] + 2 * [
            "raw",
            "temperature",
            "recover",
            "recover(auto)",
            "recover+temperature",
        ]
        assert [r[0] for r in fit.rows] == [1.0, 3.0]
        assert res.figures == {}

    def test_figures(self, monkeypatch):
        res = _run_on(monkeypatch, controlled_long_tail("theory", n=2000))
        assert sorted(res.figures) == ["real_data_reliability.png", "real_data_summary.png"]
        assert_well_formed(res)

    def test_matplotlib_blocker_works(self, monkeypatch):
        """The blocker of the figures-off tests does stop a run that draws figures."""
        out = controlled_long_tail("theory", n=200)
        block_matplotlib(monkeypatch)
        with pytest.raises(ImportError):
            _run_on(monkeypatch, out, figures=True)


class TestConfig:
    def test_dict_round_trip_and_types(self):
        from focalentropy.experiments import real_data
        from focalentropy.experiments._common import config_from_dict

        raw = {**real_data.default_config(quick=False, seed=2), "epochs": 4.0}
        cfg = config_from_dict(real_data.RealDataConfig, raw, "real_data")
        assert cfg.gammas == (1.0, 2.0, 3.0)
        assert (cfg.quick, cfg.epochs, cfg.seed, cfg.augment, cfg.figures) == (
            False,
            4,
            2,
            True,
            True,
        )
        assert isinstance(cfg.epochs, int)
        with pytest.raises(AttributeError):
            cfg.epochs = 1  # type: ignore[misc]  # frozen
        assert config_from_dict(real_data.RealDataConfig, {"seed": 2}, "real_data") == (
            config_from_dict(real_data.RealDataConfig, real_data.default_config(seed=2), "x")
        )
        assert real_data.planned_units({}) == 4  # CE + 3 default gammas

    def test_bad_keys_and_values_are_named(self):
        from focalentropy.experiments import real_data

        with pytest.raises(ValueError, match="unknown key 'epoch'"):
            real_data.run({**real_data.default_config(), "epoch": 3})
        with pytest.raises(TypeError, match=r"`config\['epochs'\]` .* integer or None"):
            real_data.run({**real_data.default_config(), "epochs": 2.5})
        with pytest.raises(TypeError, match=r"`config\['gammas'\]\[0\]`"):
            real_data.run({**real_data.default_config(), "gammas": ["2"]})

    @pytest.mark.parametrize(
        ("key", "value", "error", "match"),
        [
            ("gammas", [], ValueError, r"`config\['gammas'\]` .* must not be empty"),
            ("gammas", [2.0, 0.0], ValueError, r"`config\['gammas'\]\[1\]` .* > 0, got 0"),
            ("gammas", [-1], ValueError, r"`config\['gammas'\]\[0\]` .* > 0, got -1"),
            ("gammas", [1.0, 1.0], ValueError, r"`config\['gammas'\]\[1\]` .* repeats entry 0"),
            ("gammas", 2.0, TypeError, r"`config\['gammas'\]` .* must be a list"),
            ("quick", "no", TypeError, r"`config\['quick'\]` .* must be a bool"),
            ("imbalance_ratio", 0.5, ValueError, r"`config\['imbalance_ratio'\]` .* >= 1"),
            ("imbalance_ratio", float("nan"), ValueError, r"`config\['imbalance_ratio'\]`"),
            ("epochs", 0, ValueError, r"`config\['epochs'\]` .* >= 1, got 0"),
            ("epochs", -3, ValueError, r"`config\['epochs'\]` .* >= 1, got -3"),
            ("epochs", True, TypeError, r"`config\['epochs'\]` .* integer or None, got True"),
            ("augment", None, TypeError, r"`config\['augment'\]` .* must be a bool"),
            ("seed", -2, ValueError, r"`config\['seed'\]` .* >= 0, got -2"),
        ],
    )
    def test_out_of_range_values_are_named(self, monkeypatch, key, value, error, match):
        from focalentropy.experiments import real_data

        def compute(cfg, progress):
            raise AssertionError("a bad config must be rejected before compute")

        monkeypatch.setattr(real_data, "compute", compute)
        with pytest.raises(error, match="experiment 'real_data'") as info:
            real_data.run({**real_data.default_config(), key: value})
        assert info.match(match)
        with pytest.raises(error, match=match):
            real_data.planned_units({key: value})

    def test_config_must_be_a_mapping(self):
        from focalentropy.experiments import real_data

        with pytest.raises(TypeError, match="`config` of experiment 'real_data' must be a dict"):
            real_data.run([1, 2])  # type: ignore[arg-type]


def micro_config() -> dict:
    from focalentropy.experiments import real_data

    return {**real_data.default_config(), "gammas": [2.0], "epochs": 1, "augment": False}


@pytest.fixture(scope="module")
def micro_run():
    """One real run (1 epoch) with figures off, another thread count and pyplot disabled."""
    pytest.importorskip("sklearn")
    from focalentropy.experiments import real_data

    return recorded_run(real_data.run, {**micro_config(), "figures": False})


class TestRunMechanics:
    def test_progress_calls_equal_planned_units(self, micro_run):
        from focalentropy.experiments import real_data

        res, calls, _, _ = micro_run
        assert len(calls) == sum(a for a, _ in calls) == real_data.planned_units(micro_config())
        assert len(calls) == 2  # the cross-entropy model and one focal model
        assert res.error is None
        assert len(res.claims) == 5

    def test_thread_count_restored(self, micro_run):
        _, _, set_before, after = micro_run
        assert after == set_before

    def test_no_figures(self, micro_run):
        res, _, _, _ = micro_run  # the run raised if it had imported matplotlib
        assert res.figures == {}
