"""Tests for `lab01_utils/experiments/norm.py` and `lab01_utils/plots/diagrams/norm.py`:
notebook 04's experiments show their effects, at the notebook's seed and at others, and its
figures draw what they should."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import CONV, LINEAR, LOSS, NORM, SILU
from matplotlib.figure import Figure

from lab01_utils import nn
from lab01_utils.experiments.norm import (
    BN_LRS,
    WITH,
    WITHOUT,
    batch_noise,
    bn_training,
    scale_drift,
    small_convnet,
)
from lab01_utils.plots.diagrams.norm import (
    AXES_PANELS,
    plot_batchnorm_graph,
    plot_normalisation_axes,
)

# Margins, measured over seeds 0-7 (scale drift), 0-9 (training, batch noise) at the defaults.
# Scale drift without BatchNorm, std of layer 8 over layer 1: gain 1 1.2e-4 .. 1.9e-4, gain 2
# 0.014 .. 0.033, gain 4 8.5 .. 24; with BatchNorm every layer's std 0.52 .. 0.65 and the gains
# agree to 4.1e-4 (eps is what tells them apart).
DRIFT_GAIN1_MAX, DRIFT_GAIN2_MAX, DRIFT_GAIN4_MIN = 1e-3, 0.1, 4.0
BN_STD_RANGE, BN_GAIN_RTOL = (0.45, 0.75), 1e-3
# Training (the mean loss of the last 10 of 40 steps): without minus with BatchNorm 0.19 ..
# 0.29 at lr 0.03, 0.85 .. 0.99 at 0.3, 0.94 or more at 3.0; without BatchNorm never below
# 2.297; with it, lr 0.3 ends 0.60 .. 0.76 below lr 0.03.
MARGIN_ANY_LR, MARGIN_AT_03, NO_BN_FLOOR = 0.1, 0.5, 2.25
# Batch noise: log-log slopes of the spreads against N, mean -0.45 .. -0.58, var -0.48 .. -0.55,
# one image's train-mode output -0.42 .. -0.47 (1 / sqrt(N) would be -0.5).
SLOPE_RANGE = (-0.7, -0.35)


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [ax.get_title() for ax in fig.axes]


@pytest.mark.needs(*SILU, *CONV)
@pytest.mark.parametrize("seed", (0, 1, 2))
def test_without_batchnorm_the_scale_drifts_geometrically_with_the_gain(seed):
    drift = scale_drift((1.0, 2.0, 4.0), seed=seed)
    assert set(drift) == {1.0, 2.0, 4.0}
    assert all(v.shape == (8,) and np.all(v > 0) for v in drift.values())
    growth = {g: v[-1] / v[0] for g, v in drift.items()}
    assert growth[1.0] < DRIFT_GAIN1_MAX and growth[2.0] < DRIFT_GAIN2_MAX, growth
    assert growth[4.0] > DRIFT_GAIN4_MIN, growth


@pytest.mark.needs(*SILU, *CONV, *NORM)
@pytest.mark.parametrize("seed", (0, 1))
def test_with_batchnorm_every_layer_has_the_same_scale_whatever_the_gain(seed):
    drift = scale_drift((1.0, 2.0, 4.0), batch_norm=True, seed=seed)
    lo, hi = BN_STD_RANGE
    for gain, v in drift.items():
        assert np.all((v > lo) & (v < hi)), (gain, v)
        np.testing.assert_allclose(v, drift[1.0], rtol=BN_GAIN_RTOL)


@pytest.mark.needs(*SILU, *CONV, *NORM, *LINEAR)
def test_small_convnet_differs_only_by_its_batchnorms():
    with_bn, without = small_convnet(True, seed=3), small_convnet(False, seed=3)
    kinds = [type(m).__name__ for m in with_bn]
    assert kinds.count("BatchNorm2d") == 3
    assert not any(isinstance(m, nn.BatchNorm2d) for m in without)
    convs = [m for m in with_bn if isinstance(m, nn.Conv2d)]
    plain = [m for m in without if isinstance(m, nn.Conv2d)]
    for a, b in zip(convs, plain, strict=True):
        np.testing.assert_array_equal(a.weight.data, b.weight.data)
        assert a.bias is None and b.bias is not None
    np.testing.assert_array_equal(with_bn[-1].weight.data, without[-1].weight.data)
    x = np.zeros((2, 1, 28, 28), np.float32)
    assert with_bn(x).shape == (2, 10) and without(x).shape == (2, 10)


@pytest.mark.needs(*SILU, *CONV, *NORM, *LINEAR, *LOSS)
@pytest.mark.parametrize("seed", (0, 1))
def test_batchnorm_trains_at_every_rate_and_the_net_without_it_at_none(seed):
    run = bn_training(seed=seed)
    assert run.lrs == BN_LRS and set(run.losses) == {WITH, WITHOUT}
    for label in (WITH, WITHOUT):
        assert all(run.losses[label][lr].shape == (40,) for lr in BN_LRS)
    assert abs(run.losses[WITH][BN_LRS[0]][0] - math.log(10)) < 0.1  # the same start
    with_bn, without = np.array(run.finals(WITH)), np.array(run.finals(WITHOUT))
    assert np.all(np.isfinite(with_bn))
    assert np.all(without - with_bn > MARGIN_ANY_LR), (with_bn, without)
    assert run.final(WITHOUT, 0.3) - run.final(WITH, 0.3) > MARGIN_AT_03
    assert np.all(without > NO_BN_FLOOR), without
    assert run.final(WITH, 0.3) < run.final(WITH, 0.03) - 0.4  # a larger step helps with BN


@pytest.mark.needs(*SILU, *CONV, *NORM, *LINEAR, *LOSS)
def test_a_diverging_run_is_cut_and_counts_as_infinite():
    run = bn_training((1e4,), steps=6, seed=0)
    losses = run.losses[WITHOUT][1e4]
    assert losses.shape == (6,) and np.isnan(losses[-1]) and np.isfinite(losses[0])
    assert run.final(WITHOUT, 1e4, last=2) == math.inf


@pytest.mark.needs(*CONV, *NORM)
@pytest.mark.parametrize("seed", (0, 1, 2))
def test_batch_statistics_scatter_like_one_over_sqrt_n_and_eval_mode_not_at_all(seed):
    noise = batch_noise(seed=seed)
    n = len(noise.batch_sizes)
    lo, hi = SLOPE_RANGE
    for which, spread in (
        ("mean", noise.mean_spread),
        ("var", noise.var_spread),
        ("train", noise.train_spread),
    ):
        assert spread.shape == (n,) and np.all(spread > 0)
        assert np.all(spread[2:] < spread[:-2]), (which, spread)  # 4x the batch: smaller
        assert lo < noise.slope(which) < hi, (which, noise.slope(which))
    np.testing.assert_array_equal(noise.eval_change, np.zeros(n))


def test_the_axes_figure_shades_m_values_for_batchnorm():
    fig = plot_normalisation_axes(batch=4, channels=3, positions=4)
    labels = texts(fig)
    for title in AXES_PANELS:
        assert title in labels, labels
    assert any("16 shaded" in t for t in labels)  # N * H * W of one channel
    assert any("4 shaded" in t for t in labels) and any("12 shaded" in t for t in labels)


@pytest.mark.parametrize("backward", (False, True))
def test_the_batchnorm_graph_draws_every_node_and_the_backward_edges(backward):
    fig = plot_batchnorm_graph(backward=backward)
    labels = texts(fig)
    for node in ("x", "μ = mean(x)", "c = x − μ", "v = mean(c²)", "s = √(v + ε)", "x̂ = c / s"):
        assert node in labels, labels
    for node in ("γ", "β", "y = γ x̂ + β", "L"):
        assert node in labels, labels
    dashed = [p for p in fig.axes[0].patches if p.get_linestyle() == "--"]
    assert len(dashed) == (11 if backward else 0)  # one backward arrow per forward one
    assert ("dx̂ · ∂x̂/∂c" in labels) == backward and ("dμ · ∂μ/∂x" in labels) == backward
