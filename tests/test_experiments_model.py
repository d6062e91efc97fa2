"""Tests for lab01_utils/experiments/model.py (notebook 06's experiments) and
lab01_utils/plots/diagrams/model.py (the network's diagram, the receptive field)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import LAYERS

from lab01_utils.experiments import model as ex
from lab01_utils.metrics import layer_table
from lab01_utils.models import build_numpy_model
from lab01_utils.plots.diagrams.model import network_shapes, plot_network, plot_receptive_field

LAYER_NAMES = ["stem", "layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0", "layer3.1"]
AFTER_BN = ["bn", "act", "pool", "fc"]
# The lab's network: the side of the receptive field of one output of each block (3x3 convs,
# a stride 2 in each stage's first block).
RECEPTIVE_FIELDS = {
    "stem": 3,
    "layer1.0": 9,
    "layer1.1": 17,
    "layer2.0": 29,
    "layer2.1": 45,
    "layer3.0": 69,
    "layer3.1": 101,
}
ROUNDOFF = 1e-12  # float64 identities (measured 2e-15)


@pytest.fixture(scope="module")
def stats():
    return ex.activation_stats(seed=0)


@pytest.mark.needs(*LAYERS)
def test_activation_stats_scale_with_the_weights_until_the_last_batchnorm(stats):
    assert stats.layers == LAYER_NAMES + AFTER_BN
    assert set(stats.std) == {0.1, 1.0, 10.0}
    assert all(len(v) == len(stats.layers) for v in stats.std.values())
    ratio = {s: np.array(stats.std[s]) / np.array(stats.std[1.0]) for s in (0.1, 10.0)}
    n = len(LAYER_NAMES)
    # Measured: x10 within 0.03%, x0.1 within 2.3% (eps matters at the small scale).
    np.testing.assert_allclose(ratio[10.0][:n], 10.0, rtol=0.01)
    np.testing.assert_allclose(ratio[0.1][:n], 0.1, rtol=0.05)
    for s in (0.1, 10.0):
        np.testing.assert_allclose(ratio[s][n:], 1.0, rtol=0.01)
    assert stats.logits[1.0].shape == (32, 10)
    assert stats.logit_change(10.0) < 1e-3  # measured 3e-4
    assert stats.logit_change(0.1) < 0.1  # measured 3e-2
    assert stats.logit_change(1.0) == 0.0


@pytest.mark.needs(*LAYERS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batchnorm_removes_the_scale_of_the_conv_before_it(seed):
    out = ex.bn_scale_invariance(scales=(0.1, 10.0), seed=seed)
    assert set(out) == {0.1, 10.0}
    for s, d in out.items():
        assert d["output_eps"] < ROUNDOFF and d["grad_eps"] < ROUNDOFF, (s, d)
        assert d["output"] < (1e-4 if s > 1 else 1e-2), (s, d)  # eps / (s^2 var) effects
        assert d["grad"] < (1e-4 if s > 1 else 1e-2), (s, d)


@pytest.mark.needs(*LAYERS)
def test_scale_conv_weights_scales_every_convolution_and_nothing_else():
    a, b = build_numpy_model((4, 8, 16), seed=1), build_numpy_model((4, 8, 16), seed=1)
    ex.scale_conv_weights(b, 3.0)
    pa, pb = dict(a.named_parameters()), dict(b.named_parameters())
    for k in pa:
        want = 3.0 * pa[k].data if pa[k].data.ndim == 4 else pa[k].data
        np.testing.assert_allclose(pb[k].data, want, rtol=1e-6, err_msg=k)
    assert any(k.endswith("shortcut.weight") for k in pa)


def test_the_computed_receptive_fields_are_the_lab_networks():
    assert ex.computed_receptive_fields(build_numpy_model(seed=0)) == RECEPTIVE_FIELDS


@pytest.mark.needs(*LAYERS)
@pytest.mark.parametrize(("layer", "size"), [("layer1", 48), ("layer3", 128)])
def test_the_measured_receptive_field_is_the_computed_one(layer, size):
    rf = ex.receptive_field(layer, size=size)
    assert rf.gradient.shape == (size, size)
    assert rf.measured == RECEPTIVE_FIELDS[f"{layer}.1"]
    top, left, bottom, right = rf.box
    assert bottom - top == right - left  # square
    assert 0 < top and bottom < size - 1  # not cut by the border
    assert rf.mass_within(rf.measured) == pytest.approx(1.0)
    if layer == "layer3":  # the effective field is far smaller (measured 0.84-0.87, seeds 0-2)
        assert rf.mass_within(28) > 0.5
    with pytest.raises(ValueError, match="layer must be"):
        ex.receptive_field("fc")


@pytest.mark.needs(*LAYERS)
def test_the_model_overfits_a_tiny_batch():
    losses = ex.overfit_batch(n=10, steps=25, seed=0)
    assert len(losses) == 25
    assert 1.8 < losses[0] < 2.8  # near ln 10 at initialisation
    assert losses[-1] < 0.1 * losses[0]  # measured 0.017-0.019 of the first over seeds 0-2


@pytest.mark.needs(*LAYERS)
@pytest.mark.parametrize("widths", [(32, 64, 128), (4, 8, 16)])
def test_the_diagrams_shapes_are_the_models(widths):
    rows = network_shapes(widths)
    table = {r.name: r.shape for r in layer_table(build_numpy_model(widths, seed=0))}
    for name, _, shape in rows:
        key = {"layer1": "layer1.1", "layer2": "layer2.1", "layer3": "layer3.1"}.get(name, name)
        key = "act" if name == "bn, act" else key
        want = "(N, " + ", ".join(str(d) for d in table[key][1:]) + ")"
        assert shape.startswith(want), (name, shape, want)


def test_the_network_diagram_draws_every_step():
    fig = plot_network()
    texts = [t.get_text() for t in fig.axes[0].texts]
    for name in ("input", "reshape", "stem", "layer1", "layer2", "layer3", "pool", "fc"):
        assert any(t.startswith(f"{name}:") for t in texts), name
    assert "(N, 128, 4, 4)" in texts and "(N, 10) logits" in texts
    assert any("32 → 64" in t for t in texts) and any("64 → 128" in t for t in texts)


def test_the_receptive_field_figure_draws_the_box():
    g = np.zeros((40, 40))
    g[10:31, 10:31] = np.random.default_rng(0).random((21, 21)) + 0.1
    fig = plot_receptive_field(g, (10, 10, 30, 30), image_size=28)
    ax = fig.axes[0]
    assert ax.images and len(ax.patches) == 2
    assert "21×21" in ax.get_title()
