"""Training-time augmentation: random translations and horizontal flips of image batches.

Every training image is shifted by up to `max_shift` pixels on each axis and flipped
left-right with probability `flip_prob`; vacated pixels are filled with 0 (the background of
Fashion-MNIST). The defaults are the lab's recipe (`config.MAX_SHIFT` = 1 pixel,
`config.FLIP_PROB` = 0.5); the report's recipe shifts by up to 2.

Conventions (shared by every function here):
    * Images are ``(N, C, H, W)``; ``apply_augmentation`` and the helpers also take a single
      ``(C, H, W)`` or ``(H, W)`` image.
    * A positive ``shift_x`` moves the content to the right, a positive ``shift_y`` moves it
      down: ``out[..., i, j] = img[..., i - shift_y, j - shift_x]`` (0 where that is outside).
    * When both are asked for, the flip comes first (about the image's vertical centre line)
      and the shift second, so ``shift_x`` means "to the right" in the output either way.

``augment_batch`` only draws the random parameters (``draw_augmentation_params``) and hands
them to ``apply_augmentation``, which is deterministic; the augmentation explorer widget calls
``apply_augmentation`` directly with the amounts chosen on its sliders.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .config import FLIP_PROB, MAX_SHIFT

__all__ = [
    "apply_augmentation",
    "augment_batch",
    "draw_augmentation_params",
    "erase_boxes",
    "hflip",
    "random_erase",
    "shift_image",
]


def _per_image(value: ArrayLike, n: int, name: str, *, integer: bool) -> np.ndarray:
    """Broadcast a scalar or an ``(N,)`` parameter to ``(N,)``, checking its type."""
    arr = np.asarray(value)
    if integer:
        # A float shift would be silently truncated by indexing; refuse it instead.
        if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{name} must be an integer or an array of integers, got {arr.dtype}")
        arr = arr.astype(np.int64)
    else:
        if arr.dtype != np.bool_ and not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{name} must be a bool or an array of bools, got {arr.dtype}")
        arr = arr.astype(bool)
    if arr.ndim == 0:
        return np.full(n, arr.item(), dtype=arr.dtype)
    if arr.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have shape ({n},), got {arr.shape}")
    return arr


def apply_augmentation(
    x: ArrayLike,
    shift_x: ArrayLike = 0,
    shift_y: ArrayLike = 0,
    flip: ArrayLike = False,
) -> np.ndarray:
    """Flip and shift images by the given amounts (deterministic).

    Args:
        x: images, ``(N, C, H, W)``, or one image ``(C, H, W)`` or ``(H, W)``; any dtype.
        shift_x: pixels to move the content right (negative: left); int or ``(N,)`` ints.
        shift_y: pixels to move the content down (negative: up); int or ``(N,)`` ints.
        flip: mirror left-right before shifting; bool or ``(N,)`` bools.

    Returns:
        A new array with the shape and dtype of ``x``:
        ``out[n, c, i, j] = src[n, c, i - shift_y[n], j - shift_x[n]]``, where ``src`` is the
        image, mirrored if ``flip[n]``, and 0 where the index falls outside the image.
        A shift of ``H`` or ``W`` or more leaves an all-zero image. ``x`` is not modified.
    """
    x = np.asarray(x)
    if x.ndim not in (2, 3, 4):
        raise ValueError(f"x must be (N, C, H, W), (C, H, W) or (H, W), got shape {x.shape}")
    x4 = x.reshape((1,) * (4 - x.ndim) + x.shape)  # (N, C, H, W)
    n, c, h, w = x4.shape
    sx = _per_image(shift_x, n, "shift_x", integer=True)
    sy = _per_image(shift_y, n, "shift_y", integer=True)
    fl = _per_image(flip, n, "flip", integer=False)

    # Exercise 7.3: the augmentation (flip, then shift)
    ### BEGIN SOLUTION
    # One gather for the whole batch: for every output pixel, the source pixel it comes from.
    rows = np.arange(h)[None, :] - sy[:, None]  # (N, H) source row
    cols = np.arange(w)[None, :] - sx[:, None]  # (N, W) source column in the mirrored image
    # Mirroring maps column j to W-1-j; it keeps 0..W-1 in range, so validity is unchanged.
    cols = np.where(fl[:, None], w - 1 - cols, cols)
    row_ok = (rows >= 0) & (rows < h)  # (N, H)
    col_ok = (cols >= 0) & (cols < w)  # (N, W)
    out = x4[
        np.arange(n)[:, None, None, None],
        np.arange(c)[None, :, None, None],
        np.clip(rows, 0, h - 1)[:, None, :, None],
        np.clip(cols, 0, w - 1)[:, None, None, :],
    ]  # (N, C, H, W), a fresh array: fancy indexing copies
    inside = row_ok[:, None, :, None] & col_ok[:, None, None, :]  # (N, 1, H, W)
    out = np.where(inside, out, np.zeros((), dtype=x.dtype))
    return out.reshape(x.shape)
    ### END SOLUTION


def draw_augmentation_params(
    n: int,
    rng: np.random.Generator,
    max_shift: int = MAX_SHIFT,
    flip_prob: float = FLIP_PROB,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw random augmentation parameters for ``n`` images.

    The draws are made in this fixed order, which is part of the reproducibility contract
    (``MiniBatchLoader`` relies on it): ``shift_x`` then ``shift_y``, each uniform over the
    integers ``-max_shift..max_shift`` (``rng.integers(..., endpoint=True)``), then
    ``flip = rng.random(n) < flip_prob``.

    Returns:
        ``(shift_x, shift_y, flip)``, each of shape ``(n,)``: int64, int64, bool.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if isinstance(max_shift, bool) or not isinstance(max_shift, int | np.integer):
        raise ValueError(f"max_shift must be an int, got {max_shift!r}")
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0, got {max_shift}")
    if not 0.0 <= flip_prob <= 1.0:
        raise ValueError(f"flip_prob must lie in [0, 1], got {flip_prob}")
    shift_x = rng.integers(-max_shift, max_shift, size=n, endpoint=True)
    shift_y = rng.integers(-max_shift, max_shift, size=n, endpoint=True)
    flip = rng.random(n) < flip_prob
    return shift_x, shift_y, flip


def augment_batch(
    x: ArrayLike,
    rng: np.random.Generator,
    max_shift: int = MAX_SHIFT,
    flip_prob: float = FLIP_PROB,
) -> np.ndarray:
    """Randomly shift and flip every image of a batch (the training augmentation).

    Args:
        x: images ``(N, C, H, W)``, usually float in [0, 1] of shape ``(N, 1, 28, 28)``.
        rng: the only source of randomness; the same generator state gives the same output.
        max_shift: each image moves by an integer drawn uniformly from
            ``-max_shift..max_shift`` on each axis independently; vacated pixels are 0.
        flip_prob: probability that an image is mirrored left-right.

    Returns:
        A new ``(N, C, H, W)`` array of ``x``'s dtype; ``x`` is not modified.
        Equal to ``apply_augmentation(x, *draw_augmentation_params(N, rng, max_shift,
        flip_prob))``.
    """
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"x must be a batch (N, C, H, W), got shape {x.shape}")
    shift_x, shift_y, flip = draw_augmentation_params(len(x), rng, max_shift, flip_prob)
    return apply_augmentation(x, shift_x, shift_y, flip)


def shift_image(img: ArrayLike, dx: int, dy: int) -> np.ndarray:
    """Move an image (or batch) ``dx`` pixels right and ``dy`` pixels down, filling with 0."""
    return apply_augmentation(img, dx, dy, False)


def hflip(img: ArrayLike) -> np.ndarray:
    """Mirror an image (or batch) left-right: ``out[..., j] = img[..., W - 1 - j]``."""
    return apply_augmentation(img, 0, 0, True)


def erase_boxes(
    n: int,
    rng: np.random.Generator,
    prob: float,
    size: tuple[int, int] = (28, 28),
    scale: tuple[float, float] = (0.02, 0.4),
    ratio: tuple[float, float] = (0.3, 3.3),
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Draw random-erasing rectangles for ``n`` images (Zhong et al., 2020).

    Each image is erased with probability ``prob``; its rectangle covers a fraction of the
    image drawn uniformly from ``scale`` with an aspect ratio (height / width) drawn
    log-uniformly from ``ratio``, clipped to the image, at a uniform position. The draws are
    made in a fixed order (apply, area, log-ratio, top, left), all ``(n,)`` at once.

    Returns:
        ``(top, left, height, width)``, each int64 ``(n,)``; height 0 means "not erased".
    """
    if not 0.0 <= prob <= 1.0:
        raise ValueError(f"erase prob must lie in [0, 1], got {prob}")
    h, w = size
    apply = rng.random(n) < prob
    area = rng.uniform(scale[0], scale[1], n) * h * w
    log_r = rng.uniform(np.log(ratio[0]), np.log(ratio[1]), n)
    eh = np.clip(np.round(np.sqrt(area * np.exp(log_r))), 1, h).astype(np.int64)
    ew = np.clip(np.round(np.sqrt(area / np.exp(log_r))), 1, w).astype(np.int64)
    top = np.floor(rng.random(n) * (h - eh + 1)).astype(np.int64)
    left = np.floor(rng.random(n) * (w - ew + 1)).astype(np.int64)
    eh = np.where(apply, eh, 0)
    return top, left, eh, ew


def random_erase(x: ArrayLike, rng: np.random.Generator, prob: float = 0.5) -> np.ndarray:
    """Random erasing: blank one random rectangle (value 0) in each image with probability
    ``prob``. ``x``: ``(N, C, H, W)``; returns a new array of the same shape and dtype."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"x must be a batch (N, C, H, W), got shape {x.shape}")
    n, _, h, w = x.shape
    top, left, eh, ew = erase_boxes(n, rng, prob, (h, w))
    rows = np.arange(h)[None, :]  # (1, H)
    cols = np.arange(w)[None, :]  # (1, W)
    in_r = (rows >= top[:, None]) & (rows < (top + eh)[:, None])  # (N, H)
    in_c = (cols >= left[:, None]) & (cols < (left + ew)[:, None])  # (N, W)
    box = in_r[:, None, :, None] & in_c[:, None, None, :]  # (N, 1, H, W)
    return np.where(box, np.zeros((), dtype=x.dtype), x)
