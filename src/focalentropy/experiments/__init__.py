"""The validation suite behind ``focalentropy reproduce``.

One module per experiment, each a function ``run(config, progress=None)``
returning an :class:`ExperimentResult` (claims, tables, figures). A module declares
``ID``, ``NUMBER`` (its position below), ``TITLE`` and ``CLAIM``, and its stages
``compute`` -> ``make_claims`` -> ``make_tables`` -> ``make_figures``, which its ``run``
hands to ``_common.run_stages``:

1. :mod:`~focalentropy.experiments.theory`: exact theory figures (theory page);
2. :mod:`~focalentropy.experiments.discrete`: discrete features, convergence to Q*;
3. :mod:`~focalentropy.experiments.continuous`: Gaussian classes, an MLP learns Q*(P(.|x));
4. :mod:`~focalentropy.experiments.real_data`: long-tailed real data and recalibration
   (built on :mod:`~focalentropy.experiments.long_tail`).
5. :mod:`~focalentropy.experiments.benchmark`: many real data sets (KEEL and digits), the
   theory and recover per cell; empirical findings with a status.

:func:`reproduce` runs them and writes ``report.html``, ``results.json`` and
``figures/``. Importing this package does not import torch or matplotlib;
the experiments import them when they run.
"""

from ._common import Claim, ExperimentResult, Finding, Table
from .runner import (
    EXPERIMENTS,
    default_configs,
    reproduce,
    run_experiment,
    run_suite,
    write_outputs,
)

__all__ = [
    "EXPERIMENTS",
    "Claim",
    "ExperimentResult",
    "Finding",
    "Table",
    "default_configs",
    "reproduce",
    "run_experiment",
    "run_suite",
    "write_outputs",
]
