"""Figures of notebook 06: the whole network (the report's Figure 1, as `models.PreActResNet`
builds it) and the receptive field of one of its outputs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ...config import NUM_CLASSES, WIDTHS
from ...nn.functional import conv_output_size
from .graph import Edge, Node, plot_graph

__all__ = ["network_shapes", "plot_network", "plot_receptive_field"]


def network_shapes(
    widths: Sequence[int] = WIDTHS, num_classes: int = NUM_CLASSES, image_size: int = 28
) -> list[tuple[str, str, str]]:
    """`(name, what it computes, output shape)` for every step of the network, from the
    architecture alone (no forward pass): what `plot_network` draws."""
    w1, w2, w3 = (int(w) for w in widths)
    size = image_size
    rows = [
        ("input", "flat pixels in [0, 1]", f"(N, {size * size})"),
        ("reshape", "to NCHW", f"(N, 1, {size}, {size})"),
        ("stem", f"conv 3×3, 1 → {w1}, padding 1", f"(N, {w1}, {size}, {size})"),
    ]
    c_in = w1
    for i, w in enumerate((w1, w2, w3), 1):
        size = conv_output_size(size, 3, 2, 1)  # Block1's first conv: 3x3, stride 2, pad 1
        what = f"Block1 (stride 2, 1×1 projection)\n+ Block2, channels {c_in} → {w}"
        rows.append((f"layer{i}", what, f"(N, {w}, {size}, {size})"))
        c_in = w
    rows += [
        ("bn, act", "BatchNorm + SiLU", f"(N, {w3}, {size}, {size})"),
        ("pool", "global average pooling", f"(N, {w3})"),
        ("fc", f"linear {w3} → {num_classes}", f"(N, {num_classes}) logits"),
    ]
    return rows


def plot_network(
    widths: Sequence[int] = WIDTHS, num_classes: int = NUM_CLASSES, image_size: int = 28
) -> Figure:
    """The network top to bottom, one box per step, its output shape beside it."""
    rows = network_shapes(widths, num_classes, image_size)
    nodes, edges = {}, []
    for i, (name, what, shape) in enumerate(rows):
        kind = "value" if name == "input" else "op"
        label = f"{name}: {what}"
        nodes[name] = Node(0.0, -1.0 * i, label, kind=kind, width=4.4, height=0.75)
        nodes[f"{name} shape"] = Node(3.7, -1.0 * i, shape, kind="note", width=2.4, height=0.5)
        if i:
            edges.append(Edge(rows[i - 1][0], name))
    return plot_graph(nodes, edges, title="The lab's pre-activation ResNet", scale=0.85)


def plot_receptive_field(
    gradient: np.ndarray, box: tuple[int, int, int, int], image_size: int = 28
) -> Figure:
    """Where one output position of a layer looks: `|dL/dx|` on a large input (log colour
    scale), the box `(top, left, bottom, right)` (inclusive) where it is not zero, and, for
    scale, a centred square of the network's own image size.

    Args:
        gradient: `(H, W)`, the input gradient of one output position.
        box: the receptive field's bounds, as `experiments.model.receptive_field` returns.
        image_size: the side of the images the network is trained on.
    """
    g = np.abs(np.asarray(gradient, dtype=np.float64))
    top, left, bottom, right = box
    fig = Figure(figsize=(6.0, 5.0))
    ax = fig.subplots()
    floor = g[g > 0].min() if np.any(g > 0) else 1.0
    im = ax.imshow(np.log10(np.maximum(g, floor)), cmap="magma")
    fig.colorbar(im, ax=ax, label="log10 |gradient|")
    side = bottom - top + 1
    ax.add_patch(
        Rectangle((left - 0.5, top - 0.5), right - left + 1, side, fill=False, ec="#2e86de", lw=1.5)
    )
    cy, cx = (top + bottom) / 2, (left + right) / 2
    half = image_size / 2
    ax.add_patch(
        Rectangle((cx - half, cy - half), image_size, image_size, fill=False, ec="w", ls="--")
    )
    ax.set_title(
        f"receptive field {side}×{right - left + 1} pixels (blue)\n"
        f"dashed: the size of one {image_size}×{image_size} image",
        fontsize=10,
    )
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    return fig
