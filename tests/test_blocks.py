"""Tests for lab01_utils/nn/blocks.py: PreActBlock against its torch twin in torch_model.py."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import (
    BLOCK,
    CONV,
    NORM,
    SILU,
    assert_untouched,
    channels_last,
    compare_with_torch,
    gradcheck_layer,
    randomize,
)

from lab01_utils import torch_model
from lab01_utils.nn import PreActBlock

pytestmark = pytest.mark.needs(*SILU + CONV + NORM + BLOCK)

# (in_channels, out_channels, stride): identity, projection by stride, by width, by both
VARIANTS = [(4, 4, 1), (4, 4, 2), (4, 6, 1), (4, 6, 2)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("c_in, c_out, stride", VARIANTS)
def test_parity_with_torch(rng, dtype, training, c_in, c_out, stride):
    block = randomize(PreActBlock(c_in, c_out, stride=stride, rng=rng), rng)
    twin = torch_model.PreActBlock(c_in, c_out, stride=stride)
    x = rng.standard_normal((2, c_in, 6, 5))
    compare_with_torch(block, twin, x, dtype, training, rng)


def test_parity_after_several_training_forwards(rng):
    block = randomize(PreActBlock(3, 5, stride=2, rng=rng), rng)
    twin = torch_model.PreActBlock(3, 5, stride=2)
    x = rng.standard_normal((2, 3, 5, 5))
    compare_with_torch(block, twin, x, np.float64, True, rng, n_forwards=3)


@pytest.mark.parametrize(
    "c_in, c_out, stride", [(2, 2, 1), (2, 3, 2)], ids=["identity", "projection"]
)
@pytest.mark.parametrize("training", [True, False])
def test_gradcheck(rng, c_in, c_out, stride, training):
    block = randomize(PreActBlock(c_in, c_out, stride=stride, rng=rng), rng)
    block.to(np.float64).train(training)
    errors = gradcheck_layer(block, rng.standard_normal((2, c_in, 4, 4)), rng)
    assert ("shortcut.weight" in errors) == (stride != 1 or c_in != c_out)


def test_structure_and_state_dict_like_the_twin():
    for c_in, c_out, stride in VARIANTS:
        block = PreActBlock(c_in, c_out, stride=stride)
        twin = torch_model.PreActBlock(c_in, c_out, stride=stride)
        assert block.has_projection == (stride != 1 or c_in != c_out)
        state, twin_state = block.state_dict(), twin.state_dict()
        assert list(state) == list(twin_state)
        for k, v in twin_state.items():
            assert state[k].shape == tuple(v.shape), k


@pytest.mark.parametrize("training", [True, False])
def test_output_shape(rng, training):
    block = PreActBlock(2, 3, stride=2, rng=rng).train(training)
    assert block(rng.standard_normal((2, 2, 7, 7)).astype(np.float32)).shape == (2, 3, 4, 4)


@pytest.mark.parametrize("c_in, c_out, stride", VARIANTS)
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_caller_arrays_untouched(rng, c_in, c_out, stride, layout):
    block = randomize(PreActBlock(c_in, c_out, stride=stride, rng=rng), rng)
    x = rng.standard_normal((2, c_in, 5, 5)).astype(np.float32)
    dy = rng.standard_normal(block(x).shape).astype(np.float32)
    if layout == "channels_last":
        x, dy = channels_last(x), channels_last(dy)
    copies = {"x": x.copy(), "dy": dy.copy()}
    block(x)
    block.backward(dy)
    assert_untouched({"x": x, "dy": dy}, copies)


@pytest.mark.parametrize("c_in, c_out, stride", [(3, 3, 1), (3, 4, 2)])
def test_backward_overwrites_grads(rng, c_in, c_out, stride):
    block = randomize(PreActBlock(c_in, c_out, stride=stride, rng=rng), rng).to(np.float64)
    x = rng.standard_normal((2, c_in, 4, 4))
    dy = rng.standard_normal(block(x).shape)
    block.backward(dy)
    first = {n: p.grad.copy() for n, p in block.named_parameters()}
    block(x)
    block.backward(dy)
    for n, p in block.named_parameters():
        np.testing.assert_allclose(p.grad, first[n], rtol=1e-12, err_msg=f"{n} accumulated")


def test_wrong_channel_count_raises():
    x = np.zeros((2, 5, 4, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="PreActBlock") as info:
        PreActBlock(4, 4)(x)
    assert "(N, 4, H, W)" in str(info.value) and str(x.shape) in str(info.value)


def test_wrong_rank_raises():
    x = np.zeros((2, 4, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="PreActBlock") as info:
        PreActBlock(4, 4)(x)
    assert "(N, C, H, W)" in str(info.value) and str(x.shape) in str(info.value)
