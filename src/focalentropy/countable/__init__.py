r"""Focal entropy on countably infinite alphabets (the non-negative integers).

The theory page (docs/theory.rst, sections "The loss term" to "Regimes") holds
verbatim for a countable alphabet: the minimizer is ``Q*(x) = phi^{-1}(lam /
w_x)`` with ``w_x = alpha_x P(x)``, and the multiplier ``lam`` is the root of
``sum_x phi^{-1}(lam / w_x) = 1``, the sum running over *all* integers -- the
tail beyond any truncation carries ``Q*``-mass ``~ P-mass / lam`` and cannot be
dropped or renormalized away.

One module per concept:

``_adapters``  scipy.stats discrete distributions and user pmfs -> one internal
               source (the per-family table of tail envelopes)
``_solver``    the truncated solver of ``Q*`` and its multiplier bracket
``_series``    certified series values (``SeriesValue``): entropy, cross-entropy
``_tails``     the proven tail bounds both rely on (module docstring: derivation)
``_common``    warnings, constants, argument checks, the class weights and ``G_max``

scipy is imported lazily (on the first call), so ``import focalentropy`` stays
free of it.
"""

from __future__ import annotations

from ._adapters import CountableDistribution
from ._common import DivergenceWarning, TruncationWarning
from ._series import SeriesValue, countable_cross_entropy, countable_entropy
from ._solver import CountableMinimizer, countable_minimizer

__all__ = [
    "CountableDistribution",
    "CountableMinimizer",
    "DivergenceWarning",
    "SeriesValue",
    "TruncationWarning",
    "countable_cross_entropy",
    "countable_entropy",
    "countable_minimizer",
]
