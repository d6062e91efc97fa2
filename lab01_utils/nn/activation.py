"""`SiLU` (a.k.a. Swish-1): `x * sigmoid(x)`."""

from __future__ import annotations

import numpy as np

from . import parallel
from .module import Module


def sigmoid(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """`1 / (1 + exp(-x))` without overflow warnings.

    Written as `0.5 * (1 + tanh(x / 2))`: the same function in exact arithmetic, but tanh
    saturates to +-1 instead of overflowing, so large |x| needs no special case (and it is one
    SIMD transcendental per element). The price: for very negative x the tiny result loses
    relative precision (float32: 4.5389e-05 instead of 4.5398e-05 at x = -10, and 0 below
    about -17). In SiLU = x * sigmoid(x) those values are invisible next to the rest of the
    activations (agreement with torch stays ~1e-7 relative to the largest value).
    """
    s = np.multiply(x, 0.5, out=out)  # `out`: write into this array instead of a new one
    np.tanh(s, out=s)
    s += 1.0
    s *= 0.5
    return s


class SiLU(Module):
    """SiLU(x) = x * sigmoid(x) (Elfwing et al. 2017), like `torch.nn.SiLU`.

    Derivative: `s + x * s * (1 - s) = s * (1 + x * (1 - s))` with `s = sigmoid(x)`.
    Smooth, non-monotonic, and unlike ReLU it lets small negative values through.

    Shape: any -> same.
    """

    def __init__(self) -> None:
        super().__init__()
        self._cache = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not isinstance(x, np.ndarray):
            raise TypeError(f"SiLU: expected a numpy.ndarray, got {type(x).__name__}")
        # Exercise 1.1: SiLU forward
        ### BEGIN SOLUTION
        s = np.empty_like(x)  # sigmoid(x), kept for backward; x's memory layout
        y = np.empty_like(x)

        def work(rows):  # one slice of the batch; the slices run side by side (parallel.py)
            sigmoid(x[rows], out=s[rows])
            np.multiply(x[rows], s[rows], out=y[rows])

        parallel.for_batch(work, x)
        self._cache = (x, s)
        return y
        ### END SOLUTION

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError("SiLU.backward called before forward")
        # Exercise 1.2: SiLU backward
        ### BEGIN SOLUTION
        x, s = self._cache
        if dy.shape != x.shape:
            raise ValueError(f"SiLU.backward: dy has shape {dy.shape}, expected {x.shape}")
        g = np.empty_like(x)

        def work(rows):  # g = dy * s * (1 + x * (1 - s)), built in place, slice by slice
            gr, sr = g[rows], s[rows]
            np.subtract(1.0, sr, out=gr)
            gr *= x[rows]
            gr += 1.0
            gr *= sr
            gr *= dy[rows]

        parallel.for_batch(work, x)
        return g
        ### END SOLUTION
