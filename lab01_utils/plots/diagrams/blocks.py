"""Diagrams of notebook 05: the pre-activation residual block (He et al. 2016, "Identity
Mappings"), as `lab01_utils.nn.PreActBlock` computes it, with the identity or the projection
shortcut, and the gradient's split at the addition."""

from __future__ import annotations

from matplotlib.figure import Figure

from .graph import Edge, Node, plot_graph

__all__ = ["plot_preact_block"]

_ROW, _SHORT = 1.1, 0.0  # the main path's row and the shortcut's row
_STEP = 1.35  # grid units between neighbouring boxes


def plot_preact_block(projection: bool = False, backward: bool = False) -> Figure:
    """The block `x -> BN -> SiLU -> a -> conv3x3 -> BN -> SiLU -> conv3x3 -> (+) -> y`.

    Args:
        projection: False for Block2 (stride 1, the shortcut carries the raw `x`); True for
            Block1 (the first conv has stride 2 and the shortcut is a 1x1 conv with stride 2
            that reads the pre-activation `a`).
        backward: also draw the gradient leaving the addition (dashed red): `dy` goes,
            unchanged, into both the main path and the shortcut. Where the two paths meet
            again (`x`, or `a` for a projection) is marked, and left for the derivation.
    """
    names = ["x", "bn1", "act1", "a", "conv1", "bn2", "act2", "conv2", "add", "y"]
    labels = {
        "x": "x",
        "bn1": "BN",
        "act1": "SiLU",
        "a": "a",
        "conv1": "conv 3×3\nstride 2" if projection else "conv 3×3",
        "bn2": "BN",
        "act2": "SiLU",
        "conv2": "conv 3×3",
        "add": "+",
        "y": "y",
    }
    kinds = {"x": "value", "a": "value", "y": "value", "add": "op"}
    nodes = {}
    for i, name in enumerate(names):
        on_row = name not in ("x", "add", "y")
        nodes[name] = Node(
            i * _STEP,
            _ROW if on_row else _SHORT,
            labels[name],
            kind=kinds.get(name, "op"),
            width=0.55 if name in ("a", "add", "x", "y") else 1.05,
            height=0.55 if name in ("a", "add", "x", "y") else 0.7,
        )
    chain = ["x", "bn1", "act1", "a", "conv1", "bn2", "act2", "conv2", "add", "y"]
    edges = [Edge(s, d) for s, d in zip(chain, chain[1:], strict=False)]
    if projection:
        # The projection reads `a`: one box on the shortcut row, below the main path.
        nodes["shortcut"] = Node(
            nodes["bn2"].x, _SHORT, "conv 1×1, stride 2\n(projection)", kind="op", width=1.9
        )
        edges += [Edge("a", "shortcut"), Edge("shortcut", "add")]
        meet = "a"
    else:
        edges.append(Edge("x", "add", "identity: the raw x"))
        meet = "x"
    if backward:
        edges += [
            Edge("y", "add", "dy", backward=True),
            Edge("add", "conv2", "dy", backward=True),
            Edge("add", "shortcut" if projection else "x", "dy", backward=True),
        ]
        nodes["meet"] = Node(
            nodes[meet].x,
            nodes[meet].y + (0.75 if meet == "a" else -0.7),
            f"{meet} feeds two paths:\nits gradient collects both",
            kind="note",
            width=2.2,
            height=0.5,
        )
    kind = "Block1: projection shortcut" if projection else "Block2: identity shortcut"
    title = f"Pre-activation residual block ({kind})" + (", backward" if backward else "")
    return plot_graph(nodes, edges, title=title, scale=0.95)
