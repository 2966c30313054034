"""
What focal loss learns: amplified, suppressed and over-suppressed classes
=========================================================================

A model trained with focal loss on class posterior ``P`` learns the focal minimizer
``Q* = minimizer(P, gamma)``, not ``P``. Whether a class is pushed up or down is decided by
the gradient weight ``G(p) = p phi(p)`` against the multiplier ``lam``: ``Q*(x) > P(x)``
exactly when ``G(P(x)) > lam`` (the theory page of the documentation, section "Regimes").
This example prints the regimes of two class distributions, draws them with
``focalentropy.plotting.regimes_plot`` and draws ``Q*/P`` as ``gamma`` grows.

Run: ``python examples/plot_regimes.py`` (under a second).
"""

import matplotlib.pyplot as plt
import numpy as np

import focalentropy as fe
from focalentropy.plotting import regimes_plot

# %%
# A moderately imbalanced problem: the head class is suppressed, the others amplified.
p = np.array([0.7, 0.2, 0.08, 0.02])
print(fe.regimes(p, gamma=2.0))

# %%
# Four head classes and one rare class: ``lam > 1``, so the rare class is
# over-suppressed (its ``Q*`` is *below* ``P``), which happens in this family exactly
# when there are at least five classes.
p_rare = np.r_[np.full(4, 0.2495), 0.002]
print(fe.regimes(p_rare, gamma=2.0))

# %%
# The same two problems on the curve ``G(p)`` (:func:`focalentropy.plotting.regimes_plot`):
# a class is amplified where its point lies above the line ``lam``. With ``lam > 1`` the
# line crosses ``G`` twice, and the rare class left of ``p_low`` is over-suppressed.
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
for ax, dist in zip(axes, (p, p_rare), strict=True):
    regimes_plot(dist, 2.0, ax=ax)
plt.show()

# %%
# ``Q*/P`` per class as ``gamma`` grows: every distribution is flattened towards the
# uniform one, but the rare class of the second problem first dips below 1.
gammas = np.linspace(0.0, 6.0, 61)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=False, constrained_layout=True)
cases = ((axes[0], p, "P = (0.7, 0.2, 0.08, 0.02)"), (axes[1], p_rare, "P = (0.2495 x4, 0.002)"))
for ax, dist, title in cases:
    q = np.array([fe.minimizer(dist, g) for g in gammas])
    for k in range(dist.size):
        ax.plot(gammas, q[:, k] / dist[k], label=f"P = {dist[k]:g}")
    ax.axhline(1.0, color="0.5", lw=0.8)
    ax.set_xlabel("gamma")
    ax.set_ylabel("Q*(x) / P(x)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
plt.show()
