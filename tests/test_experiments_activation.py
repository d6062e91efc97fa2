"""Tests for `lab01_utils/experiments/activation.py` and `lab01_utils/plots/diagrams/activation.py`:
notebook 01's experiments show their effects, at the notebook's seed and at others, and its
figures draw what they should."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import SILU
from matplotlib.figure import Figure

from lab01_utils.experiments.activation import (
    ReLU,
    Sigmoid,
    deep_stack,
    he_matrices,
    linear_collapse,
)
from lab01_utils.nn import sigmoid
from lab01_utils.plots.diagrams.activation import plot_relu_sigmoid, plot_silu_graph

SEEDS = (0, 1, 2)  # the notebook's seed and two more: the effects are not one seed's luck
# Margins of the effects, from 50 seeds at the default sizes: ReLU's zero-gradient fraction
# per layer 0.42 .. 0.58 (mean over layers 0.488 .. 0.512); units silent for the whole batch
# at layer 20: 0.19 .. 0.35; gradient RMS at the input over that at layer 20: ReLU 0.74 ..
# 1.19, SiLU 0.006 .. 0.016; sigmoid ~3e-10.
RELU_LAYER_SPREAD = 0.15
RELU_MEAN_SPREAD = 0.03


def test_relu_and_sigmoid_layers_match_their_formulas(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    dy = rng.standard_normal((3, 4)).astype(np.float32)
    relu, layer = ReLU(), Sigmoid()
    np.testing.assert_array_equal(relu(x), np.maximum(x, 0))
    np.testing.assert_array_equal(relu.backward(dy), np.where(x > 0, dy, 0))
    assert relu(x).dtype == np.float32
    want = sigmoid(x)
    np.testing.assert_allclose(layer(x), want)
    np.testing.assert_allclose(layer.backward(dy), dy * want * (1 - want), rtol=1e-6)


def test_he_matrices_have_variance_two_over_width(rng):
    ws = he_matrices(3, 400, rng)
    assert [w.shape for w in ws] == [(400, 400)] * 3
    assert abs(np.var(np.stack(ws)) * 400 / 2 - 1) < 0.02


@pytest.mark.parametrize("seed", SEEDS)
def test_a_linear_stack_is_one_matrix_and_a_relu_breaks_that(seed):
    r = linear_collapse(seed=seed)
    assert r.product_error < 1e-12
    assert r.linear_residual < 1e-12
    assert r.relu_residual > 0.2  # measured 0.39 .. 0.53 over seeds 0 .. 4


@pytest.mark.needs(*SILU)
@pytest.mark.parametrize("seed", SEEDS)
def test_relu_zeroes_half_the_gradients_and_silu_none(seed):
    r = deep_stack(seed=seed)
    assert r.layers == [str(i) for i in range(1, 21)]
    for stats in (r.zero_grad_fraction, r.silent_fraction, r.grad_rms, r.output_rms):
        assert set(stats) == {"ReLU", "SiLU", "sigmoid"}
        assert all(v.shape == (20,) and v.dtype == np.float64 for v in stats.values())
    relu = r.zero_grad_fraction["ReLU"]
    assert np.all(np.abs(relu - 0.5) < RELU_LAYER_SPREAD), relu
    assert abs(relu.mean() - 0.5) < RELU_MEAN_SPREAD
    assert np.all(r.zero_grad_fraction["SiLU"] == 0)
    assert np.all(r.zero_grad_fraction["sigmoid"] == 0)
    # Deep in a plain ReLU stack whole units fall silent for the batch; never with SiLU.
    assert r.silent_fraction["ReLU"][0] == 0 and r.silent_fraction["ReLU"][-1] > 0.1
    assert np.all(r.silent_fraction["SiLU"] == 0)


@pytest.mark.needs(*SILU)
@pytest.mark.parametrize("seed", SEEDS)
def test_he_init_keeps_relus_gradient_but_not_silus_or_sigmoids(seed):
    r = deep_stack(seed=seed)
    ratio = {k: v[0] / v[-1] for k, v in r.grad_rms.items()}  # input over layer 20's input
    assert 0.5 < ratio["ReLU"] < 2, ratio
    assert ratio["SiLU"] < 0.05, ratio
    assert ratio["sigmoid"] < 1e-6, ratio
    # SiLU's activations shrink layer by layer under He init; ReLU's keep their size.
    assert r.output_rms["SiLU"][-1] < 0.05 < 0.5 < r.output_rms["ReLU"][-1]


def test_deep_stack_takes_other_activations_and_sizes():
    r = deep_stack(depth=4, width=8, batch=5, activations={"ReLU": ReLU})
    assert r.layers == ["1", "2", "3", "4"] and set(r.grad_rms) == {"ReLU"}
    assert r.zero_grad_fraction["ReLU"].shape == (4,)


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_the_silu_graph_draws_both_passes():
    fig = plot_silu_graph()
    assert isinstance(fig, Figure)
    labels = texts(fig)
    for node in ("x", "σ", "s = σ(x)", "×", "y = x · s", "L"):
        assert node in labels, labels
    for grad in ("dy", "dy · x", "dy · s", "ds", "ds · σ'(x)"):
        assert grad in labels, labels
    arrows = fig.axes[0].patches
    dashed = [p for p in arrows if p.get_linestyle() == "--"]
    assert len(dashed) == 6  # one backward arrow per forward one


def test_relu_sigmoid_figure_draws_both_functions_and_their_derivatives():
    fig = plot_relu_sigmoid()
    left, right = fig.axes
    assert [ln.get_label() for ln in left.lines[:2]] == ["ReLU", "ReLU'"]
    assert [ln.get_label() for ln in right.lines[:2]] == ["sigmoid", "sigmoid'"]
    deriv = right.lines[1].get_ydata()
    assert abs(deriv.max() - 0.25) < 1e-6
    assert "gradient exactly 0" in texts(fig) and "saturated" in texts(fig)
