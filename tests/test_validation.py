"""Bad input raises ValueError/TypeError naming the argument and the first offender.

Every public function checks its arguments up front (``_validation.py``), so
that bad input never turns into a silent NaN; the messages quote the argument
in backticks and give the offending index and value.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from focalentropy import (
    cross_entropy,
    divergence,
    entropy,
    gradient_weight,
    loss,
    max_gradient_weight,
    minimizer,
    phi,
    phi_inverse,
    recover,
    regimes,
)
from focalentropy._validation import SUM_TOLERANCE

P = [0.5, 0.3, 0.2]

#: functions taking a distribution ``p`` first and ``gamma`` second
DISTRIBUTION_FUNCS = [
    pytest.param(lambda p, g, **kw: minimizer(p, g, **kw), id="minimizer"),
    pytest.param(lambda p, g, **kw: entropy(p, g, **kw), id="entropy"),
    pytest.param(lambda p, g, **kw: regimes(p, g, **kw), id="regimes"),
    pytest.param(lambda p, g, **kw: cross_entropy(p, P, g, **kw), id="cross_entropy"),
    pytest.param(lambda p, g, **kw: divergence(p, P, g, **kw), id="divergence"),
]
#: every function with a ``gamma`` argument
GAMMA_FUNCS = [
    *DISTRIBUTION_FUNCS,
    pytest.param(lambda p, g: recover(p, g), id="recover"),
    pytest.param(lambda p, g: loss(p, g), id="loss"),
    pytest.param(lambda p, g: phi(p, g), id="phi"),
    pytest.param(lambda p, g: gradient_weight(p, g), id="gradient_weight"),
    pytest.param(lambda p, g: phi_inverse(p, g), id="phi_inverse"),
    pytest.param(lambda p, g: minimizer(p, g, kind="sigmoid"), id="sigmoid"),
]


class TestDistribution:
    @pytest.mark.parametrize("func", DISTRIBUTION_FUNCS)
    def test_negative_entry(self, func):
        with pytest.raises(
            ValueError, match=r"`p` must contain probabilities .*-0\.1.* at index 1"
        ):
            func([0.6, -0.1, 0.5], 2.0)

    @pytest.mark.parametrize("func", DISTRIBUTION_FUNCS)
    def test_nan_entry_reports_nd_index(self, func):
        p = np.array([[0.5, 0.5, 0.0], [0.2, np.nan, 0.8]])
        with pytest.raises(ValueError, match=r"`p` must contain probabilities .*nan.* \(1, 1\)"):
            func(p, 2.0)

    @pytest.mark.parametrize("func", DISTRIBUTION_FUNCS)
    def test_entry_above_one(self, func):
        with pytest.raises(ValueError, match=r"`p` must contain probabilities .*1\.5.* at index 2"):
            func([0.0, 0.0, 1.5], 2.0)

    @pytest.mark.parametrize("func", DISTRIBUTION_FUNCS)
    def test_row_not_summing_to_one_names_row(self, func):
        p = np.array([[0.5, 0.3, 0.2], [0.5, 0.3, 0.3]])
        with pytest.raises(ValueError, match=r"`p` must sum to 1 .*\(row 1\).*1\.1"):
            func(p, 2.0)

    @pytest.mark.parametrize("k", [2, 100, 10_000])
    def test_sum_tolerance_scales_with_sqrt_k(self, k):
        tol = SUM_TOLERANCE * np.sqrt(k)
        p = np.full(k, 1.0 / k)
        p_ok = p.copy()
        p_ok[0] += 0.9 * tol
        minimizer(p_ok, 2.0)  # accepted
        p_bad = p.copy()
        p_bad[0] += 1.1 * tol
        with pytest.raises(ValueError, match=rf"tolerance {tol:.1e}"):
            minimizer(p_bad, 2.0)
        p_bad[0] -= 2.2 * tol
        with pytest.raises(ValueError, match="`p` must sum to 1"):
            minimizer(p_bad, 2.0)

    def test_q_checked_in_cross_entropy(self):
        with pytest.raises(
            ValueError, match=r"`q` must contain probabilities .*-0\.5.* at index 1"
        ):
            cross_entropy([0.5, 0.5], [0.5, -0.5], 2.0)
        with pytest.raises(ValueError, match="`q` must sum to 1"):
            divergence([0.5, 0.5], [0.5, 0.6], 2.0)

    def test_recover_checks_q(self):
        with pytest.raises(ValueError, match="`q` must sum to 1"):
            recover([0.5, 0.6], 2.0)
        with pytest.raises(ValueError, match=r"`q` must contain probabilities .* index 0"):
            recover([-0.5, 1.5], 2.0)

    @pytest.mark.parametrize("func", [minimizer, recover, entropy])
    def test_zero_dim(self, func):
        with pytest.raises(ValueError, match="must have at least one dimension"):
            func(np.float64(1.0), 2.0)

    def test_no_classes(self):
        with pytest.raises(ValueError, match="`p` must have at least one class"):
            minimizer(np.zeros((2, 0)), 2.0)

    def test_string_input(self):
        with pytest.raises(TypeError, match="`p` must be array-like of real numbers, got str"):
            minimizer("0.5, 0.5", 2.0)
        with pytest.raises(TypeError, match="`p` must be array-like of real numbers"):
            minimizer([0.5, "a"], 2.0)  # type: ignore[arg-type]  # the error under test
        with pytest.raises(TypeError, match="`q` must be array-like"):
            loss(b"0.5", 2.0)

    @pytest.mark.parametrize("p", [[0.5, "0.5"], np.array(["0.5", "0.5"])])
    def test_numeric_strings_rejected(self, p):
        with pytest.raises(TypeError, match="`p` must be array-like of real numbers"):
            minimizer(p, 2.0)

    def test_complex_input(self):
        with pytest.raises(TypeError, match="`p` must be real"):
            minimizer(np.array([0.5 + 0j, 0.5]), 2.0)

    def test_axis(self):
        with pytest.raises(ValueError, match="`axis` 3 is out of bounds for `p` with 1 dims"):
            minimizer(P, 2.0, axis=3)
        with pytest.raises(TypeError, match="`axis` must be an integer, got float"):
            minimizer(P, 2.0, axis=1.0)  # type: ignore[call-overload]  # the error under test


class TestGamma:
    @pytest.mark.parametrize("func", GAMMA_FUNCS)
    @pytest.mark.parametrize("gamma", [-1.0, -1e-300, np.nan, np.inf, -np.inf])
    def test_out_of_range(self, func, gamma):
        with pytest.raises(ValueError, match=rf"`gamma` must be a finite number >= 0, got {gamma}"):
            func(P, gamma)

    @pytest.mark.parametrize("func", GAMMA_FUNCS)
    @pytest.mark.parametrize(
        ("gamma", "kind"), [("2", "str"), (None, "NoneType"), (True, "bool"), ([2.0], "list")]
    )
    def test_not_a_number(self, func, gamma, kind):
        with pytest.raises(TypeError, match=f"`gamma` must be a real number, got {kind}"):
            func(P, gamma)

    def test_array(self):
        with pytest.raises(
            TypeError, match=r"`gamma` must be a scalar, got an array of shape \(2,\)"
        ):
            minimizer(P, np.array([1.0, 2.0]))  # type: ignore[call-overload]  # under test

    def test_numpy_scalars_accepted(self):
        expected = minimizer(P, 2.0)
        for gamma in (np.float32(2.0), np.int64(2), np.array(2.0), 2):
            # numpy scalars and 0-d arrays are accepted at run time (the hint says float)
            np.testing.assert_array_equal(minimizer(P, gamma), expected)  # type: ignore[arg-type]

    def test_max_gradient_weight_needs_positive_gamma(self):
        with pytest.raises(ValueError, match="`gamma` must be > 0"):
            max_gradient_weight(0.0)


class TestAlpha:
    @pytest.mark.parametrize("func", DISTRIBUTION_FUNCS)
    def test_non_positive_entry(self, func):
        with pytest.raises(
            ValueError, match=r"`alpha` must be positive and finite; found .*0\.0.* at index 2"
        ):
            func(P, 2.0, alpha=[1.0, 2.0, 0.0])

    @pytest.mark.parametrize("alpha", [-1.0, 0.0, np.inf, np.nan])
    def test_bad_scalar(self, alpha):
        with pytest.raises(
            ValueError, match=rf"`alpha` must be positive and finite; found {alpha}"
        ):
            minimizer(P, 2.0, alpha=alpha)

    def test_shape_mismatch(self):
        with pytest.raises(ValueError, match=r"`alpha` with shape \(2,\) does not broadcast"):
            minimizer(P, 2.0, alpha=[1.0, 2.0])
        with pytest.raises(ValueError, match="`alpha` has 3 dims, more than the distribution's 1"):
            minimizer(P, 2.0, alpha=np.ones((1, 1, 3)))

    def test_recover_checks_alpha(self):
        with pytest.raises(ValueError, match="`alpha` must be positive"):
            recover(P, 2.0, alpha=[1.0, -2.0, 1.0])

    @pytest.mark.parametrize("alpha", [0.0, 1.0, 1.5, -0.2])
    @pytest.mark.parametrize("func", [minimizer, recover])
    def test_sigmoid_alpha_range(self, func, alpha):
        msg = re.escape(f'`alpha` must lie in (0, 1) for kind="sigmoid", got {alpha}')
        with pytest.raises(ValueError, match=msg):
            func([0.2, 0.7], 2.0, kind="sigmoid", alpha=alpha)

    def test_sigmoid_alpha_must_be_scalar(self):
        with pytest.raises(TypeError, match="`alpha` must be None or a real number, got list"):
            minimizer([0.2, 0.7], 2.0, kind="sigmoid", alpha=[0.25, 0.25])


class TestOtherArguments:
    @pytest.mark.parametrize("func", [minimizer, recover])
    def test_unknown_kind(self, func):
        with pytest.raises(
            ValueError, match=r"`kind` must be one of .*softmax.*sigmoid.*got 'softmx'"
        ):
            func(P, 2.0, kind="softmx")

    def test_return_multiplier_sigmoid(self):
        with pytest.raises(ValueError, match="`return_multiplier` is only defined"):
            minimizer(P, 2.0, kind="sigmoid", return_multiplier=True)

    @pytest.mark.parametrize("func", [cross_entropy, divergence])
    def test_p_q_shapes(self, func):
        with pytest.raises(
            ValueError, match=r"`p` and `q` must have broadcastable shapes .*\(2,\) and \(3,\)"
        ):
            func([0.5, 0.5], P, 2.0)

    @pytest.mark.parametrize("func", [loss, phi, gradient_weight])
    def test_elementwise_range(self, func):
        with pytest.raises(
            ValueError, match=r"`q` must contain probabilities in \[0, 1\]; found .*1\.5.* index 1"
        ):
            func([0.5, 1.5], 2.0)

    def test_phi_inverse_range(self):
        with pytest.raises(ValueError, match=r"`y` must be >= 0\.0 .*-1\.0.* at index 1"):
            phi_inverse([0.5, -1.0], 2.0)
        with pytest.raises(ValueError, match=r"`y` must be >= 1\.0"):
            phi_inverse([0.5], 0.0)

    def test_sigmoid_p_range(self):
        with pytest.raises(ValueError, match=r"`p` must contain probabilities .*1\.2.* at index 1"):
            minimizer([0.5, 1.2], 2.0, kind="sigmoid")


class TestArrayLikes:
    """CPU tensors and other array-likes go through ``np.asarray``; other devices are refused."""

    @pytest.mark.parametrize("func", GAMMA_FUNCS)
    def test_cpu_tensor_accepted(self, func):
        torch = pytest.importorskip("torch")
        x = [0.5, 0.3, 0.2]
        tensor = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        expected = func(np.array(x), 2.0)
        got = func(tensor, torch.tensor(2.0))
        if isinstance(expected, np.ndarray):
            assert type(got) is np.ndarray
            np.testing.assert_array_equal(got, expected)
        elif hasattr(expected, "minimizer"):  # regimes
            np.testing.assert_array_equal(got.minimizer, expected.minimizer)
        else:
            assert got == expected

    def test_float32_tensor_and_alpha_tensor(self):
        torch = pytest.importorskip("torch")
        p32 = torch.softmax(torch.tensor([2.0, 1.0, -1.0, 0.5]), dim=0)
        alpha = torch.tensor([1.0, 2.0, 1.0, 0.5])
        got = minimizer(p32, 2.0, alpha=alpha)
        want = minimizer(p32.numpy(), 2.0, alpha=alpha.numpy())
        np.testing.assert_array_equal(got, want)
        assert minimizer(p32, 2.0, kind="sigmoid", alpha=torch.tensor(0.25)).shape == (4,)
        assert np.isfinite(entropy(torch.tensor([[0.5, 0.5]]), 1.0, alpha=alpha[:2]))

    @pytest.mark.parametrize("func", GAMMA_FUNCS)
    def test_non_cpu_tensor_refused(self, func):
        torch = pytest.importorskip("torch")
        tensor = torch.empty(3, device="meta")
        with pytest.raises(
            TypeError, match=r"`(p|q|y)` is a torch tensor on device 'meta'.*focalentropy\.torch"
        ):
            func(tensor, 2.0)

    def test_non_cpu_gamma_and_alpha_refused(self):
        torch = pytest.importorskip("torch")
        meta = torch.empty((), device="meta")
        with pytest.raises(TypeError, match=r"`gamma` is a torch tensor on device 'meta'"):
            minimizer(P, meta)
        with pytest.raises(TypeError, match=r"`alpha` is a torch tensor on device 'meta'"):
            minimizer(P, 2.0, alpha=torch.empty(3, device="meta"))
        with pytest.raises(TypeError, match=r"`alpha` is a torch tensor on device 'meta'"):
            minimizer([0.5], 2.0, kind="sigmoid", alpha=meta)

    def test_other_array_likes(self):
        class ArrayLike:
            def __array__(self, dtype=None, copy=None):
                return np.array(P, dtype=dtype)

        np.testing.assert_array_equal(minimizer(ArrayLike(), 2.0), minimizer(P, 2.0))
        np.testing.assert_array_equal(minimizer(tuple(P), 2.0), minimizer(P, 2.0))

    def test_import_does_not_load_torch(self):
        import subprocess
        import sys

        code = "import sys, focalentropy; print('torch' in sys.modules)"
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == "False"


class TestMethod:
    def test_unknown_method(self):
        with pytest.raises(ValueError, match=r"`method` must be one of .*'fast'"):
            minimizer(P, 2.0, method="fast")  # type: ignore[call-overload]  # under test


def test_messages_print_plain_numbers():
    with pytest.raises(ValueError, match=r"found -2\.0 at index 1$") as info:
        minimizer([0.5, 0.5], 2.0, alpha=[1.0, -2.0])
    assert "np.float64" not in str(info.value)


class TestValidateOnce:
    """Each public function checks its distribution argument once, then calls private
    cores on the clean array (no public function calls another)."""

    @pytest.mark.parametrize(
        "call",
        [
            lambda fe, p: fe.regimes(p, 2.0),
            lambda fe, p: fe.entropy(p, 2.0),
            lambda fe, p: fe.divergence(p, p, 2.0),
            lambda fe, p: fe.minimizer(p, 2.0),
            lambda fe, p: fe.asymptotics.tail_ratio(p, 2.0),
        ],
        ids=["regimes", "entropy", "divergence", "minimizer", "tail_ratio"],
    )
    def test_one_check_per_argument(self, monkeypatch, call):
        import importlib

        import focalentropy as fe
        from focalentropy import _validation

        calls = []
        real = _validation.check_distribution

        def counting(p, name, *args, **kwargs):
            calls.append(name)
            return real(p, name, *args, **kwargs)

        for module in ("_regimes", "_entropy", "_minimizer", "asymptotics"):
            mod = importlib.import_module(f"focalentropy.{module}")
            if hasattr(mod, "check_distribution"):
                monkeypatch.setattr(mod, "check_distribution", counting)
        call(fe, np.array([0.5, 0.3, 0.2]))
        assert sorted(calls) == sorted(set(calls)), calls  # each argument checked once
