"""Notebook 01's figures: SiLU's computation graph (forward and backward), and ReLU's and
sigmoid's troubles (a kink with a dead half; saturation with a derivative of at most 1/4)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ...nn import sigmoid
from .graph import Edge, Node, plot_graph

__all__ = ["plot_relu_sigmoid", "plot_silu_graph"]

SATURATED = 4.0  # |x| beyond which the figure shades sigmoid as saturated (sigma' < 0.018)


def plot_silu_graph() -> Figure:
    """SiLU as a computation graph: x feeds a sigmoid and, directly, a multiplication
    `y = x * s`. Solid black arrows are the forward pass; dashed red arrows the backward pass,
    each labelled with the gradient it carries (upstream gradient times local derivative).
    Node labels: `x`, `σ`, `s = σ(x)`, `×`, `y = x · s`, `L`."""
    nodes = {
        "x": Node(0.0, 0.0, "x", "value", width=0.8),
        "sig": Node(1.7, 1.2, "σ", "op", width=0.8),
        "s": Node(3.5, 1.2, "s = σ(x)", "value", width=1.3),
        "mul": Node(5.2, 0.0, "×", "op", width=0.8),
        "y": Node(7.0, 0.0, "y = x · s", "value", width=1.3),
        "L": Node(8.9, 0.0, "L", "loss", width=0.8),
        "fwd": Node(7.5, -0.75, "black: forward (values)", "note", width=3.0, height=0.3),
        "bwd": Node(7.5, -1.05, "red, dashed: backward (gradients)", "note", width=3.0, height=0.3),
        "sum": Node(0.3, -0.9, "two red arrows\nreach x: add them", "note", width=1.6),
    }
    edges = [
        Edge("x", "sig"),
        Edge("sig", "s"),
        Edge("s", "mul"),
        Edge("x", "mul"),
        Edge("mul", "y"),
        Edge("y", "L", "rest of\nthe network"),
        Edge("L", "y", "dy = ∂L/∂y", backward=True),
        Edge("y", "mul", "dy", backward=True),
        Edge("mul", "s", "dy · x", backward=True),
        Edge("mul", "x", "dy · s", backward=True),
        Edge("s", "sig", "ds", backward=True),
        Edge("sig", "x", "ds · σ'(x)", backward=True),
    ]
    return plot_graph(nodes, edges, title="SiLU: y = x · σ(x), forward and backward", scale=1.0)


def plot_relu_sigmoid(x_range: tuple[float, float] = (-8.0, 8.0), num: int = 801) -> Figure:
    """ReLU (left) and sigmoid (right), each with its derivative.

    The left panel shades x < 0, where ReLU's gradient is exactly 0, and marks the kink at 0;
    the right panel shades |x| > `SATURATED`, where sigmoid's derivative is below 0.018, and
    marks its largest value, 1/4 at x = 0. Lines are labelled `ReLU`, `ReLU'`, `sigmoid`,
    `sigmoid'`.
    """
    x = np.linspace(x_range[0], x_range[1], num)
    sig = sigmoid(x)
    fig = Figure(figsize=(9, 3.4))
    ax_r, ax_s = fig.subplots(1, 2)
    ax_r.plot(x, np.maximum(x, 0.0), label="ReLU", color="C1", lw=2)
    ax_r.plot(x, (x > 0).astype(float), label="ReLU'", color="C1", ls="--")
    ax_r.axvspan(x_range[0], 0.0, color="C3", alpha=0.12, lw=0)
    ax_r.text(x_range[0] / 2, 2.0, "gradient exactly 0", ha="center", fontsize=9, color="C3")
    ax_r.annotate(
        "kink: no derivative at 0",
        xy=(0.0, 0.0),
        xytext=(1.0, 4.0),
        fontsize=9,
        arrowprops={"arrowstyle": "->", "lw": 0.8},
    )
    ax_r.set_ylim(-0.5, x_range[1] * 0.75)
    ax_r.set_title("ReLU: max(x, 0)")
    ax_s.plot(x, sig, label="sigmoid", color="C2", lw=2)
    ax_s.plot(x, sig * (1.0 - sig), label="sigmoid'", color="C2", ls="--")
    for lo, hi in ((x_range[0], -SATURATED), (SATURATED, x_range[1])):
        ax_s.axvspan(lo, hi, color="C3", alpha=0.12, lw=0)
    ax_s.text((x_range[0] - SATURATED) / 2, 0.6, "saturated", ha="center", fontsize=9, color="C3")
    ax_s.text((x_range[1] + SATURATED) / 2, 0.6, "saturated", ha="center", fontsize=9, color="C3")
    ax_s.annotate(
        "largest slope: 1/4",
        xy=(0.0, 0.25),
        xytext=(1.2, 0.42),
        fontsize=9,
        arrowprops={"arrowstyle": "->", "lw": 0.8},
    )
    ax_s.set_ylim(-0.05, 1.1)
    ax_s.set_title("sigmoid: 1 / (1 + exp(-x))")
    for ax in (ax_r, ax_s):
        ax.axhline(0, color="0.6", lw=0.6)
        ax.axvline(0, color="0.6", lw=0.6)
        ax.set_xlabel("x")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig
