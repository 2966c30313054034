"""Hypothesis strategies and small checks shared by the property-based tests.

Distributions are drawn with K from 2 to 50 classes and entries spanning the
whole double range: exact zeros, values down to 1e-300, moderate values and
repeated values (ties). ``kkt_products`` evaluates ``w_x phi(Q(x))`` in
50-digit arithmetic, taking ``1 - Q`` of the top class as the sum of the
others so that a dominant class is not blurred by rounding ``Q`` to a float.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
from hypothesis import strategies as st

import _mp_reference  # noqa: F401  (sets mp.mp.dps = 50)

__all__ = [
    "distributions",
    "gammas",
    "kkt_products",
    "moderate_distributions",
    "positive_gammas",
]

#: focusing parameters of the tests, gamma in [0, 20]
gammas = st.floats(0.0, 20.0, allow_nan=False)
#: gamma in (0, 20]: where phi(1) = 0 and G has an interior maximum
positive_gammas = st.floats(1e-3, 20.0, allow_nan=False)

_entries = st.one_of(
    st.just(0.0),
    st.floats(-300.0, 0.0).map(lambda e: 10.0**e),  # log-uniform over 300 decades
    st.floats(1e-3, 1.0),
    st.sampled_from([1.0, 0.5, 1e-10, 1e-300]),  # repeated values give ties
)


@st.composite
def distributions(draw, min_k=2, max_k=50, min_support=2, entries=_entries):
    """A probability vector with ``min_k..max_k`` classes and ``>= min_support`` positive."""
    k = draw(st.integers(min_k, max_k))
    v = np.array(draw(st.lists(entries, min_size=k, max_size=k)), dtype=float)
    n = min(min_support, k)
    v[:n] = np.where(v[:n] > 0, v[:n], 1.0)
    v = v[np.array(draw(st.permutations(range(k))))]
    return v / v.sum()


def moderate_distributions(min_k=2, max_k=50):
    """Full-support distributions with entries in [1e-3, 1] before normalization."""
    return distributions(min_k, max_k, min_support=max_k, entries=st.floats(1e-3, 1.0))


def mp_phi_qr(q, r, gamma):
    """``phi`` at ``q`` with ``1 - q = r`` given separately (mp numbers)."""
    gamma = mp.mpf(gamma)
    if r == 0:
        return mp.mpf(0) if gamma > 0 else mp.mpf(1)
    # -log q from whichever of q, r is small, so no digits are lost to 1 - r
    neg_log_q = -mp.log(q) if q < 0.5 else -mp.log1p(-r)
    return r**gamma / q + gamma * r ** (gamma - 1) * neg_log_q


def kkt_products(w, q, gamma):
    """``w_x phi(q_x)`` (mp) on the support of ``w``.

    ``1 - q`` of the largest entry of ``q`` is taken as the exact sum of the
    other entries, the accurate value when ``sum(q) = 1``.
    """
    support = np.flatnonzero(w > 0)
    top = int(support[np.argmax(q[support])])
    others = mp.fsum(mp.mpf(float(q[i])) for i in range(len(q)) if i != top)
    products = {}
    for i in support:
        if i == top:
            qi, ri = 1 - others, others
        else:
            qi = mp.mpf(float(q[i]))
            ri = 1 - qi
        products[int(i)] = mp.mpf(float(w[i])) * mp_phi_qr(qi, ri, gamma)
    return products
