"""Notebook 04's figures: which values BatchNorm2d averages over (against normalising each
activation, and against LayerNorm), and BatchNorm's computation graph, forward and backward."""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .graph import Edge, Node, plot_graph

__all__ = ["AXES_PANELS", "plot_batchnorm_graph", "plot_normalisation_axes"]

# The panels of `plot_normalisation_axes`: title, and which cell (n, c, p) is highlighted.
AXES_PANELS: dict[str, str] = {
    "BatchNorm2d: one channel, over (N, H, W)": "channel",
    "per activation: one (c, h, w), over N only": "activation",
    "LayerNorm: one example, over (C, H, W)": "example",
}
_HIGHLIGHT, _CELL = "#f4b183", "#f2f2f2"


def _highlighted(kind: str, n: int, c: int, p: int) -> bool:
    """Whether cell (example n, channel c, position p) shares the statistics of the marked set:
    channel 1 for BatchNorm2d, (channel 1, position 2) per activation, example 1 for LayerNorm."""
    if kind == "channel":
        return c == 1
    if kind == "activation":
        return c == 1 and p == 2
    return n == 1


def plot_normalisation_axes(
    batch: int = 4, channels: int = 3, positions: int = 4, cell: float = 0.32
) -> Figure:
    """Three grids of a batch `(N, C, H, W)`, one row per example and one column per
    (channel, position), the `H * W` positions of a channel side by side. In each grid the
    shaded cells are the values that share one mean and one variance: BatchNorm2d's one
    channel across the batch and every position (`M = N * H * W` values), the classic bug's one
    activation across the batch only (N values), LayerNorm's one example (`C * H * W`)."""
    fig = Figure(figsize=(8.8, 2.9))
    axes = fig.subplots(1, len(AXES_PANELS))
    width, height = channels * positions, batch
    for ax, (title, kind) in zip(axes, AXES_PANELS.items(), strict=True):
        count = 0
        for n in range(batch):
            for c in range(channels):
                for p in range(positions):
                    on = _highlighted(kind, n, c, p)
                    count += on
                    ax.add_patch(
                        Rectangle(
                            ((c * positions + p) * cell, (batch - 1 - n) * cell),
                            cell,
                            cell,
                            facecolor=_HIGHLIGHT if on else _CELL,
                            edgecolor="#888888",
                            linewidth=0.6,
                        )
                    )
        for c in range(1, channels):  # thick lines between channels
            ax.plot([c * positions * cell] * 2, [0, height * cell], color="#333333", lw=1.6)
        for c in range(channels):
            ax.text(
                (c + 0.5) * positions * cell, height * cell + 0.08, f"channel {c}",
                ha="center", va="bottom", fontsize=8,
            )  # fmt: skip
        ax.text(-0.1, height * cell / 2, "N (examples)", rotation=90, ha="right", va="center",
                fontsize=8)  # fmt: skip
        ax.text(width * cell / 2, -0.1, f"H·W positions of each channel;\n{count} shaded values",
                ha="center", va="top", fontsize=8)  # fmt: skip
        ax.set_title(title, fontsize=9, pad=16)
        ax.set_xlim(-0.45, width * cell + 0.05)
        ax.set_ylim(-0.45, height * cell + 0.35)
        ax.set_aspect("equal")
        ax.axis("off")
    fig.tight_layout()
    return fig


# The chain-rule label of each backward edge: upstream gradient times local derivative, summed
# where one value feeds many (a mean, or gamma and beta shared by every position).
_BACKWARD_LABELS = {
    ("L", "y"): "dy",
    ("y", "xhat"): "dy · ∂y/∂x̂",
    ("y", "gamma"): "Σ dy · ∂y/∂γ",
    ("y", "beta"): "Σ dy · ∂y/∂β",
    ("xhat", "s"): "Σ dx̂ · ∂x̂/∂s",
    ("s", "v"): "ds · ∂s/∂v",
    ("xhat", "c"): "dx̂ · ∂x̂/∂c",
    ("v", "c"): "dv · ∂v/∂c",
    ("c", "mu"): "Σ dc · ∂c/∂μ",
    ("c", "x"): "dc · ∂c/∂x",
    ("mu", "x"): "dμ · ∂μ/∂x",
}


def plot_batchnorm_graph(backward: bool = False) -> Figure:
    """BatchNorm of one channel as a computation graph over its M values:
    `x -> mu = mean(x) -> c = x - mu -> v = mean(c²) -> s = sqrt(v + eps) -> xhat = c / s
    -> y = gamma * xhat + beta -> L`.

    Solid black arrows are the forward pass. With `backward=True` the dashed red arrows are
    the backward pass, each labelled with the chain-rule product it carries (the upstream
    gradient times the local derivative, e.g. `dx̂ · ∂x̂/∂c`), and notes mark the two values
    used twice (`x` and `c`), where the gradients arriving along both paths add up.
    """
    top, low = 1.35, 0.0
    nodes = {
        "x": Node(0.0, low, "x", "value", width=0.7),
        "mu": Node(1.6, top, "μ = mean(x)", "value", width=1.45),
        "c": Node(3.2, low, "c = x − μ", "value", width=1.3),
        "v": Node(4.8, top, "v = mean(c²)", "value", width=1.5),
        "s": Node(7.0, top, "s = √(v + ε)", "value", width=1.5),
        "xhat": Node(8.6, low, "x̂ = c / s", "value", width=1.3),
        "gamma": Node(10.0, top, "γ", "param", width=0.6),
        "beta": Node(12.4, top, "β", "param", width=0.6),
        "y": Node(11.2, low, "y = γ x̂ + β", "value", width=1.6),
        "L": Node(13.8, low, "L", "loss", width=0.7),
        "fwd": Node(12.0, -1.15, "black: forward (values)", "note", width=3.4, height=0.3),
    }
    edges = [
        Edge("x", "mu"),
        Edge("x", "c"),
        Edge("mu", "c"),
        Edge("c", "v"),
        Edge("v", "s"),
        Edge("s", "xhat"),
        Edge("c", "xhat"),
        Edge("xhat", "y"),
        Edge("gamma", "y"),
        Edge("beta", "y"),
        Edge("y", "L", "rest of\nthe network"),
    ]
    title = "BatchNorm of one channel (M values): forward"
    if backward:
        title += " and backward"
        nodes["bwd"] = Node(
            12.0, -1.45, "red, dashed: backward (gradients)", "note", width=3.4, height=0.3
        )
        nodes["x_sum"] = Node(
            0.8, -1.05, "x feeds c and μ:\nadd the two red arrows", "note", width=2.6, height=0.6
        )
        nodes["c_sum"] = Node(
            4.1, -1.05, "c feeds x̂ and v:\nadd the two red arrows", "note", width=2.6, height=0.6
        )
        edges += [Edge(a, b, label, backward=True) for (a, b), label in _BACKWARD_LABELS.items()]
    return plot_graph(nodes, edges, title=title, scale=0.95)
