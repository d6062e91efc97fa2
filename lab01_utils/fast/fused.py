"""BatchNorm2d followed by SiLU, run as one step: the pre-activation blocks' fast path.

Every BatchNorm2d in a pre-activation block feeds a SiLU. Run as two modules, the pair reads
and writes the whole activation about a dozen times in forward and again in backward, each
time in a separate split call (`parallel.py`), so each pass finds its data already evicted
from the core's cache by the pass before, and each call pays a hand-off between threads.
Here the two modules' arithmetic is unchanged, only regrouped:

forward
    1. (training) statistics: `xs = x - shift` with `shift` the first image's channel means,
       and per channel `sum(xs)` and `sum(xs**2)`: mean = shift + sum(xs) / M and the biased
       variance `sum(xs**2) / M - (sum(xs) / M)**2`. Shifting by a value close to the mean
       keeps that difference free of the cancellation that ruins `E[x**2] - E[x]**2` in
       float32 (measured against the two-pass variance in tests/test_fused.py).
    2. apply: `y = xs * scale + bias'` (BatchNorm, the mean folded into `bias'`),
       `s = sigmoid(y)`, `out = y * s` (SiLU).
backward
    1. `g = dy * s * (1 + y * (1 - s))` (SiLU's derivative, `y` recomputed from `xs`) and
       per channel `sum(g)` and `sum(g * xs)`: BatchNorm's two parameter gradients;
    2. `dx = g * scale - (xs * k + b)` (BatchNorm's input gradient), in place of `g`.

Each step is one split call, and each thread works through its images in groups of about
`GROUP_BYTES` per array, so that everything a group's operations write is still in the core's
L2 cache when the next operation reads it. Two hand-offs per direction instead of four and
three; what stays in memory for backward (`xs` and `s`) is what the two modules kept.

`FusedPreActBlock` (below, what `fast.accelerate` makes of each `nn.PreActBlock`) calls these
functions with its own `bn1, act1` and `bn2, act2`; the modules' parameters and buffers are
used and updated exactly as their own `forward`/`backward` would. Like all of
`lab01_utils/fast/`, instructor-only: it holds the answers to the BatchNorm and SiLU exercises.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..nn import BatchNorm2d, PreActBlock, SiLU
from ..nn.functional import check_input
from . import collective, parallel
from .layers import sigmoid
from .layout import nchw_view, nhwc
from .layout import ones as _ones
from .layout import per_pixel as _per_pixel

GROUP_BYTES = 1 << 18  # bytes per array that one group of images fills (the L2 cache is 2 MB)


class BnSiluState(NamedTuple):
    """What `bn_silu_backward` needs from `bn_silu_forward`."""

    xs: np.ndarray  # (M, C), x - shift
    s: np.ndarray | None  # (M, C), sigmoid(y); None without a SiLU
    scale: np.ndarray  # (C,), gamma * invstd
    bias: np.ndarray  # (C,), beta - (mean - shift) * scale: y = xs * scale + bias
    invstd: np.ndarray  # (C,)
    offset: np.ndarray  # (C,), mean - shift (0 in eval mode)
    training: bool
    shape: tuple[int, int, int, int]  # (N, C, H, W)
    count: int  # M of the whole batch (with data_parallel.py: over every process)


def _combine(parts: list[np.ndarray], c: int) -> tuple[float, np.ndarray, np.ndarray]:
    """Count, mean and sum of squared deviations of several groups of values, each given as
    `[count, mean (C,), M2 (C,)]`, combined exactly (Chan, Golub and LeVeque, 1979): the
    total M2 adds each group's own and its count times its mean's squared distance from the
    overall mean. Float64; the same order on every process, so every process gets the same."""
    counts = [float(p[0]) for p in parts]
    means = [p[1 : 1 + c] for p in parts]
    m_all = sum(counts)
    mean = sum(k * mu for k, mu in zip(counts, means, strict=True)) / m_all
    m2 = sum(
        p[1 + c :] + k * (mu - mean) ** 2 for p, k, mu in zip(parts, counts, means, strict=True)
    )
    return m_all, mean, m2


def _groups(rows: slice, per_group: int) -> list[slice]:
    """`rows` (a slice of images) cut into consecutive groups of at most `per_group` images."""
    return [
        slice(i, min(i + per_group, rows.stop)) for i in range(rows.start, rows.stop, per_group)
    ]


def _group_buffer(rows: slice, per_group: int, row_elements: int, dtype) -> np.ndarray:
    """Scratch for one group of the images `rows`: `(min(per_group, len), row_elements)`."""
    return np.empty((min(per_group, rows.stop - rows.start), row_elements), dtype=dtype)


def _group_size(row_elements: int, itemsize: int) -> int:
    """Images per group: as many as fill `GROUP_BYTES` per array (at least one)."""
    return max(1, GROUP_BYTES // (row_elements * itemsize))


def bn_silu_forward(bn: BatchNorm2d, act: SiLU, x: np.ndarray) -> tuple[np.ndarray, BnSiluState]:
    """`act(bn(x))`, with `bn`'s running statistics updated in training mode.

    Shape: `(N, C, H, W)` -> `(N, C, H, W)` (channels-last memory). Returns the output and the
    state for `bn_silu_backward`."""
    bn._check_forward(x)
    n, c, h, w = x.shape
    dtype = bn.weight.data.dtype
    x2 = nhwc(x.astype(dtype, copy=False)).reshape(-1, c)  # (M, C), M = N*H*W
    m, hw = x2.shape[0], h * w
    training = bn.training
    ones = _ones(m, np.dtype(dtype))
    xs, out = np.empty_like(x2), np.empty_like(x2)  # (M, C) each
    s = np.empty_like(x2) if act is not None else None  # (M, C), SiLU's sigmoid
    x3, xs3, out3 = (a.reshape(n, hw * c) for a in (x2, xs, out))  # one row per image
    s3 = s.reshape(n, hw * c) if s is not None else None
    per = _group_size(hw * c, x2.itemsize)

    if training:
        shift = ones[:hw] @ x2[:hw] / hw  # (C,), the first image's channel means
        shift_hw = _per_pixel(shift.astype(dtype, copy=False), hw)

        def stats(r):  # sum(xs), sum(xs**2) over the images r, group by group
            sq = _group_buffer(r, per, hw * c, dtype)
            s1 = s2 = 0
            for g in _groups(r, per):
                k = g.stop - g.start
                np.subtract(x3[g], shift_hw, out=xs3[g])
                s1 = s1 + ones[: k * hw] @ xs[g.start * hw : g.stop * hw]
                np.square(xs3[g], out=sq[:k])
                s2 = s2 + ones[: k * hw] @ sq[:k].reshape(-1, c)
            return s1, s2

        parts = parallel.for_chunks(stats, n, x2.size)
        s1 = sum(p[0] for p in parts).astype(np.float64)  # (C,)
        s2 = sum(p[1] for p in parts).astype(np.float64)
        # These images' count, mean and sum of squared deviations; with data_parallel.py
        # every process has its own, combined as Chan et al.'s parallel variance does.
        local = np.concatenate([[m], shift + s1 / m, np.maximum(s2 - s1 * s1 / m, 0)])
        m_all, mean, m2 = _combine(collective.all_gather(local), c)
        var = m2 / m_all  # (C,) biased, float64
        offset = (mean - shift).astype(dtype)  # (C,), mean - shift
        mom = bn.momentum
        bn._buffers["running_mean"] = ((1 - mom) * bn.running_mean + mom * mean).astype(dtype)
        bn._buffers["running_var"] = (
            (1 - mom) * bn.running_var + mom * var * (m_all / (m_all - 1))
        ).astype(dtype)
        bn._buffers["num_batches_tracked"] = bn.num_batches_tracked + 1
    else:
        shift_hw = _per_pixel(bn.running_mean.astype(dtype, copy=False), hw)
        offset, var, m_all = np.zeros(c, dtype=dtype), bn.running_var, m
    invstd = (1.0 / np.sqrt(var + bn.eps)).astype(dtype)  # (C,)
    scale = bn.weight.data * invstd  # (C,)
    bias = bn.bias.data - offset * scale  # (C,)
    scale_hw, bias_hw = _per_pixel(scale, hw), _per_pixel(bias, hw)

    def apply(r):  # BatchNorm's affine, then SiLU, group by group
        y = _group_buffer(r, per, hw * c, dtype) if act is not None else None  # SiLU's input
        for g in _groups(r, per):
            yg = y[: g.stop - g.start] if act is not None else out3[g]
            if not training:
                np.subtract(x3[g], shift_hw, out=xs3[g])
            np.multiply(xs3[g], scale_hw, out=yg)
            yg += bias_hw
            if act is not None:
                sigmoid(yg, out=s3[g])
                np.multiply(yg, s3[g], out=out3[g])

    parallel.for_chunks(apply, n, x2.size)
    bn.cache = None  # the pair's state lives in the returned state instead
    if act is not None:
        act.cache = None
    state = BnSiluState(xs, s, scale, bias, invstd, offset, training, (n, c, h, w), m_all)
    return nchw_view(out.reshape(n, h, w, c)), state


def bn_silu_backward(bn: BatchNorm2d, act: SiLU, state: BnSiluState, dy: np.ndarray) -> np.ndarray:
    """The gradient of `act(bn(x))` w.r.t. `x`; sets `bn.weight.grad` and `bn.bias.grad`.

    Shape: `dy` `(N, C, H, W)` -> `dx` `(N, C, H, W)`."""
    n, c, h, w = state.shape
    if dy.shape != state.shape:
        raise ValueError(
            f"BatchNorm2d + SiLU backward: dy has shape {dy.shape}, expected {state.shape}"
        )
    dy2 = nhwc(dy).reshape(-1, c)  # (M, C), these images' pixels
    hw = h * w
    ones = _ones(dy2.shape[0], dy2.dtype)
    dx = np.empty_like(dy2)  # (M, C): first SiLU's input gradient g, then BatchNorm's dx
    dy3, xs3, dx3 = (a.reshape(n, hw * c) for a in (dy2, state.xs, dx))
    s3 = state.s.reshape(n, hw * c) if state.s is not None else None
    per = _group_size(hw * c, dx.itemsize)
    scale_hw, bias_hw = _per_pixel(state.scale, hw), _per_pixel(state.bias, hw)

    def silu_grad(r):  # g for images r, and their share of sum(g) and sum(g * xs)
        y = _group_buffer(r, per, hw * c, dx.dtype)
        s1 = s2 = 0
        for g in _groups(r, per):
            k = g.stop - g.start
            yg, gg = y[:k], dx3[g]
            if state.s is None:  # no SiLU: g = dy
                np.copyto(gg, dy3[g])
            else:
                sg = s3[g]
                np.multiply(xs3[g], scale_hw, out=yg)  # y, BatchNorm's output, recomputed
                yg += bias_hw
                np.subtract(1.0, sg, out=gg)  # g = dy * s * (1 + y * (1 - s))
                gg *= yg
                gg += 1.0
                gg *= sg
                gg *= dy3[g]
            s1 = s1 + ones[: k * hw] @ dx[g.start * hw : g.stop * hw]
            np.multiply(gg, xs3[g], out=yg)
            s2 = s2 + ones[: k * hw] @ yg.reshape(-1, c)
        return s1, s2

    parts = parallel.for_chunks(silu_grad, n, dy2.size)
    sum_g = sum(p[0] for p in parts)  # (C,) = sum(g) over these images
    sum_gxc = sum(p[1] for p in parts) - state.offset * sum_g  # sum(g * (x - mean))
    # The parameter gradients of these images (data_parallel.py adds those of every
    # process); the input gradient needs the sums over the whole batch.
    bn.bias.grad, bn.weight.grad = sum_g, sum_gxc * state.invstd
    local = np.concatenate([sum_g, sum_gxc]).astype(np.float64)
    total = sum(collective.all_gather(local)).astype(dx.dtype)  # over every process
    dbeta, dgamma = total[:c], total[c:] * state.invstd  # (C,) each: sum(g), sum(g * xhat)
    m = state.count
    # BatchNorm's dx = g * scale - (xc * k + b) with xc = xs - offset, i.e. nn/norm.py's
    # scale * (g - mean(g) - xhat * mean(g * xhat)).
    kk = state.scale * state.invstd * dgamma / m
    k_hw = _per_pixel(kk, hw)
    b_hw = _per_pixel(state.scale * dbeta / m - state.offset * kk, hw)

    def bn_grad(r):
        corr = _group_buffer(r, per, hw * c, dx.dtype)
        for g in _groups(r, per):
            gg = dx3[g]
            gg *= scale_hw
            if state.training:
                cg = corr[: g.stop - g.start]
                np.multiply(xs3[g], k_hw, out=cg)
                cg += b_hw
                gg -= cg

    parallel.for_chunks(bn_grad, n, dy2.size)
    return nchw_view(dx.reshape(n, h, w, c))  # (N, C, H, W)


class FusedPreActBlock(PreActBlock):
    """`PreActBlock` with each BatchNorm2d + SiLU pair run by the functions above.

    The same submodules, `state_dict` and results (to float round-off) as `PreActBlock`,
    whose `forward` and `backward` read `act1(bn1(x))` where this one calls
    `bn_silu_forward(bn1, act1, x)`. `build_numpy_model` builds its blocks from this class
    where the package has this module."""

    # The BnSiluState of each pair, for backward (class defaults: `fast.accelerate` turns a
    # built `PreActBlock` into this class without calling __init__).
    _pre1: BnSiluState | None = None
    _pre2: BnSiluState | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input("PreActBlock", x, 4, self.in_channels)
        a, self._pre1 = bn_silu_forward(self.bn1, self.act1, x)  # pre-activation
        short = self.shortcut(a) if self.has_projection else x
        h, self._pre2 = bn_silu_forward(self.bn2, self.act2, self.conv1(a))
        out = self.conv2(h)
        return parallel.iadd(out, short)  # out is our own fresh array: adding in place is safe

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._pre1 is None:
            raise RuntimeError("PreActBlock.backward called before forward")
        dh = bn_silu_backward(self.bn2, self.act2, self._pre2, self.conv2.backward(dy))
        da = self.conv1.backward(dh)
        if self.has_projection:
            parallel.iadd(da, self.shortcut.backward(dy))  # da is our own fresh array
            return bn_silu_backward(self.bn1, self.act1, self._pre1, da)
        dx = bn_silu_backward(self.bn1, self.act1, self._pre1, da)
        return parallel.iadd(dx, dy)  # dx is our own fresh array; dy is the caller's


class FusedBatchNorm2d(BatchNorm2d):
    """`BatchNorm2d` computed by `bn_silu_forward` / `bn_silu_backward` without the SiLU: the
    model's last BatchNorm, so that every BatchNorm of the model can take its statistics
    over several processes (`data_parallel.py`). Same parameters, buffers and results."""

    _state: BnSiluState | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, self._state = bn_silu_forward(self, None, x)
        return out

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._state is None:
            raise RuntimeError("BatchNorm2d.backward called before forward")
        return bn_silu_backward(self, None, self._state, dy)
