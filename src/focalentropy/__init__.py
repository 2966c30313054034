"""focalentropy: the focal loss, understood exactly and corrected.

The focal loss ``l(q) = -(1-q)^gamma log q`` (Lin et al., 2017) is minimized,
in the population, not by the data distribution ``P`` but by a distorted
``Q*`` (Shah, Cardone, Dytso, 2026). This package computes that theory
exactly and fast (NumPy/SciPy), provides stable PyTorch focal losses
(``focalentropy.torch``, needs torch), and undoes the distortion
(``focalentropy.recover``, ``focalentropy.calibration``).

Core functions (class axis last by default, batched over leading axes):

==================  ==============================================================
``loss``            ``l(q) = -(1-q)^gamma log q``
``phi``             ``phi(q) = -l'(q)``
``gradient_weight`` ``G(q) = q phi(q)``, the per-sample gradient scale
``cross_entropy``   ``H_gamma(P, Q) = sum_x alpha_x P(x) l(Q(x))``
``entropy``         ``H_gamma(P) = min_Q H_gamma(P, Q)``
``divergence``      ``D_gamma(P || Q) = H_gamma(P, Q) - H_gamma(P)``
``minimizer``       ``Q* = argmin_Q H_gamma(P, Q)`` and its multiplier ``lam``
``recover``         the inverse map ``Q* -> P``
``regimes``         amplified / suppressed / over-suppressed classes
``countable_*``     the same for countably infinite alphabets (scipy.stats pmfs)
==================  ==============================================================

Submodules: ``asymptotics`` (small/large-gamma expansions), ``calibration``
(metrics and recalibrators), ``plotting`` (regimes figures and the reliability
diagram; needs matplotlib), ``torch`` (PyTorch losses; needs torch).
"""

from __future__ import annotations

import importlib
import types as _types

from ._entropy import cross_entropy, divergence, entropy
from ._loss import gradient_weight, loss, max_gradient_weight, phi, phi_inverse
from ._minimizer import minimizer, recover
from ._regimes import LABELS, RegimesResult, regimes
from ._validation import ConvergenceWarning
from .countable import (
    CountableDistribution,
    CountableMinimizer,
    DivergenceWarning,
    SeriesValue,
    TruncationWarning,
    countable_cross_entropy,
    countable_entropy,
    countable_minimizer,
)

__version__ = "0.1.0"

# Submodules loaded on first attribute access: `torch` needs torch, and the
# others pull in optional or slow imports that `import focalentropy` avoids.
_LAZY_SUBMODULES = (
    "asymptotics",
    "boosting",
    "calibration",
    "plotting",
    "torch",
    "experiments",
    "report",
    "cli",
)


def __getattr__(name: str) -> _types.ModuleType:
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "LABELS",
    "ConvergenceWarning",
    "CountableDistribution",
    "CountableMinimizer",
    "DivergenceWarning",
    "RegimesResult",
    "SeriesValue",
    "TruncationWarning",
    "__version__",
    "asymptotics",
    "calibration",
    "countable_cross_entropy",
    "countable_entropy",
    "countable_minimizer",
    "cross_entropy",
    "divergence",
    "entropy",
    "gradient_weight",
    "loss",
    "max_gradient_weight",
    "minimizer",
    "phi",
    "phi_inverse",
    "recover",
    "regimes",
]
