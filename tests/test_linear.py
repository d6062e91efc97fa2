"""Tests for lab01_utils/nn/linear.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import LINEAR, assert_untouched, compare_with_torch, gradcheck_layer

from lab01_utils.nn import Linear

pytestmark = pytest.mark.needs(*LINEAR)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_parity_with_torch(rng, dtype, training, bias):
    layer = Linear(6, 4, bias=bias, rng=rng)
    compare_with_torch(
        layer, torch.nn.Linear(6, 4, bias=bias), rng.standard_normal((5, 6)), dtype, training, rng
    )


@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck(rng, bias):
    layer = Linear(4, 3, bias=bias, rng=rng, dtype=np.float64)
    errors = gradcheck_layer(layer, rng.standard_normal((3, 4)), rng)
    assert set(errors) == ({"dx", "weight", "bias"} if bias else {"dx", "weight"})


def test_layout_and_init_like_torch():
    layer = Linear(8, 3, rng=np.random.default_rng(0))
    assert layer.weight.data.shape == (3, 8) and layer.bias.data.shape == (3,)
    assert layer.weight.data.dtype == np.float32
    bound = 1 / np.sqrt(8)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.bias.data).max() <= bound
    assert list(layer.state_dict()) == list(torch.nn.Linear(8, 3).state_dict())
    assert list(Linear(8, 3, bias=False).state_dict()) == ["weight"]


def test_caller_arrays_untouched(rng):
    layer = Linear(4, 3, rng=rng)
    x = rng.standard_normal((2, 4)).astype(np.float32)
    dy = rng.standard_normal((2, 3)).astype(np.float32)
    copies = {"x": x.copy(), "dy": dy.copy()}
    layer(x)
    layer.backward(dy)
    assert_untouched({"x": x, "dy": dy}, copies)


def test_backward_overwrites_grads(rng):
    layer = Linear(4, 3, rng=rng, dtype=np.float64)
    x, dy = rng.standard_normal((2, 4)), rng.standard_normal((2, 3))
    layer(x)
    layer.backward(dy)
    first = {n: p.grad.copy() for n, p in layer.named_parameters()}
    layer(x)
    layer.backward(dy)
    for n, p in layer.named_parameters():
        np.testing.assert_array_equal(p.grad, first[n], err_msg=f"{n} accumulated")


def test_wrong_feature_count_raises():
    x = np.zeros((2, 5), dtype=np.float32)
    with pytest.raises(ValueError, match="Linear") as info:
        Linear(4, 3)(x)
    assert "(N, 4)" in str(info.value) and str(x.shape) in str(info.value)


def test_wrong_rank_raises():
    x = np.zeros((2, 4, 1), dtype=np.float32)
    with pytest.raises(ValueError, match="Linear") as info:
        Linear(4, 3)(x)
    assert "(N, features)" in str(info.value) and str(x.shape) in str(info.value)


def test_backward_before_forward_raises():
    with pytest.raises(RuntimeError, match="before forward"):
        Linear(2, 2).backward(np.zeros((1, 2), dtype=np.float32))
