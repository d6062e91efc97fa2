"""Tests for `lab01_utils/experiments/optim.py` and `lab01_utils/plots/diagrams/optim.py`:
notebook 07's experiments show their effects, at the notebook's seed and at others, and its
figure draws what it should."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import AUGMENTATION, LINEAR, LOSS, OPTIMIZER, SCHEDULE, SILU
from matplotlib.figure import Figure

from lab01_utils.experiments.optim import (
    VALLEY_LRS,
    augmentation_gap,
    learning_rates,
    make_valley,
    momentum_vs_plain,
    schedules,
)
from lab01_utils.plots.diagrams.optim import plot_valley_paths

SEEDS = (0, 1, 2)  # the notebook's seed and two more: the effects are not one seed's luck
# Margins, measured over 20 seeds (schedules) and 10 seeds (augmentation_gap) at the defaults:
# the constant high rate ends 90-1130x above the step schedule, the constant low rate 36-408x,
# full batch 376-4250x; the step schedule's loss falls 12-52x after its first milestone.
# Train-test gap without augmentation 0.127-0.153, with 0.020-0.055 (difference >= 0.080);
# accuracy lost on one-pixel shifts of the test set 0.058-0.088 without, 0.008-0.023 with
# (difference >= 0.046); on mirrored test images without 0.22-0.26, with 0.000-0.018.
SCHEDULE_MARGIN = 20.0
GAP_MARGIN = 0.04
SHIFT_MARGIN = 0.02


def test_the_valley_has_the_curvatures_and_minimum_it_claims():
    v = make_valley(seed=3)
    n = len(v.y)
    np.testing.assert_allclose(v.x.T @ v.x / n, np.diag(v.curvatures), atol=1e-10)
    np.testing.assert_allclose(v.gradient(v.optimum), 0.0, atol=1e-12)
    w = np.array([0.7, -0.2])
    mean_loss = lambda p: 0.5 * np.mean((v.x @ p - v.y) ** 2)  # noqa: E731
    assert v.excess_loss(w) == pytest.approx(mean_loss(w) - mean_loss(v.optimum), rel=1e-10)
    # Examples disagree at the minimum: a mini-batch's gradient there is not zero.
    assert np.abs(v.gradient(v.optimum, np.arange(10))).max() > 0.1


@pytest.mark.needs(*OPTIMIZER)
@pytest.mark.parametrize("seed", SEEDS)
def test_momentum_goes_further_down_the_valley_than_plain_sgd(seed):
    r = momentum_vs_plain(seed=seed)
    names = ["plain, lr 0.01", "momentum 0.9, lr 0.01", "plain, lr 0.035"]
    assert list(r.paths) == names and list(r.losses) == names
    assert all(p.shape == (101, 2) for p in r.paths.values())
    assert all(v.shape == (101,) for v in r.losses.values())
    plain, heavy, fast = (r.losses[k][-1] for k in names)
    assert heavy < plain / 1000  # measured 1.3e-4 against 1.07
    assert heavy < fast / 10  # plain SGD near its largest rate: 6.4e-3
    for k in names:
        np.testing.assert_array_equal(r.paths[k][0], r.valley.start)


@pytest.mark.needs(*OPTIMIZER)
def test_a_rate_above_two_over_the_curvature_diverges():
    r = learning_rates()
    assert list(r.losses) == list(VALLEY_LRS)
    low, good, high = (r.losses[k] for k in VALLEY_LRS)
    assert VALLEY_LRS["near the limit"] < 2 / 50 < VALLEY_LRS["too high"]
    assert np.all(np.diff(good) <= 0) and np.all(np.diff(low) <= 0)  # stable: never up
    assert high[-1] > 1e3 * high[0]  # measured 8e5 from 17
    assert low[-1] > 10 * good[-1]  # measured 4.9 against 0.11


@pytest.mark.needs(*OPTIMIZER, *SCHEDULE)
@pytest.mark.parametrize("seed", SEEDS)
def test_the_step_schedule_is_fast_early_and_precise_late(seed):
    r = schedules(seed=seed)
    names = ["constant 0.01", "constant 0.0001", "step schedule", "full batch"]
    assert list(r.epoch_loss) == names and list(r.final_loss) == names
    assert all(v.shape == (30,) for v in r.epoch_loss.values())
    lrs = r.lrs["step schedule"][[0, 14, 15, 24, 25, 29]]  # epochs 1, 15, 16, 25, 26, 30
    np.testing.assert_allclose(lrs, [0.01, 0.01, 0.001, 0.001, 1e-4, 1e-4])
    f, e = r.final_loss, r.epoch_loss
    step = f["step schedule"]
    assert f["constant 0.01"] > SCHEDULE_MARGIN * step
    assert f["constant 0.0001"] > SCHEDULE_MARGIN * step
    assert f["full batch"] > SCHEDULE_MARGIN * step
    assert e["constant 0.0001"][4] > 5 * e["constant 0.01"][4]  # a low rate is slow early
    floor_drop = e["step schedule"][10:15].mean() / e["step schedule"][20:25].mean()
    assert floor_drop > 5


@pytest.mark.needs(*SILU, *LINEAR, *LOSS, *OPTIMIZER, *AUGMENTATION)
@pytest.mark.parametrize("seed", (0, 1))
def test_augmentation_closes_the_gap_and_buys_invariance(seed):
    r = augmentation_gap(seed=seed)
    for stats in (r.train_accuracy, r.batch_accuracy, r.test_accuracy):
        assert set(stats) == {"without", "with"}
        assert all(v.shape == (20,) for v in stats.values())
    assert r.gap("without") > 0.08
    assert r.gap("with") < r.gap("without") - GAP_MARGIN
    assert r.shift_drop("with") < r.shift_drop("without") - SHIFT_MARGIN
    flips_without, flips_with = r.flipped_accuracy["without"], r.flipped_accuracy["with"]
    assert r.test_accuracy["without"][-1] - flips_without["horizontal"] > 0.1
    assert abs(flips_with["horizontal"] - r.test_accuracy["with"][-1]) < 0.04
    for run in ("without", "with"):  # neither was shown an upside-down garment
        assert r.flipped_accuracy[run]["vertical"] < r.test_accuracy[run][-1] - 0.3
    # A log's "Train Acc" on augmented batches is close to the test accuracy, not above it.
    assert r.batch_accuracy["with"][-1] < r.test_accuracy["with"][-1] + 0.05
    assert r.batch_accuracy["without"][-1] > r.test_accuracy["without"][-1] + 0.08


def test_the_valley_figure_draws_every_path_the_start_and_the_minimum():
    paths = {
        "a": np.array([[-4.0, 0.6], [-3.0, -0.2], [-1.0, 0.0]]),
        "b": np.array([[-4.0, 0.6], [np.inf, np.nan], [0.0, 0.1]]),  # a diverged point
    }
    fig = plot_valley_paths(paths, (1.0, 50.0), title="two paths")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = [ln.get_label() for ln in ax.lines]
    assert "a" in labels and "b" in labels
    assert {"start", "minimum"} <= {t.get_text() for t in ax.texts}
    assert ax.get_title() == "two paths"
    assert ax.get_xlim()[0] < -4 and ax.get_xlim()[1] > 0
    with pytest.raises(ValueError, match="no paths"):
        plot_valley_paths({}, (1.0, 50.0))
