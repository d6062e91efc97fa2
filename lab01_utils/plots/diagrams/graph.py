"""The one way a diagram is drawn: labelled boxes at grid positions joined by arrows.

A computation graph (SiLU, BatchNorm), a block (the pre-activation residual block) or the
whole network is a set of `Node`s placed on a grid and `Edge`s between them. Forward edges
are solid and black; backward edges (gradients) are dashed and red and carry the local
gradient as their label, so one figure can show both passes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

__all__ = ["MAX_FONTSIZE", "Edge", "Node", "plot_graph"]

MAX_FONTSIZE = 13.0  # points: the labels' size where the boxes leave room for more
MIN_FONTSIZE = 7.0

# Face colours by kind: what flows (values), what is learned (parameters), what computes.
_FACE = {
    "value": "#ffffff",
    "param": "#fff2cc",
    "op": "#dae8fc",
    "loss": "#f8cecc",
    "note": "none",
}
_FORWARD, _BACKWARD = "#222222", "#c0392b"


@dataclass(frozen=True)
class Node:
    """A box centred at grid position `(x, y)` (any units; the figure fits them).

    `kind`: "value" (an array that flows), "param" (a learned array), "op" (an operation,
    drawn rounded), "loss" (the scalar at the end), "note" (text without a box).
    """

    x: float
    y: float
    label: str
    kind: str = "value"
    width: float = 1.0
    height: float = 0.5


@dataclass(frozen=True)
class Edge:
    """An arrow from node `src` to node `dst`; `backward=True` draws a gradient (dashed, red,
    slightly offset so it does not hide the forward arrow)."""

    src: str
    dst: str
    label: str = ""
    backward: bool = False


def _anchor(a: Node, b: Node) -> tuple[float, float]:
    """Where the line from a's centre towards b's centre leaves a's box."""
    dx, dy = b.x - a.x, b.y - a.y
    if dx == 0 and dy == 0:
        return a.x, a.y
    sx = (a.width / 2) / abs(dx) if dx else float("inf")
    sy = (a.height / 2) / abs(dy) if dy else float("inf")
    s = min(sx, sy)
    return a.x + dx * s, a.y + dy * s


def _fitting_fontsize(fig: Figure, ax, nodes: Mapping[str, Node]) -> float:
    """The largest font size (points, `MIN_FONTSIZE` to `MAX_FONTSIZE`) at which every node's
    label fits its width and height (a box's with a margin): each is measured at 10 points."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    fits = [MAX_FONTSIZE]
    for n in nodes.values():
        if not n.label.strip():
            continue
        text = ax.text(n.x, n.y, n.label, ha="center", va="center", fontsize=10)
        got = text.get_window_extent(renderer)
        text.remove()
        (x0, y0), (x1, y1) = ax.transData.transform([(0, 0), (n.width, n.height)])
        room = 1.0 if n.kind == "note" else 0.9  # a box needs a margin, a note does not
        fits.append(10 * room * min((x1 - x0) / got.width, (y1 - y0) / got.height))
    return max(MIN_FONTSIZE, min(fits))


def plot_graph(
    nodes: Mapping[str, Node],
    edges: Iterable[Edge],
    *,
    title: str | None = None,
    scale: float = 1.3,
    fontsize: float | None = None,
) -> Figure:
    """A figure of `nodes` joined by `edges`; `scale` inches per grid unit.

    `fontsize` (points) of the labels; by default the largest, up to `MAX_FONTSIZE`, at which
    every label fits inside its node (edge labels one point smaller), so the text is as big as
    the layout allows once a notebook fits the figure to its width.
    """
    if not nodes:
        raise ValueError("plot_graph: no nodes to draw")
    xs = [n.x - n.width / 2 for n in nodes.values()] + [n.x + n.width / 2 for n in nodes.values()]
    ys = [n.y - n.height / 2 for n in nodes.values()] + [n.y + n.height / 2 for n in nodes.values()]
    pad = 0.3
    x0, x1, y0, y1 = min(xs) - pad, max(xs) + pad, min(ys) - pad, max(ys) + pad
    fig = Figure(figsize=(max(2.0, (x1 - x0) * scale), max(1.0, (y1 - y0) * scale)))
    ax = fig.add_axes((0, 0, 1, 1 if title is None else 0.9))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.axis("off")
    if fontsize is None:
        fontsize = _fitting_fontsize(fig, ax, nodes)
    if title is not None:
        fig.suptitle(title, fontsize=fontsize + 2)
    for name, n in nodes.items():
        if n.kind not in _FACE:
            raise ValueError(f"node {name!r}: kind {n.kind!r} is not one of {sorted(_FACE)}")
        if n.kind != "note":
            style = "round,pad=0.02,rounding_size=0.2" if n.kind == "op" else "square,pad=0.02"
            ax.add_patch(
                FancyBboxPatch(
                    (n.x - n.width / 2, n.y - n.height / 2),
                    n.width,
                    n.height,
                    boxstyle=style,
                    facecolor=_FACE[n.kind],
                    edgecolor="#333333",
                    linewidth=1.0,
                )
            )
        ax.text(n.x, n.y, n.label, ha="center", va="center", fontsize=fontsize)
    for e in edges:
        for end in (e.src, e.dst):
            if end not in nodes:
                raise ValueError(f"edge {e.src!r} -> {e.dst!r}: no node named {end!r}")
        a, b = nodes[e.src], nodes[e.dst]
        start, stop = _anchor(a, b), _anchor(b, a)
        offset = 0.08 if e.backward else 0.0
        # Backward arrows run beside the forward ones (offset perpendicular to the line).
        dx, dy = stop[0] - start[0], stop[1] - start[1]
        length = (dx * dx + dy * dy) ** 0.5 or 1.0
        ox, oy = -dy / length * offset, dx / length * offset
        start, stop = (start[0] + ox, start[1] + oy), (stop[0] + ox, stop[1] + oy)
        colour = _BACKWARD if e.backward else _FORWARD
        ax.add_patch(
            FancyArrowPatch(
                start,
                stop,
                arrowstyle="-|>",
                mutation_scale=10,
                color=colour,
                linewidth=1.0,
                linestyle="--" if e.backward else "-",
            )
        )
        if e.label:
            mx, my = (start[0] + stop[0]) / 2 + ox * 2.5, (start[1] + stop[1]) / 2 + oy * 2.5
            ax.text(
                mx,
                my + (0.0 if e.backward else 0.12),
                e.label,
                ha="center",
                va="bottom" if not e.backward else "top",
                fontsize=fontsize - 1,
                color=colour,
            )
    return fig
