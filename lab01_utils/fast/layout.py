"""Channels-last memory: the layout helpers and the channels-last im2col / col2im.

Memory layout, the one idea that makes the fast engine fast
-------------------------------------------------------------
Every activation has torch's *shape* `(N, C, H, W)`, but the engine keeps it **channels-last in
memory** (what torch calls `memory_format=torch.channels_last`): the array is a transposed
view `x_nhwc.transpose(0, 3, 1, 2)` of a C-contiguous `(N, H, W, C)` buffer. Two things follow:

* `nhwc(x)` (the `(N, H, W, C)` view) is free, and `x_nhwc.reshape(N * H * W, C)` is a
  free view too: BatchNorm and SiLU work on a plain contiguous matrix.
* im2col copies, for each output pixel, a `kH x kW x C` window whose rows `(kW, C)` are
  contiguous runs in memory, so the gather is a few long memcpy-like runs instead of
  thousands of 3-element ones; and the GEMM `cols @ W` directly produces `(N*H*W, C_out)`,
  which *is* the next activation in channels-last layout. No transposes anywhere.

An ordinary C-contiguous NCHW array (e.g. the input images) works too: `nhwc` then copies.
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..nn.functional import conv_output_size


def nhwc(x: np.ndarray) -> np.ndarray:
    """`(N, C, H, W)` -> C-contiguous `(N, H, W, C)`; free when `x` is channels-last in memory."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))  # (N, H, W, C)


def nchw_view(x_nhwc: np.ndarray) -> np.ndarray:
    """C-contiguous `(N, H, W, C)` -> an `(N, C, H, W)` view (channels-last memory)."""
    return x_nhwc.transpose(0, 3, 1, 2)  # (N, C, H, W)


def pad_nhwc(x: np.ndarray, padding: int) -> np.ndarray:
    """Zero-pad H and W of an `(N, H, W, C)` array."""
    if padding == 0:
        return x
    n, h, w, c = x.shape
    p = padding
    out = np.empty((n, h + 2 * p, w + 2 * p, c), dtype=x.dtype)
    # Zero only the border (np.zeros would also write every interior pixel twice).
    out[:, :p] = 0
    out[:, h + p :] = 0
    out[:, p : h + p, :p] = 0
    out[:, p : h + p, w + p :] = 0
    out[:, p : h + p, p : w + p, :] = x
    return out


def im2col_nhwc(x: np.ndarray, kernel_size: int, stride: int, padding: int) -> np.ndarray:
    """Unfold every `k x k` window of a channels-last image batch into one row.

    Args:
        x: `(N, H, W, C)`, C-contiguous.
    Returns:
        cols: `(N * H_out * W_out, k * k * C)`, row order `(n, h_out, w_out)`, column order
        `(kh, kw, c)`, so that `cols @ weight.transpose(2, 3, 1, 0).reshape(k * k * C, C_out)`
        is the convolution.
    """
    n, c, k = len(x), x.shape[3], kernel_size
    h_out, w_out = _out_hw(x.shape, k, stride, padding)
    xp = pad_nhwc(x, padding)  # (N, Hp, Wp, C)
    sn, sh, sw, sc = xp.strides
    # A read-only view (N, H_out, W_out, kH, kW, C) onto the padded input: window (i, j)
    # starts at pixel (i*stride, j*stride); no data is copied yet.
    windows = as_strided(
        xp,
        shape=(n, h_out, w_out, k, k, c),
        strides=(sn, sh * stride, sw * stride, sh, sw, sc),
        writeable=False,
    )
    cols = np.empty((n, h_out, w_out, k, k, c), dtype=x.dtype)
    # One copy; the innermost (kW, C) block of each window is contiguous in `xp`.
    np.copyto(cols, windows)
    return cols.reshape(n * h_out * w_out, k * k * c)  # (N*H_out*W_out, kH*kW*C)


def col2im_offsets(
    dcols: np.ndarray,
    x_shape: tuple[int, int, int, int],
    kernel_size: int,
    stride: int,
    padding: int,
) -> np.ndarray:
    """The adjoint of `im2col_nhwc`, for columns stored offset-major: `dcols` is
    `(k * k, N * H_out * W_out, C)` (`im2col_nhwc`'s `(M, k * k * C)` columns are
    `dcols.transpose(1, 0, 2).reshape(M, k * k * C)`), so each offset's slice is contiguous and
    every slice-add streams through memory. `x_shape` is `(N, H, W, C)`; returns dx of that shape.

    Overlapping windows must *add* their contributions. `np.add.at` does that element by
    element and is very slow; instead we loop over the `k * k` kernel offsets: for a fixed
    `(kh, kw)` the windows touch distinct pixels, so one strided slice-add per offset is exact.
    The padding border is cropped at the end (its gradient belongs to no input pixel).
    """
    n, _, _, c = x_shape
    h_out, w_out = _out_hw(x_shape, kernel_size, stride, padding)
    d = dcols.reshape(kernel_size, kernel_size, n, h_out, w_out, c)  # (kH, kW, N, H_out, W_out, C)
    return _fold(lambda i, j: d[i, j], x_shape, kernel_size, stride, padding, d.dtype)


def _out_hw(x_shape, k: int, stride: int, padding: int) -> tuple[int, int]:
    """`(H_out, W_out)` of a `k x k` convolution over `(N, H, W, C)` images."""
    _, h, w, _ = x_shape
    return conv_output_size(h, k, stride, padding), conv_output_size(w, k, stride, padding)


def _fold(piece, x_shape, k: int, stride: int, padding: int, dtype) -> np.ndarray:
    """Add `piece(i, j)`, the `(N, H_out, W_out, C)` gradient seen through kernel offset
    `(i, j)`, onto the padded image, one strided slice per offset; crop the padding."""
    n, h, w, c = x_shape
    h_out, w_out = _out_hw(x_shape, k, stride, padding)
    dxp = np.zeros((n, h + 2 * padding, w + 2 * padding, c), dtype=dtype)
    for i in range(k):
        for j in range(k):
            dxp[:, i : i + stride * h_out : stride, j : j + stride * w_out : stride, :] += piece(
                i, j
            )
    return dxp[:, padding : padding + h, padding : padding + w, :]


@functools.lru_cache(maxsize=64)
def ones(m: int, dtype: np.dtype) -> np.ndarray:
    """A read-only `(m,)` vector of ones. Per-channel sums are `ones @ x2` on an `(M, C)`
    matrix: one BLAS call that reads `x2` once, faster than `x2.sum(axis=0)`; the same few
    sizes come back every step, hence the cache."""
    out = np.ones(m, dtype=dtype)
    out.flags.writeable = False
    return out


def per_pixel(vec: np.ndarray, hw: int) -> np.ndarray:
    """`(C,)` -> `(H*W*C,)`: the vector once per pixel, to apply to one image row `(H*W*C,)`
    (what `np.tile(vec, hw)` gives, with less Python in between). NumPy then runs long inner
    loops, about twice as fast as broadcasting a `(C,)` vector over M short rows."""
    out = np.empty((hw, vec.shape[0]), dtype=vec.dtype)
    out[...] = vec
    return out.reshape(-1)
