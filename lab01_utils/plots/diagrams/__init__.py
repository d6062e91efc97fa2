"""Diagrams the notebooks teach with: computation graphs, im2col's picture of a convolution,
the residual block and the whole network. Each is a pure function returning a fresh
`matplotlib.figure.Figure` (show it with `plots.show_figure`), built on `graph.plot_graph`
where it is boxes and arrows. One module per lesson."""

from .graph import Edge, Node, plot_graph

__all__ = ["Edge", "Node", "plot_graph"]
