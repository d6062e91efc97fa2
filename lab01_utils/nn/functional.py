"""Stateless building blocks: input checks, im2col / col2im, and the naive loop convolution.

Every array here is NCHW, `(N, C, H, W)`, torch's layout; nothing depends on how NumPy lays
it out in memory.
"""

from __future__ import annotations

import numpy as np


def check_input(layer: str, x: np.ndarray, ndim: int, channels: int | None = None) -> None:
    """Raise a TypeError / ValueError naming `layer`, what it expects and what it got: not an
    array, not floating point (torch refuses integer input to a float layer too), the wrong
    number of dimensions or channels."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{layer}: expected a numpy.ndarray, got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(
            f"{layer}: expected a floating-point array, got dtype {x.dtype}; convert it first "
            "(images: x.astype(np.float32) / 255, as lab01_utils.data.to_images does)"
        )
    if x.ndim != ndim:
        want = "(N, C, H, W)" if ndim == 4 else "(N, features)" if ndim == 2 else f"{ndim}-D"
        raise ValueError(f"{layer}: expected input of shape {want}, got shape {x.shape}")
    if channels is not None and x.shape[1] != channels:
        want = f"(N, {channels}, H, W)" if ndim == 4 else f"(N, {channels})"
        raise ValueError(
            f"{layer}: expected {channels} channels/features, input shape {want}; "
            f"got shape {x.shape}"
        )


def conv_output_size(size: int, kernel_size: int, stride: int, padding: int) -> int:
    """H_out = floor((H + 2 * padding - kernel_size) / stride) + 1."""
    return (size + 2 * padding - kernel_size) // stride + 1


def im2col(x: np.ndarray, kernel_size: int, stride: int, padding: int) -> np.ndarray:
    """Unfold every `k x k` window of an image batch into one row.

    Args:
        x: `(N, C, H, W)`.
        kernel_size, stride, padding: k, s, p as in `Conv2d` (zero padding on every side).

    Returns:
        cols: `(N * H_out * W_out, C * k * k)` with `H_out = (H + 2p - k) // s + 1` (same for
        W). Row `(n * H_out + i) * W_out + j` holds the window of image n whose top-left
        corner is at `(i * s, j * s)` of the padded image; its columns are ordered
        `(c, u, v)`, `c` slowest, the order in which a `(C_out, C, k, k)` weight lists one
        filter's numbers. Torch's
        `F.unfold(x, k, padding=p, stride=s)` holds the same numbers as `(N, C*k*k, L)`.
        `x` is not modified.
    """
    n, c, h, w = x.shape
    k = kernel_size
    h_out = conv_output_size(h, k, stride, padding)
    w_out = conv_output_size(w, k, stride, padding)
    # Exercise 3.1: im2col
    ### BEGIN SOLUTION
    p, s = padding, stride
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))  # (N, C, H + 2p, W + 2p)
    cols = np.empty((n, h_out, w_out, c, k, k), dtype=x.dtype)
    # For a fixed kernel offset (u, v), the pixels it sees in every window form one strided
    # slice of the padded image: k * k slice copies instead of N * H_out * W_out windows.
    for u in range(k):
        for v in range(k):
            patch = xp[:, :, u : u + s * h_out : s, v : v + s * w_out : s]  # (N, C, H_out, W_out)
            cols[:, :, :, :, u, v] = patch.transpose(0, 2, 3, 1)  # (N, H_out, W_out, C)
    return cols.reshape(n * h_out * w_out, c * k * k)  # (N*H_out*W_out, C*k*k)
    ### END SOLUTION


def col2im(
    dcols: np.ndarray,
    x_shape: tuple[int, int, int, int],
    kernel_size: int,
    stride: int,
    padding: int,
) -> np.ndarray:
    """The adjoint of `im2col`: scatter every row back onto its window, adding where windows
    overlap (torch: `F.fold`).

    Args:
        dcols: `(N * H_out * W_out, C * k * k)`, laid out as `im2col` returns.
        x_shape: `(N, C, H, W)`, the shape of the (unpadded) input of `im2col`.
        kernel_size, stride, padding: as given to `im2col`.

    Returns:
        dx: `(N, C, H, W)`. `dcols` is not modified.
    """
    n, c, h, w = x_shape
    k = kernel_size
    h_out = conv_output_size(h, k, stride, padding)
    w_out = conv_output_size(w, k, stride, padding)
    # Exercise 3.3: col2im (convolution backward)
    ### BEGIN SOLUTION
    p, s = padding, stride
    d = dcols.reshape(n, h_out, w_out, c, k, k)  # (N, H_out, W_out, C, k, k)
    dxp = np.zeros((n, c, h + 2 * p, w + 2 * p), dtype=dcols.dtype)  # the padded image
    # For a fixed offset (u, v) the windows touch distinct pixels, so one slice-add per
    # offset is exact; different offsets overlap and must add (+=), not overwrite.
    for u in range(k):
        for v in range(k):
            patch = d[:, :, :, :, u, v].transpose(0, 3, 1, 2)  # (N, C, H_out, W_out)
            dxp[:, :, u : u + s * h_out : s, v : v + s * w_out : s] += patch
    return dxp[:, :, p : p + h, p : p + w]  # crop the padding: (N, C, H, W)
    ### END SOLUTION


def conv2d_naive(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, stride: int = 1, padding: int = 0
) -> np.ndarray:
    """The convolution as the definition reads, with explicit loops (for teaching and testing).

    Args:
        x: `(N, C_in, H, W)`; weight: `(C_out, C_in, kH, kW)`; bias: `(C_out,)` or None.
    Returns:
        `(N, C_out, H_out, W_out)`, `H_out = (H + 2 * padding - kH) // stride + 1`.

    Like torch (and unlike the textbook convolution), the kernel is *not* flipped: this is a
    cross-correlation.
    """
    n, c_in, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    h_out = conv_output_size(h, kh, stride, padding)
    w_out = conv_output_size(w, kw, stride, padding)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    y = np.zeros((n, c_out, h_out, w_out), dtype=np.result_type(x, weight))
    for i in range(h_out):
        for j in range(w_out):
            patch = xp[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
            # (N, C_in, kH, kW) x (C_out, C_in, kH, kW) -> (N, C_out)
            y[:, :, i, j] = np.tensordot(patch, weight, axes=([1, 2, 3], [1, 2, 3]))
    if bias is not None:
        y += bias[None, :, None, None]
    return y
