"""Figures for the walkthrough notebooks, and the small computations behind them.

Every `plot_*` function is pure: it builds a fresh `matplotlib.figure.Figure` (no pyplot, no
global figure registry, nothing to close) and returns it. In a notebook, `show_figure(fig)`
displays it as a PNG; `figure_to_png(fig)` gives the bytes (what the widgets in `widgets.py`
put into an `ipywidgets.Image`).

The helpers (`confusion_matrix`, `per_class_accuracy`, `predict_logits`, `feature_maps`,
`layer_table`) are plain NumPy and take either the Task 1 model (`models.PreActResNet`) or the
Task 2 model (`torch_model.TorchPreActResNet`, converted to NumPy by `state_dict`).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from .augment import apply_augmentation
from .data import CLASS_NAMES, to_images
from .models import build_numpy_model, torch_state_to_numpy
from .nn import Sequential, sigmoid
from .optim import multistep_lr

__all__ = [
    "LayerRow",
    "confusion_matrix",
    "feature_map_layers",
    "feature_maps",
    "figure_to_png",
    "format_layer_table",
    "layer_table",
    "numpy_model",
    "per_class_accuracy",
    "plot_augmentation",
    "plot_channel_stats",
    "plot_class_grid",
    "plot_confusion_matrix",
    "plot_feature_maps",
    "plot_im2col",
    "plot_images",
    "plot_lr_schedule",
    "plot_misclassified",
    "plot_per_class_accuracy",
    "plot_pixel_statistics",
    "plot_silu",
    "plot_step_losses",
    "plot_training_curves",
    "predict_logits",
    "show_figure",
]

# --------------------------------------------------------------------------- output


def figure_to_png(fig: Figure, dpi: float | None = None) -> bytes:
    """The figure as PNG bytes (rendered with Agg, whatever pyplot's backend is)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def show_figure(fig: Figure, dpi: float | None = None) -> None:
    """Display the figure in a notebook as a plain PNG (kept in the saved notebook)."""
    from IPython.display import Image, display

    display(Image(data=figure_to_png(fig, dpi)))


# --------------------------------------------------------------------------- metrics


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """`cm[i, j]` = how many images of true class `i` were predicted as class `j`.

    Args:
        y_true, y_pred: integer labels `(N,)` in `[0, num_classes)`.
    Returns:
        int64 `(num_classes, num_classes)`; rows sum to the class counts, the trace is the
        number of correct predictions.
    """
    y_true, y_pred = np.asarray(y_true).astype(np.int64), np.asarray(y_pred).astype(np.int64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true and y_pred must be (N,) each, got {y_true.shape}, {y_pred.shape}")
    for name, v in (("y_true", y_true), ("y_pred", y_pred)):
        if v.size and (v.min() < 0 or v.max() >= num_classes):
            raise ValueError(f"{name} must lie in [0, {num_classes}), got {v.min()}..{v.max()}")
    flat = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def per_class_accuracy(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Accuracy in percent for each true class, `(num_classes,)`; NaN for an absent class."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    counts = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, 100.0 * np.diag(cm) / counts, np.nan)


# --------------------------------------------------------------------------- models


def numpy_model(model):
    """The Task 1 (NumPy) model itself, or a NumPy copy of a Task 2 (torch) model."""
    if hasattr(model, "body"):
        return model
    if hasattr(model, "state_dict") and hasattr(model, "widths"):
        out = build_numpy_model(model.widths, model.num_classes)
        out.load_state_dict(torch_state_to_numpy(model.state_dict()))
        return out
    raise TypeError(f"expected a PreActResNet (NumPy or torch), got {type(model).__name__}")


def _network_input(x: np.ndarray) -> np.ndarray:
    """Images as the network takes them: float `(N, 1, 28, 28)` in [0, 1].

    Accepts uint8 pixels 0..255 (`(N, 784)`, `(N, 1, 28, 28)`, or one image `(784,)`,
    `(28, 28)`), which are divided by 255, or float images already in [0, 1].
    """
    x = np.asarray(x)
    if x.shape in ((784,), (28, 28), (1, 28, 28)):
        x = x.reshape(1, 784)
    if x.dtype == np.uint8:
        return to_images(x)  # (N, 1, 28, 28)
    if x.ndim == 2 and x.shape[1] == 784:
        return x.reshape(len(x), 1, 28, 28).astype(np.float32)
    if x.ndim == 4 and x.shape[1:] == (1, 28, 28):
        return x.astype(np.float32)
    raise ValueError(f"expected images (N, 784) or (N, 1, 28, 28), got shape {x.shape}")


def predict_logits(model, x: np.ndarray, batch_size: int = 200) -> np.ndarray:
    """Logits `(N, num_classes)` of a NumPy or torch model in eval mode (mode restored after).

    `x`: uint8 pixels `(N, 784)` / `(N, 1, 28, 28)`, or float images in [0, 1].
    """
    x = _network_input(x)
    out = []
    if hasattr(model, "body"):  # Task 1
        was_training = model.training
        model.eval()
        try:
            for start in range(0, len(x), batch_size):
                out.append(np.asarray(model(x[start : start + batch_size])))
        finally:
            model.train(was_training)
    else:  # Task 2
        import torch

        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        try:
            with torch.no_grad():
                for start in range(0, len(x), batch_size):
                    xb = torch.from_numpy(x[start : start + batch_size]).to(device)
                    out.append(model(xb).float().cpu().numpy())
        finally:
            model.train(was_training)
    return np.concatenate(out)


def _trace(model, x: np.ndarray) -> list[tuple[str, object, np.ndarray]]:
    """Run a NumPy model in eval mode; `(name, layer, output)` for every top-level layer and
    every block of the stages (`stem`, `layer1.0`, `layer1.1`, `layer1`, ..., `fc`)."""
    was_training = model.training
    model.eval()
    rows = []
    try:
        h = np.asarray(x).astype(model.fc.weight.data.dtype)
        for name, layer in model.body():
            if isinstance(layer, Sequential):
                for i, block in enumerate(layer):
                    h = block(h)
                    rows.append((f"{name}.{i}", block, h))
                rows.append((name, layer, h))
            else:
                h = layer(h)
                rows.append((name, layer, h))
    finally:
        model.train(was_training)
    return rows


def feature_map_layers(model) -> list[str]:
    """The names `feature_maps` accepts in order, e.g. `stem, layer1.0, ..., layer3.1, bn, act`
    (every layer whose output is still an image `(C, H, W)`; a stage name such as `layer1`
    works too and means its last block)."""
    model = numpy_model(model)
    rows = _trace(model, np.zeros((1, 1, 28, 28), np.float32))
    return [
        name for name, layer, out in rows if out.ndim == 4 and not isinstance(layer, Sequential)
    ]


def feature_maps(model, x: np.ndarray, layer_name: str) -> np.ndarray:
    """The output `(C, H, W)` of one layer or block for one image, model in eval mode.

    Args:
        model: the NumPy model (a torch model is converted).
        x: one image: `(1, 784)`, `(1, 1, 28, 28)`, `(784,)` or `(28, 28)`; uint8 pixels are
            divided by 255, float images are taken as they are.
        layer_name: `"stem"`, `"layer1.0"`, `"layer1.1"`, ..., `"layer3.1"`, `"bn"`, `"act"`
            (see `feature_map_layers`), or a stage `"layer1"`..`"layer3"`.

    The forward pass replaces the layers' saved activations: do not call this between a
    training step's forward and backward.
    """
    model = numpy_model(model)
    x = _network_input(x)
    if len(x) != 1:
        raise ValueError(f"feature_maps takes one image, got a batch of {len(x)}")
    rows = _trace(model, x)
    for name, _, out in rows:
        if name == layer_name:
            if out.ndim != 4:
                raise ValueError(f"layer {layer_name!r} outputs {out.shape}, not feature maps")
            return np.ascontiguousarray(out[0])  # (C, H, W)
    valid = [n for n, _, out in rows if out.ndim == 4]
    raise ValueError(f"unknown layer {layer_name!r}; choose one of {valid}")


class LayerRow(NamedTuple):
    """One row of `layer_table`: a layer's name, its output shape and its parameter count."""

    name: str
    shape: tuple[int, ...]
    params: int


def layer_table(model) -> list[LayerRow]:
    """The network layer by layer for a batch of one: `input (1, 784)`, `reshape (1, 1, 28, 28)`,
    then `stem`, each block `layer1.0` ... `layer3.1`, `bn`, `act`, `pool` and `fc (1, 10)`.

    `params` counts trainable parameters only (BatchNorm's running statistics are buffers),
    so `sum(row.params)` equals the model's parameter count.
    """
    model = numpy_model(model)
    rows = [LayerRow("input", (1, 784), 0), LayerRow("reshape", (1, 1, 28, 28), 0)]
    for name, layer, out in _trace(model, np.zeros((1, 1, 28, 28), np.float32)):
        if isinstance(layer, Sequential):
            continue  # its blocks have their own rows
        n_params = sum(int(p.data.size) for p in layer.parameters())
        rows.append(LayerRow(name, tuple(out.shape), n_params))
    return rows


def format_layer_table(rows: Sequence[LayerRow]) -> str:
    """`layer_table` as aligned text, with the total on the last line."""
    lines = [f"{'layer':<10} {'output shape':<20} {'params':>8}"]
    lines += [f"{r.name:<10} {str(r.shape):<20} {r.params:>8,}" for r in rows]
    lines.append(f"{'total':<10} {'':<20} {sum(r.params for r in rows):>8,}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- images


def _as_image(img: np.ndarray) -> np.ndarray:
    """One image as `(H, W)`: from `(784,)`, `(H, W)`, `(1, H, W)` or `(1, 1, H, W)`."""
    img = np.asarray(img)
    if img.shape == (784,):
        return img.reshape(28, 28)
    img = img.squeeze()
    if img.ndim != 2:
        raise ValueError(f"expected one image, got shape {np.shape(img)}")
    return img


def _image_axis(ax, img: np.ndarray, title: str | None = None, cmap: str = "gray") -> None:
    img = _as_image(img)
    vmax = 255 if img.dtype == np.uint8 else max(1.0, float(img.max()))
    ax.imshow(img, cmap=cmap, vmin=0, vmax=vmax)
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=8)


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
            _image_axis(ax, images[i], titles[i] if titles is not None else None)
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
            tile = _as_image(x[i]).astype(np.float64)
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


def plot_silu(beta: float = 1.0, x_range: tuple[float, float] = (-6, 6), num: int = 601) -> Figure:
    """Swish-beta `x * sigmoid(beta * x)` (SiLU at beta = 1) beside ReLU and sigmoid: the
    functions on the left, their derivatives on the right.

    Swish-beta's derivative is `s + beta * x * s * (1 - s)` with `s = sigmoid(beta * x)`.
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
    ax_d.plot(x, s_beta + beta * x * s_beta * (1 - s_beta), label="swish'", lw=2.5, color="C0")
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
    original = _as_image(img)
    amounts = f"shift_x={int(shift_x)}, shift_y={int(shift_y)}, flip={bool(flip)}"
    fig = Figure(figsize=(6, 3.4))
    ax_a, ax_b = fig.subplots(1, 2)
    _image_axis(ax_a, original, "original")
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
        _image_axis(ax_b, augmented, amounts)
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
    `(H_out * W_out, k * k)`, its first row framed; `cols @ w.ravel()` is the convolution.
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
        _image_axis(axes.pop(0), image, "input")
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
    for ax in (ax_m, ax_s):
        ax.set_xlabel("channel")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- training


def plot_training_curves(
    histories: Mapping[str, Sequence[Mapping]] | Sequence[Mapping], title: str | None = None
) -> Figure:
    """Loss (left) and accuracy (right) per epoch, train (solid) and val (dashed), runs overlaid.

    Args:
        histories: `{run name: history}`, a history being `train()`'s list of per-epoch dicts
            (`epoch`, `train_loss`, `val_loss`, `train_acc`, `val_acc`); a bare list is one run.
    Lines are labelled `"<run> train"` and `"<run> val"`.
    """
    if not isinstance(histories, Mapping):
        histories = {"run": histories}
    fig = Figure(figsize=(10, 3.6))
    ax_l, ax_a = fig.subplots(1, 2)
    for i, (name, hist) in enumerate(histories.items()):
        if not hist:
            continue
        ep = [r["epoch"] for r in hist]
        # Earlier runs are drawn wider, so runs that coincide (Task 1 and 2) stay visible.
        style = {"color": f"C{i % 10}", "lw": max(1.0, 4.0 - 1.5 * i), "ms": max(3, 8 - 2 * i)}
        for ax, key in ((ax_l, "loss"), (ax_a, "acc")):
            ax.plot(ep, [r[f"train_{key}"] for r in hist], "o-", label=f"{name} train", **style)
            ax.plot(ep, [r[f"val_{key}"] for r in hist], "s--", label=f"{name} val", **style)
    ax_l.set_title("loss")
    ax_a.set_title("accuracy (%)")
    for ax in (ax_l, ax_a):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "waiting for the first epoch", ha="center", transform=ax.transAxes)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_lr_schedule(
    base_lr: float = 0.03,
    epochs: int = 30,
    milestones: Sequence[int] = (15, 25),
    gamma: float = 0.1,
    histories: Mapping[str, Sequence[Mapping]] | None = None,
) -> Figure:
    """The learning rate used during each epoch 1..`epochs` under `MultiStepLR` (log scale).

    During epoch `e` (1-based) the rate is `multistep_lr(base_lr, e - 1, milestones, gamma)`:
    the scheduler has stepped `e - 1` times. `histories` overlays the `lr` recorded by runs.
    The schedule is the first line, labelled `MultiStepLR`.
    """
    ep = np.arange(1, epochs + 1)
    lrs = [multistep_lr(base_lr, int(e) - 1, milestones, gamma) for e in ep]
    fig = Figure(figsize=(7, 3.4))
    ax = fig.subplots()
    ax.plot(ep, lrs, drawstyle="steps-mid", lw=2, label="MultiStepLR")
    for i, (name, hist) in enumerate((histories or {}).items()):
        ax.plot(
            [r["epoch"] for r in hist],
            [r["lr"] for r in hist],
            "x",
            color=f"C{i + 1}",
            label=f"{name} (recorded)",
        )
    for m in milestones:
        ax.axvline(m + 0.5, color="0.6", ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.set_title(f"MultiStepLR: lr {base_lr:g}, x{gamma:g} after epochs {list(milestones)}")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_step_losses(losses: Mapping[str, Sequence[float]]) -> Figure:
    """Per-step training losses of several engines (left) and, for two or more, each one's
    relative difference from the first (right, log scale)."""
    names = list(losses)
    ref = np.asarray(losses[names[0]], dtype=np.float64)
    fig = Figure(figsize=(10, 3.4))
    ax_l, ax_d = fig.subplots(1, 2)
    for i, name in enumerate(names):
        v = np.asarray(losses[name], dtype=np.float64)
        ax_l.plot(np.arange(1, len(v) + 1), v, "o-" if i == 0 else "x--", label=name)
        if i:
            rel = np.abs(v - ref) / np.abs(ref)
            ax_d.semilogy(
                np.arange(1, len(v) + 1),
                np.maximum(rel, 1e-12),
                "o-",
                label=f"|{name} - {names[0]}| / {names[0]}",
            )
    ax_l.set_title("training loss per step")
    ax_d.set_title("relative difference (exact zeros drawn at 1e-12)")
    for ax in (ax_l, ax_d):
        ax.set_xlabel("step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3, which="both")
        if ax.lines:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- evaluation


def plot_confusion_matrix(
    cm: np.ndarray,
    class_names: Sequence[str] = CLASS_NAMES,
    title: str = "confusion matrix",
    normalize: bool = False,
) -> Figure:
    """`cm[i, j]`: true class `i` (rows) predicted as `j` (columns), counts written in the cells.

    With `normalize`, each row is shown in percent of its class.
    """
    cm = np.asarray(cm)
    shown = 100.0 * cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    k = len(cm)
    fig = Figure(figsize=(6.4, 5.6))
    ax = fig.subplots()
    im = ax.imshow(shown, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046)
    top = float(shown.max()) if shown.size else 0.0
    for (i, j), v in np.ndenumerate(shown):
        text = f"{v:.0f}" if normalize else f"{int(v)}"
        ax.text(
            j,
            i,
            text,
            ha="center",
            va="center",
            fontsize=7,
            color="white" if v > 0.6 * top else "black",
        )
    names = list(class_names)[:k]
    ax.set_xticks(range(k), names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(k), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_misclassified(
    x: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    class_names: Sequence[str] = CLASS_NAMES,
    n: int = 16,
    ncols: int = 8,
    title: str = "misclassified",
) -> Figure:
    """The first `n` images with `y_pred != y_true`, titled `true / predicted`."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    wrong = np.flatnonzero(y_true != y_pred)[:n]
    if len(wrong) == 0:
        fig = Figure(figsize=(4, 1.5))
        ax = fig.subplots()
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
        ax.set_title(title)
        return fig
    titles = [f"{class_names[y_true[i]]}\n→ {class_names[y_pred[i]]}" for i in wrong]
    n_wrong = int((y_true != y_pred).sum())
    return plot_images(
        np.asarray(x)[wrong],
        titles,
        ncols=ncols,
        suptitle=f"{title}: {n_wrong} of {len(y_true)} (true → predicted)",
    )


def plot_per_class_accuracy(
    accuracies: Mapping[str, Sequence[float]], class_names: Sequence[str] = CLASS_NAMES
) -> Figure:
    """Grouped bars: accuracy (percent) per class, one bar per run (see `per_class_accuracy`)."""
    names = list(accuracies)
    k = len(class_names)
    width = 0.8 / max(1, len(names))
    fig = Figure(figsize=(10, 3.6))
    ax = fig.subplots()
    for i, name in enumerate(names):
        acc = np.asarray(accuracies[name], dtype=np.float64)
        ax.bar(np.arange(k) + (i - (len(names) - 1) / 2) * width, acc, width, label=name)
    ax.set_xticks(range(k), class_names, rotation=30, ha="right")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title("accuracy per class")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig
