"""`GlobalAvgPool2d`: the mean over H and W of each channel."""

from __future__ import annotations

import numpy as np

from .functional import check_input
from .module import Module


class GlobalAvgPool2d(Module):
    """Shape: `(N, C, H, W)` -> `(N, C)`, `y[n, c] = mean over (h, w) of x[n, c, h, w]`
    (torch: `AdaptiveAvgPool2d(1)` then `flatten(1)`)."""

    def __init__(self) -> None:
        super().__init__()
        self.cache = None  # forward's input shape

    def _check_backward(self, dy: np.ndarray) -> None:
        if self.cache is None:
            raise RuntimeError("GlobalAvgPool2d.backward called before forward")
        n, c, _, _ = self.cache
        if dy.shape != (n, c):
            raise ValueError(
                f"GlobalAvgPool2d.backward: dy has shape {dy.shape}, expected {(n, c)}"
            )

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input("GlobalAvgPool2d", x, 4)
        self.cache = x.shape
        return x.mean(axis=(2, 3))

    def backward(self, dy: np.ndarray) -> np.ndarray:
        self._check_backward(dy)
        n, c, h, w = self.cache
        # Each of the H*W pixels contributed 1/(H*W) of the mean.
        return np.broadcast_to((dy / (h * w))[:, :, None, None], (n, c, h, w)).copy()
