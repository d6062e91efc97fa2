"""Tests for `lab01_utils/experiments/conv.py` and `lab01_utils/plots/diagrams/conv.py`:
notebook 03's experiments show their effects, on the notebook's image and filters and on
others, and its figures draw what they should."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import CONV, ROUNDOFF_RTOL_F64
from matplotlib.figure import Figure

from lab01_utils import nn
from lab01_utils.experiments.conv import (
    FILTER_NAMES,
    conv_layers,
    demo_filters,
    flipped_kernel_error,
    parameter_counts,
    shift_equivariance,
    shift_image,
)
from lab01_utils.models import PreActResNet
from lab01_utils.plots.diagrams.conv import (
    plot_col2im,
    plot_conv_graph,
    plot_flipped_kernel,
    plot_shift_equivariance,
)

# (image index, filter seed): the notebook's and four others. Margins, measured over 100
# images x 2 seeds x shifts 1, 3, 5: at stride 1 the maps moved back by the shift agree
# exactly (error 0.0); at stride 2 with an odd shift the best whole-pixel output shift still
# leaves an error of at least 0.46 of the largest value (median 1.0); with shift 2 the output
# shift 1 agrees exactly and every other leaves at least 1.0.
CASES = ((0, 0), (7, 1), (123, 2), (1000, 3), (1999, 4))
STRIDE2_ODD_MIN_ERROR = 0.3


def test_shift_image_moves_down_and_right_and_fills_with_zeros():
    img = np.arange(1.0, 17.0).reshape(4, 4)
    out = shift_image(img, 1)
    np.testing.assert_array_equal(out[1:, 1:], img[:3, :3])
    assert np.all(out[0] == 0) and np.all(out[:, 0] == 0)
    np.testing.assert_array_equal(shift_image(img, 0), img)


def test_demo_filters_are_the_named_four():
    w = demo_filters(seed=0)
    assert w.shape == (len(FILTER_NAMES), 1, 3, 3)
    np.testing.assert_array_equal(w[0, 0], -w[0, 0, :, ::-1])  # an edge filter is odd
    np.testing.assert_array_equal(w[1, 0], w[0, 0].T)
    assert abs(w[2].sum() - 1) < 1e-15  # the blur keeps the mean
    assert not np.array_equal(demo_filters(seed=1)[3], w[3])


@pytest.mark.parametrize("index, seed", CASES)
@pytest.mark.parametrize("shift", (1, 3, 5))
def test_stride_1_is_equivariant_and_stride_2_is_not_for_an_odd_shift(index, seed, shift):
    r = shift_equivariance(shift=shift, index=index, seed=seed)
    assert r.maps[1].shape == r.shifted_maps[1].shape == (4, 28, 28)
    assert r.maps[2].shape == (4, 14, 14)
    assert r.errors[1].shape == r.errors[2].shape == (shift + 1,)
    assert r.errors[1][shift] < ROUNDOFF_RTOL_F64
    assert r.best_shift(1) == shift
    assert np.all(np.delete(r.errors[1], shift) > 0.1), r.errors[1]
    assert r.errors[2].min() > STRIDE2_ODD_MIN_ERROR, r.errors[2]


@pytest.mark.parametrize("index, seed", CASES)
def test_stride_2_is_equivariant_to_a_shift_by_a_multiple_of_2(index, seed):
    r = shift_equivariance(shift=2, index=index, seed=seed)
    assert r.best_shift(2) == 1 and r.errors[2][1] < ROUNDOFF_RTOL_F64
    assert r.errors[2][0] > 0.5 and r.errors[2][2] > 0.5


def test_the_convolutions_are_listed_in_network_order_with_their_sizes():
    found = conv_layers(PreActResNet())
    names = [name for name, *_ in found]
    assert names[:4] == ["stem", "layer1.0.conv1", "layer1.0.conv2", "layer1.0.shortcut"]
    assert len(names) == 16 and names[-1] == "layer3.1.conv2"
    sizes = {name: (h_in, h_out) for name, _, h_in, h_out in found}
    assert sizes["stem"] == (28, 28)
    assert sizes["layer2.0.conv1"] == (14, 7) and sizes["layer2.0.shortcut"] == (14, 7)
    assert sizes["layer3.0.conv1"] == (7, 4) and sizes["layer3.1.conv2"] == (4, 4)


def test_a_convolution_has_far_fewer_weights_than_a_dense_layer():
    counts = parameter_counts()
    assert counts.conv.dtype == counts.dense.dtype == np.int64
    model = PreActResNet()
    conv_weights = sum(p.data.size for _, p in model.named_parameters() if p.data.ndim == 4)
    assert counts.conv.sum() == conv_weights == 693_536
    stem = counts.layers.index("stem")
    assert counts.conv[stem] == 288 and counts.dense[stem] == 784 * 32 * 784
    for (name, layer, h_in, h_out), conv, dense in zip(
        conv_layers(model), counts.conv, counts.dense, strict=True
    ):
        # the ratio is the number of pixel pairs (input, output) over the kernel's k * k
        assert dense * layer.kernel_size**2 == conv * h_in**2 * h_out**2, name
    assert (counts.dense / counts.conv).min() > 28  # the last 3x3 conv, 4x4 -> 4x4: 28.4


@pytest.mark.needs(*CONV)
def test_dx_is_the_full_convolution_of_dy_with_the_flipped_kernel():
    errors = flipped_kernel_error()
    assert set(errors) == {1, 3, 5}
    assert max(errors.values()) < ROUNDOFF_RTOL_F64, errors


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_the_shift_figure_draws_both_strides():
    r = shift_equivariance()
    fig = plot_shift_equivariance(r, channel=0, name=FILTER_NAMES[0])
    titles = [ax.get_title() for ax in fig.axes]
    assert len(fig.axes) == 9
    assert "filter 0: vertical edges" in titles
    assert any(t.startswith("stride 1: feature map (28x28)") for t in titles)
    assert any(t.startswith("stride 2: feature map (14x14)") for t in titles)
    assert any("moved back by d = 3" in t for t in titles)
    diff = fig.axes[5].images[0].get_array()
    assert np.abs(diff).max() == 0  # stride 1: the difference map is blank


def test_the_col2im_figure_counts_the_windows_over_each_pixel():
    fig = plot_col2im()
    labels = texts(fig)
    summed = torch.nn.functional.fold(torch.ones(1, 9, 4), (4, 4), 3)[0, 0]
    assert summed.flatten().tolist() == [1, 2, 2, 1, 2, 4, 4, 2, 2, 4, 4, 2, 1, 2, 2, 1]
    assert labels.count("4") == 4 and labels.count("2") == 8
    assert labels.count("1") == 4 * 9 + 4  # dcols' ones and the four corners
    assert "col2im: overlaps add up" in [ax.get_title() for ax in fig.axes]
    assert len(fig.axes[1].patches) == 4  # one frame per window
    fig = plot_col2im(size=5, kernel_size=3, stride=2, padding=1)
    assert len(fig.axes[1].patches) == 9 + 1  # nine windows and the image inside the padding


def test_the_conv_graph_draws_both_passes():
    forward = texts(plot_conv_graph())
    for node in ("im2col", "W X_col + b", "reshape", "L"):
        assert node in forward, forward
    assert "dW" not in forward
    fig = plot_conv_graph(backward=True)
    labels = texts(fig)
    for grad in ("dy", "dY", "dX_col", "dW", "db", "dx: col2im"):
        assert grad in labels, labels
    dashed = [p for p in fig.axes[0].patches if p.get_linestyle() == "--"]
    assert len(dashed) == 6


def test_the_flipped_kernel_figure_reads_the_weights_backwards():
    fig = plot_flipped_kernel(length=5, kernel_size=3, focus=2)
    top, bottom = fig.axes
    assert [t.get_text() for t in top.texts if t.get_text().startswith("x")] == [
        f"x{a}" for a in range(5)
    ]
    assert [t.get_text() for t in bottom.texts].count("0") == 4  # k - 1 zeros each side
    weights = [t for t in bottom.texts if t.get_text() in ("w0", "w1", "w2")]
    by_x = [t.get_text() for t in sorted(weights, key=lambda t: t.get_position()[0])]
    assert by_x == ["w2", "w1", "w0"]
    assert "the kernel flipped" in bottom.get_title()


def test_the_naive_convolution_the_experiments_use_agrees_with_torch(rng):
    x = rng.standard_normal((1, 1, 6, 6))
    w = demo_filters()
    for stride in (1, 2):
        want = torch.nn.functional.conv2d(
            torch.from_numpy(x), torch.from_numpy(w), stride=stride, padding=1
        )
        got = nn.conv2d_naive(x, w, None, stride=stride, padding=1)
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-12, atol=1e-12)
