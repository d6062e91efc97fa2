"""`Linear`: `y = x @ weight.T + bias`."""

from __future__ import annotations

import math

import numpy as np

from .functional import check_input
from .module import Module, Parameter


class Linear(Module):
    """Fully connected layer, like `torch.nn.Linear`.

    Args:
        in_features, out_features: sizes; bias: add a learnable bias.
        rng: a `numpy.random.Generator` for the initialisation (default: a fresh one).
        dtype: parameter dtype (float32 by default).

    Shape: `(N, in_features)` -> `(N, out_features)`, `y = x @ weight.T + bias`.
    `backward(dy)` takes dy `(N, out_features)`, sets `weight.grad` and `bias.grad` and returns
    dx `(N, in_features)`; neither pass modifies its argument.

    Attributes:
        weight: `(out_features, in_features)` (torch's layout), U(-1/sqrt(in), 1/sqrt(in)).
        bias: `(out_features,)`, same distribution.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        rng: np.random.Generator | None = None,
        dtype=np.float32,
    ):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        rng = rng if rng is not None else np.random.default_rng()
        bound = 1.0 / math.sqrt(in_features)
        self.weight = Parameter(
            rng.uniform(-bound, bound, size=(out_features, in_features)).astype(dtype)
        )
        self.bias = (
            Parameter(rng.uniform(-bound, bound, size=out_features).astype(dtype)) if bias else None
        )
        self.cache = None  # what forward keeps for backward

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"

    def _check_backward(self, dy: np.ndarray) -> None:
        if self.cache is None:
            raise RuntimeError("Linear.backward called before forward")
        check_input("Linear.backward", dy, 2, self.out_features)

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input("Linear", x, 2, self.in_features)
        # Exercise 2.1: Linear forward
        ### BEGIN SOLUTION
        self.cache = x
        y = x @ self.weight.data.T  # (N, out)
        if self.bias is not None:
            y = y + self.bias.data
        return y
        ### END SOLUTION

    def backward(self, dy: np.ndarray) -> np.ndarray:
        self._check_backward(dy)
        # Exercise 2.2: Linear backward
        ### BEGIN SOLUTION
        x = self.cache
        self.weight.grad = dy.T @ x  # (out, in)
        if self.bias is not None:
            self.bias.grad = dy.sum(axis=0)  # (out,)
        return dy @ self.weight.data  # (N, in)
        ### END SOLUTION
