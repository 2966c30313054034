"""focalentropy.torch wherever F.cross_entropy works: compile, torch.func, double
backward, export, FakeTensor/meta, no host synchronization, devices and dtypes."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from torch._subclasses.fake_tensor import FakeTensorMode  # noqa: E402

from _torch_cases import (  # noqa: E402
    DEVICES,
    DTYPES,
    option_grid,
    sigmoid_options,
    softmax_cells,
    softmax_inputs,
)
from focalentropy.torch import FocalLoss, SigmoidFocalLoss, focal_loss, sigmoid_focal_loss  # noqa: E402
from focalentropy.torch._functional import _per_sample_gamma  # noqa: E402
from focalentropy.torch._sigmoid import elementwise_traceable  # noqa: E402
from focalentropy.torch._softmax import (  # noqa: E402
    CompiledSoftmaxFocal,
    SoftmaxFocal,
    per_sample_traceable,
)
from focalentropy.torch._targets import softmax_targets  # noqa: E402

GAMMAS = (0.1, 0.5, 1.0, 2.0, 5.0)


def _all_options(fn_loss, z, target, gamma, grid):
    """The losses of every option cell, and a random linear combination of them."""
    outs = [fn_loss(z, target, gamma, **kw) for kw in grid]
    total = sum(
        (o * torch.linspace(0.5, 1.5 + i, o.numel(), dtype=o.dtype).view(o.shape)).sum()
        for i, o in enumerate(outs)
    )
    return outs, total


def _value_and_grad(fn, z, *args):
    outs, total = fn(z, *args)
    (g,) = torch.autograd.grad(total, z)
    return [o.detach() for o in outs], g


# ---------------------------------------------------------------------------
# torch.compile
# ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    yield
    torch._dynamo.reset()


class TestCompile:
    """fullgraph=True traces with no graph break and gives the eager values and gradients."""

    @pytest.mark.parametrize(("shape_kind", "target_kind"), softmax_cells())
    def test_softmax_option_matrix(self, shape_kind, target_kind):
        z, target = softmax_inputs(shape_kind, target_kind)
        grid = option_grid(z.shape[0] if z.dim() == 1 else z.shape[1])

        def run(z, target):
            return _all_options(focal_loss, z, target, 2.0, grid)

        eager_v, eager_g = _value_and_grad(run, z, target)
        compiled = torch.compile(run, fullgraph=True, backend="aot_eager")
        comp_v, comp_g = _value_and_grad(compiled, z, target)
        for a, b in zip(comp_v, eager_v, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(comp_g, eager_g, rtol=1e-12, atol=1e-14)

    def test_sigmoid_option_matrix(self):
        gen = torch.Generator().manual_seed(1)
        x = (3 * torch.randn(4, 3, generator=gen, dtype=torch.float64)).requires_grad_()
        t = torch.rand(4, 3, generator=gen, dtype=torch.float64)
        t[0] = torch.tensor([0.0, 1.0, 1.0])
        grid = sigmoid_options(x.shape)

        def run(x, t):
            outs = [sigmoid_focal_loss(x, t, **kw) for kw in grid]
            return outs, sum((o * (i + 1)).sum() for i, o in enumerate(outs))

        eager_v, eager_g = _value_and_grad(run, x, t)
        comp_v, comp_g = _value_and_grad(
            torch.compile(run, fullgraph=True, backend="aot_eager"), x, t
        )
        for a, b in zip(comp_v, eager_v, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(comp_g, eager_g, rtol=1e-12, atol=1e-14)

    def test_saturated_logits_compiled(self):
        """The traced formula is exact and finite where the naive one is NaN."""
        z = torch.tensor([[1e3, 0.0, -3.0], [0.0, 1e3, 0.0], [40.0, 0.0, 0.0]])
        z.requires_grad_()
        y = torch.tensor([0, 0, 0])
        for gamma in GAMMAS:
            eager = focal_loss(z, y, gamma, reduction="none")
            (g_eager,) = torch.autograd.grad(eager.sum(), z)
            fn = torch.compile(
                lambda z, y, gamma=gamma: focal_loss(z, y, gamma, reduction="none"),
                fullgraph=True,
                backend="aot_eager",
            )
            comp = fn(z, y)
            (g_comp,) = torch.autograd.grad(comp.sum(), z)
            assert torch.isfinite(g_comp).all()
            # the traced form clamps the other classes' mass at `tiny` (where every
            # quantity of the row underflows): equal up to `tiny` absolutely
            tiny = torch.finfo(z.dtype).tiny
            torch.testing.assert_close(comp, eager, rtol=1e-5, atol=tiny)
            torch.testing.assert_close(g_comp, g_eager, rtol=1e-5, atol=tiny)

    def test_dynamic_batch_does_not_recompile(self):
        frames = []

        def counting_backend(gm, example_inputs):
            frames.append(gm)
            return gm.forward

        @torch.compile(fullgraph=True, dynamic=True, backend=counting_backend)
        def fn(z, y, x, t):
            return focal_loss(z, y, 2.0, label_smoothing=0.1) + sigmoid_focal_loss(
                x, t, reduction="mean"
            )

        for n in (4, 7, 11, 30):
            z = torch.randn(n, 5, requires_grad=True)
            out = fn(z, torch.randint(5, (n,)), torch.randn(n, 3), torch.rand(n, 3))
            out.backward()
            assert torch.isfinite(z.grad).all()
        assert len(frames) == 1

    def test_inductor(self):
        """The real compiler (a cold compile costs ~20 s): softmax and sigmoid in one graph."""
        gen = torch.Generator().manual_seed(5)
        z = (3 * torch.randn(64, 10, generator=gen)).requires_grad_()
        y = torch.randint(10, (64,), generator=gen)
        y[3] = -100
        x = torch.randn(64, 4, generator=gen).requires_grad_()
        t = (torch.rand(64, 4, generator=gen) > 0.8).float()

        def fn(z, y, x, t):
            a = focal_loss(z, y, 2.0, label_smoothing=0.1)
            b = sigmoid_focal_loss(x, t, 0.25, 0.5, reduction="mean")
            return a + b, a, b

        ref = fn(z, y, x, t)
        g_ref = torch.autograd.grad(ref[0], (z, x))
        out = torch.compile(fn, fullgraph=True)(z, y, x, t)
        g_out = torch.autograd.grad(out[0], (z, x))
        for a, b in zip(out, ref, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
        for a, b in zip(g_out, g_ref, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-8)

    def test_bad_target_is_reported_when_compiled(self):
        fn = torch.compile(lambda z, y: focal_loss(z, y), fullgraph=True, backend="aot_eager")
        with pytest.raises(RuntimeError, match="out of bounds"):
            fn(torch.randn(3, 4), torch.tensor([0, 9, 1]))


# ---------------------------------------------------------------------------
# no host synchronization: FakeTensor, meta, and the eager kernel's device path
# ---------------------------------------------------------------------------


class TestNoHostSync:
    @pytest.mark.parametrize(("shape_kind", "target_kind"), softmax_cells())
    def test_fake_and_meta(self, shape_kind, target_kind):
        z_real, t_real = softmax_inputs(shape_kind, target_kind, dtype=torch.float32)
        for kw in option_grid(z_real.shape[0] if z_real.dim() == 1 else z_real.shape[1]):
            kw = {k: (v.float() if isinstance(v, torch.Tensor) else v) for k, v in kw.items()}
            expected = focal_loss(z_real, t_real, 2.0, **kw).shape
            z_data = z_real.detach()
            with FakeTensorMode() as mode:
                z = mode.from_tensor(z_data).requires_grad_()
                t = mode.from_tensor(t_real)
                w = None if kw["weight"] is None else mode.from_tensor(kw["weight"])
                out = focal_loss(z, t, 2.0, **{**kw, "weight": w})
                assert out.shape == expected
                out.sum().backward()
                assert z.grad.shape == z.shape
            zm = z_real.detach().to("meta").requires_grad_()
            wm = None if kw["weight"] is None else kw["weight"].to("meta")
            out = focal_loss(zm, t_real.to("meta"), 2.0, **{**kw, "weight": wm})
            assert out.device.type == "meta"
            assert out.shape == expected
            out.sum().backward()

    def test_sigmoid_fake_and_meta(self):
        for kw in sigmoid_options((6, 3), dtype=torch.float32):
            with FakeTensorMode() as mode:
                x = mode.from_tensor(torch.randn(6, 3)).requires_grad_()
                t = mode.from_tensor(torch.rand(6, 3))
                a = kw["alpha"]
                a = mode.from_tensor(a) if isinstance(a, torch.Tensor) else a
                sigmoid_focal_loss(x, t, **{**kw, "alpha": a}).sum().backward()
                assert x.grad.shape == (6, 3)
            x = torch.randn(6, 3, device="meta", requires_grad=True)
            a = kw["alpha"].to("meta") if isinstance(kw["alpha"], torch.Tensor) else kw["alpha"]
            sigmoid_focal_loss(x, torch.rand(6, 3, device="meta"), **{**kw, "alpha": a}).sum()

    @pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
    def test_eager_kernel_device_path_does_not_read_data(self, label_smoothing):
        """The eager kernel's non-CPU path (host=False) runs under FakeTensor, where any
        data-dependent read (.item(), bool(), nonzero) raises."""
        z_real = torch.randn(8, 5)
        z_real[0, 0] = 1e4  # a row that needs the far-row terms
        y_real = torch.tensor([0, 1, 2, 3, 4, 0, -100, 2])
        with FakeTensorMode() as mode:
            z = mode.from_tensor(z_real).requires_grad_()
            y = mode.from_tensor(y_real)
            targets = softmax_targets(z, y, False, None, -100, label_smoothing, host=False)
            t = targets
            args = (z, 2.0, t.index, t.hard_scale, t.dense_w, t.row_scale)
            SoftmaxFocal.apply(*args, None, False).sum().backward()
            assert z.grad.shape == (8, 5)

    @pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
    @pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
    def test_device_path_equals_host_path(self, gamma, label_smoothing):
        """The mask-based far-row terms (CUDA) equal the row-subset ones (CPU)."""
        z = torch.randn(9, 4, dtype=torch.float64)
        z[0] = torch.tensor([1e4, 0.0, -3.0, 1.0])
        z[1] = torch.tensor([0.0, 800.0, 0.0, 1.0])
        z[2] = torch.tensor([40.0, 0.0, 0.0, 1.0])
        z.requires_grad_()
        y = torch.tensor([0, 0, 0, 1, 2, 3, -100, 1, 2])
        res = []
        for host in (True, False):
            t = softmax_targets(z, y, False, None, -100, label_smoothing, host=host)
            args = (z, gamma, t.index, t.hard_scale, t.dense_w, t.row_scale)
            out = SoftmaxFocal.apply(*args, None, host)
            res.append((out, torch.autograd.grad(out.sum(), z)[0]))
        torch.testing.assert_close(res[0], res[1], rtol=1e-14, atol=0)


# ---------------------------------------------------------------------------
# the eager kernel and the traceable formula are the same function
# ---------------------------------------------------------------------------


class TestTwoPathsAgree:
    @pytest.mark.parametrize(("shape_kind", "target_kind"), softmax_cells())
    @pytest.mark.parametrize("gamma", [0.0, 0.3, 2.0])
    def test_values_and_gradients(self, shape_kind, target_kind, gamma):
        z, target = softmax_inputs(shape_kind, target_kind)
        flat = z.detach().view(-1)
        flat[0] += 60.0  # a saturated entry
        if z.dim() == 1:
            z2, t2 = z.unsqueeze(0), target.unsqueeze(0)
        else:
            z2, t2 = z, target
        for kw in option_grid(z2.shape[1]):
            soft = t2.is_floating_point()
            tg = softmax_targets(z2, t2, soft, kw["weight"], -100, kw["label_smoothing"], host=True)
            args = (gamma, tg.index, tg.hard_scale, tg.dense_w, tg.row_scale)
            eager = SoftmaxFocal.apply(z2, *args, None, True)
            trace = per_sample_traceable(z2, *args)
            (g_e,) = torch.autograd.grad(eager.sum(), z)
            (g_t,) = torch.autograd.grad(trace.sum(), z)
            torch.testing.assert_close(eager, trace, rtol=1e-12, atol=1e-300)
            torch.testing.assert_close(g_e, g_t, rtol=1e-12, atol=1e-15)


def _edge_logits(shape, dtype, seed=0):
    """Random logits with saturated rows (gaps 60 and 800), a row whose other classes
    are all -inf and a row with a -inf non-target logit; class indices."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(shape, dtype=dtype, generator=gen) * 3
    y = torch.randint(0, shape[1], (shape[0], *shape[2:]), generator=gen)
    rows = z.movedim(1, -1).reshape(-1, shape[1])  # a copy: written back below
    flat_y = y.reshape(-1)
    rows[0, flat_y[0]] += 60.0
    rows[1, flat_y[1]] += 800.0
    rows[2, (flat_y[2] + 1) % shape[1]] += 800.0  # the target far below another class
    rows[3] = -math.inf
    rows[3, flat_y[3]] = 1.5
    rows[4, (flat_y[4] + 1) % shape[1]] = -math.inf
    moved = rows.reshape(shape[0], *shape[2:], shape[1]).movedim(-1, 1)
    return moved.contiguous(), y


class TestCompiledKernelAgrees:
    """CompiledSoftmaxFocal (what torch.compile runs for class indices) against the
    traceable formula: values, gradients and the double-backward fallback."""

    @pytest.mark.parametrize("shape", [(40, 2), (64, 10), (48, 33), (8, 21, 3, 4)])
    @pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 2.5, 7.0])
    def test_float64_values_and_gradients(self, shape, gamma):
        z, y = _edge_logits(shape, torch.float64)
        z.requires_grad_()
        got = CompiledSoftmaxFocal.apply(z, y, gamma)[0]
        ref = per_sample_traceable(z, gamma, y, None, None, None)
        torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-300)
        w = torch.rand(got.shape, dtype=z.dtype, generator=torch.Generator().manual_seed(1))
        (g_got,) = torch.autograd.grad((got * w).sum(), z)
        (g_ref,) = torch.autograd.grad((ref * w).sum(), z)
        assert torch.isfinite(g_got).all()
        # softmax entries of logits ~800 carry lse's absolute rounding (~800 eps)
        torch.testing.assert_close(g_got, g_ref, rtol=1e-11, atol=1e-12)

    @pytest.mark.parametrize("gamma", [0.1, 0.5, 2.0, 5.0])
    def test_float32_finite_at_gaps_to_1e3(self, gamma):
        z, y = _edge_logits((64, 10), torch.float32)
        z.requires_grad_()
        loss = CompiledSoftmaxFocal.apply(z, y, gamma)[0]
        (grad,) = torch.autograd.grad(loss.sum(), z)
        assert torch.isfinite(loss).all()
        assert torch.isfinite(grad).all()
        ref = per_sample_traceable(z.detach().double(), gamma, y, None, None, None)
        torch.testing.assert_close(loss.double(), ref, rtol=2e-5, atol=1e-30)

    def test_minus_inf_target_logit_gives_cross_entropy_gradient(self):
        z = torch.tensor([[-math.inf, 0.0, 1.0]], dtype=torch.float64, requires_grad=True)
        y = torch.tensor([0])
        loss = CompiledSoftmaxFocal.apply(z, y, 2.0)[0]
        (grad,) = torch.autograd.grad(loss.sum(), z)
        assert loss.item() == math.inf
        ce = torch.nn.functional.cross_entropy(z, y, reduction="sum")
        (ref,) = torch.autograd.grad(ce, z)
        torch.testing.assert_close(grad, ref)

    def test_create_graph_outside_compile_is_exact(self):
        """Its explicit backward uses saved per-row terms; with create_graph=True
        it differentiates the traceable formula instead (Hessian-vector product)."""
        z, y = _edge_logits((16, 5), torch.float64)
        z = z.clamp(min=-50.0).requires_grad_()
        v = torch.randn_like(z)
        hv = []
        for fn in (
            lambda: CompiledSoftmaxFocal.apply(z, y, 2.0)[0].sum(),
            lambda: per_sample_traceable(z, 2.0, y, None, None, None).sum(),
        ):
            (g,) = torch.autograd.grad(fn(), z, create_graph=True)
            hv.append(torch.autograd.grad((g * v).sum(), z)[0])
        torch.testing.assert_close(hv[0], hv[1], rtol=1e-10, atol=1e-12)

    def test_compiled_focal_loss_runs_it(self):
        """torch.compile takes this path for class indices and a number gamma (one
        autograd.Function in the graph), and gives eager's values and gradients."""
        graphs = []

        def backend(gm, example_inputs):
            graphs.append(gm.code)
            return gm.forward

        z, y = _edge_logits((32, 6), torch.float64)
        z.requires_grad_()
        fn = torch.compile(lambda z, y: focal_loss(z, y, 2.0), fullgraph=True, backend=backend)
        value = fn(z, y)
        (g_c,) = torch.autograd.grad(value, z)
        (g_e,) = torch.autograd.grad(focal_loss(z, y, 2.0), z)
        assert graphs[0].count("autograd_function_apply(") == 1
        torch.testing.assert_close(value, focal_loss(z, y, 2.0), rtol=1e-12, atol=0)
        torch.testing.assert_close(g_c, g_e, rtol=1e-11, atol=1e-12)


class TestHardTargetKernelAgrees:
    """The eager sigmoid kernel's one-term form for targets in {0, 1} against the
    two-term form: values and x-derivatives, also at saturated and infinite logits."""

    @pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0, 5.0])
    @pytest.mark.parametrize("alpha", [None, 0.25, "per-class"])
    @pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
    def test_equals_two_term_form(self, gamma, alpha, dtype):
        from focalentropy.torch._sigmoid import _hard_grad, _hard_value, _terms, _weights

        gen = torch.Generator().manual_seed(5)
        x = torch.randn(500, 7, dtype=dtype, generator=gen) * 10
        x[0, :6] = torch.tensor([math.inf, -math.inf, 800.0, -800.0, 60.0, -60.0])
        t = (torch.rand(500, 7, generator=gen) > 0.7).to(dtype)
        a = (
            torch.rand(7, dtype=dtype, generator=gen).expand_as(x)
            if alpha == "per-class"
            else alpha
        )
        value, d = _hard_value(x, t, a, gamma), _hard_grad(x, t, a, gamma)
        l_pos, l_neg, d_pos, d_neg = _terms(x, gamma, want_grad=True)
        a_pos, a_neg = _weights(t, a)
        # float32: both forms round exp(-gamma softplus) to ~gamma |x| eps
        rtol = 1e-12 if dtype == torch.float64 else 3e-5
        torch.testing.assert_close(
            value, l_pos * a_pos + a_neg * l_neg, rtol=rtol, atol=0, equal_nan=True
        )
        torch.testing.assert_close(d, d_pos * a_pos + a_neg * d_neg, rtol=rtol, atol=1e-300)

    def test_mixed_blocks_equal_the_formula(self):
        """Hard blocks and a block with one soft target, through the public loss."""
        from focalentropy.torch._sigmoid import _BLOCK

        gen = torch.Generator().manual_seed(6)
        x = torch.randn(3 * _BLOCK // 8, 8, dtype=torch.float64, generator=gen) * 4
        t = (torch.rand(x.shape, generator=gen) < 0.1).double()
        t[-1, 0] = 0.3  # the last block takes the two-term form
        x.requires_grad_()
        got = sigmoid_focal_loss(x, t, alpha=0.25, gamma=2.0, reduction="sum")
        (g_got,) = torch.autograd.grad(got, x)
        ref = elementwise_traceable(x, t, 2.0, 0.25).sum()
        (g_ref,) = torch.autograd.grad(ref, x)
        torch.testing.assert_close(got, ref, rtol=1e-12, atol=0)
        torch.testing.assert_close(g_got, g_ref, rtol=1e-11, atol=1e-15)


class TestFuncInsideCompile:
    """torch.func transforms inside torch.compile take the traceable formula (the compiled
    Functions have no vmap rule there): per-sample gradients and Hessians as in eager."""

    @pytest.mark.parametrize("loss", ["softmax", "sigmoid"])
    def test_vmap_grad_and_hessian(self, loss):
        gen = torch.Generator().manual_seed(3)
        z = torch.randn(6, 5, dtype=torch.float64, generator=gen)
        if loss == "softmax":
            y = torch.randint(0, 5, (6,), generator=gen)

            def one(zi, yi):
                return focal_loss(zi, yi, 0.5)
        else:
            y = torch.randint(0, 2, (6, 5), generator=gen).double()

            def one(zi, yi):
                return sigmoid_focal_loss(zi, yi, gamma=0.5, reduction="sum")

        def per_sample(z, y):
            return torch.func.vmap(torch.func.grad(one))(z, y)

        def hess(z, y):
            return torch.func.hessian(lambda zz: one(zz[0], y[0]))(z)

        for fn in (per_sample, hess):
            compiled = torch.compile(fn, fullgraph=True, backend="aot_eager")
            torch.testing.assert_close(compiled(z, y), fn(z, y), rtol=1e-12, atol=1e-14)

    def test_row_of_minus_inf_is_nan_as_cross_entropy(self):
        z = torch.randn(4, 3, dtype=torch.float64)
        z[1] = -math.inf
        y = torch.tensor([0, 1, 2, 0])

        def fn(z, y):
            return focal_loss(z, y, 2.0, reduction="none")

        compiled = torch.compile(fn, fullgraph=True, backend="aot_eager")(z, y)
        torch.testing.assert_close(compiled, fn(z, y), equal_nan=True)
        assert torch.isnan(compiled[1])
        assert torch.isnan(torch.nn.functional.cross_entropy(z, y, reduction="none")[1])


# ---------------------------------------------------------------------------
# torch.func
# ---------------------------------------------------------------------------


class TestFunc:
    @pytest.mark.parametrize(("shape_kind", "target_kind"), softmax_cells())
    def test_grad_equals_autograd(self, shape_kind, target_kind):
        z, target = softmax_inputs(shape_kind, target_kind)
        for kw in option_grid(z.shape[0] if z.dim() == 1 else z.shape[1]):
            if kw["reduction"] == "none":
                continue
            ref = torch.autograd.grad(focal_loss(z, target, 2.0, **kw), z)[0]
            got = torch.func.grad(lambda zz, kw=kw: focal_loss(zz, target, 2.0, **kw))(z.detach())
            torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-15)

    @pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
    def test_vmap_per_sample_gradients(self, label_smoothing):
        gen = torch.Generator().manual_seed(4)
        z = (2 * torch.randn(7, 5, generator=gen, dtype=torch.float64)).requires_grad_()
        y = torch.randint(5, (7,), generator=gen)
        w = torch.rand(5, generator=gen, dtype=torch.float64) + 0.5

        def one(zi, yi):
            return focal_loss(zi, yi, 1.5, weight=w, label_smoothing=label_smoothing)

        per_sample = torch.func.vmap(torch.func.grad(one))(z.detach(), y)
        loop = torch.stack([torch.autograd.grad(one(z[i], y[i]), z)[0][i] for i in range(7)])
        torch.testing.assert_close(per_sample, loop, rtol=1e-12, atol=1e-15)

    def test_vmap_sigmoid_per_sample(self):
        x = torch.randn(6, 3, dtype=torch.float64)
        t = torch.rand(6, 3, dtype=torch.float64)
        alpha = torch.tensor([0.2, 0.5, 0.7], dtype=torch.float64)

        def one(xi, ti):
            return sigmoid_focal_loss(xi, ti, alpha, 0.5, reduction="sum")

        got = torch.func.vmap(torch.func.grad(one))(x, t)
        xr = x.clone().requires_grad_()
        loop = torch.stack([torch.autograd.grad(one(xr[i], t[i]), xr)[0][i] for i in range(6)])
        torch.testing.assert_close(got, loop, rtol=1e-12, atol=1e-15)

    def test_jacrev_and_jvp(self):
        gen = torch.Generator().manual_seed(6)
        z = 2 * torch.randn(4, 3, 2, generator=gen, dtype=torch.float64)
        y = torch.randint(3, (4, 2), generator=gen)

        def f(zz):
            return focal_loss(zz, y, 2.0, reduction="none", label_smoothing=0.05)

        jac = torch.func.jacrev(f)(z)
        ref = torch.autograd.functional.jacobian(f, z)
        torch.testing.assert_close(jac, ref, rtol=1e-12, atol=1e-15)
        v = torch.randn(z.shape, generator=gen, dtype=torch.float64)
        _, jv = torch.func.jvp(f, (z,), (v,))
        torch.testing.assert_close(jv, (ref * v).sum((-3, -2, -1)), rtol=1e-12, atol=1e-14)

        x = torch.randn(5, generator=gen, dtype=torch.float64)
        t = torch.rand(5, generator=gen, dtype=torch.float64)

        def s(xx):
            return sigmoid_focal_loss(xx, t, 0.25, 0.5)

        torch.testing.assert_close(
            torch.func.jacrev(s)(x), torch.autograd.functional.jacobian(s, x), rtol=1e-12, atol=0
        )


# ---------------------------------------------------------------------------
# double backward
# ---------------------------------------------------------------------------


def _naive_focal(z, y, gamma):
    """The plain formula (correct second derivatives at moderate logits)."""
    p = torch.softmax(z, 1).gather(1, y[:, None]).squeeze(1)
    return (-((1 - p) ** gamma) * torch.log(p)).sum()


class TestDoubleBackward:
    @pytest.mark.parametrize(("shape_kind", "target_kind"), softmax_cells())
    def test_gradgradcheck_option_matrix(self, shape_kind, target_kind):
        z, target = softmax_inputs(shape_kind, target_kind)
        for kw in option_grid(z.shape[0] if z.dim() == 1 else z.shape[1]):
            # fast mode: random projections of the full check (the slow one is below)
            assert torch.autograd.gradgradcheck(
                lambda zz, kw=kw: focal_loss(zz, target, 0.7, **kw), (z,), fast_mode=True
            )

    def test_gradgradcheck_full_jacobian(self):
        z, target = softmax_inputs("2d", "ignored")
        for kw in ({"label_smoothing": 0.1}, {"weight": torch.rand(5, dtype=torch.float64)}):
            assert torch.autograd.gradgradcheck(
                lambda zz, kw=kw: focal_loss(zz, target, 0.7, **kw), (z,)
            )

    def test_gradgradcheck_weights_and_targets(self):
        z, target = softmax_inputs("2d", "soft")
        target = target.clone().requires_grad_()
        w = torch.linspace(0.5, 1.5, 5, dtype=torch.float64).requires_grad_()
        assert torch.autograd.gradgradcheck(
            lambda zz, tt, ww: focal_loss(zz, tt, 2.0, weight=ww), (z, target, w), fast_mode=True
        )
        z, y = softmax_inputs("2d", "ignored")
        assert torch.autograd.gradgradcheck(
            lambda zz, ww: focal_loss(zz, y, 2.0, weight=ww, label_smoothing=0.1),
            (z, w),
            fast_mode=True,
        )

    def test_gradgradcheck_sigmoid(self):
        gen = torch.Generator().manual_seed(2)
        x = (2 * torch.randn(4, 3, generator=gen, dtype=torch.float64)).requires_grad_()
        t = torch.rand(4, 3, generator=gen, dtype=torch.float64).requires_grad_()
        for kw in sigmoid_options(x.shape):
            assert torch.autograd.gradgradcheck(
                lambda xx, tt, kw=kw: sigmoid_focal_loss(xx, tt, **kw), (x, t)
            )

    @pytest.mark.parametrize("gamma", GAMMAS)
    def test_hvp_matches_naive_hessian_and_finite_differences(self, gamma):
        gen = torch.Generator().manual_seed(8)
        z = (1.5 * torch.randn(5, 4, generator=gen, dtype=torch.float64)).requires_grad_()
        y = torch.randint(4, (5,), generator=gen)
        v = torch.randn(z.shape, generator=gen, dtype=torch.float64)
        # loss + 0.5 |z|^2: a wrong (dropped) curvature would return exactly v
        (g,) = torch.autograd.grad(
            focal_loss(z, y, gamma, reduction="sum") + 0.5 * (z**2).sum(), z, create_graph=True
        )
        (hvp,) = torch.autograd.grad(g, z, v)
        hess = torch.autograd.functional.hessian(lambda zz: _naive_focal(zz, y, gamma), z)
        ref = (hess.reshape(20, 20) @ v.reshape(20)).reshape(5, 4) + v
        torch.testing.assert_close(hvp, ref, rtol=1e-10, atol=1e-12)
        assert not torch.allclose(hvp, v)

        def grad_at(zz):
            zz = zz.detach().requires_grad_()
            return torch.autograd.grad(focal_loss(zz, y, gamma, reduction="sum"), zz)[0]

        h = 1e-5
        fd = (grad_at(z + h * v) - grad_at(z - h * v)) / (2 * h)
        torch.testing.assert_close(hvp - v, fd, rtol=1e-6, atol=1e-8)

    @pytest.mark.parametrize("gamma", GAMMAS)
    def test_hvp_finite_at_saturated_logits(self, gamma):
        rows = []
        for gap in (10.0, 50.0, 100.0, 1e3):
            rows += [[gap, 0.0, -1.0], [0.0, gap, 0.5], [-gap, 0.0, 0.0]]
        z = torch.tensor(rows, requires_grad=True)  # float32
        y = torch.zeros(len(rows), dtype=torch.long)
        v = torch.ones_like(z)
        for kw in ({}, {"label_smoothing": 0.1}):
            (g,) = torch.autograd.grad(focal_loss(z, y, gamma, **kw), z, create_graph=True)
            (hvp,) = torch.autograd.grad((g * v).sum(), z)
            assert torch.isfinite(hvp).all()
        x = torch.tensor([-1e3, -100.0, -20.0, 0.0, 20.0, 100.0, 1e3], requires_grad=True)
        t = torch.tensor([1.0, 0.0, 1.0, 0.5, 0.0, 1.0, 0.0])
        (g,) = torch.autograd.grad(
            sigmoid_focal_loss(x, t, 0.25, gamma).sum(), x, create_graph=True
        )
        (h,) = torch.autograd.grad(g.sum(), x)
        assert torch.isfinite(h).all()

    def test_maml_meta_gradient(self):
        """A create_graph inner step through an MLP: the same meta-gradient as the plain formula."""
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 4))
        net = net.double()
        x, y = torch.randn(10, 3, dtype=torch.float64), torch.randint(4, (10,))
        xv, yv = torch.randn(6, 3, dtype=torch.float64), torch.randint(4, (6,))
        params = list(net.parameters())

        def meta_grad(loss_fn):
            inner = loss_fn(torch.func.functional_call(net, dict(net.named_parameters()), x), y)
            grads = torch.autograd.grad(inner, params, create_graph=True, allow_unused=True)
            fast = {
                name: p - 0.5 * g
                for (name, p), g in zip(net.named_parameters(), grads, strict=True)
            }
            outer = loss_fn(torch.func.functional_call(net, fast, xv), yv)
            return torch.autograd.grad(outer, params)

        ours = meta_grad(lambda z, t: focal_loss(z, t, 2.0, reduction="sum"))
        ref = meta_grad(lambda z, t: _naive_focal(z, t, 2.0))
        for a, b in zip(ours, ref, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------
# torch.export
# ---------------------------------------------------------------------------


class _Head(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 5)

    def forward(self, x, y, t):
        z = self.lin(x)
        return (
            focal_loss(z, y, 2.0, label_smoothing=0.05),
            focal_loss(z, torch.softmax(t, 1), 0.5, reduction="none"),
            sigmoid_focal_loss(z, (t > 0).to(z.dtype), reduction="mean"),
        )


def test_export_gives_eager_values():
    torch.manual_seed(1)
    model = _Head()
    x, y, t = torch.randn(7, 3), torch.randint(5, (7,)), torch.randn(7, 5)
    batch = torch.export.Dim("batch", min=2)
    program = torch.export.export(
        model, (x, y, t), dynamic_shapes={"x": {0: batch}, "y": {0: batch}, "t": {0: batch}}
    )
    for n in (7, 12):
        x, y, t = torch.randn(n, 3), torch.randint(5, (n,)), torch.randn(n, 5)
        for a, b in zip(program.module()(x, y, t), model(x, y, t), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------------
# devices, dtypes, edges
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("target_kind", ["index", "ignored", "soft"])
def test_device_dtype_matrix(device, dtype, target_kind):
    """Every dtype against a float64 reference, on every available device."""
    z64, target = softmax_inputs("spatial", target_kind, device=device)
    z = z64.detach().to(dtype).requires_grad_()
    t = target.to(dtype) if target.is_floating_point() else target
    zr = z.detach().double().requires_grad_()
    tr = target.double() if target.is_floating_point() else target
    tol = {
        torch.float64: 1e-12,
        torch.float32: 1e-5,
        torch.bfloat16: 2e-2,
        torch.float16: 2e-3,
    }[dtype]
    for kw in option_grid(5, device=device):
        w = kw["weight"]
        out = focal_loss(z, t, 2.0, **{**kw, "weight": None if w is None else w.to(dtype)})
        ref = focal_loss(zr, tr, 2.0, **kw)
        assert out.dtype == dtype
        assert out.device.type == device
        torch.testing.assert_close(out.double(), ref, rtol=tol, atol=tol)
        (g,) = torch.autograd.grad(out.sum(), z)
        (gr,) = torch.autograd.grad(ref.sum(), zr)
        assert g.dtype == dtype
        torch.testing.assert_close(g.double(), gr, rtol=tol, atol=tol)
    x = z.detach().requires_grad_()
    st = (torch.rand(z.shape, generator=torch.Generator().manual_seed(0)) > 0.5).to(dtype)
    out = sigmoid_focal_loss(x, st.to(device), reduction="sum")
    ref = sigmoid_focal_loss(zr, st.double().to(device), reduction="sum")
    torch.testing.assert_close(out.double(), ref, rtol=tol, atol=tol)


class TestEdges:
    @pytest.mark.parametrize("weighted", [False, True])
    @pytest.mark.parametrize("compiled", [False, True])
    def test_all_ignored_mean_like_cross_entropy(self, weighted, compiled):
        z = torch.randn(3, 4, requires_grad=True)
        y = torch.full((3,), -100)
        w = torch.rand(4) + 0.5 if weighted else None

        def fn(z, y):
            return focal_loss(z, y, 2.0, weight=w, label_smoothing=0.1)

        if compiled:
            fn = torch.compile(fn, fullgraph=True, backend="aot_eager")
        out = fn(z, y)
        ce = F.cross_entropy(z, y, weight=w, label_smoothing=0.1)
        assert torch.isnan(out)
        assert torch.isnan(ce)
        (g,) = torch.autograd.grad(out, z)
        assert torch.equal(g, torch.zeros_like(z))

    @pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
    @pytest.mark.parametrize("traced", [False, True])
    def test_infinite_logits_like_cross_entropy(self, gamma, traced):
        inf = math.inf
        z = torch.tensor([[-inf, 0.0, 1.0], [0.0, -inf, 1.0], [2.0, -inf, -inf]])
        z.requires_grad_()
        y = torch.tensor([0, 0, 0])

        def fn(z, y):
            return focal_loss(z, y, gamma, reduction="none")

        if traced:
            fn = torch.compile(fn, fullgraph=True, backend="aot_eager")
        out = fn(z, y)
        (g,) = torch.autograd.grad(out.sum(), z)
        ce = F.cross_entropy(z, y, reduction="none")
        (g_ce,) = torch.autograd.grad(ce.sum(), z)
        assert out[0] == inf  # the target's logit is -inf: p_y = 0
        assert 0.0 <= out[2] <= torch.finfo(z.dtype).tiny  # every other class is -inf: p_y = 1
        assert torch.isfinite(g).all()
        if gamma == 0:
            torch.testing.assert_close(out, ce)
            torch.testing.assert_close(g, g_ce)
        else:
            torch.testing.assert_close(g[0], g_ce[0])  # G(0) = 1: cross-entropy's gradient
            assert torch.equal(g[2], torch.zeros(3))

    @pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
    @pytest.mark.parametrize("traced", [False, True])
    def test_infinite_sigmoid_logits_like_bce(self, gamma, traced):
        inf = math.inf
        x = torch.tensor([inf, -inf, inf, -inf], requires_grad=True)
        t = torch.tensor([1.0, 1.0, 0.0, 0.0])

        def fn(x, t):
            return sigmoid_focal_loss(x, t, None, gamma)

        if traced:
            fn = torch.compile(fn, fullgraph=True, backend="aot_eager")
        out = fn(x, t)
        (g,) = torch.autograd.grad(out.sum(), x)
        bce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
        (g_bce,) = torch.autograd.grad(bce.sum(), x)
        torch.testing.assert_close(g, g_bce)
        assert out[1] == inf  # the wrong side: infinite loss
        assert out[2] == inf

    def test_deterministic_algorithms(self):
        previous = torch.are_deterministic_algorithms_enabled()
        torch.use_deterministic_algorithms(True)
        try:
            z, y = softmax_inputs("spatial", "ignored")
            for kw in option_grid(5):
                out = focal_loss(z, y, 2.0, **kw)
                torch.autograd.grad(out.sum(), z)
            z, t = softmax_inputs("2d", "soft")
            torch.autograd.grad(focal_loss(z, t, 2.0).sum(), z)
            x = torch.randn(5, 3, requires_grad=True)
            torch.autograd.grad(sigmoid_focal_loss(x, torch.rand(5, 3)).sum(), x)
        finally:
            torch.use_deterministic_algorithms(previous)


# ---------------------------------------------------------------------------
# per-sample gamma, per-class alpha
# ---------------------------------------------------------------------------


class TestPerSampleParameters:
    @pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
    def test_tensor_gamma_equals_per_sample_calls(self, label_smoothing):
        gen = torch.Generator().manual_seed(9)
        z = (2 * torch.randn(6, 4, 3, generator=gen, dtype=torch.float64)).requires_grad_()
        y = torch.randint(4, (6, 3), generator=gen)
        gamma = torch.tensor([0.0, 0.5, 1.0, 2.0, 3.0, 5.0], dtype=torch.float64).view(6, 1)
        out = focal_loss(z, y, gamma, reduction="none", label_smoothing=label_smoothing)
        (g,) = torch.autograd.grad(out.sum(), z)
        for i in range(6):
            zi = z[i : i + 1]
            ref = focal_loss(
                zi, y[i : i + 1], float(gamma[i]), reduction="none", label_smoothing=label_smoothing
            )
            torch.testing.assert_close(out[i : i + 1], ref, rtol=1e-13, atol=0)
            (gi,) = torch.autograd.grad(ref.sum(), z)
            torch.testing.assert_close(g[i], gi[i], rtol=1e-13, atol=1e-16)

    def test_gamma_gradient(self):
        z, y = softmax_inputs("2d", "index")
        gamma = torch.full((6,), 1.5, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda g: focal_loss(z.detach(), y, g), (gamma,))
        x = torch.randn(6, dtype=torch.float64)
        t = torch.rand(6, dtype=torch.float64)
        assert torch.autograd.gradcheck(lambda g: sigmoid_focal_loss(x, t, 0.25, g), (gamma,))

    def test_gamma_must_broadcast(self):
        z, y = softmax_inputs("2d", "index")
        with pytest.raises(ValueError, match="`gamma` of shape \\(4,\\) does not broadcast"):
            focal_loss(z, y, torch.ones(4, dtype=torch.float64))
        with pytest.raises(
            ValueError, match=r"`gamma` must be finite and >= 0, got -1\.0 at index 2"
        ):
            focal_loss(z, y, torch.tensor([1.0, 1.0, -1.0, 1.0, 1.0, 1.0]))
        assert _per_sample_gamma(2.0, (3,), torch.float32) == 2.0

    def test_per_class_alpha_equals_column_calls(self):
        gen = torch.Generator().manual_seed(10)
        x = (2 * torch.randn(8, 3, generator=gen, dtype=torch.float64)).requires_grad_()
        t = (torch.rand(8, 3, generator=gen) > 0.6).double()
        alpha = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
        out = sigmoid_focal_loss(x, t, alpha, 2.0)
        (g,) = torch.autograd.grad(out.sum(), x)
        for c in range(3):
            ref = sigmoid_focal_loss(x[:, c], t[:, c], float(alpha[c]), 2.0)
            torch.testing.assert_close(out[:, c], ref, rtol=1e-14, atol=0)
            (gc,) = torch.autograd.grad(ref.sum(), x)
            torch.testing.assert_close(g[:, c], gc[:, c], rtol=1e-14, atol=0)

    def test_alpha_errors(self):
        x, t = torch.randn(4, 3), torch.rand(4, 3)
        with pytest.raises(ValueError, match="`alpha` of shape \\(4,\\) does not broadcast"):
            sigmoid_focal_loss(x, t, torch.rand(4))
        with pytest.raises(ValueError, match="`alpha` must lie in \\[0, 1\\]"):
            sigmoid_focal_loss(x, t, torch.tensor([0.2, 1.5, 0.3]))


# ---------------------------------------------------------------------------
# regressions found by review
# ---------------------------------------------------------------------------


class TestReviewRegressions:
    def test_minus_inf_logit_with_smoothing_same_gradient_everywhere(self):
        z = torch.tensor([[1.0, -math.inf, 0.0]], dtype=torch.float64)
        y = torch.tensor([0])

        def f(zz):
            return focal_loss(zz, y, 2.0, label_smoothing=0.1)

        ze = z.clone().requires_grad_()
        eager = torch.autograd.grad(f(ze), ze)[0]
        traced = torch.func.grad(f)(z)
        (double,) = torch.autograd.grad(f(ze), ze, create_graph=True)
        torch.testing.assert_close(traced, eager, rtol=1e-12, atol=1e-15)
        torch.testing.assert_close(double.detach(), eager, rtol=1e-12, atol=1e-15)
        # the finite limit of the plain formula
        zf = torch.tensor([[1.0, -1e4, 0.0]], dtype=torch.float64, requires_grad=True)
        torch.testing.assert_close(eager, torch.autograd.grad(f(zf), zf)[0], rtol=1e-12, atol=1e-15)

    def test_bad_values_rejected_under_torch_func(self):
        z = torch.randn(3, 4)
        with pytest.raises((IndexError, RuntimeError)):
            torch.func.grad(lambda zz: focal_loss(zz, torch.tensor([0, 4, 1])))(z)
        with pytest.raises((IndexError, RuntimeError)):
            torch.func.vmap(lambda a, b: focal_loss(a, b))(z, torch.tensor([0, -1, 1]))
        with pytest.raises((IndexError, RuntimeError)):
            torch.func.vmap(lambda g: focal_loss(z, torch.tensor([0, 1, 2]), g))(
                torch.tensor([-1.0, 2.0])
            )

    def test_sigmoid_forward_mode(self):
        gen = torch.Generator().manual_seed(12)
        x = torch.randn(4, 3, generator=gen, dtype=torch.float64)
        t = torch.rand(4, 3, generator=gen, dtype=torch.float64)
        v = torch.randn(4, 3, generator=gen, dtype=torch.float64)
        for alpha in (None, 0.25, torch.tensor([0.2, 0.5, 0.8], dtype=torch.float64)):

            def f(xx, alpha=alpha):
                return sigmoid_focal_loss(xx, t, alpha, 2.0, "sum")

            _, jv = torch.func.jvp(f, (x,), (v,))
            xr = x.clone().requires_grad_()
            (g,) = torch.autograd.grad(f(xr), xr)
            torch.testing.assert_close(jv, (g * v).sum(), rtol=1e-12, atol=1e-14)
            hess = torch.func.hessian(f)(x)
            assert torch.isfinite(hess).all()

    @pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
    def test_empty_batch_like_bce(self, reduction):
        x = torch.zeros(0, 80, requires_grad=True)
        t = torch.zeros(0, 80)
        out = sigmoid_focal_loss(x, t, reduction=reduction)
        ref = F.binary_cross_entropy_with_logits(x, t, reduction=reduction)
        assert out.shape == ref.shape
        torch.testing.assert_close(out, ref, equal_nan=True)
        z = torch.zeros(0, 5, requires_grad=True)
        y = torch.zeros(0, dtype=torch.long)
        ce = F.cross_entropy(z, y, reduction=reduction)
        torch.testing.assert_close(focal_loss(z, y, reduction=reduction), ce, equal_nan=True)

    def test_scalar_parameter_tensors_follow_the_input(self):
        z = torch.randn(4, 3, device="meta")
        y = torch.zeros(4, dtype=torch.long, device="meta")
        assert focal_loss(z, y, torch.tensor(2.0)).device.type == "meta"
        t = torch.rand(4, 3, device="meta")
        assert sigmoid_focal_loss(z, t, torch.tensor(0.25)).device.type == "meta"
        assert FocalLoss(gamma=torch.tensor(2.0)).to("meta")(z, y).device.type == "meta"
        assert "gamma" in FocalLoss(gamma=torch.tensor(2.0)).state_dict()
        with pytest.raises(ValueError, match="`gamma` is on device cpu but the input is on meta"):
            focal_loss(z, y, torch.full((4,), 2.0))

    def test_module_constructors_check_arguments(self):
        with pytest.raises(ValueError, match="`label_smoothing` must lie in"):
            FocalLoss(label_smoothing=2.0)
        with pytest.raises(TypeError, match="`ignore_index` must be an integer"):
            FocalLoss(ignore_index="a")
        with pytest.raises(ValueError, match="`alpha` must be a number <= 1"):
            SigmoidFocalLoss(alpha=2.0)

    def test_ignored_rows_with_non_finite_logits_like_cross_entropy(self):
        inf = math.inf
        z = torch.tensor([[1.0, 2.0, 0.0], [-inf, -inf, -inf], [math.nan, 0.0, 1.0]])
        y = torch.tensor([0, -100, -100])
        for kw in ({}, {"label_smoothing": 0.1}, {"weight": torch.tensor([1.0, 2.0, 3.0])}):
            ce = F.cross_entropy(z, y, **kw)
            for compiled in (False, True):
                fn = lambda zz, kw=kw: focal_loss(zz, y, 0.0, **kw)  # noqa: E731
                if compiled:
                    fn = torch.compile(fn, fullgraph=True, backend="aot_eager")
                torch.testing.assert_close(fn(z), ce)

    def test_recover_checks_tensor_alpha(self):
        from focalentropy.torch import recover

        with pytest.raises(ValueError, match=r"`alpha` must be in \(0, 1\), got 2.0"):
            recover(torch.tensor([0.3]), 2.0, kind="sigmoid", alpha=torch.tensor([2.0]))
        with pytest.raises(ValueError, match=r"`alpha` must be positive, got -1\.0"):
            recover(torch.tensor([[0.3, 0.7]]), 2.0, alpha=torch.tensor([-1.0, 1.0]))
        q = torch.tensor([0.3, 0.9], dtype=torch.float64)
        torch.testing.assert_close(
            recover(q, 2.0, kind="sigmoid", alpha=-1), recover(q, 2.0, kind="sigmoid")
        )
