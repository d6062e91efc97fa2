"""Tests for lab01_utils/experiments/blocks.py (notebook 05's gradient-flow experiment) and
lab01_utils/plots/diagrams/blocks.py (the block's diagram)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import BLOCK, CONV, NORM, SILU

from lab01_utils import nn
from lab01_utils.experiments.blocks import gradient_flow, plain_block, spread_by_depth
from lab01_utils.plots.diagrams.blocks import plot_preact_block

NEEDS = SILU + CONV + NORM + BLOCK
SEEDS = (0, 1, 2, 3)
# What the notebook asserts at seed 0 (measured over seeds 0-9 at depth 16: the residual spread
# 3.4-3.8; the plain one 4.3-7.3 times the residual one).
MAX_RESIDUAL_SPREAD = 10.0
MIN_PLAIN_OVER_RESIDUAL = 3.0


@pytest.mark.needs(*NEEDS)
def test_plain_block_is_the_main_path_on_the_same_weights(rng):
    block = nn.PreActBlock(4, 4, rng=rng, dtype=np.float64)
    plain = plain_block(block)
    assert plain[2] is block.conv1 and plain[5] is block.conv2  # shared, not copied
    x = rng.standard_normal((3, 4, 5, 5))
    np.testing.assert_allclose(plain(x) + x, block(x), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="identity block"):
        plain_block(nn.PreActBlock(4, 8, stride=2, rng=rng))


@pytest.mark.needs(*NEEDS)
@pytest.mark.parametrize("seed", SEEDS)
def test_the_shortcut_keeps_the_gradient_steady_and_the_plain_stack_does_not(seed):
    run = gradient_flow(depth=16, seed=seed)
    for a in (run.residual, run.plain, run.residual_std, run.plain_std):
        assert a.shape == (16,) and np.all(np.isfinite(a)) and np.all(a > 0)
    assert run.depth == 16
    assert run.spread("residual") < MAX_RESIDUAL_SPREAD
    assert run.spread("plain") > MIN_PLAIN_OVER_RESIDUAL * run.spread("residual")
    # The residual stream grows block by block (x + F(x)); the plain one is BN-normalised.
    assert np.all(np.diff(run.residual_std) > 0)
    assert run.plain_std.max() < run.residual_std.min()


@pytest.mark.needs(*NEEDS)
def test_gradient_flow_is_reproducible_and_refuses_an_empty_stack():
    a, b = gradient_flow(depth=4, seed=5), gradient_flow(depth=4, seed=5)
    np.testing.assert_array_equal(a.residual, b.residual)
    np.testing.assert_array_equal(a.plain, b.plain)
    with pytest.raises(ValueError, match="depth"):
        gradient_flow(depth=0)


@pytest.mark.needs(*NEEDS)
def test_the_plain_spread_grows_geometrically_with_depth_the_residual_one_slowly():
    depths = (4, 8, 16)
    spread = spread_by_depth(depths, seed=0)
    assert set(spread) == {"with shortcut", "without shortcut"}
    res, plain = spread["with shortcut"], spread["without shortcut"]
    assert len(res) == len(plain) == len(depths)
    assert res[-1] / res[0] < 3  # about sqrt(16 / 4) = 2
    assert plain[-1] / plain[0] > 5
    assert all(r < MAX_RESIDUAL_SPREAD for r in res)


@pytest.mark.parametrize("projection", [False, True])
@pytest.mark.parametrize("backward", [False, True])
def test_the_block_diagram_draws_its_layers(projection, backward):
    fig = plot_preact_block(projection=projection, backward=backward)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts.count("BN") == 2 and texts.count("SiLU") == 2 and "+" in texts
    convs = [t for t in texts if t.startswith("conv 3×3")]
    assert len(convs) == 2 and ("stride 2" in convs[0]) == projection
    assert any("projection" in t for t in texts) == projection
    assert any("identity" in t for t in texts) == (not projection)
    assert (texts.count("dy") == 3) == backward
    assert ("backward" in fig._suptitle.get_text()) == backward
