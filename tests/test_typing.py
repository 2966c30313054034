"""The installed package is typed (``py.typed``): mypy checks user code against its hints.

mypy runs (in-process, ``mypy.api.run``) on two small user scripts outside the source tree, so
``focalentropy`` is found as an installed package (no ``py.typed``, no types): one script uses
the public API correctly and must pass, with ``assert_type`` pinning the return types (an
un-annotated function returns ``Any`` and fails those); the other passes wrong types, and every
line marked ``# E: <code>`` must be reported with that error code, and nothing else.
Skipped without mypy.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api")

GOOD = """
from typing import Any, assert_type

import numpy as np
from numpy.typing import NDArray

import focalentropy as fe
from focalentropy import asymptotics
from focalentropy.calibration import (
    FocalRecalibrator,
    ReliabilityBins,
    TemperatureScaling,
    calibration_report,
    expected_calibration_error,
    reliability_bins,
)

F64 = NDArray[np.float64]
p = np.array([0.7, 0.2, 0.1])
assert_type(fe.loss(p, 2.0), F64)
assert_type(fe.loss([0.5, 0.25], 2), F64)
assert_type(fe.phi(0.5, 2.0), F64)
assert_type(fe.gradient_weight(p, 2.0), F64)
assert_type(fe.phi_inverse(p, 2.0), F64)
assert_type(fe.max_gradient_weight(2.0), tuple[float, float])
assert_type(fe.cross_entropy(p, [0.6, 0.3, 0.1], 2.0, alpha=[1.0, 2.0, 1.0]), F64)
assert_type(fe.entropy([[0.5, 0.5], [0.9, 0.1]], 1.0, axis=-1), F64)
assert_type(fe.divergence(p, p, 0.5), F64)
result = fe.regimes(p, 2.0, class_names=["a", "b", "c"])
assert_type(result, fe.RegimesResult)
assert_type(result.minimizer, F64)
assert_type(result.labels, NDArray[np.str_])
assert_type(result.table(), list[dict[str, Any]])
assert_type(result.summary(edgeitems=3), str)
assert_type(asymptotics.small_gamma(p)(0.1), F64)
assert_type(asymptotics.large_gamma(p, alpha=None).leading, F64)
assert_type(fe.minimizer(p, 2.0), np.ndarray)
assert_type(fe.recover(p, 2.0, kind="softmax"), np.ndarray)

# gamma: a NumPy scalar is a number too (accepted at run time)
g32 = np.float32(2.0)
assert_type(fe.loss(p, g32), F64)
assert_type(fe.entropy(p, np.int64(2)), F64)
assert_type(fe.max_gradient_weight(g32), tuple[float, float])
assert_type(fe.minimizer(p, g32), np.ndarray)
assert_type(fe.recover(p, np.float64(2.0)), np.ndarray)
assert_type(asymptotics.small_gamma(p)(g32), F64)
assert_type(FocalRecalibrator(gamma=g32).fit(p[None], [0]), FocalRecalibrator)

q = np.array([[0.5, 0.3, 0.2], [0.2, 0.5, 0.3]])
labels = [0, 1]
cal = FocalRecalibrator(gamma="auto", kind="softmax").fit(q, labels)
assert_type(cal, FocalRecalibrator)
assert_type(cal.transform(q), F64)
assert_type(cal.predict(q), NDArray[np.intp])
assert_type(TemperatureScaling(from_logits=True).fit(q, labels), TemperatureScaling)
assert_type(expected_calibration_error(q, labels, binning="quantile", norm="max"), float)
assert_type(reliability_bins(q, labels, n_bins=5), ReliabilityBins)
assert_type(calibration_report(q, labels), dict[str, float])
"""

BAD = """
import numpy as np

import focalentropy as fe
from focalentropy.calibration import FocalRecalibrator, expected_calibration_error

p = np.array([0.7, 0.2, 0.1])
fe.loss(p, "2")  # E: arg-type (gamma is a number)
fe.recover(p, [2.0])  # E: arg-type (gamma is a scalar)
fe.entropy(p, 2.0, axis="last")  # E: arg-type (axis is an int)
fe.regimes(p, 2.0, class_names=3)  # E: arg-type (a sequence of names)
name: str = fe.divergence(p, p, 2.0)  # E: assignment (returns an array)
lo: float = fe.max_gradient_weight(2.0)  # E: assignment (returns a pair)
FocalRecalibrator(kind="softmx")  # E: arg-type (not a kind)
FocalRecalibrator(gamma="fit")  # E: arg-type (a number or "auto")
expected_calibration_error(p, [0], norm="l3")  # E: arg-type (not a norm)
fe.regimes(p, 2.0).table(row="first")  # E: arg-type (an index)
"""


def _run_mypy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[int, str]]:
    """mypy on GOOD and BAD in one run; ``{file stem: {line: messages}}``."""
    for stem, text in (("good", GOOD), ("bad", BAD)):
        (tmp_path / f"{stem}.py").write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    config = tmp_path / "mypy.ini"
    # scipy and numba come without inline types: Any, as in the project's own [tool.mypy]
    config.write_text(
        "[mypy]\npython_version = 3.11\n\n"
        "[mypy-scipy.*,numba.*,sklearn.*,joblib.*]\nignore_missing_imports = True\n"
        "follow_imports = skip\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)  # no project config, no source tree on the path
    stdout, stderr, _ = mypy_api.run(
        [
            "--config-file",
            str(config),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--no-error-summary",
            "--show-error-codes",
            "good.py",
            "bad.py",
        ]
    )
    assert not stderr, stderr
    errors: dict[str, dict[int, str]] = {"good": {}, "bad": {}}
    for line in stdout.splitlines():
        m = re.match(r"^(good|bad)\.py:(\d+): error: (.*)$", line)
        assert m is not None or ": note:" in line, f"unexpected mypy output: {line}"
        if m is not None:
            found = errors[m.group(1)]
            found[int(m.group(2))] = found.get(int(m.group(2)), "") + m.group(3)
    return errors


@pytest.fixture(scope="module")
def mypy_errors(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, dict[int, str]]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        return _run_mypy(tmp_path_factory.mktemp("typing"), monkeypatch)


def test_py_typed_is_shipped() -> None:
    import focalentropy

    assert (Path(focalentropy.__file__).parent / "py.typed").is_file()


def test_correct_use_passes(mypy_errors: dict[str, dict[int, str]]) -> None:
    assert mypy_errors["good"] == {}


def test_wrong_types_are_reported(mypy_errors: dict[str, dict[int, str]]) -> None:
    lines = textwrap.dedent(BAD).lstrip().splitlines()
    expected = {
        i: m.group(1)
        for i, text in enumerate(lines, start=1)
        if (m := re.search(r"# E: ([a-z-]+)", text)) is not None
    }
    assert len(expected) == 10
    found = mypy_errors["bad"]
    missed = {
        i: lines[i - 1] for i, code in expected.items() if f"[{code}]" not in found.get(i, "")
    }
    assert not missed, f"not reported with the expected code: {missed}; mypy: {found}"
    unexpected = {i: msg for i, msg in found.items() if i not in expected}
    assert not unexpected, f"errors on unmarked lines: {unexpected}"
