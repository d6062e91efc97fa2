"""Tests for lab01_utils/augment.py: shifts, flips, their conventions and their randomness."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import AUGMENTATION
from hypothesis import given, settings
from hypothesis import strategies as st

from lab01_utils.augment import (
    apply_augmentation,
    augment_batch,
    draw_augmentation_params,
    erase_boxes,
    hflip,
    random_erase,
    shift_image,
)

pytestmark = pytest.mark.needs(*AUGMENTATION)

FLIP_PROB_TOL = 0.02  # 20,000 Bernoulli(0.5) draws: the standard deviation is 0.0035


def reference_augmentation(x, shift_x, shift_y, flip):
    """Pixel-by-pixel loop version of the documented rule, the slow and obvious way."""
    n, c, h, w = x.shape
    out = np.zeros_like(x)
    for k in range(n):
        src = x[k, :, :, ::-1] if flip[k] else x[k]
        for i in range(h):
            for j in range(w):
                si, sj = i - shift_y[k], j - shift_x[k]
                if 0 <= si < h and 0 <= sj < w:
                    out[k, :, i, j] = src[:, si, sj]
    return out


def random_batch(seed=0, shape=(8, 1, 28, 28), dtype=np.float32):
    return np.random.default_rng(seed).random(shape).astype(dtype)


# ----------------------------------------------------------------------------- apply_augmentation


def test_sign_convention_single_pixel():
    img = np.zeros((1, 6, 7), dtype=np.float32)  # (C, H, W)
    img[0, 2, 1] = 1.0
    assert shift_image(img, 1, 0)[0, 2, 2] == 1.0  # +x: right
    assert shift_image(img, 0, 1)[0, 3, 1] == 1.0  # +y: down
    assert shift_image(img, -1, -2)[0, 0, 0] == 1.0  # left and up
    assert hflip(img)[0, 2, 5] == 1.0  # column j -> W - 1 - j = 7 - 1 - 1
    # flip first (column 1 -> 5), then shift: +x still means right in the output (5 -> 6)
    flipped_then_shifted = apply_augmentation(img, 1, 0, True)
    assert flipped_then_shifted[0, 2, 6] == 1.0
    assert flipped_then_shifted.sum() == 1.0


def test_zero_fill_of_vacated_pixels():
    x = np.ones((2, 1, 5, 5), dtype=np.float64)
    out = apply_augmentation(x, shift_x=[2, -1], shift_y=[-1, 0], flip=False)
    assert np.all(out[0, :, :, :2] == 0) and np.all(out[0, :, -1:, :] == 0)
    assert np.all(out[0, :, :-1, 2:] == 1)
    assert np.all(out[1, :, :, -1] == 0) and np.all(out[1, :, :, :-1] == 1)


def test_shift_beyond_the_image_is_all_zero():
    x = random_batch(shape=(2, 1, 4, 4))
    assert np.all(apply_augmentation(x, [4, 0], [0, -9]) == 0)


def test_input_untouched_and_new_array():
    x = random_batch()
    before = x.copy()
    out = apply_augmentation(x, 0, 0, False)
    assert np.array_equal(out, x) and not np.shares_memory(out, x)
    augment_batch(x, np.random.default_rng(0))
    assert np.array_equal(x, before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
def test_shape_and_dtype_preserved(dtype):
    x = (random_batch(shape=(3, 2, 9, 7)) * 255).astype(dtype)
    out = augment_batch(x, np.random.default_rng(1))
    assert out.shape == x.shape and out.dtype == x.dtype


def test_single_image_forms():
    x = random_batch(shape=(1, 3, 6, 5))
    want = apply_augmentation(x, 1, -1, True)
    assert np.array_equal(apply_augmentation(x[0], 1, -1, True), want[0])  # (C, H, W)
    assert np.array_equal(apply_augmentation(x[0, 0], 1, -1, True), want[0, 0])  # (H, W)


def test_per_image_parameters_match_one_at_a_time():
    x = random_batch(shape=(5, 2, 8, 8))
    sx, sy, fl = np.array([0, 1, -2, 3, 0]), np.array([2, 0, -1, -3, 0]), np.array([1, 0, 1, 0, 1])
    out = apply_augmentation(x, sx, sy, fl.astype(bool))
    for k in range(5):
        assert np.array_equal(out[k], apply_augmentation(x[k], sx[k], sy[k], bool(fl[k])))
    assert np.array_equal(out, reference_augmentation(x, sx, sy, fl.astype(bool)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"x": np.zeros((2, 2, 2, 2, 2))}, "shape"),
        ({"shift_x": 1.5}, "shift_x"),
        ({"shift_y": True}, "shift_y"),
        ({"shift_x": [1, 2, 3]}, r"shape \(2,\)"),
        ({"flip": [0.5, 0.5]}, "flip"),
    ],
)
def test_apply_augmentation_rejects_bad_arguments(kwargs, match):
    args = {"x": np.zeros((2, 1, 4, 4)), "shift_x": 0, "shift_y": 0, "flip": False} | kwargs
    with pytest.raises(ValueError, match=match):
        apply_augmentation(**args)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 3),
    c=st.integers(1, 2),
    h=st.integers(1, 7),
    w=st.integers(1, 7),
    a=st.integers(-8, 8),
    b=st.integers(-8, 8),
    flip=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_property_shift_and_back_restores_interior(n, c, h, w, a, b, flip, seed):
    x = np.random.default_rng(seed).random((n, c, h, w))
    out = apply_augmentation(x, a, b, flip)
    assert np.array_equal(out, reference_augmentation(x, [a] * n, [b] * n, [flip] * n))
    back = apply_augmentation(apply_augmentation(x, a, b, False), -a, -b, False)
    # Pixel (i, j) survives the round trip iff its shifted position (i+b, j+a) was inside.
    rows = (np.arange(h) + b >= 0) & (np.arange(h) + b < h)
    cols = (np.arange(w) + a >= 0) & (np.arange(w) + a < w)
    inside = rows[:, None] & cols[None, :]
    assert np.array_equal(back, np.where(inside, x, 0.0))
    assert np.array_equal(hflip(hflip(x)), x)


# ----------------------------------------------------------------------------- augment_batch


def test_augment_batch_equals_apply_with_drawn_parameters():
    x = random_batch(shape=(64, 1, 28, 28))
    out = augment_batch(x, np.random.default_rng(7), max_shift=3, flip_prob=0.3)
    sx, sy, fl = draw_augmentation_params(64, np.random.default_rng(7), max_shift=3, flip_prob=0.3)
    assert np.array_equal(out, apply_augmentation(x, sx, sy, fl))
    assert np.array_equal(out, reference_augmentation(x, sx, sy, fl))


def test_drawn_shifts_cover_exactly_the_range():
    sx, sy, _ = draw_augmentation_params(5000, np.random.default_rng(0), max_shift=2)
    for s in (sx, sy):
        assert set(np.unique(s).tolist()) == {-2, -1, 0, 1, 2}
        assert np.all(np.abs(np.bincount(s + 2) / 5000 - 0.2) < 0.03)  # roughly uniform
    assert not np.array_equal(sx, sy)  # the two axes are drawn independently


def test_max_shift_zero_only_flips():
    x = random_batch(shape=(32, 1, 6, 6))
    out = augment_batch(x, np.random.default_rng(3), max_shift=0, flip_prob=0.5)
    for k in range(32):
        assert np.array_equal(out[k], x[k]) or np.array_equal(out[k], x[k, :, :, ::-1])


def test_flip_probability():
    _, _, fl = draw_augmentation_params(20_000, np.random.default_rng(0))
    assert abs(fl.mean() - 0.5) < FLIP_PROB_TOL
    _, _, never = draw_augmentation_params(1000, np.random.default_rng(0), flip_prob=0.0)
    _, _, always = draw_augmentation_params(1000, np.random.default_rng(0), flip_prob=1.0)
    assert not never.any() and always.all()


def test_augment_batch_is_deterministic_under_a_seed():
    x = random_batch(shape=(16, 1, 28, 28))
    a = augment_batch(x, np.random.default_rng(123))
    b = augment_batch(x, np.random.default_rng(123))
    c = augment_batch(x, np.random.default_rng(124))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize(
    "args, exc",
    [
        ((np.zeros((1, 28, 28)), np.random.default_rng(0)), ValueError),  # not a batch
        ((np.zeros((2, 1, 4, 4)), 0), TypeError),  # not a Generator
        ((np.zeros((2, 1, 4, 4)), np.random.default_rng(0), -1), ValueError),
        ((np.zeros((2, 1, 4, 4)), np.random.default_rng(0), 1.5), ValueError),
        ((np.zeros((2, 1, 4, 4)), np.random.default_rng(0), 2, 1.5), ValueError),
    ],
)
def test_augment_batch_rejects_bad_arguments(args, exc):
    with pytest.raises(exc):
        augment_batch(*args)


# ----------------------------------------------------------------------------- random erasing


def test_random_erase_zeroes_one_box_per_image_and_nothing_else():
    x = random_batch(3, shape=(200, 1, 28, 28)) + 0.5  # no zeros in the input
    before = x.copy()
    out = random_erase(x, np.random.default_rng(0), prob=1.0)
    assert np.array_equal(x, before)  # input untouched
    assert out.shape == x.shape and out.dtype == x.dtype
    top, left, h, w = erase_boxes(200, np.random.default_rng(0), 1.0)
    for k in range(200):
        zero = out[k, 0] == 0
        rows, cols = np.nonzero(zero)
        # the zeros form exactly the drawn rectangle, the rest is the input
        assert (rows.min(), rows.max() + 1) == (top[k], top[k] + h[k])
        assert (cols.min(), cols.max() + 1) == (left[k], left[k] + w[k])
        assert zero.sum() == h[k] * w[k]
        assert np.array_equal(out[k, 0][~zero], x[k, 0][~zero])
    area = h * w / 784
    assert area.min() >= 0.01 and area.max() <= 0.5  # scale (0.02, 0.4) up to rounding


def test_random_erase_probability_and_determinism():
    x = random_batch(4, shape=(4000, 1, 28, 28)) + 0.5
    out = random_erase(x, np.random.default_rng(1), prob=0.5)
    erased = (out == 0).any(axis=(1, 2, 3)).mean()
    assert abs(erased - 0.5) < FLIP_PROB_TOL * 2
    again = random_erase(x, np.random.default_rng(1), prob=0.5)
    assert np.array_equal(out, again)
    assert np.array_equal(random_erase(x, np.random.default_rng(1), prob=0.0), x)


@pytest.mark.parametrize("prob", [-0.1, 1.5])
def test_random_erase_rejects_a_bad_probability(prob):
    with pytest.raises(ValueError, match="erase prob"):
        random_erase(random_batch(), np.random.default_rng(0), prob=prob)


def test_random_erase_rejects_a_single_image():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        random_erase(np.zeros((28, 28)), np.random.default_rng(0))
