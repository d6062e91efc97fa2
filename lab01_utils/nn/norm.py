"""`BatchNorm2d` with torch's semantics, and its backward."""

from __future__ import annotations

import numpy as np

from .functional import check_input
from .module import Module, Parameter


class BatchNorm2d(Module):
    """Batch normalisation over `(N, H, W)` for each channel, exactly as `torch.nn.BatchNorm2d`.

    Args:
        num_features: C.
        eps: added to the variance before the square root (1e-5).
        momentum: weight of the *new* batch in the running statistics, torch's convention:
            `running = (1 - momentum) * running + momentum * batch` (0.1). Keras calls the
            complement (0.9) "momentum"; this is not that.
        dtype: parameter and buffer dtype (float32 by default).

    Shape: `(N, C, H, W)` -> `(N, C, H, W)`. Per channel c, over its `M = N * H * W` values:
    `y = weight[c] * (x - mean) / sqrt(var + eps) + bias[c]`. `backward(dy)` takes dy of the
    output's shape, sets `weight.grad` and `bias.grad` and returns dx; neither pass modifies
    its argument.

    Training mode normalises with the batch mean and the **biased** variance (divide by
    `M = N * H * W`) and updates `running_var` with the **unbiased** one (divide by `M - 1`);
    evaluation mode normalises with the running statistics.

    Attributes:
        weight (gamma) `(C,)` = 1, bias (beta) `(C,)` = 0; buffers `running_mean` `(C,)` = 0,
        `running_var` `(C,)` = 1, `num_batches_tracked` () int64 = 0.
    """

    def __init__(
        self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, dtype=np.float32
    ):
        super().__init__()
        if not isinstance(num_features, (int, np.integer)) or num_features < 1:
            raise ValueError(f"BatchNorm2d: num_features must be an int >= 1, got {num_features!r}")
        if not eps > 0:  # torch refuses eps <= 0 too: var + eps may be 0, then 1/0
            raise ValueError(f"BatchNorm2d: eps must be > 0, got {eps!r}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Parameter(np.ones(num_features, dtype=dtype))
        self.bias = Parameter(np.zeros(num_features, dtype=dtype))
        self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
        self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
        self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        self.cache = None  # what forward keeps for backward

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"

    def _check_forward(self, x: np.ndarray) -> None:
        check_input("BatchNorm2d", x, 4, self.num_features)
        n, _, h, w = x.shape
        if self.training and n * h * w < 2:
            raise ValueError(
                f"BatchNorm2d: training needs more than one value per channel (N * H * W >= 2), "
                f"got input shape {x.shape}"
            )

    def _check_backward(self, dy: np.ndarray) -> None:
        if self.cache is None:
            raise RuntimeError("BatchNorm2d.backward called before forward")
        check_input("BatchNorm2d.backward", dy, 4, self.num_features)

    def _update_running_stats(self, mean: np.ndarray, var: np.ndarray, m: int) -> None:
        """torch's update from a batch's `mean` and biased `var` `(C,)` over `m` values each:
        the new batch weighs `momentum`, and `running_var` takes the unbiased variance."""
        mom, dtype = self.momentum, self.running_mean.dtype
        unbiased = var * (m / (m - 1))
        self.running_mean = ((1 - mom) * self.running_mean + mom * mean).astype(dtype)
        self.running_var = ((1 - mom) * self.running_var + mom * unbiased).astype(dtype)
        self.num_batches_tracked = self.num_batches_tracked + 1

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_forward(x)
        # Exercise 4.1: BatchNorm forward
        ### BEGIN SOLUTION
        axes = (0, 2, 3)  # every value of a channel: over N, H and W
        if self.training:
            # Statistics in float64: a float32 sum of M values loses digits. Two passes
            # (centre, then square) keep them when |mean| >> std, where E[x^2] - E[x]^2
            # would cancel them away.
            mean = x.mean(axis=axes, dtype=np.float64)  # (C,)
            var = ((x - mean[None, :, None, None]) ** 2).mean(axis=axes)  # (C,), biased
            self._update_running_stats(mean, var, x.size // x.shape[1])
        else:
            mean, var = self.running_mean, self.running_var
        invstd = 1.0 / np.sqrt(var + self.eps)  # (C,)
        xhat = ((x - mean[None, :, None, None]) * invstd[None, :, None, None]).astype(x.dtype)
        invstd = invstd.astype(x.dtype)
        self.cache = (xhat, invstd, self.training)
        return self.weight.data[None, :, None, None] * xhat + self.bias.data[None, :, None, None]
        ### END SOLUTION

    def backward(self, dy: np.ndarray) -> np.ndarray:
        self._check_backward(dy)
        # Exercise 4.2: BatchNorm backward
        ### BEGIN SOLUTION
        xhat, invstd, training = self.cache
        axes = (0, 2, 3)
        m = dy.size // dy.shape[1]  # values per channel, N * H * W
        self.bias.grad = dy.sum(axis=axes)  # (C,)
        self.weight.grad = (dy * xhat).sum(axis=axes)  # (C,)
        scale = (self.weight.data * invstd)[None, :, None, None]  # gamma / sqrt(var + eps)
        if not training:  # the running statistics are constants
            return dy * scale
        # In training the mean and variance depend on every input, which adds two terms.
        dbeta = self.bias.grad[None, :, None, None] / m
        dgamma = self.weight.grad[None, :, None, None] / m
        return scale * (dy - dbeta - xhat * dgamma)
        ### END SOLUTION
