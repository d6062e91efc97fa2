"""Figures of notebook 02: the computation graphs of `Linear` and of softmax + cross-entropy
(forward, and the gradients the derivations compute, named by their shapes), and a linear
classifier's weight rows drawn as 28x28 templates."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from ...formats import CLASS_NAMES
from .graph import Edge, Node, plot_graph

__all__ = ["plot_linear_graph", "plot_softmax_ce_graph", "plot_weight_templates"]


def plot_linear_graph(backward: bool = False) -> Figure:
    """`Linear` as a computation graph: `x` and the weight `W` meet in a matrix product
    `u = x Wᵀ`, the bias `b` is added to every row, `y` goes on to the loss `L`.

    Node labels: `x`, `W`, `b`, `x Wᵀ`, `u`, `+ b`, `y`, `L` (each value with its shape).
    `backward=True` adds the gradients (dashed red) from `dy` back to `x`, `W` and `b`,
    labelled by name and shape only: what they equal is the derivation's result.
    """
    nodes = {
        "x": Node(0.0, 0.0, "x\n(N, in)", "value", width=1.0, height=0.6),
        "W": Node(1.8, 1.5, "W\n(out, in)", "param", width=1.1, height=0.6),
        "mm": Node(1.8, 0.0, "x Wᵀ", "op", width=0.9),
        "u": Node(3.6, 0.0, "u\n(N, out)", "value", width=1.0, height=0.6),
        "b": Node(5.4, 1.5, "b\n(out,)", "param", width=1.0, height=0.6),
        "add": Node(5.4, 0.0, "+ b", "op", width=0.8),
        "y": Node(7.2, 0.0, "y\n(N, out)", "value", width=1.0, height=0.6),
        "L": Node(9.0, 0.0, "L", "loss", width=0.7),
        "rows": Node(7.4, 1.5, "b is added to each\nof the N rows", "note", width=2.3),
    }
    edges = [
        Edge("x", "mm"),
        Edge("W", "mm"),
        Edge("mm", "u"),
        Edge("u", "add"),
        Edge("b", "add"),
        Edge("add", "y"),
        Edge("y", "L", "rest of\nthe network"),
    ]
    if backward:
        edges += [
            Edge("L", "y", "dy (N, out)", backward=True),
            Edge("add", "u", "du", backward=True),
            Edge("add", "b", backward=True),
            Edge("mm", "x", "dx (N, in)", backward=True),
            Edge("mm", "W", backward=True),
        ]
        # The vertical arrows' labels sit beside them, as notes, clear of the arrows.
        nodes["dW"] = Node(1.05, 0.75, "dW\n(out, in)", "note", width=0.9)
        nodes["db"] = Node(4.75, 0.75, "db\n(out,)", "note", width=0.8)
        nodes["key"] = Node(
            1.2, -1.0, "red, dashed: gradients, each the shape of its value", "note", width=3.6
        )
    title = "Linear: y = x Wᵀ + b" + (", forward and backward" if backward else "")
    return plot_graph(nodes, edges, title=title, scale=0.95)


def plot_softmax_ce_graph(backward: bool = False) -> Figure:
    """Softmax + cross-entropy for one example n of a batch of N: the logits `z_n` `(K,)` go
    through the softmax to `p_n`, the target `y_n` picks `-log p_n[y_n]` = `ℓ_n`, and the loss
    `L` is the mean of the N `ℓ_n`.

    Node labels: `z_n`, `softmax`, `p_n`, `y_n`, `-log p[y_n]`, `ℓ_n`, `mean over n`, `L`.
    `backward=True` adds the gradients (dashed red) from `L` back to `z_n`, labelled with what
    the derivation's first steps give (`1/N`, the pick's gradient) and, for `dz_n`, only its
    shape.
    """
    nodes = {
        "z": Node(0.0, 0.0, "z_n\n(K,) logits", "value", width=1.3, height=0.6),
        "soft": Node(2.1, 0.0, "softmax", "op", width=1.1),
        "p": Node(3.8, 0.0, "p_n\n(K,)", "value", width=0.9, height=0.6),
        "y": Node(5.9, 1.4, "y_n\n(target class)", "value", width=1.6, height=0.6),
        "nll": Node(5.9, 0.0, "-log p[y_n]", "op", width=1.4),
        "l": Node(7.9, 0.0, "ℓ_n", "value", width=0.7),
        "mean": Node(9.6, 0.0, "mean over n", "op", width=1.4),
        "L": Node(11.4, 0.0, "L", "loss", width=0.7),
        "jac": Node(2.1, 1.4, "every p_k depends on\nevery z_j: a K×K Jacobian", "note", width=3.0),
    }
    edges = [
        Edge("z", "soft"),
        Edge("soft", "p"),
        Edge("p", "nll"),
        Edge("y", "nll"),
        Edge("nll", "l"),
        Edge("l", "mean"),
        Edge("mean", "L"),
    ]
    if backward:
        edges += [
            Edge("L", "mean", "1", backward=True),
            Edge("mean", "l", "1/N", backward=True),
            Edge("l", "nll", "dℓ_n", backward=True),
            Edge("nll", "p", "dp_n (K,)", backward=True),
            Edge("soft", "z", "dz_n (K,)", backward=True),
        ]
        nodes["pick"] = Node(
            4.9,
            -1.05,
            "dp_n: -1 / (N p[y_n]) at k = y_n, 0 at the other K - 1 classes",
            "note",
            width=5.0,
        )
    title = "Softmax + cross-entropy, one example" + (", with gradients" if backward else "")
    return plot_graph(nodes, edges, title=title, scale=0.8)


def plot_weight_templates(
    weight: np.ndarray,
    class_names: Sequence[str] = CLASS_NAMES,
    *,
    title: str | None = None,
) -> Figure:
    """The rows of a linear classifier's weight `(K, 784)` as K images of 28x28, in a grid of
    two rows, each titled with its class. Colours: red where a bright pixel raises the class's
    score, blue where it lowers it; each image is scaled to its own largest |weight|, so the
    pattern, not the size, is comparable."""
    weight = np.asarray(weight)
    if weight.ndim != 2 or weight.shape[1] != 28 * 28:
        raise ValueError(f"plot_weight_templates: weight must be (K, 784), got {weight.shape}")
    if len(class_names) != len(weight):
        raise ValueError(
            f"plot_weight_templates: {len(class_names)} class names for {len(weight)} rows"
        )
    cols = (len(weight) + 1) // 2
    fig = Figure(figsize=(1.6 * cols, 4.2))
    axes = fig.subplots(2, cols, squeeze=False).ravel()
    for ax in axes[len(weight) :]:
        ax.axis("off")
    for ax, row, name in zip(axes, weight, class_names, strict=False):
        bound = float(np.abs(row).max()) or 1.0
        ax.imshow(row.reshape(28, 28), cmap="RdBu_r", vmin=-bound, vmax=bound)
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
