"""Shared cases of the PyTorch loss tests: the option matrix, devices and dtypes."""

from __future__ import annotations

import itertools

import torch

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
DTYPES = [torch.float64, torch.float32, torch.bfloat16, torch.float16]

SHAPES = {"1d": (5,), "2d": (6, 5), "spatial": (3, 5, 2, 2)}
TARGETS = ("index", "ignored", "soft")
REDUCTIONS = ("mean", "sum", "none")


def softmax_inputs(shape_kind, target_kind, *, dtype=torch.float64, device="cpu", seed=0):
    """Logits (requiring grad) and a target for one cell of the option matrix."""
    gen = torch.Generator().manual_seed(seed)
    shape = SHAPES[shape_kind]
    z = (2 * torch.randn(shape, generator=gen, dtype=torch.float64)).to(dtype).to(device)
    z.requires_grad_()
    class_dim = 0 if len(shape) == 1 else 1
    if target_kind == "soft":
        t = torch.softmax(torch.randn(shape, generator=gen, dtype=torch.float64), class_dim)
        return z, t.to(dtype).to(device)
    tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    target = torch.randint(shape[class_dim], tshape, generator=gen)
    if target_kind == "ignored" and target.dim() > 0:
        target.view(-1)[1] = -100
    return z, target.to(device)


def softmax_cells():
    """(shape, target kind) pairs; an unbatched target cannot hold an ignored entry."""
    return [
        (s, t) for s, t in itertools.product(SHAPES, TARGETS) if not (s == "1d" and t == "ignored")
    ]


def option_grid(n_classes, dtype=torch.float64, device="cpu"):
    """Every combination of weight, label smoothing and reduction, as keyword dicts."""
    weight = torch.linspace(0.5, 1.5, n_classes, dtype=dtype, device=device)
    out = []
    for w, eps, red in itertools.product((None, weight), (0.0, 0.1), REDUCTIONS):
        out.append({"weight": w, "label_smoothing": eps, "reduction": red})
    return out


def sigmoid_options(shape, dtype=torch.float64, device="cpu"):
    alpha_vec = torch.linspace(0.2, 0.8, shape[-1], dtype=dtype, device=device)
    out = []
    for alpha, gamma, red in itertools.product(
        (None, 0.25, alpha_vec), (0.0, 0.5, 2.0), REDUCTIONS
    ):
        out.append({"alpha": alpha, "gamma": gamma, "reduction": red})
    return out
