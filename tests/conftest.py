"""Test configuration: hypothesis profiles.

``ci`` (the default) keeps the property-based tests fast and deterministic
(derandomized); ``dev`` and ``thorough`` draw fresh random examples and
search harder. Select one with ``HYPOTHESIS_PROFILE=thorough``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

#: every profile: no deadline (timings on shared CI machines are noisy; tests
#: never set their own ``@settings``, so each profile reaches every property)
_QUIET = [HealthCheck.too_slow]

settings.register_profile(
    "ci",
    max_examples=40,
    derandomize=True,
    print_blob=True,
    deadline=None,
    suppress_health_check=_QUIET,
)
settings.register_profile("dev", max_examples=200, deadline=None, suppress_health_check=_QUIET)
settings.register_profile(
    "thorough", max_examples=2000, deadline=None, suppress_health_check=_QUIET
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
