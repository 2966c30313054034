"""Calibration toolkit: metrics, focal recovery and temperature scaling.

Metrics take probabilities of shape ``(..., K)`` and integer labels of shape
``(...)``, as NumPy arrays or torch tensors (torch is never imported here).
The recalibrators follow the scikit-learn ``fit``/``transform`` convention:

* :class:`FocalRecalibrator` maps a focal-trained model's ``Q*`` back to the
  class posterior ``P`` with the closed form of :func:`focalentropy.recover`
  (``gamma`` known, or ``gamma="auto"`` fitted by maximum likelihood);
* :class:`TemperatureScaling` is the usual baseline;
* :class:`FocalTemperatureScaling` composes the two.

:func:`reliability_diagram` draws the reliability diagram (needs matplotlib,
imported only when called).
"""

from ._metrics import (
    ReliabilityBins,
    accuracy,
    brier_score,
    calibration_report,
    classwise_calibration_error,
    expected_calibration_error,
    negative_log_likelihood,
    reliability_bins,
)
from ._plots import reliability_diagram
from ._recalibrators import FocalRecalibrator, FocalTemperatureScaling, TemperatureScaling

__all__ = [
    "FocalRecalibrator",
    "FocalTemperatureScaling",
    "ReliabilityBins",
    "TemperatureScaling",
    "accuracy",
    "brier_score",
    "calibration_report",
    "classwise_calibration_error",
    "expected_calibration_error",
    "negative_log_likelihood",
    "reliability_bins",
    "reliability_diagram",
]
