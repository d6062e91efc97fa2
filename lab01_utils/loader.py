"""Seeded mini-batches: the same images, order and augmentation for both tasks."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .augment import augment_batch, random_erase
from .config import DEFAULTS, ERASE_PROB, FLIP_PROB, MAX_SHIFT
from .images import IMAGE_SHAPE, NUM_PIXELS, to_images

__all__ = ["MiniBatchLoader"]


class MiniBatchLoader:
    """Seeded mini-batches shared by the NumPy and the torch training loops.

    Epoch ``e`` draws everything (the permutation, then each batch's augmentation, in batch
    order) from ``np.random.default_rng([seed, e])`` and nothing else, so:
    a run resumed at epoch ``e`` sees the same batches as an uninterrupted run, and two
    loaders with the same data and arguments give identical batches.

    Args:
        x: pixels 0..255, ``(N, 784)`` or ``(N, 1, 28, 28)``; kept as given (uint8 stays
            uint8) and converted to float one batch at a time, which saves the 188 MB a
            float32 copy of the training set would take.
        y: integer labels ``(N,)``.
        batch_size: images per batch; the last batch keeps the remainder.
        shuffle: draw a fresh permutation every epoch (else the original order).
        augment: apply ``augment_batch`` (random shifts and flips) to every batch.
        seed: non-negative int, the run's seed.
        max_shift, flip_prob: passed to ``augment_batch``.
        erase_prob: with ``augment``, also blank a random rectangle in each image with this
            probability (``random_erase``); 0 (the report's recipe) draws nothing for it.
        dtype: float type of the image batches.

    Usage::

        loader = MiniBatchLoader(x, y, batch_size=50, augment=True, seed=0)
        for epoch in range(1, num_epochs + 1):  # train() counts epochs from 1
            for xb, yb in loader.epoch(epoch):  # (B, 1, 28, 28) float, (B,) int64
                ...
    """

    def __init__(
        self,
        x: ArrayLike,
        y: ArrayLike,
        batch_size: int = DEFAULTS["batch_size"],
        shuffle: bool = True,
        augment: bool = False,
        seed: int = DEFAULTS["seed"],
        max_shift: int = MAX_SHIFT,
        flip_prob: float = FLIP_PROB,
        dtype: DTypeLike = np.float32,
        erase_prob: float = ERASE_PROB,
    ) -> None:
        x, y = np.asarray(x), np.asarray(y)
        if not (
            (x.ndim == 2 and x.shape[1] == NUM_PIXELS)
            or (x.ndim == 4 and x.shape[1:] == IMAGE_SHAPE)
        ):
            raise ValueError(f"x must have shape (N, 784) or (N, 1, 28, 28), got {x.shape}")
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"y must be integer labels of shape (N,), got {y.dtype} {y.shape}")
        if len(x) != len(y):
            raise ValueError(f"x and y differ in length: {len(x)} images, {len(y)} labels")
        if len(x) == 0:
            raise ValueError("x and y are empty")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
            raise ValueError(f"batch_size must be an int, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        if max_shift < 0 or not 0.0 <= flip_prob <= 1.0:
            raise ValueError(
                f"need max_shift >= 0 and 0 <= flip_prob <= 1, got {max_shift}, {flip_prob}"
            )
        if not 0.0 <= erase_prob <= 1.0:
            raise ValueError(f"erase_prob must lie in [0, 1], got {erase_prob}")
        if not np.issubdtype(np.dtype(dtype), np.floating):
            raise ValueError(f"dtype must be a float type, got {np.dtype(dtype)}")
        self.x, self.y = x, y
        self.batch_size = int(batch_size)
        self.shuffle, self.augment = bool(shuffle), bool(augment)
        self.seed = int(seed)
        self.max_shift, self.flip_prob = max_shift, flip_prob
        self.erase_prob = float(erase_prob)
        self.dtype = np.dtype(dtype)

    @property
    def num_samples(self) -> int:
        """N, the number of images."""
        return len(self.y)

    def __len__(self) -> int:
        """Batches per epoch, ``ceil(N / batch_size)``."""
        return -(-self.num_samples // self.batch_size)

    def epoch(self, epoch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield the batches ``(xb, yb)`` of epoch number ``epoch`` (any int >= 0;
        ``lab01_utils.train`` counts epochs from 1, so use 1 for its first epoch).

        ``xb``: float ``(B, 1, 28, 28)`` in [0, 1]; ``yb``: int64 ``(B,)``;
        ``B = batch_size`` except possibly for the last batch.
        """
        if isinstance(epoch, bool) or not isinstance(epoch, int | np.integer) or epoch < 0:
            raise ValueError(f"epoch must be a non-negative int, got {epoch!r}")
        rng = np.random.default_rng([self.seed, int(epoch)])
        n = self.num_samples
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size]
            xb = to_images(self.x[idx], self.dtype)  # (B, 1, 28, 28)
            if self.augment:
                xb = augment_batch(xb, rng, self.max_shift, self.flip_prob)
                if self.erase_prob > 0:
                    xb = random_erase(xb, rng, self.erase_prob)
            yield xb, self.y[idx].astype(np.int64)
