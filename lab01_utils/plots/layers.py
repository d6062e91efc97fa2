"""Figures of the data and of the layers: images, pixel statistics, SiLU, the augmentation,
im2col, feature maps and channel statistics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..augment import apply_augmentation
from ..formats import CLASS_NAMES
from ..images import as_image
from ..nn import sigmoid
from .figure import count_axes, image_axis

__all__ = [
    "plot_augmentation",
    "plot_channel_stats",
    "plot_class_grid",
    "plot_feature_maps",
    "plot_im2col",
    "plot_images",
    "plot_pixel_statistics",
    "plot_silu",
]


def plot_images(
    images: np.ndarray,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    suptitle: str | None = None,
) -> Figure:
    """A gallery of images `(N, 784)`, `(N, 28, 28)` or `(N, 1, 28, 28)`, one axis each."""
    images = np.asarray(images)
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = max(1, -(-n // ncols))
    row_h = 1.3 + 0.25 * max((t.count("\n") + 1 for t in titles), default=0) if titles else 1.3
    fig = Figure(figsize=(1.3 * ncols, row_h * nrows + (0.4 if suptitle else 0)))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for i, ax in enumerate(axes):
        if i < n:
            image_axis(ax, images[i], titles[i] if titles is not None else None)
        else:
            ax.set_axis_off()
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_class_grid(
    x: np.ndarray,
    y: np.ndarray,
    per_class: int = 8,
    class_names: Sequence[str] = CLASS_NAMES,
) -> Figure:
    """The first `per_class` images of every class, one row per class, the name on the left.

    `x`: `(N, 784)` or `(N, 1, 28, 28)`; `y`: labels `(N,)`. Drawn as one mosaic image
    (a 2-pixel gap between tiles), which renders far faster than one axis per image.
    """
    x, y = np.asarray(x), np.asarray(y)
    k, size, gap = len(class_names), 28, 2
    step = size + gap
    mosaic = np.full((k * step - gap, per_class * step - gap), np.nan)
    for c in range(k):
        for j, i in enumerate(np.flatnonzero(y == c)[:per_class]):
            tile = as_image(x[i]).astype(np.float64)
            mosaic[c * step : c * step + size, j * step : j * step + size] = tile
    fig = Figure(figsize=(0.75 * per_class + 1.6, 0.75 * k + 0.5))
    ax = fig.subplots()
    ax.imshow(mosaic, cmap="gray", vmin=0, vmax=255 if x.dtype == np.uint8 else 1.0)
    ax.set_yticks(np.arange(k) * step + size / 2, [f"{c}: {n}" for c, n in enumerate(class_names)])
    ax.set_xticks([])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(f"Fashion-MNIST: {per_class} examples per class")
    fig.tight_layout()
    return fig


def plot_pixel_statistics(x: np.ndarray) -> Figure:
    """Histogram of all pixel values (0..255), and the mean and std image over the set."""
    x = np.asarray(x).reshape(len(x), 28, 28).astype(np.float64)
    fig = Figure(figsize=(11, 3.2))
    ax_hist, ax_mean, ax_std = fig.subplots(1, 3)
    ax_hist.hist(x.ravel(), bins=64, range=(0, 256), color="C0", log=True)
    ax_hist.set_title("pixel values (log count)")
    ax_hist.set_xlabel("value (0..255)")
    for ax, img, title in ((ax_mean, x.mean(0), "mean image"), (ax_std, x.std(0), "std image")):
        im = ax.imshow(img, cmap="magma")
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- activation


def _swish_slope(x: np.ndarray, beta: float) -> np.ndarray:
    """d/dx of `x * sigmoid(beta * x)`, by torch autograd."""
    import torch

    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    (xt * torch.sigmoid(beta * xt)).sum().backward()
    return xt.grad.numpy()


def plot_silu(beta: float = 1.0, x_range: tuple[float, float] = (-6, 6), num: int = 601) -> Figure:
    """Swish-beta `x * sigmoid(beta * x)` (SiLU at beta = 1) beside ReLU and sigmoid: the
    functions on the left, their derivatives on the right.

    The derivative is torch autograd's (the figure does not spell out Exercise 1.2).
    Lines are labelled `swish`, `relu`, `sigmoid` (left) and `swish'`, `relu'`, `sigmoid'`
    (right); the title carries beta.
    """
    x = np.linspace(x_range[0], x_range[1], num)
    s_beta = sigmoid(beta * x)
    s = sigmoid(x)
    name = "SiLU (β = 1)" if beta == 1 else f"Swish-β, β = {beta:g}"
    fig = Figure(figsize=(10, 3.8))
    ax_f, ax_d = fig.subplots(1, 2)
    ax_f.plot(x, x * s_beta, label="swish", lw=2.5, color="C0")
    ax_f.plot(x, np.maximum(x, 0), label="relu", ls="--", color="C1")
    ax_f.plot(x, s, label="sigmoid", ls=":", color="C2")
    ax_f.set_title(f"{name}: x·sigmoid({beta:g}x)")
    ax_d.plot(x, _swish_slope(x, beta), label="swish'", lw=2.5, color="C0")
    ax_d.plot(x, (x > 0).astype(float), label="relu'", ls="--", color="C1")
    ax_d.plot(x, s * (1 - s), label="sigmoid'", ls=":", color="C2")
    ax_d.set_title(f"derivatives (β = {beta:g})")
    for ax in (ax_f, ax_d):
        ax.axhline(0, color="0.7", lw=0.8)
        ax.axvline(0, color="0.7", lw=0.8)
        ax.grid(alpha=0.3)
        ax.set_xlabel("x")
        ax.legend(loc="upper left")
    ax_f.set_ylim(-1.5, x_range[1])
    ax_d.set_ylim(-0.3, 1.4)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- augmentation


def plot_augmentation(
    img: np.ndarray, shift_x: int = 0, shift_y: int = 0, flip: bool = False, title: str = ""
) -> Figure:
    """One image before and after `augment.apply_augmentation(img, shift_x, shift_y, flip)`.

    `img`: `(784,)`, `(28, 28)` or `(1, 28, 28)`. The right axis's title states the amounts.
    In the student release before Exercise 7.3, the right axis says so instead of failing,
    so notebook 00 runs before the augmentation is written (in notebook 07).
    """
    original = as_image(img)
    amounts = f"shift_x={int(shift_x)}, shift_y={int(shift_y)}, flip={bool(flip)}"
    fig = Figure(figsize=(6, 3.4))
    ax_a, ax_b = fig.subplots(1, 2)
    image_axis(ax_a, original, "original")
    try:
        augmented = apply_augmentation(original, int(shift_x), int(shift_y), bool(flip))
    except NotImplementedError as e:
        ax_b.set_title(amounts, fontsize=8)
        ax_b.set_xticks([])
        ax_b.set_yticks([])
        ax_b.text(
            0.5,
            0.5,
            f"{e}\n(see notebook 07)",
            ha="center",
            va="center",
            fontsize=8,
            transform=ax_b.transAxes,
            wrap=True,
        )
        augmented = None
    else:
        image_axis(ax_b, augmented, amounts)
    for ax in (ax_a, ax_b) if augmented is not None else (ax_a,):  # a grid shows the moves
        ax.set_xticks(np.arange(-0.5, 28, 4), minor=True)
        ax.set_yticks(np.arange(-0.5, 28, 4), minor=True)
        ax.grid(which="minor", color="C0", alpha=0.3, lw=0.5)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- convolution


def plot_im2col(
    x: np.ndarray | None = None, kernel_size: int = 3, stride: int = 1, padding: int = 0
) -> Figure:
    """What `im2col` builds for a tiny one-channel image: every `k x k` window becomes a row.

    Args:
        x: a small `(H, W)` image; default `4 x 4` holding 1..16 so every value is traceable.
    Left: the (padded) input with the first window framed. Right: the column matrix
    `(H_out * W_out, k * k)`, its first row framed: each output is one row against the kernel.
    """
    if x is None:
        x = np.arange(1, 17, dtype=np.float64).reshape(4, 4)
    x = np.asarray(x, dtype=np.float64)
    # torch's unfold builds the picture, so it draws before Exercise 3.1 is done
    import torch

    windows = torch.nn.functional.unfold(
        torch.from_numpy(x[None, None]), kernel_size, padding=padding, stride=stride
    )  # (1, k*k, H_out*W_out)
    cols = windows[0].T.numpy()  # (H_out*W_out, k*k): what im2col gives for one channel
    xp = np.pad(x, padding)
    k = kernel_size
    fig = Figure(figsize=(3 + 0.45 * cols.shape[1], max(3.2, 0.4 * cols.shape[0] + 1)))
    ax_x, ax_c = fig.subplots(1, 2, width_ratios=[xp.shape[1], cols.shape[1]])
    for ax, a in ((ax_x, xp), (ax_c, cols)):
        ax.imshow(a, cmap="Blues", vmin=0, vmax=max(1.0, float(a.max())) * 1.6)
        for (i, j), v in np.ndenumerate(a):
            ax.text(j, i, f"{v:g}", ha="center", va="center", fontsize=8)
    ax_x.add_patch(Rectangle((-0.5, -0.5), k, k, fill=False, ec="C3", lw=2))
    ax_c.add_patch(Rectangle((-0.5, -0.5), cols.shape[1], 1, fill=False, ec="C3", lw=2))
    ax_x.set_title(f"input {x.shape[0]}x{x.shape[1]}, padding {padding}, stride {stride}")
    ax_c.set_title(f"im2col: {cols.shape[0]} windows x {k}x{k} values")
    ax_c.set_xlabel("kernel offset (kh, kw)")
    ax_c.set_ylabel("output pixel (i, j)")
    ax_c.set_xticks(range(cols.shape[1]), [f"{a},{b}" for a in range(k) for b in range(k)])
    h_out = (xp.shape[0] - k) // stride + 1
    w_out = (xp.shape[1] - k) // stride + 1
    ax_c.set_yticks(range(cols.shape[0]), [f"{i},{j}" for i in range(h_out) for j in range(w_out)])
    ax_c.tick_params(labelsize=7)
    ax_x.set_xticks([])
    ax_x.set_yticks([])
    fig.tight_layout()
    return fig


def plot_feature_maps(
    maps: np.ndarray,
    title: str = "",
    max_channels: int = 16,
    ncols: int = 8,
    image: np.ndarray | None = None,
) -> Figure:
    """The first `max_channels` channels of `maps` `(C, H, W)`, one small image each.

    With `image`, the network's input is drawn in an extra first axis titled `input`.
    Each channel has its own colour scale (they differ by orders of magnitude).
    """
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(f"maps must be (C, H, W), got shape {maps.shape}")
    n = min(len(maps), max_channels)
    total = n + (image is not None)
    ncols = max(1, min(ncols, total))
    nrows = -(-total // ncols)
    fig = Figure(figsize=(1.35 * ncols, 1.45 * nrows + 0.5))
    axes = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    if image is not None:
        image_axis(axes.pop(0), image, "input")
    for i, ax in enumerate(axes):
        if i < n:
            ax.imshow(maps[i], cmap="viridis")
            ax.set_title(f"ch {i}", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        else:
            ax.set_axis_off()
    c, h, w = maps.shape
    fig.suptitle(f"{title}  ({c} x {h} x {w}, showing {n})" if title else f"{c} x {h} x {w}")
    fig.tight_layout()
    return fig


def plot_channel_stats(arrays: Mapping[str, np.ndarray], max_channels: int = 16) -> Figure:
    """Per-channel mean (left) and standard deviation (right) of `(N, C, H, W)` arrays, e.g.
    a batch before and after BatchNorm; one series per entry of `arrays`."""
    fig = Figure(figsize=(10, 3.4))
    ax_m, ax_s = fig.subplots(1, 2)
    for name, a in arrays.items():
        a = np.asarray(a, dtype=np.float64)[:, :max_channels]
        ch = np.arange(a.shape[1])
        ax_m.plot(ch, a.mean(axis=(0, 2, 3)), "o-", label=name)
        ax_s.plot(ch, a.std(axis=(0, 2, 3)), "o-", label=name)
    ax_m.set_title("per-channel mean")
    ax_s.set_title("per-channel std")
    count_axes((ax_m, ax_s), "channel")
    for ax in (ax_m, ax_s):
        ax.legend()
    fig.tight_layout()
    return fig
