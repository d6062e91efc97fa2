"""Tests for lab01_utils/fast/: each fast layer equals its textbook twin in nn/ and torch, the
fast model is the plain model with the same weights, and its activations are channels-last."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from helpers import (
    PARITY_RTOL_F64,
    assert_untouched,
    channels_last,
    compare_with_torch,
    is_channels_last,
    randomize,
    rel_error,
)

from lab01_utils import fast, nn
from lab01_utils.fast import layers, layout
from lab01_utils.models import build_numpy_model
from lab01_utils.nn import CrossEntropyLoss

SMALL = (4, 8, 8)


def build_copy(layer: nn.Module) -> nn.Module:
    return copy.deepcopy(layer)


def twins(plain: nn.Module) -> tuple[nn.Module, nn.Module]:
    """`plain` and a fast copy of it with the same state."""
    return plain, fast.accelerate(build_copy(plain))


def run(layer, x, dy):
    y = layer(x).copy()
    dx = layer.backward(dy)
    grads = {k: p.grad.copy() for k, p in layer.named_parameters()}
    dx = None if dx is None else np.array(dx, copy=True, order="K")  # keeps the layout
    return y, dx, grads, layer.state_dict()


def assert_same(a, b, rtol):
    assert rel_error(a[0], b[0]) < rtol, "output"
    assert rel_error(a[1], b[1]) < rtol, "dx"
    for k in a[2]:
        assert rel_error(a[2][k], b[2][k]) < rtol, k
    for k in a[3]:
        assert rel_error(a[3][k], b[3][k]) < rtol, k


CONV_CASES = [(3, 1, 1, True), (3, 2, 1, False), (1, 1, 0, True), (1, 2, 0, False), (2, 2, 0, True)]


@pytest.mark.parametrize("kernel_size, stride, padding, bias", CONV_CASES)
@pytest.mark.parametrize("layout_", ["contiguous", "channels_last"])
def test_fast_conv_equals_the_textbook_conv_and_torch(
    rng, kernel_size, stride, padding, bias, layout_
):
    plain = nn.Conv2d(3, 5, kernel_size, stride=stride, padding=padding, bias=bias, rng=rng)
    plain, quick = twins(plain.to(np.float64))
    assert type(quick) is layers.Conv2d
    x = rng.standard_normal((4, 3, 9, 8))
    x = channels_last(x) if layout_ == "channels_last" else x
    y = plain(x)
    dy = rng.standard_normal(y.shape)
    assert_same(run(plain, x, dy), run(quick, x, dy), PARITY_RTOL_F64)
    twin = torch.nn.Conv2d(3, 5, kernel_size, stride=stride, padding=padding, bias=bias)
    compare_with_torch(fast.accelerate(build_copy(plain)), twin, x, np.float64, True, rng)


@pytest.mark.parametrize("training", [True, False])
def test_fast_batchnorm_equals_the_textbook_batchnorm_and_torch(rng, training):
    plain = randomize(nn.BatchNorm2d(5), rng).to(np.float64).train(training)
    plain, quick = twins(plain)
    x = rng.standard_normal((4, 5, 6, 6)) * 3 + 1
    dy = rng.standard_normal(x.shape)
    assert_same(run(plain, x, dy), run(quick, x, dy), PARITY_RTOL_F64)
    compare_with_torch(quick, torch.nn.BatchNorm2d(5), x, np.float64, training, rng)


def test_fast_silu_and_pooling_equal_their_textbook_twins(rng):
    x = channels_last(rng.standard_normal((6, 4, 5, 5)) * 4)
    dy = rng.standard_normal(x.shape)
    assert_same(*(run(m, x, dy) for m in twins(nn.SiLU())), PARITY_RTOL_F64)
    dp = rng.standard_normal((6, 4))
    a, b = (run(m, x, dp) for m in twins(nn.GlobalAvgPool2d()))
    assert_same(a, b, PARITY_RTOL_F64)
    assert is_channels_last(b[1])


@pytest.mark.parametrize("c_in, c_out, stride", [(3, 5, 2), (4, 4, 1)])
def test_fast_block_equals_the_textbook_block(rng, c_in, c_out, stride):
    plain = nn.PreActBlock(c_in, c_out, stride=stride, rng=rng, dtype=np.float64)
    randomize(plain, rng)
    plain, quick = twins(plain)
    assert type(quick.conv1) is layers.Conv2d and type(quick.act1) is layers.SiLU
    x = rng.standard_normal((3, c_in, 9, 9)) + 0.3
    dy = rng.standard_normal(build_copy(plain)(x).shape)  # a copy: keep the running stats
    assert_same(run(plain, x, dy), run(quick, x, dy), PARITY_RTOL_F64)


# float32: the two engines add in different orders, through 8 blocks (measured: up to ~6e-6).
MODEL_RTOL_F32 = 1e-4


@pytest.mark.parametrize(
    "dtype, rtol", [(np.float64, PARITY_RTOL_F64), (np.float32, MODEL_RTOL_F32)]
)
def test_the_fast_model_is_the_plain_model(rng, dtype, rtol):
    """Same initial weights, then the same logits, dx, gradients and running statistics."""
    plain = build_numpy_model(SMALL, seed=4).to(dtype)
    quick = build_numpy_model(SMALL, seed=4, engine="fast").to(dtype)
    for k, v in plain.state_dict().items():
        np.testing.assert_array_equal(quick.state_dict()[k], v, err_msg=k)
    x = rng.random((6, 784)).astype(dtype)
    dlogits = rng.standard_normal((6, 10)).astype(dtype)
    assert_same(run(plain, x, dlogits), run(quick, x, dlogits), rtol)


def test_accelerate_keeps_the_state_and_leaves_unknown_layers_alone(rng):
    model = build_numpy_model(SMALL, seed=2)
    before = model.state_dict()
    fast.accelerate(model)
    after = model.state_dict()
    assert list(after) == list(before)
    assert all(np.array_equal(after[k], before[k]) for k in before)
    assert type(model.fc) is nn.Linear  # no fast twin: unchanged
    assert type(model.bn) is fast.FusedBatchNorm2d
    assert fast.accelerate(model) is model  # twice is the same as once


def test_every_activation_and_gradient_of_the_fast_engine_is_channels_last(rng):
    # The fast engine's speed rests on channels-last memory (layout.py): a layer that
    # returned NCHW memory would make the next one copy or run strided loops. Watch every
    # 4-D array that passes between the leaf layers in a training step.
    model = build_numpy_model(SMALL, engine="fast")
    seen = []
    for name, layer in model.named_modules():
        if layer._modules and not isinstance(layer, fast.FusedPreActBlock):
            continue

        def watch(fn, where, name=name):
            def wrapped(*args, **kwargs):
                out = fn(*args, **kwargs)
                if isinstance(out, np.ndarray) and out.ndim == 4:
                    seen.append((f"{name}.{where}", is_channels_last(out)))
                return out

            return wrapped

        layer.forward = watch(layer.forward, "forward")
        layer.backward = watch(layer.backward, "backward")
    loss = CrossEntropyLoss()
    loss(model(rng.random((4, 784)).astype(np.float32)), rng.integers(0, 10, 4))
    model.backward(loss.backward())
    assert len(seen) > 20, seen  # the watch saw the layers
    assert [where for where, ok in seen if not ok] == []


def test_the_fast_stem_skips_dx_when_not_asked_and_keeps_the_parameter_grads(rng):
    layer = fast.accelerate(nn.Conv2d(2, 3, 3, stride=2, padding=1, rng=rng, dtype=np.float64))
    x = rng.standard_normal((2, 2, 6, 6))
    dy = rng.standard_normal(layer(x).shape)
    layer.backward(dy)
    dw, db = layer.weight.grad.copy(), layer.bias.grad.copy()
    layer.input_grad = False
    layer(x)
    assert layer.backward(dy) is None
    np.testing.assert_array_equal(layer.weight.grad, dw)
    np.testing.assert_array_equal(layer.bias.grad, db)


def test_fast_layers_leave_the_callers_arrays_alone(rng):
    model = build_numpy_model(SMALL, engine="fast")
    x = rng.random((3, 784)).astype(np.float32)
    dlogits = rng.standard_normal((3, 10)).astype(np.float32)
    copies = {"x": x.copy(), "dlogits": dlogits.copy()}
    model(x)
    model.backward(dlogits)
    assert_untouched({"x": x, "dlogits": dlogits}, copies)


def test_channels_last_im2col_holds_the_textbook_columns_reordered(rng):
    x = rng.standard_normal((2, 3, 7, 6))
    n, c, k = 2, 3, 3
    cols = nn.im2col(x, k, 2, 1)  # columns (c, u, v)
    cols_nhwc = layout.im2col_nhwc(layout.nhwc(x), k, 2, 1)  # columns (u, v, c)
    reordered = cols.reshape(-1, c, k, k).transpose(0, 2, 3, 1).reshape(cols.shape)
    np.testing.assert_array_equal(cols_nhwc, reordered)
    dcols = rng.standard_normal(cols_nhwc.shape)
    offset_major = dcols.reshape(-1, k * k, c).transpose(1, 0, 2)  # (k*k, M, C)
    back = layout.col2im_offsets(np.ascontiguousarray(offset_major), (n, 7, 6, c), k, 2, 1)
    textbook = nn.col2im(
        dcols.reshape(-1, k, k, c).transpose(0, 3, 1, 2).reshape(cols.shape), x.shape, k, 2, 1
    )
    assert rel_error(back.transpose(0, 3, 1, 2), textbook) < PARITY_RTOL_F64


@pytest.mark.parametrize("padding", [1, 2, 3])
def test_pad_nhwc_equals_np_pad_even_on_dirty_memory(rng, monkeypatch, padding):
    # pad_nhwc zeroes only the border of an uninitialised array, which may hold an earlier
    # array's values: make every np.empty return NaNs, so a border left unset shows.
    real_empty = np.empty
    monkeypatch.setattr(np, "empty", lambda *a, **k: np.full_like(real_empty(*a, **k), np.nan))
    x = rng.standard_normal((3, 5, 4, 2))
    out = layout.pad_nhwc(x, padding)
    np.testing.assert_array_equal(out, np.pad(x, ((0, 0), *[(padding, padding)] * 2, (0, 0))))


def test_pad_nhwc_without_padding_returns_the_input(rng):
    x = rng.standard_normal((2, 3, 3, 1))
    assert layout.pad_nhwc(x, 0) is x


def test_default_processes_are_one_per_core_only_where_fork_is_safe(monkeypatch):
    import sys

    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert fast.default_processes() == len(__import__("os").sched_getaffinity(0))
    monkeypatch.setitem(sys.modules, "ipykernel", sys)  # inside a Jupyter kernel
    assert fast.default_processes() == 1
    monkeypatch.delitem(sys.modules, "ipykernel")
    monkeypatch.setattr(sys, "platform", "darwin")
    assert fast.default_processes() == 1


@pytest.mark.parametrize("offset", [-3000.0, 1000.0])
@pytest.mark.parametrize("engine", ["plain", "fast"])
def test_float32_statistics_at_a_large_offset_are_as_accurate_as_torch(rng, offset, engine):
    """Inputs whose mean is far larger than their spread: float32 sums lose digits. The
    reference BatchNorm (nn/) and the fast one hold torch's float32 accuracy; a student's
    plain float32 statistics are not asked to (this test is instructor-only)."""
    x = (rng.standard_normal((20, 8, 7, 7)) * 0.5 + offset).astype(np.float32)
    with torch.no_grad():
        exact = torch.nn.BatchNorm2d(8).double()(torch.from_numpy(x.astype(np.float64)))
        torch32 = torch.nn.BatchNorm2d(8)(torch.from_numpy(x))
    layer = nn.BatchNorm2d(8)
    if engine == "fast":
        fast.accelerate(layer)
    ours = layer(x)
    assert ours.dtype == np.float32 and layer.running_var.dtype == np.float32
    err_torch = float((torch32 - exact).abs().max())
    err_ours = float(np.abs(ours - exact.numpy()).max())
    assert err_ours <= err_torch, (err_ours, err_torch)
