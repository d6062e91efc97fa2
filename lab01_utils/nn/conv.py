"""`Conv2d`: the convolution as im2col + one matrix product, and its backward."""

from __future__ import annotations

import math

import numpy as np

from .functional import check_input, col2im, conv_output_size, im2col
from .module import Module, Parameter


class Conv2d(Module):
    """2-D convolution (cross-correlation, like `torch.nn.Conv2d`), square kernels.

    Args:
        in_channels, out_channels: C_in, C_out.
        kernel_size: k (an int; the kernel is k x k).
        stride, padding: ints, as in torch.
        bias: add a learnable `(C_out,)` bias.
        rng: a `numpy.random.Generator` for the initialisation (default: a fresh one).
        dtype: parameter dtype (float32 by default).

    Shape:
        input `(N, C_in, H, W)` -> output `(N, C_out, H_out, W_out)` with
        `H_out = (H + 2 * padding - k) // stride + 1` (same for W):
        `y[n, o, i, j] = bias[o] + sum_{c, u, v} weight[o, c, u, v] * x_pad[n, c, i*s + u, j*s + v]`
        (a cross-correlation: the kernel is not flipped). `backward(dy)` takes dy of the
        output's shape, sets `weight.grad` (and `bias.grad`) and returns dx of the input's
        shape. Neither modifies its argument.

    Attributes:
        weight: `(C_out, C_in, k, k)`, torch's layout; initialised like torch
            (`kaiming_uniform_(a=sqrt(5))`, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in))).
        bias: `(C_out,)` or None, U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,
        rng: np.random.Generator | None = None,
        dtype=np.float32,
    ):
        super().__init__()
        for name, v, lo in (
            ("in_channels", in_channels, 1),
            ("out_channels", out_channels, 1),
            ("kernel_size", kernel_size, 1),
            ("stride", stride, 1),
            ("padding", padding, 0),
        ):
            if not isinstance(v, (int, np.integer)) or v < lo:
                raise ValueError(f"Conv2d: {name} must be an int >= {lo}, got {v!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        rng = rng if rng is not None else np.random.default_rng()
        fan_in = in_channels * kernel_size * kernel_size
        bound = 1.0 / math.sqrt(fan_in)
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        self.weight = Parameter(rng.uniform(-bound, bound, size=shape).astype(dtype))
        self.bias = (
            Parameter(rng.uniform(-bound, bound, size=out_channels).astype(dtype)) if bias else None
        )
        if self.bias is None:
            self._parameters.pop("bias", None)
        self.cache = None  # what forward keeps for backward

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}"
        )

    def _check_forward(self, x: np.ndarray) -> None:
        check_input("Conv2d", x, 4, self.in_channels)
        k, p = self.kernel_size, self.padding
        if min(x.shape[2:]) + 2 * p < k:
            raise ValueError(
                f"Conv2d: input shape {x.shape} is smaller than the kernel ({k}x{k}, padding {p})"
            )

    def _check_backward(self, dy: np.ndarray) -> None:
        if self.cache is None:
            raise RuntimeError("Conv2d.backward called before forward")
        check_input("Conv2d.backward", dy, 4, self.out_channels)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_forward(x)
        n, _, h, w = x.shape
        k, s, p = self.kernel_size, self.stride, self.padding
        h_out, w_out = conv_output_size(h, k, s, p), conv_output_size(w, k, s, p)
        # Exercise 3.2: im2col convolution forward
        ### BEGIN SOLUTION
        cols = im2col(x, k, s, p)  # (N*H_out*W_out, C_in*k*k)
        w_mat = self.weight.data.reshape(self.out_channels, -1)  # (C_out, C_in*k*k)
        y = cols @ w_mat.T  # (N*H_out*W_out, C_out)
        if self.bias is not None:
            y = y + self.bias.data
        self.cache = (x.shape, cols)
        return y.reshape(n, h_out, w_out, self.out_channels).transpose(
            0, 3, 1, 2
        )  # (N, C_out, H_out, W_out)
        ### END SOLUTION

    def backward(self, dy: np.ndarray) -> np.ndarray:
        self._check_backward(dy)
        # Exercise 3.3: convolution backward
        ### BEGIN SOLUTION
        x_shape, cols = self.cache
        dy2 = dy.transpose(0, 2, 3, 1).reshape(-1, self.out_channels)  # (N*H_out*W_out, C_out)
        w_mat = self.weight.data.reshape(self.out_channels, -1)  # (C_out, C_in*k*k)
        self.weight.grad = (dy2.T @ cols).reshape(self.weight.data.shape)  # (C_out, C_in, k, k)
        if self.bias is not None:
            self.bias.grad = dy2.sum(axis=0)  # (C_out,)
        dcols = dy2 @ w_mat  # (N*H_out*W_out, C_in*k*k)
        return col2im(dcols, x_shape, self.kernel_size, self.stride, self.padding)
        ### END SOLUTION
