"""Tests for lab01_utils/nn/pooling.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import (
    PARITY_RTOL_F64,
    assert_close,
    assert_untouched,
    channels_last,
    compare_with_torch,
    gradcheck_layer,
)

from lab01_utils import torch_model
from lab01_utils.nn import GlobalAvgPool2d


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("training", [True, False])
def test_parity_with_torch_twin(rng, dtype, training):
    x = rng.standard_normal((3, 4, 5, 6))
    compare_with_torch(GlobalAvgPool2d(), torch_model.GlobalAvgPool2d(), x, dtype, training, rng)


def test_equals_adaptive_avg_pool_then_flatten(rng):
    x = rng.standard_normal((2, 3, 4, 4))
    ref = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    assert_close(GlobalAvgPool2d()(x), ref(torch.from_numpy(x)), PARITY_RTOL_F64, "pool")


def test_gradcheck(rng):
    gradcheck_layer(GlobalAvgPool2d(), rng.standard_normal((2, 3, 3, 2)), rng)


def test_channels_last_input(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    x_cl = channels_last(x)
    assert_close(GlobalAvgPool2d()(x_cl), x.mean(axis=(2, 3)), PARITY_RTOL_F64, "pool")


def test_caller_arrays_untouched(rng):
    layer = GlobalAvgPool2d()
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    dy = rng.standard_normal((2, 3)).astype(np.float32)
    copies = {"x": x.copy(), "dy": dy.copy()}
    layer(x)
    dx = layer.backward(dy)
    dx += 1.0  # the returned gradient must be the caller's own array, not a view of dy
    assert_untouched({"x": x, "dy": dy}, copies)


def test_bad_input_raises():
    with pytest.raises(ValueError, match=r"GlobalAvgPool2d.*\(N, C, H, W\).*\(2, 3\)"):
        GlobalAvgPool2d()(np.zeros((2, 3), dtype=np.float32))
    layer = GlobalAvgPool2d()
    layer(np.zeros((2, 3, 4, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"GlobalAvgPool2d.*\(2, 4\).*\(2, 3\)"):
        layer.backward(np.zeros((2, 4), dtype=np.float32))
