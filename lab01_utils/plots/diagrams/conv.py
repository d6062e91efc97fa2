"""Figures of notebook 03: a convolution's feature maps under a shift of the input (stride 1
and stride 2), col2im summing overlapping windows back into an image, the im2col convolution
as a computation graph, and why the input gradient is a convolution with the flipped kernel
(in one dimension, where the flip is easy to see)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .graph import Edge, Node, plot_graph

__all__ = ["plot_col2im", "plot_conv_graph", "plot_flipped_kernel", "plot_shift_equivariance"]

_WINDOW_COLOURS = ("C0", "C1", "C2", "C3", "C4", "C5", "C6", "C8", "C9")


def _bare(ax, title: str) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=8)


def plot_shift_equivariance(result, channel: int = 0, name: str = "") -> Figure:
    """`experiments.conv.shift_equivariance`'s result drawn for one filter `channel`.

    Row 1: the image, its shifted copy, the filter. Rows 2 and 3 (stride 1, stride 2): the
    feature map of the image, that of the shifted image, and their difference over the
    interior after moving the second back by the best whole-pixel output shift d (all three on
    one colour scale, so a difference of zero looks blank).
    """
    k = result.shift
    strides = sorted(result.maps)
    fig = Figure(figsize=(7.5, 2.5 * (1 + len(strides))))
    axes = fig.subplots(1 + len(strides), 3)
    ax_x, ax_xs, ax_w = axes[0]
    for ax, img, title in ((ax_x, result.image, "input"), (ax_xs, result.shifted, "")):
        ax.imshow(img, cmap="gray", vmin=0, vmax=1)
        _bare(ax, title or f"input shifted by {k} px (down, right)")
    w = result.weight[channel, 0]
    lim = np.abs(w).max()
    ax_w.imshow(w, cmap="RdBu_r", vmin=-lim, vmax=lim)
    for (i, j), v in np.ndenumerate(w):
        ax_w.text(j, i, f"{v:.2g}", ha="center", va="center", fontsize=8)
    _bare(ax_w, f"filter {channel}" + (f": {name}" if name else ""))
    for row, s in zip(axes[1:], strides, strict=True):
        y, ys = result.maps[s][channel], result.shifted_maps[s][channel]
        d = result.best_shift(s)
        h, wd = y.shape
        diff = ys[d + 1 : h - 1, d + 1 : wd - 1] - y[1 : h - 1 - d, 1 : wd - 1 - d]
        lim = max(np.abs(y).max(), np.abs(ys).max())
        err = result.errors[s][d]
        for ax, m, title in (
            (row[0], y, f"stride {s}: feature map ({h}x{wd})"),
            (row[1], ys, f"stride {s}: map of the shifted input"),
            (
                row[2],
                diff,
                f"difference, moved back by d = {d}\n(interior; max {err:.2g} of max |y|)",
            ),
        ):
            ax.imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim)
            _bare(ax, title)
    fig.tight_layout()
    return fig


def plot_col2im(size: int = 4, kernel_size: int = 3, stride: int = 1, padding: int = 0) -> Figure:
    """What `col2im` does with a gradient of ones for a one-channel `size x size` image.

    Left: `dcols`, one row per window, every entry 1, each row in its window's colour. Middle:
    the windows drawn on the (padded) image, each in its colour. Right: `col2im(dcols)`, the
    padding cropped: every pixel holds the number of windows that cover it, because the rows
    are added, not written over, where the windows overlap.
    """
    # torch's fold builds the picture, so it draws before Exercise 3.3 is done
    import torch

    k, s, p = kernel_size, stride, padding
    n_out = (size + 2 * p - k) // s + 1
    rows = n_out * n_out
    dcols = np.ones((rows, k * k))
    summed = torch.nn.functional.fold(
        torch.from_numpy(dcols.T[None]), (size, size), k, padding=p, stride=s
    )[0, 0].numpy()  # (size, size)
    fig = Figure(figsize=(3.2 + 0.35 * k * k + 0.5 * size, max(3.0, 0.35 * rows + 1.2)))
    ax_c, ax_w, ax_s = fig.subplots(1, 3, width_ratios=[k * k, size + 2 * p, size])
    colours = [_WINDOW_COLOURS[r % len(_WINDOW_COLOURS)] for r in range(rows)]
    ax_c.set_xlim(-0.5, k * k - 0.5)
    ax_c.set_ylim(rows - 0.5, -0.5)
    for r, colour in enumerate(colours):
        ax_c.add_patch(Rectangle((-0.5, r - 0.5), k * k, 1, fc=colour, alpha=0.35, ec=colour))
        for j in range(k * k):
            ax_c.text(j, r, "1", ha="center", va="center", fontsize=8)
    ax_c.set_yticks(range(rows), [f"window {r}" for r in range(rows)], fontsize=7)
    ax_c.set_xticks([])
    ax_c.set_title(f"dcols ({rows} x {k * k}): all ones", fontsize=8)
    full = size + 2 * p
    ax_w.set_xlim(-0.5, full - 0.5)
    ax_w.set_ylim(full - 0.5, -0.5)
    ax_w.set_aspect("equal")
    for i in range(full + 1):
        ax_w.axhline(i - 0.5, color="0.8", lw=0.6)
        ax_w.axvline(i - 0.5, color="0.8", lw=0.6)
    if p:
        ax_w.add_patch(Rectangle((p - 0.5, p - 0.5), size, size, fill=False, ec="0.3", lw=1.2))
    for r, colour in enumerate(colours):
        i, j = divmod(r, n_out)
        inset = 0.06 + 0.07 * (r % 4)  # each window slightly inset, so overlaps stay visible
        ax_w.add_patch(
            Rectangle(
                (j * s - 0.5 + inset, i * s - 0.5 + inset),
                k - 2 * inset,
                k - 2 * inset,
                fill=False,
                ec=colour,
                lw=2,
            )
        )
    _bare(ax_w, "each row goes back onto its window")
    ax_s.imshow(summed, cmap="Blues", vmin=0, vmax=summed.max() * 1.6)
    for (i, j), v in np.ndenumerate(summed):
        ax_s.text(j, i, f"{v:g}", ha="center", va="center", fontsize=9)
    _bare(ax_s, "col2im: overlaps add up")
    fig.tight_layout()
    return fig


def plot_conv_graph(backward: bool = False) -> Figure:
    """The im2col convolution as a computation graph: `x` is unfolded into `X_col`, one
    matrix product with the reshaped weight `W` and the bias `b` gives `Y`, which is reshaped
    to the output `y`. Labels carry the shapes; P = N·H_out·W_out output positions.

    `backward=True` adds the gradients (dashed red), named by what they are the gradient of:
    `dy`, `dY`, `dW`, `db`, `dX_col` and `dx`, which comes back through col2im. What they
    equal is the derivation's result.
    """
    nodes = {
        "x": Node(0.0, 0.0, "x\n(N, C_in, H, W)", "value", width=1.6, height=0.6),
        "im2col": Node(1.9, 0.0, "im2col", "op", width=0.9),
        "X": Node(3.7, 0.0, "X_col\n(C_in·k·k, P)", "value", width=1.5, height=0.6),
        "mm": Node(5.6, 0.0, "W X_col + b", "op", width=1.3),
        "W": Node(4.9, 1.5, "W\n(C_out, C_in·k·k)", "param", width=1.7, height=0.6),
        "b": Node(6.6, 1.5, "b\n(C_out,)", "param", width=1.0, height=0.6),
        "Y": Node(7.5, 0.0, "Y\n(C_out, P)", "value", width=1.2, height=0.6),
        "reshape": Node(9.1, 0.0, "reshape", "op", width=0.9),
        "y": Node(11.0, 0.0, "y\n(N, C_out, H_out, W_out)", "value", width=2.3, height=0.6),
        "L": Node(12.75, 0.0, "L", "loss", width=0.6),
    }
    edges = [
        Edge("x", "im2col"),
        Edge("im2col", "X"),
        Edge("X", "mm"),
        Edge("W", "mm"),
        Edge("b", "mm"),
        Edge("mm", "Y"),
        Edge("Y", "reshape"),
        Edge("reshape", "y"),
        Edge("y", "L"),
    ]
    if backward:
        edges += [
            Edge("L", "y", "dy", backward=True),
            Edge("reshape", "Y", "dY", backward=True),
            Edge("mm", "X", "dX_col", backward=True),
            Edge("mm", "W", backward=True),
            Edge("mm", "b", backward=True),
            Edge("im2col", "x", "dx: col2im", backward=True),
        ]
        nodes["dW"] = Node(4.55, 0.75, "dW", "note", width=0.5)
        nodes["db"] = Node(6.55, 0.75, "db", "note", width=0.5)
        nodes["key"] = Node(
            2.6, -1.0, "red, dashed: gradients, each the shape of its value", "note", width=4.6
        )
    title = "Conv2d as im2col + one matrix product" + (", forward and backward" if backward else "")
    return plot_graph(nodes, edges, title=title, scale=0.85)


def plot_flipped_kernel(length: int = 5, kernel_size: int = 3, focus: int = 2) -> Figure:
    """A one-dimensional convolution `y_i = sum_u w_u x_(i+u)` (no padding) and its input
    gradient, one connection per (output, kernel offset), coloured by the offset u.

    Top: the forward pass; from each output the colours read w_0, w_1, w_2 left to right.
    Bottom: the backward pass; `dy` padded with k - 1 zeros on each side, and each `dx_a`
    collects `dy_i w_(a-i)`. Read left to right, the weights reaching `dx_focus` (its window is
    framed) come in the order w_2, w_1, w_0: the kernel flipped.
    """
    k = kernel_size
    n_out = length - k + 1
    fig = Figure(figsize=(0.75 * (length + 2 * (k - 1)) + 1.2, 4.8))
    ax_f, ax_b = fig.subplots(2, 1)
    colours = [_WINDOW_COLOURS[u % len(_WINDOW_COLOURS)] for u in range(k)]
    lo, hi = -(k - 1) - 0.7, length + 0.2

    def box(ax, x, y, text, face="white", edge="0.3"):
        ax.text(
            x,
            y,
            text,
            ha="center",
            va="center",
            fontsize=9,
            bbox={"boxstyle": "round,pad=0.3", "fc": face, "ec": edge},
        )

    # Forward: output i sits above the middle of its window x_i .. x_(i+k-1).
    for i in range(n_out):
        for u in range(k):
            ax_f.plot([i + u, i + (k - 1) / 2], [0, 1], color=colours[u], lw=1.8)
        box(ax_f, i + (k - 1) / 2, 1, f"y{i}", "#dae8fc")
    for a in range(length):
        box(ax_f, a, 0, f"x{a}")
    ax_f.set_title("forward: y_i = " + " + ".join(f"w{u} x_(i+{u})" for u in range(k)), fontsize=9)
    # Backward: dy padded with k - 1 zeros each side; dx_a gathers from dy_(a-k+1) .. dy_a.
    for a in range(length):
        for u in range(k):
            i = a - u
            if 0 <= i < n_out:
                alpha = 1.0 if a == focus else 0.3  # dx_focus's connections stand out
                ax_b.plot([i, a], [1, 0], color=colours[u], lw=1.8, ls="--", alpha=alpha)
        box(ax_b, a, 0, f"dx{a}", "#f8cecc" if a == focus else "white")
    for i in range(-(k - 1), n_out + k - 1):
        if 0 <= i < n_out:
            box(ax_b, i, 1, f"dy{i}", "#dae8fc")
        else:
            box(ax_b, i, 1, "0", "0.93", "0.6")
    ax_b.add_patch(
        Rectangle((focus - (k - 1) - 0.45, 0.8), k - 0.1, 0.4, fill=False, ec="C3", lw=1.5)
    )
    for u in range(k):
        i = focus - u
        if 0 <= i < n_out:
            ax_b.text(  # on the line, 40% of the way down from dy_i
                i + 0.4 * (focus - i) - 0.08, 0.6, f"w{u}", color=colours[u], fontsize=9, ha="right"
            )
    order = ", ".join(f"w{u}" for u in reversed(range(k)))
    ax_b.set_title(
        f"backward: dx{focus} gathers dy from its framed window with weights {order}: "
        "the kernel flipped",
        fontsize=9,
    )
    for ax in (ax_f, ax_b):
        ax.set_xlim(lo, hi + (k - 1))
        ax.set_ylim(-0.4, 1.4)
        ax.axis("off")
    ax_b.text(lo + 0.1, 1.35, f"dy, padded with {k - 1} zeros each side", fontsize=8, color="0.4")
    handles = [ax_f.plot([], [], color=c, lw=1.8, label=f"w{u}")[0] for u, c in enumerate(colours)]
    ax_f.legend(handles=handles, loc="upper right", fontsize=8, ncol=k, frameon=False)
    fig.tight_layout()
    return fig
