"""`BatchNorm2d` with torch's semantics, and its backward."""

from __future__ import annotations

import functools

import numpy as np

from . import parallel
from .functional import check_input, nchw_view, nhwc
from .module import Module, Parameter


def _pixel_rows(images: slice, hw: int) -> slice:
    """The rows of an `(N*H*W, C)` matrix that belong to the images `images` (H*W = `hw`)."""
    return slice(images.start * hw, images.stop * hw)


@functools.lru_cache(maxsize=64)
def _ones(m: int, dtype: np.dtype) -> np.ndarray:
    """A read-only `(m,)` vector of ones (the same few sizes come back every step)."""
    ones = np.ones(m, dtype=dtype)
    ones.flags.writeable = False
    return ones


def _per_pixel(vec: np.ndarray, hw: int) -> np.ndarray:
    """`(C,)` -> `(H*W*C,)`: the vector once per pixel, to apply to one image row `(H*W*C,)`
    (what `np.tile(vec, hw)` gives, with less Python in between)."""
    out = np.empty((hw, vec.shape[0]), dtype=vec.dtype)
    out[...] = vec
    return out.reshape(-1)


class BatchNorm2d(Module):
    """Batch normalisation over `(N, H, W)` for each channel, exactly as `torch.nn.BatchNorm2d`.

    Args:
        num_features: C.
        eps: added to the variance before the square root (1e-5).
        momentum: weight of the *new* batch in the running statistics, torch's convention:
            `running = (1 - momentum) * running + momentum * batch` (0.1). Keras calls the
            complement (0.9) "momentum"; this is not that.
        dtype: parameter and buffer dtype (float32 by default).

    Shape: `(N, C, H, W)` -> `(N, C, H, W)`.

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
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Parameter(np.ones(num_features, dtype=dtype))
        self.bias = Parameter(np.zeros(num_features, dtype=dtype))
        self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
        self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
        self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        self._cache = None

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input("BatchNorm2d", x, 4, self.num_features)
        n, c, h, w = x.shape
        # Exercise 4.1: BatchNorm forward
        ### BEGIN SOLUTION
        dtype = self.weight.data.dtype
        x2 = nhwc(x.astype(dtype, copy=False)).reshape(-1, c)  # (M, C), M = N*H*W
        m = x2.shape[0]
        if self.training and m < 2:
            raise ValueError(
                f"BatchNorm2d: training needs more than one value per channel, got input "
                f"shape {x.shape}"
            )
        # The images are split between threads (parallel.py); a per-channel sum is the sum of
        # the threads' partial sums. Channel sums are matrix-vector products with a ones
        # vector: one BLAS call that reads x once, faster than x.mean(axis=0) on a tall
        # (M, C) matrix. Per-channel vectors are applied to one row per image, (N, H*W*C),
        # with the vector tiled H*W times: NumPy then runs long inner loops, about twice as
        # fast as broadcasting a (C,) vector over M short rows.
        hw = h * w
        ones = _ones(m, np.dtype(dtype))
        xc = np.empty_like(x2)  # (M, C), x - mean, kept for backward
        y = np.empty_like(x2)  # (M, C), also the scratch for the squares
        x3, xc3, y3 = (a.reshape(n, hw * c) for a in (x2, xc, y))  # one row per image

        def pixels(r):  # the (M, C) rows of images r
            return _pixel_rows(r, hw)

        if self.training:
            mean = sum(parallel.for_chunks(lambda r: ones[pixels(r)] @ x2[pixels(r)], n, x2.size))
            mean /= m  # (C,)
        else:
            mean = self.running_mean
        mean_hw = _per_pixel(mean.astype(dtype, copy=False), hw)  # (H*W*C,)

        def centre(r):
            np.subtract(x3[r], mean_hw, out=xc3[r])
            if self.training:
                np.square(xc3[r], out=y3[r])
                return ones[pixels(r)] @ y[pixels(r)]
            return None

        parts = parallel.for_chunks(centre, n, x2.size)
        if self.training:
            # Two-pass variance (centre first, then square): E[x^2] - E[x]^2 loses digits
            # to cancellation in float32 when |mean| >> std.
            var = sum(parts) / m  # (C,) biased
            mom = self.momentum
            self._buffers["running_mean"] = (1 - mom) * self.running_mean + mom * mean
            self._buffers["running_var"] = (1 - mom) * self.running_var + mom * var * (m / (m - 1))
            self._buffers["num_batches_tracked"] = self.num_batches_tracked + 1
        else:
            var = self.running_var
        invstd = (1.0 / np.sqrt(var + self.eps)).astype(dtype)  # (C,)
        # y = gamma * xhat + beta with xhat = xc * invstd, folded into one scale per channel
        # so the big array is touched twice, not four times. Backward keeps `xc`, not xhat.
        scale_hw = _per_pixel(self.weight.data * invstd, hw)  # (H*W*C,)
        bias_hw = _per_pixel(self.bias.data, hw)

        def affine(r):
            np.multiply(xc3[r], scale_hw, out=y3[r])
            y3[r] += bias_hw

        parallel.for_chunks(affine, n, x2.size)
        self._cache = (xc, invstd, self.training)
        return nchw_view(y.reshape(n, h, w, c))  # (N, C, H, W)
        ### END SOLUTION

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError("BatchNorm2d.backward called before forward")
        check_input("BatchNorm2d.backward", dy, 4, self.num_features)
        # Exercise 4.2: BatchNorm backward
        ### BEGIN SOLUTION
        xc, invstd, training = self._cache
        n, c, h, w = dy.shape
        dy2 = nhwc(dy).reshape(-1, c)  # (M, C)
        m, hw = dy2.shape[0], h * w
        ones = _ones(m, dy2.dtype)
        dx = np.empty_like(dy2)  # (M, C), first the scratch for dy * xc
        dy3, xc3, dx3 = (a.reshape(n, hw * c) for a in (dy2, xc, dx))  # one row per image

        def sums(r):  # images r's share of sum(dy) and sum(dy * xc)
            px = _pixel_rows(r, hw)
            np.multiply(dy3[r], xc3[r], out=dx3[r])
            return ones[px] @ dy2[px], ones[px] @ dx[px]

        parts = parallel.for_chunks(sums, n, dy2.size)
        dbeta = sum(p[0] for p in parts)  # (C,)
        dgamma = sum(p[1] for p in parts) * invstd  # (C,) = sum(dy * xhat)
        self.bias.grad, self.weight.grad = dbeta, dgamma
        scale = self.weight.data * invstd  # (C,) = gamma * invstd
        # In training the batch statistics depend on every input, which adds two terms:
        # dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)),
        # with xhat = xc * invstd, i.e. dx = dy * scale - (xc * k + b) per channel.
        scale_hw = _per_pixel(scale, hw)  # per-channel vectors tiled to one image row
        k_hw = _per_pixel(scale * invstd * dgamma / m, hw)
        b_hw = _per_pixel(scale * dbeta / m, hw)

        def grad(r):
            d = dx3[r]
            np.multiply(dy3[r], scale_hw, out=d)
            if training:
                corr = xc3[r] * k_hw
                corr += b_hw
                d -= corr

        parallel.for_chunks(grad, n, dy2.size)
        return nchw_view(dx.reshape(n, h, w, c))  # (N, C, H, W)
        ### END SOLUTION
