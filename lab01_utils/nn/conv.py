"""`Conv2d`: im2col + one GEMM forward, and its backward."""

from __future__ import annotations

import math

import numpy as np

from . import parallel
from .functional import check_input, col2im_offsets, conv_output_size, im2col, nchw_view, nhwc
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
        `H_out = (H + 2 * padding - k) // stride + 1` (same for W). The output is
        channels-last in memory (see `functional.py`).

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
        # Set to False where nobody needs dx (the first layer): backward then skips it.
        self.input_grad = True
        self._cols: np.ndarray | None = None
        self._x_shape: tuple[int, int, int, int] | None = None

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}"
        )

    def _weight_matrix(self) -> np.ndarray:
        # (C_out, C_in, kH, kW) -> (kH, kW, C_in, C_out) -> (kH*kW*C_in, C_out): the column
        # order of im2col's rows, so cols @ W is the convolution.
        k, c_in = self.kernel_size, self.in_channels
        return self.weight.data.transpose(2, 3, 1, 0).reshape(k * k * c_in, self.out_channels)

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input("Conv2d", x, 4, self.in_channels)
        n, _, h, w = x.shape
        k, s, p = self.kernel_size, self.stride, self.padding
        h_out, w_out = conv_output_size(h, k, s, p), conv_output_size(w, k, s, p)
        if h_out < 1 or w_out < 1:
            raise ValueError(
                f"Conv2d: input shape {x.shape} is smaller than the kernel ({k}x{k}, padding {p})"
            )
        # Exercise 3.2: im2col convolution forward
        ### BEGIN SOLUTION
        x_nhwc = nhwc(x.astype(self.weight.data.dtype, copy=False))  # (N, H, W, C_in)
        c_in, c_out = self.in_channels, self.out_channels
        w_mat = np.ascontiguousarray(self._weight_matrix())  # (k*k*C_in, C_out)
        y = np.empty((n, h_out, w_out, c_out), dtype=w_mat.dtype)  # channels-last output

        def work(rows):  # the images `rows` of the batch; slices run side by side
            if k == 1 and p == 0:
                # A 1x1 convolution needs no unfolding: a strided pick of pixels is the
                # column matrix.
                cols = np.ascontiguousarray(x_nhwc[rows, ::s, ::s, :]).reshape(-1, c_in)
            else:
                cols = im2col(x_nhwc[rows], k, s, p)  # (n_rows*H_out*W_out, k*k*C_in)
            np.matmul(cols, w_mat, out=y[rows].reshape(-1, c_out))  # (n_rows*H_out*W_out, C_out)
            return rows, cols

        # Keep each slice's columns (and which images they hold) for backward.
        self._cols = parallel.for_chunks(work, n, n * h_out * w_out * w_mat.shape[0])
        if self.bias is not None:
            y += self.bias.data
        self._x_shape = x_nhwc.shape
        return nchw_view(y)  # (N, C_out, H_out, W_out)
        ### END SOLUTION

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._cols is None:
            raise RuntimeError("Conv2d.backward called before forward")
        check_input("Conv2d.backward", dy, 4, self.out_channels)
        # Exercise 3.3: convolution backward
        ### BEGIN SOLUTION
        k, s, p = self.kernel_size, self.stride, self.padding
        dy4 = nhwc(dy)  # (N, H_out, W_out, C_out)
        c_out, c_in = self.out_channels, self.in_channels
        # Only a strided 1x1 convolution leaves input pixels untouched (their gradient is 0).
        alloc = np.zeros if (k == 1 and p == 0 and s > 1) else np.empty
        dx = alloc(self._x_shape, dtype=dy4.dtype) if self.input_grad else None
        if k == 1 and p == 0:
            w_t = self.weight.data.reshape(c_out, c_in)
        elif s == 1 and p <= k - 1:
            # Stride 1: the input gradient is itself a convolution, of dy (padded by k-1-p)
            # with the kernel flipped in space and its in/out channels swapped. Doing it as
            # im2col + GEMM avoids col2im's k*k scatter-adds, the slowest part of backward.
            w_flip = np.ascontiguousarray(
                self.weight.data[:, :, ::-1, ::-1].transpose(2, 3, 0, 1)
            ).reshape(k * k * c_out, c_in)  # (kH*kW*C_out, C_in)
        else:
            # General stride: one GEMM per kernel offset gives (kH*kW, M, C_in), each slice
            # contiguous, then col2im's overlap-add.
            w_k = self.weight.data.transpose(2, 3, 0, 1).reshape(k * k, c_out, c_in)

        def work(piece):  # the images `rows` of the batch, with their columns from forward
            rows, cols = piece
            dy2 = dy4[rows].reshape(-1, c_out)  # (n_rows*H_out*W_out, C_out)
            dw = cols.T @ dy2  # (k*k*C_in, C_out): this slice's share of dW = cols^T @ dy
            db = dy2.sum(axis=0) if self.bias is not None else None
            if dx is None:
                return dw, db
            if k == 1 and p == 0:
                dxr = dx[rows, ::s, ::s, :]
                dxr[...] = (dy2 @ w_t).reshape(dxr.shape)
            elif s == 1 and p <= k - 1:
                dcols = im2col(dy4[rows], k, 1, k - 1 - p)  # (n_rows*H*W, k*k*C_out)
                np.matmul(dcols, w_flip, out=dx[rows].reshape(-1, c_in))
            else:
                dcols = np.matmul(dy2, w_k)  # (k*k, n_rows*H_out*W_out, C_in)
                dx[rows] = col2im_offsets(dcols, dx[rows].shape, k, s, p)
            return dw, db

        parts = parallel.run_each(work, self._cols)
        dw = sum(part[0] for part in parts)
        # dW back to torch's (C_out, C_in, kH, kW).
        self.weight.grad = np.ascontiguousarray(dw.reshape(k, k, c_in, c_out).transpose(3, 2, 0, 1))
        if self.bias is not None:
            self.bias.grad = sum(part[1] for part in parts)
        if dx is None:
            return None
        return nchw_view(dx)  # (N, C_in, H, W)
        ### END SOLUTION
