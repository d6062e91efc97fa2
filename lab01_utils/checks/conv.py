"""Checks of Exercises 3.1 to 3.3: im2col, the im2col convolution forward, col2im and the
convolution backward."""

from __future__ import annotations

import numpy as np

from .. import nn
from ..nn import functional
from ..nn.functional import conv_output_size
from .compare import (
    as_float_array,
    compare,
    gradcheck,
    import_torch,
    matches,
    nchw_channels_last,
    unchanged,
    worst,
)
from .core import NN, CheckResult, Stop, call, exercise, group

# (N, H, W, C, k, stride, padding): windows that do not overlap first, then overlapping ones.
_UNFOLD_CASES = (
    (1, 4, 4, 2, 2, 2, 0),
    (1, 5, 5, 2, 1, 1, 0),
    (2, 5, 5, 3, 3, 1, 1),
    (2, 6, 5, 2, 3, 2, 1),
    (2, 5, 6, 3, 3, 1, 0),
)
# (C_in, C_out, k, stride, padding, bias, H, W): the lab uses 3x3 stride 1 and 2 with padding
# 1, and 1x1 stride 2 projections.
_CONV_CASES = (
    (3, 4, 3, 1, 1, True, 6, 6),
    (3, 4, 3, 2, 1, False, 7, 7),
    (2, 3, 1, 2, 0, False, 6, 6),
    (2, 3, 3, 1, 0, True, 5, 6),
    (2, 2, 2, 2, 0, True, 6, 6),
)
NO_FLIP = (
    "don't flip the kernel: torch's Conv2d (and this lab's) is a cross-correlation, "
    "y[n, o, i, j] = sum over c, u, v of weight[o, c, u, v] * x_padded[n, c, "
    "i * stride + u, j * stride + v]"
)
OUT_SIZE = "H_out = (H + 2 * padding - kernel_size) // stride + 1, and the same for W"


def _unfold_ref(x: np.ndarray, k: int, s: int, p: int, order: str = "ckk") -> np.ndarray:
    """im2col via torch.nn.functional.unfold: rows (n, h_out, w_out), columns (c, u, v)
    (or, with `order="kkc"`, the channels-fastest order (u, v, c), a classic mix-up)."""
    torch = import_torch()
    n, c = x.shape[:2]
    u = torch.nn.functional.unfold(
        torch.from_numpy(np.ascontiguousarray(x)), k, padding=p, stride=s
    )  # (N, C*k*k, L), columns (c, u, v)
    length = u.shape[-1]
    if order == "ckk":
        return u.permute(0, 2, 1).reshape(n * length, c * k * k).numpy()
    return u.reshape(n, c, k, k, length).permute(0, 4, 2, 3, 1).reshape(n * length, -1).numpy()


@exercise(
    "3.1",
    "im2col",
    where=NN + "functional.py, im2col",
    points=4,
    hints={
        "channels_slowest": "each row must be ordered (c, u, v), the channel slowest, to match "
        "weight.reshape(C_out, C * k * k); yours is ordered (u, v, c)",
        "pad_first": "pad H and W by `padding` zeros on each side first (np.pad), then unfold: "
        + OUT_SIZE,
        "window_start": "window (i, j) starts at pixel (i * stride, j * stride)",
        "rows_ordered": "rows are ordered (n, h_out, w_out): all windows of image 0 first, "
        "row by row",
    },
    im2col_fn=lambda: functional.im2col,
)
def check_im2col(res: CheckResult, im2col_fn) -> None:
    """Exercise 3.1: `im2col` against `torch.nn.functional.unfold` (as `(N*L, C*k*k)` rows)
    for several shapes, strides and paddings."""
    rng = np.random.default_rng(9)
    for n, h, w, c, k, s, p in _UNFOLD_CASES:
        x = rng.standard_normal((n, c, h, w))
        x0 = x.copy()
        cols = call(res, "im2col", im2col_fn, x, k, s, p)
        unchanged(res, "im2col", x0, x, "x")
        want = _unfold_ref(x0, k, s, p)
        context = (
            f" for x of shape (N, C, H, W) = {x.shape}, kernel_size={k}, stride={s}, padding={p}"
        )
        if not compare(res, "cols", cols, want, context=context):
            shape = np.shape(cols)
            rows_nopad = n * conv_output_size(h, k, s, 0) * conv_output_size(w, k, s, 0)
            rows_stride1 = n * conv_output_size(h, k, 1, p) * conv_output_size(w, k, 1, p)
            if not res.explain(
                cols,
                [
                    (
                        _unfold_ref(x0, k, s, p, "kkc"),
                        "channels_slowest",
                    )
                ],
            ):
                if p and len(shape) == 2 and shape[0] == rows_nopad:
                    res.hint("pad_first")
                elif s > 1 and len(shape) == 2 and shape[0] == rows_stride1:
                    res.hint("window_start")
                elif len(shape) == 2 and shape == want.shape:
                    res.hint("rows_ordered")
            raise Stop
    res.ok(
        f"cols match torch.nn.functional.unfold for {len(_UNFOLD_CASES)} shapes, strides "
        f"and paddings (relative error {worst(res, 'cols'):.0e})"
    )


def _conv_context(c_in, c_out, k, s, p, bias, shape) -> str:
    return (
        f" for Conv2d({c_in}, {c_out}, kernel_size={k}, stride={s}, padding={p}, "
        f"bias={bias}) on x of shape {shape}"
    )


def _make_conv(res, conv_cls, i, c_in, c_out, k, s, p, bias, dtype=np.float64):
    return call(
        res,
        "Conv2d(...)",
        conv_cls,
        c_in,
        c_out,
        k,
        stride=s,
        padding=p,
        bias=bias,
        rng=np.random.default_rng(100 + i),
        dtype=dtype,
    )


@exercise(
    "3.2",
    "im2col convolution forward",
    where=NN + "conv.py, Conv2d.forward",
    points=3,
    depends=("3.1",),
    hints={
        "no_flip": NO_FLIP,
        "add_bias": "add the bias, one per output channel",
        "output_shape": "the output is (N, C_out, H_out, W_out) with " + OUT_SIZE,
    },
    conv_cls=lambda: nn.Conv2d,
)
def check_conv2d_forward(res: CheckResult, conv_cls) -> None:
    """Exercise 3.2: `Conv2d.forward` against `torch.nn.functional.conv2d`."""
    torch = import_torch()
    rng = np.random.default_rng(10)
    conv2d = torch.nn.functional.conv2d
    for i, (c_in, c_out, k, s, p, bias, h, w) in enumerate(_CONV_CASES):
        layer = _make_conv(res, conv_cls, i, c_in, c_out, k, s, p, bias)
        wt = torch.from_numpy(layer.weight.data.copy())
        bt = torch.from_numpy(layer.bias.data.copy()) if bias else None
        x = rng.standard_normal((2, c_in, h, w))
        if i % 2:
            x = nchw_channels_last(x)  # any memory order must work
        x0 = x.copy()
        y = call(res, "Conv2d.forward", layer.forward, x)
        unchanged(res, "Conv2d.forward", x0, x, "x")
        xt = torch.from_numpy(x0)
        want = conv2d(xt, wt, bt, stride=s, padding=p)
        context = _conv_context(c_in, c_out, k, s, p, bias, x.shape)
        if not compare(res, "forward output", y, want, context=context):
            alternatives = [(conv2d(xt, wt.flip(2, 3), bt, stride=s, padding=p), "no_flip")]
            if bias:
                alternatives.append(
                    (
                        conv2d(xt, wt, None, stride=s, padding=p),
                        "add_bias",
                    )
                )
            if not res.explain(y, alternatives) and np.shape(y) != tuple(want.shape):
                res.hint("output_shape")
            raise Stop
    layer = _make_conv(res, conv_cls, 0, 2, 3, 3, 1, 1, True, dtype=np.float32)
    y32 = call(res, "Conv2d.forward", layer.forward, rng.random((1, 2, 4, 4), dtype=np.float32))
    if np.asarray(y32).dtype != np.float32:
        res.fail(f"a float32 Conv2d returned {np.asarray(y32).dtype} for a float32 input")
    if res.passed:
        res.ok(
            f"forward matches torch.nn.functional.conv2d for {len(_CONV_CASES)} kernel "
            f"sizes, strides, paddings (relative error {worst(res, 'forward output'):.0e})"
        )


def _fold_ref(dcols: np.ndarray, x_shape, k: int, s: int, p: int) -> np.ndarray:
    """col2im via torch.nn.functional.fold; `dcols` has im2col's layout, returns NCHW."""
    torch = import_torch()
    n, c, h, w = x_shape
    length = dcols.shape[0] // n
    t = torch.from_numpy(dcols).reshape(n, length, c * k * k).permute(0, 2, 1)  # fold's layout
    return torch.nn.functional.fold(t, (h, w), k, padding=p, stride=s).numpy()  # (N, C, H, W)


def _crop_hint(res: CheckResult, got, want, p: int, axes: str) -> bool:
    """If `got` is `want` with the padding border still on, say so."""
    g = as_float_array(got)
    if g is None or p == 0 or g.ndim != 4:
        return False
    hw = (2, 3) if axes == "nchw" else (1, 2)
    expected_padded = list(want.shape)
    for a in hw:
        expected_padded[a] += 2 * p
    if list(g.shape) != expected_padded:
        return False
    crop = [slice(None)] * 4
    for a in hw:
        crop[a] = slice(p, g.shape[a] - p)
    right = matches(g[tuple(crop)], want)
    res.hint(
        "not_cropped",
        border=f"{p} pixel{'s' if p > 1 else ''}",
        inside=" (inside the border your values are right)" if right else "",
    )
    return True


def _check_col2im(res: CheckResult, col2im_fn) -> None:
    rng = np.random.default_rng(11)
    for n, h, w, c, k, s, p in _UNFOLD_CASES:
        rows = n * conv_output_size(h, k, s, p) * conv_output_size(w, k, s, p)
        dcols = rng.standard_normal((rows, c * k * k))
        d0 = dcols.copy()
        dx = call(res, "col2im", col2im_fn, dcols, (n, c, h, w), k, s, p)
        unchanged(res, "col2im", d0, dcols, "dcols")
        want = _fold_ref(d0, (n, c, h, w), k, s, p)
        context = (
            f" for x_shape (N, C, H, W) = {(n, c, h, w)}, kernel_size={k}, stride={s}, padding={p}"
        )
        if not compare(res, "col2im output", dx, want, context=context):
            if not _crop_hint(res, dx, want, p, "nchw") and k > s:
                res.hint("windows_overlap")
            raise Stop


@exercise(
    "3.3",
    "convolution backward",
    where=NN + "functional.py, col2im, and " + NN + "conv.py, Conv2d.backward",
    points=5,
    depends=("3.1", "3.2"),
    hints={
        "not_cropped": "padding not cropped: the gradient of the padded input has the padding "
        "border ({border} on each side); crop it off to get dx of the input's shape{inside}",
        "windows_overlap": "windows overlap when stride < kernel_size: add (+=) each window's "
        "gradient into dx, don't overwrite it",
        "weight_grad": "weight.grad must have weight's shape (C_out, C_in, kH, kW)",
        "flipped_grad": "weight.grad comes out flipped: " + NO_FLIP,
        "bias_grad": "bias.grad sums dy over N, H_out and W_out; don't average",
    },
    conv_cls=lambda: nn.Conv2d,
    col2im_fn=lambda: functional.col2im,
)
def check_conv2d_backward(res: CheckResult, conv_cls, col2im_fn) -> None:
    """Exercise 3.3: `col2im` against `torch.nn.functional.fold`, then `Conv2d.backward`
    (dx, weight.grad, bias.grad) against torch autograd and central differences."""
    torch = import_torch()
    _check_col2im(res, col2im_fn)
    res.ok(
        f"col2im matches torch.nn.functional.fold for {len(_UNFOLD_CASES)} shapes "
        f"(relative error {worst(res, 'col2im output'):.0e})"
    )
    rng = np.random.default_rng(12)
    for i, (c_in, c_out, k, s, p, bias, h, w) in enumerate(_CONV_CASES):
        layer = _make_conv(res, conv_cls, i, c_in, c_out, k, s, p, bias)
        wv = layer.weight.data.copy()
        x = rng.standard_normal((2, c_in, h, w))
        if i % 2:
            x = nchw_channels_last(x)
        y = np.asarray(call(res, "Conv2d.forward", layer.forward, x))
        dy = rng.standard_normal(y.shape)
        if i % 2 == 0:
            dy = nchw_channels_last(dy)
        dy0 = dy.copy()
        dx = call(res, "Conv2d.backward", layer.backward, dy)
        unchanged(res, "Conv2d.backward", dy0, dy, "dy")
        xt = torch.tensor(np.ascontiguousarray(x), requires_grad=True)
        wt = torch.tensor(wv, requires_grad=True)
        bt = torch.tensor(layer.bias.data.copy(), requires_grad=True) if bias else None
        torch.nn.functional.conv2d(xt, wt, bt, stride=s, padding=p).backward(
            torch.from_numpy(np.ascontiguousarray(dy0))
        )
        context = _conv_context(c_in, c_out, k, s, p, bias, x.shape)
        ok = True
        if not compare(res, "dx", dx, xt.grad, context=context):
            ok = False
            _crop_hint(res, dx, xt.grad.numpy(), p, "nchw")
        gw = layer.weight.grad
        if not compare(res, "weight.grad", gw, wt.grad, context=context):
            ok = False
            if np.shape(gw) == (c_in, c_out, k, k) and c_in != c_out:
                res.hint("weight_grad")
            res.explain(gw, [(wt.grad.flip(2, 3), "flipped_grad")])
        if bias:
            dys = dy0.sum(axis=(0, 2, 3))
            if not compare(res, "bias.grad", layer.bias.grad, bt.grad, context=context):
                ok = False
                res.explain(
                    layer.bias.grad,
                    [
                        (
                            dys / (dy0.size / c_out),
                            "bias_grad",
                        )
                    ],
                )
        if not ok:
            raise Stop
    res.ok(
        f"dx, weight.grad and bias.grad match torch autograd for {len(_CONV_CASES)} cases "
        f"(relative error {worst(res, 'dx', 'weight.grad', 'bias.grad'):.0e})"
    )
    layer = _make_conv(res, conv_cls, 9, 2, 2, 3, 2, 1, True)
    gradcheck(res, layer, rng.standard_normal((1, 2, 4, 4)), "Conv2d", rng)


def check_conv2d(
    *, conv_cls=None, im2col_fn=None, col2im_fn=None, verbose: bool = True
) -> CheckResult:
    """Exercises 3.1, 3.2 and 3.3."""
    parts = [
        check_im2col(im2col_fn=im2col_fn, verbose=False),
        check_conv2d_forward(conv_cls=conv_cls, verbose=False),
        check_conv2d_backward(conv_cls=conv_cls, col2im_fn=col2im_fn, verbose=False),
    ]
    return group("convolution", parts, verbose)
