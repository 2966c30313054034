"""PyTorch focal losses: exact, finite, as fast as cross-entropy, and traceable.

The softmax focal loss of a sample with logits ``z`` and label ``y`` is
``l(p_y) = -(1 - p_y)^gamma log p_y`` with ``p = softmax(z)``; its gradient
is cross-entropy's scaled by the bounded weight ``G(p_y)``::

    dl/dz = G(p_y) (softmax(z) - onehot(y)).

Every quantity is computed from exact ``log p`` and ``log(1 - p)``, so
values and derivatives of every order are finite for every ``gamma >= 0``
and every finite logit. The losses work wherever ``F.cross_entropy`` does:
eager (a fast custom kernel), ``torch.compile`` (``fullgraph=True``),
``torch.func``, double backward, ``torch.export``, FakeTensor/meta and CUDA
without host synchronization.

Layout: ``_checks`` (argument checks), ``_targets`` (class indices,
probabilities, smoothing and weights), ``_softmax`` and ``_sigmoid`` (the
numerical kernels: a traceable formula and an eager kernel each),
``_recover`` (the inverse map on tensors), ``_functional`` and ``_modules``
(the public entry points).

Importing this package imports torch; ``import focalentropy`` does not.
"""

from __future__ import annotations

from ._functional import focal_loss, sigmoid_focal_loss
from ._modules import FocalLoss, SigmoidFocalLoss
from ._recover import recover

__all__ = ["FocalLoss", "SigmoidFocalLoss", "focal_loss", "recover", "sigmoid_focal_loss"]
