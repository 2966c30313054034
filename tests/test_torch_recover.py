"""focalentropy.torch.recover: the inverse map on tensors, in log space."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import focalentropy  # noqa: E402
from focalentropy.torch import recover  # noqa: E402

GAMMAS = (0.0, 0.5, 1.0, 2.0, 5.0)


def _mp_recover_log(logits, gamma, alpha=None, dps=1200):
    """log P from softmax logits, in mpmath: P_c ∝ 1 / (alpha_c phi(q_c)).

    ``dps`` must resolve ``1 - q`` for logit gaps of ~800 (q = 1 - e^-800).
    """
    with mpmath.workdps(dps):
        z = [mpmath.mpf(float(v)) for v in logits]
        m = max(z)
        e = [mpmath.exp(v - m) for v in z]
        s = mpmath.fsum(e)
        g = mpmath.mpf(gamma)
        inv = []
        for c, ec in enumerate(e):
            q = ec / s
            r = mpmath.fsum(e[k] for k in range(len(e)) if k != c) / s
            phi = r**g / q - (g * r ** (g - 1) * mpmath.log(q) if gamma else 0)
            a = 1 if alpha is None else mpmath.mpf(float(alpha[c]))
            inv.append(1 / (a * phi))
        total = mpmath.fsum(inv)
        return [float(mpmath.log(v / total)) for v in inv]


class TestAgainstNumpy:
    @pytest.mark.parametrize("gamma", GAMMAS)
    @pytest.mark.parametrize("weighted", [False, True])
    def test_softmax(self, gamma, weighted):
        rng = np.random.default_rng(0)
        p = rng.dirichlet(np.full(6, 0.5), size=(4, 3))  # (4, 3, 6): classes last
        alpha = rng.uniform(0.5, 2.0, 6) if weighted else None
        q = focalentropy.minimizer(p, gamma, alpha=alpha)
        ref = focalentropy.recover(q, gamma, alpha=alpha)
        qt = torch.from_numpy(q).movedim(-1, 1)  # classes along dim 1
        a = None if alpha is None else torch.from_numpy(alpha)
        got = recover(qt, gamma, alpha=a).movedim(1, -1).numpy()
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(got, p, rtol=1e-10, atol=1e-14)
        log_got = recover(qt, gamma, alpha=a, log=True).movedim(1, -1).numpy()
        np.testing.assert_allclose(log_got, np.log(ref), rtol=1e-12, atol=1e-13)

    @pytest.mark.parametrize("gamma", GAMMAS)
    @pytest.mark.parametrize("alpha", [None, 0.25])
    def test_sigmoid(self, gamma, alpha):
        q = np.array([[1e-12, 0.01, 0.3], [0.5, 0.9, 1 - 1e-9]])
        ref = focalentropy.recover(q, gamma, alpha=alpha, kind="sigmoid")
        got = recover(torch.from_numpy(q), gamma, alpha=alpha, kind="sigmoid").numpy()
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0)

    def test_unbatched_uses_dim_zero(self):
        q = torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64)
        ref = focalentropy.recover(q.numpy(), 2.0)
        np.testing.assert_allclose(recover(q, 2.0).numpy(), ref, rtol=1e-12)

    def test_zeros_and_ones(self):
        q = torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]], dtype=torch.float64)
        got = recover(q, 2.0)
        assert torch.equal(got[0], q[0])
        assert got[1, 2] == 0.0
        s = recover(torch.tensor([0.0, 1.0], dtype=torch.float64), 2.0, kind="sigmoid")
        assert s.tolist() == [0.0, 1.0]


class TestFromLogits:
    @pytest.mark.parametrize("gamma", GAMMAS)
    def test_saturated_rows_against_mpmath(self, gamma):
        rows = [[0.0, 1.0, -2.0], [50.0, 0.0, -1.0], [800.0, 0.0, 3.0], [0.0, -700.0, 1.0]]
        z = torch.tensor(rows, dtype=torch.float64)
        alpha = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
        for a in (None, alpha):
            got = recover(z, gamma, alpha=a, from_logits=True, log=True)
            for i, row in enumerate(rows):
                ref = _mp_recover_log(row, gamma, None if a is None else a.tolist())
                np.testing.assert_allclose(got[i].numpy(), ref, rtol=1e-12, atol=1e-13)
                assert torch.isfinite(got[i]).all()

    def test_equals_probabilities_at_moderate_logits(self):
        z = torch.randn(5, 4, dtype=torch.float64)
        a = recover(z, 2.0, from_logits=True)
        b = recover(torch.softmax(z, 1), 2.0)
        torch.testing.assert_close(a, b, rtol=1e-12, atol=0)
        x = torch.randn(7, dtype=torch.float64)
        a = recover(x, 2.0, kind="sigmoid", from_logits=True, alpha=0.25)
        b = recover(torch.sigmoid(x), 2.0, kind="sigmoid", alpha=0.25)
        torch.testing.assert_close(a, b, rtol=1e-12, atol=0)

    def test_sigmoid_saturated_log(self):
        x = torch.tensor([-800.0, -40.0, 40.0, 800.0], dtype=torch.float64)
        got = recover(x, 2.0, kind="sigmoid", from_logits=True, log=True)
        assert torch.isfinite(got).all()
        # far in the tails log phi(q) ~ -log q (q -> 0) and log 3 + gamma log(1 - q) (q -> 1):
        # at t = -800, logit P = (log 3 - 2 * 800) - 800
        assert got[0].item() == pytest.approx(math.log(3.0) - 3 * 800.0, rel=1e-14)
        assert got[3].item() == 0.0  # log P = -exp(-2398.9) underflows


class TestTransforms:
    def test_gradcheck(self):
        z = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda zz: recover(zz, 2.0, from_logits=True), (z,))
        assert torch.autograd.gradcheck(lambda zz: recover(zz, 0.5, from_logits=True), (z,))
        x = torch.randn(5, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(
            lambda xx: recover(xx, 2.0, kind="sigmoid", from_logits=True, alpha=0.25), (x,)
        )

    def test_compile_and_fake(self):
        z = torch.randn(6, 5, 2)
        eager = recover(torch.softmax(z, 1), 2.0)
        fn = torch.compile(lambda q: recover(q, 2.0), fullgraph=True, backend="aot_eager")
        torch.testing.assert_close(fn(torch.softmax(z, 1)), eager)
        torch._dynamo.reset()
        out = recover(torch.rand(4, 3, device="meta"), 2.0, kind="sigmoid")
        assert out.device.type == "meta"

    def test_half_precision_is_computed_in_float32(self):
        q = torch.softmax(torch.randn(4, 6), 1)
        for dtype in (torch.float16, torch.bfloat16):
            out = recover(q.to(dtype), 2.0)
            assert out.dtype == dtype
            torch.testing.assert_close(out, recover(q.to(dtype).float(), 2.0).to(dtype))


class TestErrors:
    def test_messages(self):
        with pytest.raises(ValueError, match=r"`input` must hold probabilities in \[0, 1\]"):
            recover(torch.tensor([[0.5, 1.5]]), 2.0)
        with pytest.raises(ValueError, match="`kind` must be one of"):
            recover(torch.tensor([[0.5, 0.5]]), 2.0, kind="tanh")
        with pytest.raises(ValueError, match=r"`alpha` must have shape \(2,\)"):
            recover(torch.tensor([[0.5, 0.5]]), 2.0, alpha=torch.ones(3))
        with pytest.raises(ValueError, match=r"`alpha` must lie in \(0, 1\)"):
            recover(torch.tensor([0.5]), 2.0, kind="sigmoid", alpha=1.5)
        with pytest.raises(TypeError, match=r"`input` must be a torch\.Tensor"):
            recover(np.array([0.5, 0.5]), 2.0)
        with pytest.raises(ValueError, match="`gamma` must be a finite number >= 0"):
            recover(torch.tensor([0.5, 0.5]), -1.0)
        with pytest.raises(ValueError, match="`dim` 3 is out of range"):
            recover(torch.rand(2, 3), 2.0, dim=3)
