"""
Training with FocalLoss: the model learns Q*, and recover gives P back
======================================================================

A drop-in replacement of ``nn.CrossEntropyLoss``: the same model is trained on the same
data with cross-entropy and with ``FocalLoss(gamma=2)``. The features are discrete
(one of 8 cells) and each cell has a known class posterior ``P(.|x)`` over 4 classes, so
we can see what each loss converges to: cross-entropy to ``P``, focal loss to the focal
minimizer ``Q* = minimizer(P, gamma)`` (flattened), and ``focalentropy.torch.recover``
maps the focal model back to ``P``.

Needs torch. Run: ``python examples/plot_torch_training.py`` (a few seconds).
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

import focalentropy as fe
from focalentropy.torch import FocalLoss, recover

torch.manual_seed(0)
rng = np.random.default_rng(0)
GAMMA = 2.0

# %%
# Data: 8 cells, a posterior per cell drawn from a Dirichlet, 20 000 labelled samples.
n_cells, n_classes, n = 8, 4, 20_000
P = rng.dirichlet(np.full(n_classes, 0.7), size=n_cells)
cells = rng.integers(0, n_cells, size=n)
labels = (rng.random((n, 1)) > P[cells].cumsum(axis=1)).sum(axis=1)
x = torch.nn.functional.one_hot(torch.as_tensor(cells), n_cells).float()
y = torch.as_tensor(labels)


def train(criterion: nn.Module, epochs: int = 150) -> torch.Tensor:
    """Full-batch Adam on a linear model (one free logit vector per cell)."""
    model = nn.Linear(n_cells, n_classes)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(epochs):
        opt.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        opt.step()
    with torch.no_grad():
        return model(torch.eye(n_cells))  # the logits of each cell


# %%
# The same training loop; only the criterion changes.
logits_ce = train(nn.CrossEntropyLoss())
logits_focal = train(FocalLoss(gamma=GAMMA))

q_ce = logits_ce.softmax(-1).double().numpy()
q_focal = logits_focal.softmax(-1).double().numpy()
q_star = fe.minimizer(P, GAMMA)
p_back = recover(logits_focal.double(), gamma=GAMMA, from_logits=True).numpy()


def mae(a, b):
    return float(np.abs(a - b).mean())


print(f"cross-entropy model  vs P : {mae(q_ce, P):.4f}")
print(f"focal model          vs P : {mae(q_focal, P):.4f}   vs Q* : {mae(q_focal, q_star):.4f}")
print(f"recover(focal model) vs P : {mae(p_back, P):.4f}")

# %%
# Every cell and class: the focal model sits on ``minimizer(P, gamma)`` (black dots), not on
# the diagonal; after ``recover`` it is back on the diagonal, next to the cross-entropy model.
grid = np.linspace(0.0, 1.0, 201)
fig, ax = plt.subplots(figsize=(6, 4.2), constrained_layout=True)
ax.plot(grid, grid, color="0.6", lw=0.8, label="P (diagonal)")
ax.plot(P.ravel(), q_ce.ravel(), "s", ms=4, mfc="none", label="cross-entropy model")
ax.plot(P.ravel(), q_focal.ravel(), "o", ms=4, label=f"FocalLoss(gamma={GAMMA:g}) model")
ax.plot(P.ravel(), q_star.ravel(), "k.", ms=3, label="minimizer(P, gamma)")
ax.plot(P.ravel(), p_back.ravel(), "x", ms=5, label="recover(focal model)")
ax.set_xlabel("true P(y | x)")
ax.set_ylabel("model probability")
ax.legend(fontsize=8)
plt.show()
