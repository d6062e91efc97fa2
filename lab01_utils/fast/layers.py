"""The fast twins of `nn`'s `Conv2d`, `SiLU` and `GlobalAvgPool2d`: channels-last, threaded.

Each class subclasses its textbook twin in `lab01_utils.nn` and keeps its constructor,
parameters and `state_dict`; only `forward` and `backward` differ, and they compute the same
values (to float round-off; tests/test_fast_layers.py proves it against the twin and torch).
Activations come out channels-last in memory (`layout.py`), and the work of each layer is
split between threads along the batch (`parallel.py`).
"""

from __future__ import annotations

import numpy as np

from .. import nn
from ..nn.functional import conv_output_size
from . import parallel
from .layout import col2im_offsets, im2col_nhwc, nchw_view, nhwc


def sigmoid(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """`1 / (1 + exp(-x))` as `0.5 * (1 + tanh(x / 2))`: the same function in exact
    arithmetic, one SIMD transcendental per element, and tanh saturates to +-1 instead of
    overflowing, so large |x| needs no special case. The price: for very negative x the tiny
    result loses relative precision (float32: 4.5389e-05 instead of 4.5398e-05 at x = -10,
    and 0 below about -17); in SiLU = x * sigmoid(x) those values are invisible next to the
    rest of the activations (agreement with torch stays ~1e-7 relative to the largest value).
    `out`: write into this array instead of a new one."""
    s = np.multiply(x, 0.5, out=out)
    np.tanh(s, out=s)
    s += 1.0
    s *= 0.5
    return s


class Conv2d(nn.Conv2d):
    """`nn.Conv2d` on channels-last memory, its batch split between threads.

    forward: im2col of `(N, H, W, C_in)` windows (rows of `(kW, C)` contiguous runs) and one
    GEMM per thread, whose `(N*H_out*W_out, C_out)` result *is* the channels-last output.
    backward: dW from the kept columns; dx by one of three routes (1x1: a strided scatter of
    one GEMM; stride 1: the input gradient as a convolution of dy with the flipped kernel,
    im2col + GEMM, no scatter-adds; otherwise one GEMM per kernel offset and col2im).
    Set `input_grad = False` where nobody needs dx (the stem): backward then skips it.
    """

    input_grad = True

    def _weight_matrix(self) -> np.ndarray:
        # (C_out, C_in, kH, kW) -> (kH, kW, C_in, C_out) -> (kH*kW*C_in, C_out): the column
        # order of im2col_nhwc's rows, so cols @ W is the convolution.
        k, c_in = self.kernel_size, self.in_channels
        return self.weight.data.transpose(2, 3, 1, 0).reshape(k * k * c_in, self.out_channels)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_forward(x)
        n, _, h, w = x.shape
        k, s, p = self.kernel_size, self.stride, self.padding
        h_out, w_out = conv_output_size(h, k, s, p), conv_output_size(w, k, s, p)
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
                cols = im2col_nhwc(x_nhwc[rows], k, s, p)  # (n_rows*H_out*W_out, k*k*C_in)
            np.matmul(cols, w_mat, out=y[rows].reshape(-1, c_out))  # (n_rows*H_out*W_out, C_out)
            return rows, cols

        # Keep each slice's columns (and which images they hold) for backward.
        self.cache = (
            parallel.for_chunks(work, n, n * h_out * w_out * w_mat.shape[0]),
            x_nhwc.shape,
        )
        if self.bias is not None:
            y += self.bias.data
        return nchw_view(y)  # (N, C_out, H_out, W_out)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        self._check_backward(dy)
        pieces, x_shape = self.cache
        k, s, p = self.kernel_size, self.stride, self.padding
        dy4 = nhwc(dy)  # (N, H_out, W_out, C_out)
        c_out, c_in = self.out_channels, self.in_channels
        # Only a strided 1x1 convolution leaves input pixels untouched (their gradient is 0).
        alloc = np.zeros if (k == 1 and p == 0 and s > 1) else np.empty
        dx = alloc(x_shape, dtype=dy4.dtype) if self.input_grad else None
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
                dcols = im2col_nhwc(dy4[rows], k, 1, k - 1 - p)  # (n_rows*H*W, k*k*C_out)
                np.matmul(dcols, w_flip, out=dx[rows].reshape(-1, c_in))
            else:
                dcols = np.matmul(dy2, w_k)  # (k*k, n_rows*H_out*W_out, C_in)
                dx[rows] = col2im_offsets(dcols, dx[rows].shape, k, s, p)
            return dw, db

        parts = parallel.run_each(work, pieces)
        dw = sum(part[0] for part in parts)
        # dW back to torch's (C_out, C_in, kH, kW).
        self.weight.grad = np.ascontiguousarray(dw.reshape(k, k, c_in, c_out).transpose(3, 2, 0, 1))
        if self.bias is not None:
            self.bias.grad = sum(part[1] for part in parts)
        if dx is None:
            return None
        return nchw_view(dx)  # (N, C_in, H, W)


class SiLU(nn.SiLU):
    """`nn.SiLU` split between threads along the batch, with the tanh form of the sigmoid.
    Keeps `x`'s memory layout."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_forward(x)
        s = np.empty_like(x)  # sigmoid(x), kept for backward; x's memory layout
        y = np.empty_like(x)

        def work(rows):  # one slice of the batch; the slices run side by side (parallel.py)
            sigmoid(x[rows], out=s[rows])
            np.multiply(x[rows], s[rows], out=y[rows])

        parallel.for_batch(work, x)
        self.cache = (x, s)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        self._check_backward(dy)
        x, s = self.cache
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


class GlobalAvgPool2d(nn.GlobalAvgPool2d):
    """`nn.GlobalAvgPool2d` whose input gradient is channels-last, like every other
    activation gradient of the fast engine, so the layers before it work on contiguous rows."""

    def backward(self, dy: np.ndarray) -> np.ndarray:
        self._check_backward(dy)
        n, c, h, w = self.cache
        dx = np.broadcast_to((dy / (h * w))[:, None, None, :], (n, h, w, c)).copy()
        return nchw_view(dx)  # (N, C, H, W)
