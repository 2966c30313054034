"""Shared pieces of the experiment tests: tiny settings, a recorded run, the result check."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable
from typing import Any

import pytest

from focalentropy.experiments import ExperimentResult, default_configs

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def tiny_configs(seed: int = 0) -> dict[str, dict[str, Any]]:
    """Settings of experiments 1-3 small enough for the test suite (seconds, not minutes)."""
    cfgs = default_configs(quick=True, seed=seed, only=["theory", "discrete", "continuous"])
    for cfg in cfgs.values():
        cfg["figures"] = False  # rendering dominates the run time; tested where it matters
    cfgs["theory"].update(sweep_points=21, eps_points=7, zipf_classes=20, tail_classes=6)
    cfgs["discrete"].update(
        gammas=[0.0, 2.0], sample_sizes=[1000, 10_000, 100_000], repetitions=2, max_iter=150
    )
    cfgs["continuous"].update(gammas=[0.0, 2.0], n_train=2000, n_eval=400, max_iter=80, hidden=16)
    return cfgs


def block_matplotlib(mp: pytest.MonkeyPatch) -> None:
    """Make every import of matplotlib (or a submodule) raise ImportError inside ``mp``."""
    names = [m for m in sys.modules if m.split(".")[0] == "matplotlib"]
    for name in {"matplotlib", *names}:
        mp.setitem(sys.modules, name, None)


def recorded_run(
    run: Callable[..., ExperimentResult], config: dict[str, Any]
) -> tuple[ExperimentResult, list[tuple[float, str]], int, int]:
    """``run(config, progress=...)`` with matplotlib blocked and torch's thread count one
    above the caller's (restored afterwards): ``(result, progress calls as (advance,
    description), the thread count set before, the count found after the run)``."""
    import torch

    calls: list[tuple[float, str]] = []

    def record(advance: float = 1.0, description: str = "") -> None:
        calls.append((advance, description))

    before = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as mp:
        block_matplotlib(mp)  # figures are off: importing matplotlib fails the run
        torch.set_num_threads(before + 1)
        try:
            res = run(config, progress=record)
            after = torch.get_num_threads()
        finally:
            torch.set_num_threads(before)
    return res, calls, before + 1, after


def assert_well_formed(res: ExperimentResult) -> None:
    """Unique claim ids under the experiment's number, its module's number and title, a
    captioned PNG per figure, full table rows, and a JSON-ready ``to_dict()``."""
    assert res.claims, "an experiment must check at least one claim"
    ids = [c.id for c in res.claims]
    assert len(ids) == len(set(ids))
    assert all(i.startswith(f"{res.number}.") for i in ids)
    module = importlib.import_module(f"focalentropy.experiments.{res.id}")
    assert (res.number, res.title) == (module.NUMBER, module.TITLE)
    for name, png in res.figures.items():
        assert name.endswith(".png")
        assert png.startswith(PNG_MAGIC)
        assert name in res.captions
    assert set(res.captions) == set(res.figures)
    for t in res.tables:
        assert t.rows
        assert all(len(row) == len(t.columns) for row in t.rows)
    json.dumps(res.to_dict())  # JSON-ready
