"""`GlobalAvgPool2d`: the mean over H and W of each channel."""

from __future__ import annotations

import numpy as np

from .functional import check_input, nchw_view
from .module import Module


class GlobalAvgPool2d(Module):
    """Shape: `(N, C, H, W)` -> `(N, C)` (torch: `AdaptiveAvgPool2d(1)` then `flatten(1)`)."""

    def __init__(self) -> None:
        super().__init__()
        self._shape = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input("GlobalAvgPool2d", x, 4)
        self._shape = x.shape
        return x.mean(axis=(2, 3))

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._shape is None:
            raise RuntimeError("GlobalAvgPool2d.backward called before forward")
        n, c, h, w = self._shape
        if dy.shape != (n, c):
            raise ValueError(
                f"GlobalAvgPool2d.backward: dy has shape {dy.shape}, expected {(n, c)}"
            )
        # Each of the H*W pixels contributed 1/(H*W) of the mean. The result is stored
        # channels-last like every other activation gradient (see functional.py), so the
        # layers before it work on contiguous rows.
        dx = np.broadcast_to((dy / (h * w))[:, None, None, :], (n, h, w, c)).copy()
        return nchw_view(dx)  # (N, C, H, W)
