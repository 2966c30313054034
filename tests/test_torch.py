"""Tests of focalentropy.torch: softmax and sigmoid focal losses."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys

import mpmath
import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from focalentropy._minimizer import minimizer  # noqa: E402
from focalentropy.torch import (  # noqa: E402
    FocalLoss,
    SigmoidFocalLoss,
    focal_loss,
    sigmoid_focal_loss,
)

SMALL_GAMMAS = (0.1, 0.25, 0.5, 0.9, 1.0, 2.0, 5.0)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors: intra-op threads only add wake-up latency on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _grad(loss, x):
    (g,) = torch.autograd.grad(loss.sum(), x)
    return g


def _reference(z, target, gamma, weight=None, label_smoothing=0.0, ignore_index=-100):
    """Per-sample focal loss from the plain formula (autograd-able, moderate logits)."""
    p = torch.softmax(z, 1)
    c = z.shape[1]
    w = torch.ones(c, dtype=z.dtype) if weight is None else weight
    w = w.view((1, c) + (1,) * (z.dim() - 2))
    terms = -((1 - p) ** gamma) * torch.log(p) * w
    if target.is_floating_point():
        t = target * (1 - label_smoothing) + label_smoothing / c
        return (t * terms).sum(1)
    valid = target != ignore_index
    onehot = F.one_hot(target.masked_fill(~valid, 0), c).movedim(-1, 1).to(z.dtype)
    t = onehot * (1 - label_smoothing) + label_smoothing / c
    return (t * terms).sum(1) * valid


# ---------------------------------------------------------------------------
# mpmath reference for saturated logits
# ---------------------------------------------------------------------------


def _mp_focal(z_row, y, gamma, dps=60):
    """Exact loss and gradient of one row, class index ``y``, in mpmath."""
    with mpmath.workdps(dps):
        z = [mpmath.mpf(float(v)) for v in z_row]
        m = max(z)
        e = [mpmath.exp(v - m) for v in z]
        s = mpmath.fsum(e)
        p = [v / s for v in e]
        r = mpmath.fsum(e[c] for c in range(len(z)) if c != y) / s
        py = p[y]
        g = mpmath.mpf(gamma)
        loss = -(r**g) * mpmath.log(py)
        G = r**g * (1 + g * py * -mpmath.log(py) / r) if r > 0 else mpmath.mpf(0)
        if gamma == 0:
            G = mpmath.mpf(1)
        grad = [G * (p[c] - (1 if c == y else 0)) for c in range(len(z))]
        grad[y] = -G * r
        return float(loss), [float(v) for v in grad]


# ---------------------------------------------------------------------------
# softmax focal loss
# ---------------------------------------------------------------------------


def _case(shape_kind, soft, seed=0):
    gen = torch.Generator().manual_seed(seed)
    shapes = {"unbatched": (5,), "2d": (7, 5), "spatial": (3, 5, 2, 4)}
    shape = shapes[shape_kind]
    z = (2 * torch.randn(shape, generator=gen, dtype=torch.float64)).requires_grad_()
    tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    if soft:
        target = torch.softmax(
            torch.randn(shape, generator=gen, dtype=torch.float64), 0 if len(shape) == 1 else 1
        )
    else:
        target = torch.randint(5, tshape, generator=gen)
        if target.dim() > 0:
            target.view(-1)[1] = -100  # an ignored sample
            target.view(-1)[3] = -100
    return z, target


class TestCrossEntropyParity:
    """gamma = 0 equals F.cross_entropy for every option, values and gradients."""

    @pytest.mark.parametrize(
        ("shape_kind", "soft", "weighted", "reduction", "smoothing"),
        list(
            itertools.product(
                ("unbatched", "2d", "spatial"),
                (False, True),
                (False, True),
                ("mean", "sum", "none"),
                (0.0, 0.2),
            )
        ),
    )
    def test_option_grid(self, shape_kind, soft, weighted, reduction, smoothing):
        z, target = _case(shape_kind, soft)
        weight = torch.linspace(0.5, 2.0, 5, dtype=torch.float64) if weighted else None
        kw = {"weight": weight, "reduction": reduction, "label_smoothing": smoothing}
        ours = focal_loss(z, target, 0.0, **kw)
        ce = F.cross_entropy(z, target, **kw)
        assert ours.shape == ce.shape
        assert ours.dtype == ce.dtype
        torch.testing.assert_close(ours, ce, rtol=1e-13, atol=1e-14)
        torch.testing.assert_close(_grad(ours, z), _grad(ce, z), rtol=1e-12, atol=1e-14)

    def test_ignore_index_other_value(self):
        z, target = _case("2d", False)
        target = target.masked_fill(target == -100, 3)
        kw = {"ignore_index": 3, "label_smoothing": 0.1}
        torch.testing.assert_close(
            focal_loss(z, target, 0.0, **kw), F.cross_entropy(z, target, **kw)
        )

    def test_all_ignored_mean_is_nan_like_cross_entropy(self):
        z = torch.randn(3, 4, dtype=torch.float64)
        target = torch.full((3,), -100)
        assert torch.isnan(focal_loss(z, target))
        assert torch.isnan(F.cross_entropy(z, target))

    def test_float32(self):
        gen = torch.Generator().manual_seed(1)
        z = (3 * torch.randn(64, 10, generator=gen)).requires_grad_()
        y = torch.randint(10, (64,), generator=gen)
        ours, ce = focal_loss(z, y, 0.0), F.cross_entropy(z, y)
        torch.testing.assert_close(ours, ce)
        torch.testing.assert_close(_grad(ours, z), _grad(ce, z))


class TestValues:
    @pytest.mark.parametrize("gamma", [0.5, 1.0, 2.0, 3.7])
    @pytest.mark.parametrize("soft", [False, True])
    @pytest.mark.parametrize("shape_kind", ["2d", "spatial"])
    def test_against_plain_formula(self, gamma, soft, shape_kind):
        z, target = _case(shape_kind, soft, seed=3)
        weight = torch.tensor([0.3, 1.0, 2.0, 0.7, 1.5], dtype=torch.float64)
        for kw in ({}, {"weight": weight}, {"weight": weight, "label_smoothing": 0.15}):
            ours = focal_loss(z, target, gamma, reduction="none", **kw)
            ref = _reference(z, target, gamma, **kw)
            torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-15)
            torch.testing.assert_close(_grad(ours, z), _grad(ref, z), rtol=1e-10, atol=1e-14)

    def test_weighted_mean_rule(self):
        z, target = _case("2d", False, seed=4)
        weight = torch.tensor([0.3, 1.0, 2.0, 0.7, 1.5], dtype=torch.float64)
        per = focal_loss(z, target, 2.0, weight=weight, reduction="none")
        valid = target != -100
        expected = per.sum() / weight[target[valid]].sum()
        torch.testing.assert_close(focal_loss(z, target, 2.0, weight=weight), expected)

    def test_soft_mean_divides_by_samples(self):
        z, target = _case("spatial", True, seed=5)
        per = focal_loss(z, target, 2.0, reduction="none")
        assert per.shape == (3, 2, 4)
        torch.testing.assert_close(focal_loss(z, target, 2.0), per.mean())

    def test_focal_below_cross_entropy_and_decreasing_in_gamma(self):
        z, target = _case("2d", True, seed=6)
        values = [focal_loss(z, target, g, reduction="none") for g in (0.0, 0.5, 1.0, 2.0, 5.0)]
        for a, b in itertools.pairwise(values):
            assert torch.all(b <= a)

    def test_one_hot_soft_equals_hard(self):
        z, _ = _case("2d", False, seed=7)
        y = torch.tensor([0, 1, 2, 3, 4, 0, 1])
        onehot = F.one_hot(y, 5).to(torch.float64)
        torch.testing.assert_close(focal_loss(z, onehot, 1.5), focal_loss(z, y, 1.5))
        torch.testing.assert_close(
            _grad(focal_loss(z, onehot, 1.5), z), _grad(focal_loss(z, y, 1.5), z)
        )

    def test_single_class(self):
        z = torch.randn(4, 1, dtype=torch.float64, requires_grad=True)
        loss = focal_loss(z, torch.zeros(4, dtype=torch.long), 0.5, reduction="none")
        assert torch.equal(loss, torch.zeros(4, dtype=torch.float64))
        assert torch.equal(_grad(loss, z), torch.zeros(4, 1, dtype=torch.float64))


class TestGradcheck:
    @pytest.mark.parametrize("gamma", [0.0, 0.3, 2.0])
    def test_hard(self, gamma):
        z, target = _case("2d", False, seed=8)
        z = z.detach().clone()
        z[0, 2] += 6  # a saturated row (p > 1/2 path)
        z.requires_grad_()
        weight = torch.tensor([0.3, 1.0, 2.0, 0.7, 1.5], dtype=torch.float64)
        assert torch.autograd.gradcheck(
            lambda x: focal_loss(x, target, gamma, weight=weight, reduction="none"),
            (z,),
            fast_mode=True,
        )
        assert torch.autograd.gradcheck(lambda x: focal_loss(x, target, gamma), (z,))

    @pytest.mark.parametrize("gamma", [0.0, 0.3, 2.0])
    def test_soft_and_smoothing(self, gamma):
        z, target = _case("spatial", True, seed=9)
        z = z.detach().clone()
        z[0, 1, 0, 0] += 6
        z.requires_grad_()
        weight = torch.tensor([0.3, 1.0, 2.0, 0.7, 1.5], dtype=torch.float64)
        kw = {"weight": weight, "label_smoothing": 0.1, "reduction": "none"}
        assert torch.autograd.gradcheck(
            lambda x: focal_loss(x, target, gamma, **kw), (z,), fast_mode=True
        )
        hard = target.argmax(1)
        assert torch.autograd.gradcheck(
            lambda x: focal_loss(x, hard, gamma, **kw), (z,), fast_mode=True
        )

    def test_gradient_wrt_weight(self):
        z, target = _case("2d", False, seed=16)
        weight = torch.tensor([0.3, 1.0, 2.0, 0.7, 1.5], dtype=torch.float64, requires_grad=True)
        for kw in ({}, {"label_smoothing": 0.2}, {"reduction": "sum"}):
            assert torch.autograd.gradcheck(
                lambda x, w, kw=kw: focal_loss(x, target, 0.7, weight=w, **kw),
                (z, weight),
                fast_mode=True,
            )

    def test_gradient_wrt_soft_target(self):
        z, target = _case("2d", True, seed=10)
        target.requires_grad_()
        assert torch.autograd.gradcheck(
            lambda x, t: focal_loss(x, t, 1.5, label_smoothing=0.1), (z, target), fast_mode=True
        )


class TestSaturated:
    """Exact, finite values and gradients at saturated logits."""

    ROWS = (
        ([1e4, 0.0, -3.0], 0),  # target dominant by 1e4
        ([0.0, -1e4, 5.0], 2),  # target dominant, another class at -1e4
        ([40.0, 0.0, 0.0], 0),  # 1 - p = 8.5e-18, below float64's eps
        ([12.0, 0.0, -1.0], 0),  # 1 - p = 8e-6
        ([0.0, 1e4, 0.0], 0),  # target crushed: p = exp(-1e4)
        ([3.0, 1.0, 2.0], 1),  # moderate
    )

    @pytest.mark.parametrize("gamma", [0.0, *SMALL_GAMMAS])
    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
    def test_against_mpmath(self, gamma, dtype):
        z = torch.tensor([r for r, _ in self.ROWS], dtype=dtype, requires_grad=True)
        y = torch.tensor([c for _, c in self.ROWS])
        loss = focal_loss(z, y, gamma, reduction="none")
        grad = _grad(loss, z)
        assert torch.isfinite(loss).all()
        assert torch.isfinite(grad).all()
        rtol = 2e-5 if dtype == torch.float32 else 1e-12
        tiny = torch.finfo(dtype).tiny
        for i, (row, c) in enumerate(self.ROWS):
            ref_loss, ref_grad = _mp_focal(row, c, gamma)
            ref = torch.tensor([ref_loss, *ref_grad], dtype=torch.float64)
            got = torch.cat([loss[i : i + 1], grad[i]]).double()
            # relative accuracy wherever the exact value is representable
            scale = ref.abs().clamp_min(tiny / torch.finfo(dtype).eps)
            assert torch.all((got - ref).abs() <= rtol * scale + tiny), (i, got, ref)

    @pytest.mark.parametrize("gamma", SMALL_GAMMAS)
    def test_no_nan_where_naive_fails(self, gamma):
        gen = torch.Generator().manual_seed(11)
        z = torch.randn(32, 6, generator=gen)
        y = torch.randint(6, (32,), generator=gen)
        z[torch.arange(32), y] += torch.logspace(0, 4, 32)  # gaps 1 .. 1e4
        z.requires_grad_()
        for kw in ({}, {"label_smoothing": 0.1}, {"weight": torch.rand(6, generator=gen) + 0.1}):
            grad = _grad(focal_loss(z, y, gamma, **kw), z)
            assert torch.isfinite(grad).all()
            soft = F.one_hot(y, 6).float() * 0.9 + 0.1 / 6
            assert torch.isfinite(_grad(focal_loss(z, soft, gamma, **kw), z)).all()
        if gamma < 1:  # the plain formula through autograd returns NaN here
            p = torch.softmax(z, 1).gather(1, y[:, None])
            naive = (-((1 - p) ** gamma) * torch.log(p)).sum()
            assert torch.isnan(_grad(naive, z)).any()

    @pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
    def test_few_saturated_rows(self, gamma, dtype):
        """A handful of saturated rows among many (the row-subset path)."""
        gen = torch.Generator().manual_seed(17)
        z = torch.randn(200, 4, generator=gen, dtype=dtype)
        y = torch.randint(4, (200,), generator=gen)
        z[torch.arange(200), y] -= 3.0  # no other row above p = 1/2
        special = {7: 30.0, 50: 1e4, 123: 12.0}
        for i, gap in special.items():
            z[i] = torch.tensor([gap, 0.0, -1.0, 0.5], dtype=dtype)
            y[i] = 0
        z.requires_grad_()
        loss = focal_loss(z, y, gamma, reduction="none")
        grad = _grad(loss, z)
        rtol = 2e-5 if dtype == torch.float32 else 1e-12
        for i in special:
            ref_loss, ref_grad = _mp_focal(z[i].tolist(), 0, gamma)
            torch.testing.assert_close(loss[i].item(), ref_loss, rtol=rtol, atol=0)
            torch.testing.assert_close(grad[i].tolist(), ref_grad, rtol=rtol, atol=0)
        rest = torch.tensor([i for i in range(200) if i not in special])
        zr = z.detach()[rest].requires_grad_()
        ref = _reference(zr, y[rest], gamma)
        torch.testing.assert_close(loss[rest], ref.detach(), rtol=10 * rtol, atol=0)
        atol = 1e-7 if dtype == torch.float32 else 1e-15
        torch.testing.assert_close(grad[rest], _grad(ref, zr), rtol=10 * rtol, atol=atol)

    @pytest.mark.parametrize("gamma", [0.0, 0.3, 2.0])
    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
    def test_underflow_threshold_rows(self, gamma, dtype):
        """Rows on both sides of the underflow fallback, dominant and crushed targets."""
        fi = torch.finfo(dtype)
        edge = -math.log(2 * fi.tiny / fi.eps)  # log-odds where the fallback starts
        rows = []
        for gap in (20.0, edge - 3, edge - 0.01, edge + 0.01, edge + 3):
            rows += [[gap, 0.0, -0.7, 0.4], [gap, gap - 0.3, -1.0, 0.0], [-gap, 0.0, -0.7, 0.4]]
        z = torch.tensor(rows, dtype=dtype, requires_grad=True)
        y = torch.zeros(len(rows), dtype=torch.long)
        loss = focal_loss(z, y, gamma, reduction="none")
        grad = _grad(loss, z)
        rtol = 2e-5 if dtype == torch.float32 else 1e-12
        dps = 60 if dtype == torch.float32 else 340  # -log p ~ 1 - p ~ 1e-292 in float64
        for i in range(len(rows)):
            ref_loss, ref_grad = _mp_focal(z[i].tolist(), 0, gamma, dps=dps)
            ref = torch.tensor([ref_loss, *ref_grad], dtype=torch.float64)
            got = torch.cat([loss[i : i + 1], grad[i]]).detach().double()
            scale = ref.abs().clamp_min(fi.tiny / fi.eps)
            assert torch.all((got - ref).abs() <= rtol * scale + fi.tiny), (i, got, ref)
        # the one-reduction mean agrees with the per-sample losses
        mean = focal_loss(z, y, gamma)
        tol = {"rtol": len(rows) * fi.eps, "atol": 0}
        torch.testing.assert_close(mean, loss.mean(), **tol)
        torch.testing.assert_close(_grad(mean, z), grad / len(rows), **tol)

    @pytest.mark.parametrize("gamma", [0.25, 2.0])
    def test_spatial_far_rows(self, gamma):
        z = torch.zeros(2, 3, 2, 2, dtype=torch.float64)
        z[0, 1, 0, 1] = 1e4  # underflowing complement in one pixel
        z[1, 2, 1, 0] = 30.0
        z.requires_grad_()
        y = torch.tensor([[[0, 1], [2, 0]], [[1, 1], [2, 0]]])
        loss = focal_loss(z, y, gamma, reduction="none")
        grad = _grad(loss, z)
        assert torch.isfinite(grad).all()
        # pixel (1, :, 1, 0) has logits (0, 0, 30) and target 2
        ref_loss, ref_grad = _mp_focal([0.0, 0.0, 30.0], 2, gamma)
        torch.testing.assert_close(loss[1, 1, 0].item(), ref_loss, rtol=1e-12, atol=0)
        torch.testing.assert_close(grad[1, :, 1, 0].tolist(), ref_grad, rtol=1e-12, atol=0)
        assert loss[0, 0, 1].item() == 0.0  # 1 - p = exp(-1e4) underflows


class TestHalfPrecision:
    @pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
    @pytest.mark.parametrize("soft", [False, True])
    def test_computed_in_float32_returned_in_input_dtype(self, dtype, soft):
        gen = torch.Generator().manual_seed(12)
        z32 = 4 * torch.randn(16, 7, generator=gen)
        z32[0, 0] = 6e4 if dtype == torch.float16 else 1e30  # near the top of the range
        z = z32.to(dtype).requires_grad_()
        if soft:
            target = torch.softmax(torch.randn(16, 7, generator=gen), 1).to(dtype)
        else:
            target = torch.randint(7, (16,), generator=gen)
        loss = focal_loss(z, target, 0.5, label_smoothing=0.05)
        assert loss.dtype == dtype
        grad = _grad(loss, z)
        assert grad.dtype == dtype
        assert torch.isfinite(loss)
        assert torch.isfinite(grad).all()
        zf = z.detach().float().requires_grad_()
        tf = target.float() if soft else target
        ref = focal_loss(zf, tf, 0.5, label_smoothing=0.05)
        torch.testing.assert_close(loss, ref.to(dtype))
        torch.testing.assert_close(grad, _grad(ref, zf).to(dtype))

    def test_cross_entropy_parity_in_half(self):
        z = torch.randn(8, 5).half().requires_grad_()
        y = torch.randint(5, (8,))
        ours, ce = focal_loss(z, y, 0.0), F.cross_entropy(z, y)
        assert ours.dtype == ce.dtype == torch.float16
        torch.testing.assert_close(ours, ce)

    def test_autocast(self):
        layer = torch.nn.Linear(6, 4)
        x = torch.randn(10, 6)
        y = torch.randint(4, (10,))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = layer(x)
            assert logits.dtype == torch.bfloat16
            loss = focal_loss(logits, y, 2.0)
            ce = F.cross_entropy(logits, y)
            sig = sigmoid_focal_loss(logits, F.one_hot(y, 4).float(), reduction="mean")
        assert loss.dtype == ce.dtype == torch.float32
        assert sig.dtype == torch.float32
        loss.backward()
        assert torch.isfinite(layer.weight.grad).all()


class TestMemory:
    def test_saves_no_more_than_cross_entropy(self):
        z = torch.randn(256, 100, requires_grad=True)
        y = torch.randint(100, (256,))

        def saved_elements(fn):
            seen = {}

            def pack(t):
                # the input itself is saved by reference (for the double backward),
                # as binary_cross_entropy_with_logits saves its input: no new memory
                if t.untyped_storage().data_ptr() != z.untyped_storage().data_ptr():
                    seen[(t.untyped_storage().data_ptr(), t.dtype)] = t.untyped_storage().nbytes()
                return t

            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                fn()
            return sum(seen.values())

        ce = saved_elements(lambda: F.cross_entropy(z, y))
        for kw in ({}, {"weight": torch.rand(100)}):
            ours = saved_elements(lambda kw=kw: focal_loss(z, y, 2.0, **kw))
            # one (N, C) tensor as cross_entropy, plus a few (N,) vectors
            assert ours <= ce + 4 * 256 * 8, (ours, ce)


class TestTraining:
    """Training free logits on soft targets reaches focalentropy.minimizer."""

    @pytest.mark.parametrize("weighted", [False, True])
    def test_softmax(self, weighted):
        rng = np.random.default_rng(13)
        P = rng.dirichlet(np.full(5, 0.6), size=6)
        P[0] = [0.9, 0.05, 0.03, 0.015, 0.005]
        gamma = 2.0
        alpha = np.array([0.5, 1.0, 2.0, 1.0, 3.0]) if weighted else None
        z = torch.zeros(6, 5, dtype=torch.float64, requires_grad=True)
        target = torch.tensor(P)
        weight = None if alpha is None else torch.tensor(alpha)
        opt = torch.optim.LBFGS(
            [z], lr=1, max_iter=400, tolerance_grad=1e-13, tolerance_change=1e-16,
            line_search_fn="strong_wolfe",
        )  # fmt: skip

        def closure():
            opt.zero_grad()
            loss = focal_loss(z, target, gamma, weight=weight, reduction="sum")
            loss.backward()
            return loss

        opt.step(closure)
        q = torch.softmax(z, 1).detach().numpy()
        expected = minimizer(P, gamma, alpha=alpha)
        np.testing.assert_allclose(q, expected, rtol=1e-6, atol=1e-9)
        assert not np.allclose(expected, P, atol=1e-3)  # focal loss is not proper

    @pytest.mark.parametrize("alpha", [0.25, -1])
    def test_sigmoid(self, alpha):
        t = torch.tensor([0.7, 0.05, 0.5, 0.95, 0.3], dtype=torch.float64)
        x = torch.zeros(5, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS(
            [x], lr=1, max_iter=300, tolerance_grad=1e-14, tolerance_change=1e-16,
            line_search_fn="strong_wolfe",
        )  # fmt: skip

        def closure():
            opt.zero_grad()
            loss = sigmoid_focal_loss(x, t, alpha=alpha, gamma=2.0, reduction="sum")
            loss.backward()
            return loss

        opt.step(closure)
        q = torch.sigmoid(x).detach().numpy()
        a = None if alpha < 0 else alpha
        expected = minimizer(t.numpy(), 2.0, alpha=a, kind="sigmoid")
        np.testing.assert_allclose(q, expected, rtol=1e-7)
        # the numbers quoted in the docstring for t = 0.7
        assert round(float(q[0]), 4) == (0.4765 if alpha == 0.25 else 0.5785)


# ---------------------------------------------------------------------------
# sigmoid focal loss
# ---------------------------------------------------------------------------


def _retinanet(inputs, targets, alpha, gamma, reduction):
    """The RetinaNet / torchvision formula, written out."""
    p = torch.sigmoid(inputs)
    ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


class TestSigmoid:
    @pytest.mark.parametrize("alpha", [0.25, 0.5, -1])
    @pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
    @pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
    def test_retinanet_parity(self, alpha, gamma, reduction):
        gen = torch.Generator().manual_seed(14)
        x = (3 * torch.randn(6, 4, generator=gen, dtype=torch.float64)).requires_grad_()
        t = (torch.rand(6, 4, generator=gen) > 0.7).double()
        ours = sigmoid_focal_loss(x, t, alpha, gamma, reduction)
        ref = _retinanet(x, t, alpha, gamma, reduction)
        torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-15)
        torch.testing.assert_close(_grad(ours, x), _grad(ref, x), rtol=1e-10, atol=1e-15)

    def test_defaults_match_torchvision(self):
        x = torch.randn(5, dtype=torch.float64)
        t = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.0], dtype=torch.float64)
        out = sigmoid_focal_loss(x, t)
        assert out.shape == (5,)
        torch.testing.assert_close(out, _retinanet(x, t, 0.25, 2.0, "none"))

    def test_gamma_zero_is_bce(self):
        x = torch.randn(7, dtype=torch.float64, requires_grad=True)
        t = torch.rand(7, dtype=torch.float64)
        ours = sigmoid_focal_loss(x, t, alpha=-1, gamma=0.0, reduction="mean")
        bce = F.binary_cross_entropy_with_logits(x, t)
        torch.testing.assert_close(ours, bce)
        torch.testing.assert_close(_grad(ours, x), _grad(bce, x))

    def test_soft_targets_two_term_form(self):
        x = torch.randn(9, dtype=torch.float64, requires_grad=True)
        t = torch.rand(9, dtype=torch.float64)
        for alpha, gamma in ((0.25, 2.0), (-1, 0.7)):
            p = torch.sigmoid(x)
            a = 0.5 if alpha < 0 else alpha
            s = 2.0 if alpha < 0 else 1.0
            ref = s * (
                -a * t * (1 - p) ** gamma * torch.log(p)
                - (1 - a) * (1 - t) * p**gamma * torch.log(1 - p)
            )
            ours = sigmoid_focal_loss(x, t, alpha, gamma)
            torch.testing.assert_close(ours, ref)
            torch.testing.assert_close(_grad(ours, x), _grad(ref, x))

    @pytest.mark.parametrize("gamma", [0.0, 0.25, 2.0])
    def test_gradcheck(self, gamma):
        x = torch.tensor([-30.0, -3.0, -0.5, 0.0, 0.7, 4.0, 40.0], dtype=torch.float64)
        t = torch.tensor([0.0, 0.3, 1.0, 0.5, 0.0, 0.9, 1.0], dtype=torch.float64)
        x.requires_grad_()
        t.requires_grad_()
        assert torch.autograd.gradcheck(lambda a, b: sigmoid_focal_loss(a, b, 0.25, gamma), (x, t))

    @pytest.mark.parametrize("gamma", SMALL_GAMMAS)
    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
    def test_saturated_exact(self, gamma, dtype):
        x = torch.tensor([1e4, -1e4, 30.0, -30.0, 100.0], dtype=dtype, requires_grad=True)
        t = torch.tensor([1.0, 0.0, 1.0, 0.0, 0.6], dtype=dtype)
        loss = sigmoid_focal_loss(x, t, alpha=-1, gamma=gamma)
        grad = _grad(loss, x)
        loss = loss.detach()
        assert torch.isfinite(loss).all()
        assert torch.isfinite(grad).all()
        with mpmath.workdps(50):
            for i in range(5):
                xi, ti = mpmath.mpf(x[i].item()), mpmath.mpf(t[i].item())
                p, q = 1 / (1 + mpmath.exp(-xi)), 1 / (1 + mpmath.exp(xi))
                g = mpmath.mpf(gamma)
                ref = -ti * q**g * mpmath.log(p) - (1 - ti) * p**g * mpmath.log(q)
                dref = mpmath.diff(
                    lambda u, ti=ti, g=g: (
                        -ti * (1 / (1 + mpmath.exp(u))) ** g * mpmath.log(1 / (1 + mpmath.exp(-u)))
                        - (1 - ti)
                        * (1 / (1 + mpmath.exp(-u))) ** g
                        * mpmath.log(1 / (1 + mpmath.exp(u)))
                    ),
                    xi,
                )
                tol = 1e-5 if dtype == torch.float32 else 1e-11
                tiny = float(torch.finfo(dtype).tiny)
                assert abs(float(loss[i]) - float(ref)) <= tol * abs(float(ref)) + tiny, i
                assert abs(float(grad[i]) - float(dref)) <= tol * abs(float(dref)) + tiny, i

    @pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
    def test_half(self, dtype):
        x = torch.tensor([-8.0, 0.5, 9.0, 300.0]).to(dtype).requires_grad_()
        t = torch.tensor([0.0, 1.0, 1.0, 0.0]).to(dtype)
        loss = sigmoid_focal_loss(x, t, reduction="sum")
        assert loss.dtype == dtype
        grad = _grad(loss, x)
        assert grad.dtype == dtype
        assert torch.isfinite(grad).all()
        ref = sigmoid_focal_loss(x.detach().float(), t.float(), reduction="sum")
        torch.testing.assert_close(loss.float(), ref, rtol=1e-2, atol=0)


# ---------------------------------------------------------------------------
# modules, errors, packaging
# ---------------------------------------------------------------------------


class TestModules:
    def test_focal_loss_module(self):
        z, target = _case("2d", False, seed=15)
        weight = torch.tensor([0.3, 1.0, 2.0, 0.7, 1.5])
        crit = FocalLoss(1.5, weight=weight, label_smoothing=0.1, reduction="sum").double()
        assert crit.weight.dtype == torch.float64
        assert "weight" in crit.state_dict()
        expected = focal_loss(
            z, target, 1.5, weight=weight.double(), label_smoothing=0.1, reduction="sum"
        )
        torch.testing.assert_close(crit(z, target), expected)
        assert "gamma=1.5" in repr(crit)

    def test_sigmoid_module(self):
        x = torch.randn(4, 3)
        t = (torch.rand(4, 3) > 0.5).float()
        crit = SigmoidFocalLoss(alpha=0.3, gamma=1.0, reduction="mean")
        torch.testing.assert_close(crit(x, t), sigmoid_focal_loss(x, t, 0.3, 1.0, "mean"))
        assert "alpha=0.3" in repr(crit)


class TestErrors:
    def test_softmax_arguments(self):
        z = torch.randn(4, 3)
        y = torch.tensor([0, 1, 2, 0])
        with pytest.raises(ValueError, match="`reduction` must be one of"):
            focal_loss(z, y, reduction="avg")
        with pytest.raises(ValueError, match="`gamma` must be a finite number >= 0, got -1"):
            focal_loss(z, y, -1)
        with pytest.raises(ValueError, match="`gamma`"):
            focal_loss(z, y, float("nan"))
        with pytest.raises(TypeError, match="`gamma` must be a real number"):
            focal_loss(z, y, "2")
        with pytest.raises(ValueError, match=r"`label_smoothing` must lie in \[0, 1\], got 1.5"):
            focal_loss(z, y, label_smoothing=1.5)
        with pytest.raises(ValueError, match=r"`weight` must have shape \(3,\)"):
            focal_loss(z, y, weight=torch.ones(4))
        with pytest.raises(ValueError, match="`input` must have at least one class"):
            focal_loss(torch.randn(4, 0), y)
        with pytest.raises(TypeError, match="`input` must be a floating-point tensor"):
            focal_loss(torch.ones(4, 3, dtype=torch.long), y)
        with pytest.raises(TypeError, match=r"`input` must be a torch\.Tensor"):
            focal_loss(np.ones((4, 3)), y)

    def test_softmax_targets(self):
        z = torch.randn(4, 3)
        with pytest.raises(ValueError, match=r"class indices in \[0, 3\).*found 5 at index 2"):
            focal_loss(z, torch.tensor([0, 1, 5, 0]))
        with pytest.raises(ValueError, match=r"found -1 at index 3"):
            focal_loss(z, torch.tensor([0, 1, 2, -1]))
        with pytest.raises(ValueError, match=r"`target` with class indices must have shape \(4,\)"):
            focal_loss(z, torch.tensor([0, 1]))
        with pytest.raises(ValueError, match="`target` with class probabilities must have"):
            focal_loss(z, torch.rand(4, 2))
        with pytest.raises(TypeError, match="`target` must hold integer class indices"):
            focal_loss(z, torch.ones(4, dtype=torch.bool))

    def test_sigmoid_arguments(self):
        x = torch.randn(4)
        t = torch.ones(4)
        with pytest.raises(ValueError, match="`alpha` must be <= 1"):
            sigmoid_focal_loss(x, t, alpha=1.5)
        with pytest.raises(ValueError, match="`reduction` must be one of"):
            sigmoid_focal_loss(x, t, reduction="batchmean")
        with pytest.raises(ValueError, match="`targets` must have the shape of `inputs`"):
            sigmoid_focal_loss(x, torch.ones(3))
        with pytest.raises(ValueError, match="`gamma`"):
            SigmoidFocalLoss(gamma=-0.5)


def test_import_focalentropy_does_not_import_torch():
    code = "import sys, focalentropy; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
