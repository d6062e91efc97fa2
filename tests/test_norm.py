"""Tests for lab01_utils/nn/norm.py: BatchNorm2d against torch, by finite differences, and
its conventions (per-channel statistics, momentum weighing the new batch, unbiased
running_var)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import (
    NORM,
    PARITY_RTOL_F64,
    PROPERTY_SETTINGS,
    assert_untouched,
    channels_last,
    compare_with_torch,
    copy_to_torch,
    gradcheck_layer,
    parity_rtol,
    randomize,
)
from hypothesis import assume, given
from hypothesis import strategies as st

from lab01_utils.nn import BatchNorm2d

pytestmark = pytest.mark.needs(*NORM)


# ----------------------------------------------------------------------------- torch parity
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("training", [True, False])
def test_parity_with_torch(rng, dtype, training):
    layer = randomize(BatchNorm2d(4), rng)
    x = 2.0 + 3.0 * rng.standard_normal((3, 4, 5, 4))
    compare_with_torch(layer, torch.nn.BatchNorm2d(4), x, dtype, training, rng)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_running_stats_after_several_forwards(rng, dtype):
    """Three training forwards of different batches, with non-default eps and momentum."""
    layer = BatchNorm2d(3, eps=1e-3, momentum=0.3)
    twin = torch.nn.BatchNorm2d(3, eps=1e-3, momentum=0.3)
    randomize(layer, rng)
    layer.to(dtype)
    copy_to_torch(layer, twin, dtype)
    rtol = parity_rtol(dtype)
    for _ in range(3):
        x = (1.0 + rng.standard_normal((2, 3, 4, 4))).astype(dtype)
        y = layer(x)
        yt = twin(torch.from_numpy(x.copy()))
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=rtol * np.abs(y).max())
    for name in ("running_mean", "running_var"):
        b, bt = getattr(layer, name), getattr(twin, name).numpy()
        np.testing.assert_allclose(b, bt, rtol=rtol, atol=0, err_msg=name)
    assert int(layer.num_batches_tracked) == int(twin.num_batches_tracked) == 6  # 3 + 3


def test_channels_last_input_gives_the_same_results(rng):
    layer = randomize(BatchNorm2d(3), rng).to(np.float64)
    x, dy = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 3, 4, 5))
    y_ref, dx_ref = layer(x).copy(), layer.backward(dy).copy()
    y, dx = layer(channels_last(x)), layer.backward(channels_last(dy))
    np.testing.assert_allclose(y, y_ref, rtol=0, atol=1e-14)
    np.testing.assert_allclose(dx, dx_ref, rtol=0, atol=1e-14)


# ----------------------------------------------------------------------------- gradient checks
@pytest.mark.parametrize("training", [True, False])
def test_gradcheck(rng, training):
    layer = randomize(BatchNorm2d(3), rng).to(np.float64).train(training)
    gradcheck_layer(layer, 1.0 + rng.standard_normal((2, 3, 3, 4)), rng)


# ----------------------------------------------------------------------------- properties
@PROPERTY_SETTINGS
@given(
    n=st.integers(1, 4),
    c=st.integers(1, 5),
    h=st.integers(1, 5),
    w=st.integers(1, 5),
    training=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_property_random_shapes_match_torch(n, c, h, w, training, seed):
    # Training needs M = N*H*W > 1 (torch refuses one value per channel too). At M = 2 the
    # output is +-gamma + beta whatever x is, so dx is round-off around 0 and a relative
    # error means nothing: that case has its own test below.
    assume(not training or n * h * w > 2)
    rng = np.random.default_rng(seed)
    layer = randomize(BatchNorm2d(c), rng)
    x = rng.standard_normal((n, c, h, w)) * rng.uniform(0.1, 10) + rng.uniform(-5, 5)
    errors = compare_with_torch(layer, torch.nn.BatchNorm2d(c), x, np.float64, training, rng)
    assert max(errors.values()) <= PARITY_RTOL_F64


def test_two_values_per_channel_output_ignores_x(rng):
    """With M = 2 the normalised values are exactly -1 and +1 (up to eps), so dx ~ 0."""
    layer = randomize(BatchNorm2d(3), rng).to(np.float64)
    centre, half_gap = rng.standard_normal(3), rng.uniform(1, 2, 3)
    x = (centre + np.array([[-1.0], [1.0]]) * half_gap)[:, :, None, None]  # (2, 3, 1, 1)
    dy = rng.standard_normal((2, 3, 1, 1))
    y = layer(x)
    xhat = np.array([-1.0, 1.0])[:, None, None, None]
    expected = xhat * layer.weight.data[:, None, None] + layer.bias.data[:, None, None]
    np.testing.assert_allclose(y, expected, atol=1e-5)  # eps = 1e-5 shrinks |xhat| a little
    dx = layer.backward(dy)
    assert np.abs(dx).max() <= 1e-4 * np.abs(dy).max() * np.abs(layer.weight.data).max()


# ----------------------------------------------------------------------------- conventions
def test_normalises_each_channel_over_n_h_w(rng):
    """Per channel, not per activation: each channel's output has mean beta and std |gamma|."""
    layer = BatchNorm2d(3).to(np.float64)
    layer.weight.data = np.array([1.0, 2.0, -0.5])
    layer.bias.data = np.array([0.0, 1.0, -3.0])
    x = rng.standard_normal((4, 3, 5, 5)) * np.array([1.0, 10.0, 0.1])[:, None, None] + 7.0
    y = layer(x)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), layer.bias.data, atol=1e-12)
    np.testing.assert_allclose(y.std(axis=(0, 2, 3)), np.abs(layer.weight.data), rtol=1e-3)


def test_momentum_weighs_the_new_batch_and_running_var_is_unbiased(rng):
    layer = BatchNorm2d(2, momentum=0.1).to(np.float64)
    x = rng.standard_normal((3, 2, 2, 2)) + 4.0
    layer(x)
    m = 3 * 2 * 2
    mean = x.mean(axis=(0, 2, 3))
    var_unbiased = x.var(axis=(0, 2, 3)) * m / (m - 1)
    np.testing.assert_allclose(layer.running_mean, 0.1 * mean, rtol=1e-12)
    np.testing.assert_allclose(layer.running_var, 0.9 + 0.1 * var_unbiased, rtol=1e-12)
    assert int(layer.num_batches_tracked) == 1


def test_eval_uses_running_stats_and_updates_nothing(rng):
    layer = randomize(BatchNorm2d(2), rng).to(np.float64).eval()
    before = layer.state_dict()
    x = rng.standard_normal((1, 2, 1, 1))  # a single value per channel is fine in eval mode
    y = layer(x)
    expected = (x[:, :, 0, 0] - before["running_mean"]) / np.sqrt(before["running_var"] + 1e-5)
    expected = expected * before["weight"] + before["bias"]
    np.testing.assert_allclose(y[:, :, 0, 0], expected, rtol=1e-12)
    for k, v in layer.state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)


def test_defaults_and_state_dict_like_torch():
    layer = BatchNorm2d(5)
    assert (layer.eps, layer.momentum) == (1e-5, 0.1)
    state, twin = layer.state_dict(), torch.nn.BatchNorm2d(5).state_dict()
    assert list(state) == list(twin)
    for k, v in twin.items():
        np.testing.assert_array_equal(state[k], v.numpy(), err_msg=k)
        assert state[k].shape == tuple(v.shape), k
    assert state["num_batches_tracked"].dtype == np.int64


# ----------------------------------------------------------------------------- behaviour
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_caller_arrays_untouched(rng, training, layout):
    layer = randomize(BatchNorm2d(3), rng).train(training)
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    dy = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    if layout == "channels_last":
        x, dy = channels_last(x), channels_last(dy)
    copies = {"x": x.copy(), "dy": dy.copy()}
    layer(x)
    layer.backward(dy)
    assert_untouched({"x": x, "dy": dy}, copies)


def test_backward_overwrites_grads(rng):
    layer = randomize(BatchNorm2d(3), rng).to(np.float64)
    x, dy = rng.standard_normal((2, 3, 3, 3)), rng.standard_normal((2, 3, 3, 3))
    layer(x)
    layer.backward(dy)
    first = {n: p.grad.copy() for n, p in layer.named_parameters()}
    layer(x)
    layer.backward(dy)
    for n, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad, first[n], rtol=1e-12, err_msg=f"{n} accumulated")


def test_wrong_channel_count_raises():
    x = np.zeros((2, 4, 3, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="BatchNorm2d") as info:
        BatchNorm2d(3)(x)
    assert "(N, 3, H, W)" in str(info.value) and str(x.shape) in str(info.value)


def test_wrong_rank_raises():
    x = np.zeros((2, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="BatchNorm2d") as info:
        BatchNorm2d(3)(x)
    assert "(N, C, H, W)" in str(info.value) and str(x.shape) in str(info.value)


def test_one_value_per_channel_in_training_raises():
    with pytest.raises(ValueError, match=r"BatchNorm2d.*\(1, 2, 1, 1\)"):
        BatchNorm2d(2)(np.zeros((1, 2, 1, 1), dtype=np.float32))


def test_bad_num_features_raises():
    with pytest.raises(ValueError, match="num_features"):
        BatchNorm2d(0)


@pytest.mark.parametrize("eps", [0.0, -1e-5, float("nan")])
def test_eps_must_be_positive_like_torch(rng, eps):
    with pytest.raises(ValueError, match=r"BatchNorm2d: eps must be > 0"):
        BatchNorm2d(3, eps=eps)
    if eps == eps:  # torch refuses 0 and negative values when it trains
        with pytest.raises(ValueError, match="eps must be positive"):
            torch.nn.BatchNorm2d(3, eps=eps)(torch.randn(2, 3, 2, 2))
