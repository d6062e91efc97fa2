"""Tests for lab01_utils/nn/conv.py and the im2col / col2im / conv2d_naive in functional.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import (
    CONV,
    PARITY_RTOL_F64,
    PROPERTY_SETTINGS,
    ROUNDOFF_RTOL_F64,
    assert_close,
    assert_untouched,
    channels_last,
    compare_with_torch,
    gradcheck_layer,
)
from hypothesis import assume, given
from hypothesis import strategies as st

from lab01_utils.nn import Conv2d, col2im, conv2d_naive, conv_output_size, im2col

pytestmark = pytest.mark.needs(*CONV)


# ----------------------------------------------------------------------------- torch parity
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize(
    "kernel_size, stride, padding, bias",
    [(3, 1, 1, True), (3, 2, 1, False), (1, 1, 0, True), (1, 2, 0, False), (3, 2, 0, True)],
)
def test_parity_with_torch(rng, dtype, training, kernel_size, stride, padding, bias):
    layer = Conv2d(3, 4, kernel_size, stride=stride, padding=padding, bias=bias, rng=rng)
    twin = torch.nn.Conv2d(3, 4, kernel_size, stride=stride, padding=padding, bias=bias)
    x = rng.standard_normal((2, 3, 7, 6))
    compare_with_torch(layer, twin, x, dtype, training, rng)


def test_any_memory_order_of_x_and_dy_gives_the_same_results(rng):
    # NCHW values stored channels-last (a transposed view): the layer must not care.
    layer = Conv2d(3, 5, 3, stride=1, padding=1, rng=rng, dtype=np.float64)
    x = rng.standard_normal((2, 3, 6, 5))
    dy = rng.standard_normal((2, 5, 6, 5))
    y_ref, dx_ref = layer(x).copy(), layer.backward(dy).copy()
    dw_ref = layer.weight.grad.copy()
    y = layer(channels_last(x))
    dx = layer.backward(channels_last(dy))
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_allclose(dx, dx_ref, rtol=0, atol=1e-14)
    np.testing.assert_allclose(layer.weight.grad, dw_ref, rtol=0, atol=1e-14)


# ----------------------------------------------------------------------------- gradient checks
@pytest.mark.parametrize("kernel_size", [1, 3])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("padding", [0, 1, 2])
def test_gradcheck(rng, kernel_size, stride, padding):
    layer = Conv2d(2, 3, kernel_size, stride=stride, padding=padding, rng=rng, dtype=np.float64)
    gradcheck_layer(layer, rng.standard_normal((2, 2, 5, 4)), rng)


def test_gradcheck_without_bias(rng):
    layer = Conv2d(2, 2, 3, stride=2, padding=1, bias=False, rng=rng, dtype=np.float64)
    errors = gradcheck_layer(layer, rng.standard_normal((1, 2, 5, 5)), rng)
    assert set(errors) == {"dx", "weight"}


# ----------------------------------------------------------------------------- properties
conv_cases = st.fixed_dictionaries(
    {
        "n": st.integers(1, 3),
        "c_in": st.integers(1, 4),
        "c_out": st.integers(1, 4),
        "h": st.integers(1, 8),
        "w": st.integers(1, 8),
        "k": st.integers(1, 4),
        "stride": st.integers(1, 3),
        "padding": st.integers(0, 3),
        "bias": st.booleans(),
        "seed": st.integers(0, 2**31 - 1),
    }
)


def valid(case) -> bool:
    return case["h"] + 2 * case["padding"] >= case["k"] <= case["w"] + 2 * case["padding"]


def conv_for(case, rng) -> Conv2d:
    k, s, p, bias = case["k"], case["stride"], case["padding"], case["bias"]
    return Conv2d(
        case["c_in"], case["c_out"], k, stride=s, padding=p, bias=bias, rng=rng, dtype=np.float64
    )


@PROPERTY_SETTINGS
@given(case=conv_cases)
def test_property_matches_torch_autograd(case):
    assume(valid(case))
    rng = np.random.default_rng(case["seed"])
    k, s, p = case["k"], case["stride"], case["padding"]
    layer = conv_for(case, rng)
    x = rng.standard_normal((case["n"], case["c_in"], case["h"], case["w"]))
    y = layer(x)
    h_out, w_out = conv_output_size(case["h"], k, s, p), conv_output_size(case["w"], k, s, p)
    assert y.shape == (case["n"], case["c_out"], h_out, w_out)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)

    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(layer.weight.data, requires_grad=True)
    bt = torch.tensor(layer.bias.data, requires_grad=True) if case["bias"] else None
    yt = F.conv2d(xt, wt, bt, stride=s, padding=p)
    yt.backward(torch.tensor(dy))
    assert_close(y, yt, PARITY_RTOL_F64, "y")
    assert_close(dx, xt.grad, PARITY_RTOL_F64, "dx")
    assert_close(layer.weight.grad, wt.grad, PARITY_RTOL_F64, "dweight")
    if case["bias"]:
        assert_close(layer.bias.grad, bt.grad, PARITY_RTOL_F64, "dbias")


@PROPERTY_SETTINGS
@given(case=conv_cases)
def test_property_naive_equals_im2col_forward(case):
    assume(valid(case))
    rng = np.random.default_rng(case["seed"])
    s, p = case["stride"], case["padding"]
    layer = conv_for(case, rng)
    x = rng.standard_normal((case["n"], case["c_in"], case["h"], case["w"]))
    bias = layer.bias.data if case["bias"] else None
    y_naive = conv2d_naive(x, layer.weight.data, bias, stride=s, padding=p)
    assert_close(layer(x), y_naive, ROUNDOFF_RTOL_F64, "Conv2d vs conv2d_naive")


@PROPERTY_SETTINGS
@given(case=conv_cases)
def test_property_im2col_col2im_adjoint(case):
    """<im2col(x), c> == <x, col2im(c)> for every x and c: col2im is im2col's transpose."""
    assume(valid(case))
    rng = np.random.default_rng(case["seed"])
    k, s, p = case["k"], case["stride"], case["padding"]
    x = rng.standard_normal((case["n"], case["c_in"], case["h"], case["w"]))  # (N, C, H, W)
    cols = im2col(x, k, s, p)
    h_out, w_out = conv_output_size(case["h"], k, s, p), conv_output_size(case["w"], k, s, p)
    assert cols.shape == (case["n"] * h_out * w_out, case["c_in"] * k * k)
    c = rng.standard_normal(cols.shape)
    back = col2im(c, x.shape, k, s, p)
    assert back.shape == x.shape
    lhs, rhs = float(np.sum(cols * c)), float(np.sum(x * back))
    scale = float(np.sum(np.abs(cols * c)))
    assert abs(lhs - rhs) <= ROUNDOFF_RTOL_F64 * max(scale, 1.0)


@PROPERTY_SETTINGS
@given(case=conv_cases)
def test_property_im2col_and_col2im_equal_torch_unfold_and_fold(case):
    assume(valid(case))
    rng = np.random.default_rng(case["seed"])
    k, s, p = case["k"], case["stride"], case["padding"]
    x = rng.standard_normal((case["n"], case["c_in"], case["h"], case["w"]))
    cols = im2col(x, k, s, p)
    # unfold: (N, C*k*k, L) with columns (c, u, v); im2col: (N*L, C*k*k)
    want = F.unfold(torch.from_numpy(x), k, padding=p, stride=s).permute(0, 2, 1)
    np.testing.assert_array_equal(cols, want.reshape(cols.shape).numpy())
    dcols = rng.standard_normal(cols.shape)
    folded = F.fold(
        torch.from_numpy(dcols).reshape(case["n"], -1, cols.shape[1]).permute(0, 2, 1),
        (case["h"], case["w"]),
        k,
        padding=p,
        stride=s,
    )
    assert_close(col2im(dcols, x.shape, k, s, p), folded, PARITY_RTOL_F64, "col2im vs fold")


def test_im2col_rows_are_windows():
    """One explicit window: row order (n, h_out, w_out), column order (c, u, v)."""
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)  # (N, C, H, W)
    cols = im2col(x, 3, 2, 1)  # H_out = 2, W_out = 3
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    row = (1 * 2 + 1) * 3 + 2  # n=1, h_out=1, w_out=2
    np.testing.assert_array_equal(cols[row], xp[1, :, 2:5, 4:7].reshape(-1))


def test_conv2d_naive_is_cross_correlation():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 0, 0] = 1.0
    w = np.arange(9.0).reshape(1, 1, 3, 3)
    # With padding 1 the output at (1, 1) sees x[0, 0] under the kernel's top-left tap.
    assert conv2d_naive(x, w, None, stride=1, padding=1)[0, 0, 1, 1] == w[0, 0, 0, 0]


# ----------------------------------------------------------------------------- behaviour
@pytest.mark.parametrize(
    "kernel_size, stride, padding", [(3, 1, 1), (3, 2, 1), (1, 1, 0), (1, 2, 0)]
)
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_caller_arrays_untouched(rng, kernel_size, stride, padding, layout):
    layer = Conv2d(3, 4, kernel_size, stride=stride, padding=padding, rng=rng)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    x = channels_last(x) if layout == "channels_last" else x
    y = layer(x)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dy = channels_last(dy) if layout == "channels_last" else dy
    copies = {"x": x.copy(), "dy": dy.copy()}
    layer(x)
    layer.backward(dy)
    assert_untouched({"x": x, "dy": dy}, copies)


def test_backward_overwrites_grads(rng):
    layer = Conv2d(2, 3, 3, padding=1, rng=rng, dtype=np.float64)
    x = rng.standard_normal((2, 2, 5, 5))
    dy = rng.standard_normal((2, 3, 5, 5))
    layer(x)
    layer.backward(dy)
    first = {n: p.grad.copy() for n, p in layer.named_parameters()}
    layer(x)
    layer.backward(dy)
    for n, p in layer.named_parameters():
        np.testing.assert_array_equal(p.grad, first[n], err_msg=f"{n} accumulated")


def test_layout_and_init_like_torch():
    layer = Conv2d(3, 8, 3, rng=np.random.default_rng(0))
    assert layer.weight.data.shape == (8, 3, 3, 3) and layer.bias.data.shape == (8,)
    assert layer.weight.data.dtype == np.float32
    bound = 1 / np.sqrt(3 * 3 * 3)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.bias.data).max() <= bound
    assert list(layer.state_dict()) == list(torch.nn.Conv2d(3, 8, 3).state_dict())
    no_bias = Conv2d(3, 8, 3, bias=False)
    assert list(no_bias.state_dict()) == list(torch.nn.Conv2d(3, 8, 3, bias=False).state_dict())


def test_wrong_channel_count_raises():
    layer = Conv2d(3, 4, 3)
    x = np.zeros((2, 5, 6, 6), dtype=np.float32)
    with pytest.raises(ValueError, match=r"Conv2d") as info:
        layer(x)
    msg = str(info.value)
    assert "(N, 3, H, W)" in msg and str(x.shape) in msg


def test_wrong_rank_raises():
    layer = Conv2d(3, 4, 3)
    x = np.zeros((3, 6, 6), dtype=np.float32)
    with pytest.raises(ValueError, match=r"Conv2d") as info:
        layer(x)
    msg = str(info.value)
    assert "(N, C, H, W)" in msg and str(x.shape) in msg


def test_input_smaller_than_kernel_raises():
    with pytest.raises(ValueError, match=r"Conv2d.*\(1, 1, 2, 2\)"):
        Conv2d(1, 1, 3)(np.zeros((1, 1, 2, 2), dtype=np.float32))


@pytest.mark.parametrize(
    "kwargs", [{"kernel_size": 0}, {"stride": 0}, {"padding": -1}, {"kernel_size": 2.5}]
)
def test_bad_hyperparameters_raise(kwargs):
    args = {"in_channels": 1, "out_channels": 1, "kernel_size": 3} | kwargs
    with pytest.raises(ValueError, match="Conv2d"):
        Conv2d(**args)


def test_backward_before_forward_raises():
    with pytest.raises(RuntimeError, match="before forward"):
        Conv2d(1, 1, 1).backward(np.zeros((1, 1, 1, 1), dtype=np.float32))
