"""Tests for lab01_utils/nn/activation.py: SiLU and sigmoid."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from helpers import (
    PARITY_RTOL_F64,
    SILU,
    assert_close,
    assert_untouched,
    compare_with_torch,
    gradcheck_layer,
    parity_rtol,
)

from lab01_utils.nn import SiLU, sigmoid

pytestmark = pytest.mark.needs(*SILU)

EXTREMES = [-1000.0, -100.0, -40.0, 0.0, 40.0, 100.0, 1000.0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("training", [True, False])
def test_parity_with_torch(rng, dtype, training):
    x = 4.0 * rng.standard_normal((2, 3, 4, 5))
    compare_with_torch(SiLU(), torch.nn.SiLU(), x, dtype, training, rng)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_matches_torch(dtype):
    x = np.linspace(-30, 30, 601).astype(dtype)
    s = sigmoid(x)
    assert s.dtype == np.dtype(dtype)
    assert_close(s, torch.sigmoid(torch.from_numpy(x)), parity_rtol(dtype), "sigmoid")


def test_sigmoid_does_not_modify_its_input():
    x = np.linspace(-3, 3, 7)
    before = x.copy()
    sigmoid(x)
    np.testing.assert_array_equal(x, before)


def test_gradcheck(rng):
    gradcheck_layer(SiLU(), 2.0 * rng.standard_normal((2, 3, 2, 2)), rng)


def test_gradcheck_on_a_matrix(rng):
    """SiLU takes any shape, e.g. `(N, features)`."""
    gradcheck_layer(SiLU(), 2.0 * rng.standard_normal((3, 5)), rng)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_inputs_no_warnings_and_correct_limits(dtype):
    """SiLU(x) -> x and SiLU'(x) -> 1 as x -> +inf; both -> 0 as x -> -inf. The given
    `sigmoid` never warns; a SiLU written as `1 / (1 + np.exp(-x))` may warn of an overflow in
    `exp` (its values are still right: check 1.1 says so in a note), but nothing may be nan."""
    x = np.array(EXTREMES, dtype=dtype)
    layer = SiLU()
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        s = sigmoid(x)
    with np.errstate(over="ignore"):
        y = layer(x)
        dx = layer.backward(np.ones_like(x))
    for a in (s, y, dx):
        assert a.dtype == np.dtype(dtype) and np.all(np.isfinite(a))
    big = np.abs(x) >= 100
    # exp(-100) and below are 0 next to 1 (and tiny, not 0, next to 0: as torch gives them)
    np.testing.assert_allclose(s[big], (x[big] > 0).astype(dtype), rtol=0, atol=1e-30)
    np.testing.assert_allclose(y[big], np.where(x[big] > 0, x[big], 0), rtol=0, atol=1e-30)
    np.testing.assert_allclose(dx[big], (x[big] > 0).astype(dtype), rtol=0, atol=1e-30)
    assert y[x == 0] == 0 and s[x == 0] == 0.5 and dx[x == 0] == 0.5
    # and agree with torch everywhere, including the moderately large entries
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.silu(xt)
    yt.backward(torch.ones_like(xt))
    assert_close(y, yt, parity_rtol(dtype), "SiLU(x)")
    assert_close(dx, xt.grad, parity_rtol(dtype), "SiLU'(x)")


def test_minimum_and_shape(rng):
    """SiLU's minimum value is about -0.2785; it keeps shape and dtype."""
    x = np.linspace(-3, 0, 30001)
    y = SiLU()(x)
    assert abs(y.min() - (-0.278464542761074)) < 1e-8
    x32 = rng.standard_normal((2, 3, 4)).astype(np.float32)
    assert SiLU()(x32).shape == x32.shape and SiLU()(x32).dtype == np.float32


def test_caller_arrays_untouched(rng):
    layer = SiLU()
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    dy = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    copies = {"x": x.copy(), "dy": dy.copy()}
    layer(x)
    layer.backward(dy)
    layer.backward(dy)
    assert_untouched({"x": x, "dy": dy}, copies)


def test_backward_is_repeatable(rng):
    layer = SiLU()
    x, dy = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    layer(x)
    first = layer.backward(dy).copy()
    layer(x)
    assert_close(layer.backward(dy), first, PARITY_RTOL_F64, "second backward")


def test_bad_input_raises():
    layer = SiLU()
    with pytest.raises(TypeError, match="SiLU"):
        layer([1.0, 2.0])
    with pytest.raises(RuntimeError, match="before forward"):
        SiLU().backward(np.zeros(3))
    layer(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"SiLU.*\(3, 2\).*\(2, 3\)"):
        layer.backward(np.zeros((3, 2)))
