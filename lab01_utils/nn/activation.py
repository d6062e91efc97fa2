"""`SiLU` (a.k.a. Swish-1): `x * sigmoid(x)`."""

from __future__ import annotations

import numpy as np

from .module import Module


def sigmoid(x: np.ndarray) -> np.ndarray:
    """`1 / (1 + exp(-x))`, elementwise, without overflow.

    Written as is, `exp(-x)` overflows for x below about -89 (float32) and NumPy warns. Both
    branches below are the same function in exact arithmetic; each is used where its `exp`
    argument is <= 0, so `exp` never overflows:
    x >= 0: `1 / (1 + exp(-x))`;  x < 0: `exp(x) / (1 + exp(x))`.
    Shape: any -> same, same dtype.
    """
    e = np.exp(-np.abs(x))  # in (0, 1]: exp(-x) where x >= 0, exp(x) where x < 0
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


class SiLU(Module):
    """SiLU(x) = x * sigmoid(x) (Elfwing et al. 2017), like `torch.nn.SiLU`.

    Smooth, non-monotonic, and unlike ReLU it lets small negative values through.

    Shape: any -> same. `forward(x)` returns `x * sigmoid(x)`; `backward(dy)` takes dy of x's
    shape and returns dx, the gradient of the loss w.r.t. x. Neither modifies its argument.
    """

    def __init__(self) -> None:
        super().__init__()
        self.cache = None  # what forward keeps for backward
        self.input_shape = None

    def _check_forward(self, x: np.ndarray) -> None:
        if not isinstance(x, np.ndarray):
            raise TypeError(f"SiLU: expected a numpy.ndarray, got {type(x).__name__}")
        self.input_shape = x.shape

    def _check_backward(self, dy: np.ndarray) -> None:
        if self.cache is None:
            raise RuntimeError("SiLU.backward called before forward")
        if np.shape(dy) != self.input_shape:
            raise ValueError(
                f"SiLU.backward: dy has shape {np.shape(dy)}, expected {self.input_shape} "
                "(the shape of forward's input)"
            )

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_forward(x)
        # Exercise 1.1: SiLU forward
        ### BEGIN SOLUTION
        s = sigmoid(x)
        self.cache = (x, s)
        return x * s
        ### END SOLUTION

    def backward(self, dy: np.ndarray) -> np.ndarray:
        self._check_backward(dy)
        # Exercise 1.2: SiLU backward
        ### BEGIN SOLUTION
        x, s = self.cache
        # d/dx [x * s(x)] = s + x * s * (1 - s), since s'(x) = s * (1 - s).
        return dy * s * (1 + x * (1 - s))
        ### END SOLUTION
