"""Diagrams the notebooks teach with: computation graphs, im2col's picture of a convolution,
the residual block and the whole network. Each is a pure function returning a fresh
`matplotlib.figure.Figure` (show it with `plots.show_figure`), built on `graph.plot_graph`
where it is boxes and arrows. One module per lesson: `activation` (01), `linear` (02), `conv`
(03), `norm` (04), `blocks` (05), `model` (06), `optim` (07)."""

from .activation import plot_relu_sigmoid, plot_silu_graph
from .blocks import plot_preact_block
from .conv import plot_col2im, plot_conv_graph, plot_flipped_kernel, plot_shift_equivariance
from .graph import Edge, Node, plot_graph
from .linear import plot_linear_graph, plot_softmax_ce_graph, plot_weight_templates
from .model import network_shapes, plot_network, plot_receptive_field
from .norm import plot_batchnorm_graph, plot_normalisation_axes
from .optim import plot_valley_paths

__all__ = [
    "Edge",
    "Node",
    "network_shapes",
    "plot_batchnorm_graph",
    "plot_col2im",
    "plot_conv_graph",
    "plot_flipped_kernel",
    "plot_graph",
    "plot_linear_graph",
    "plot_network",
    "plot_normalisation_axes",
    "plot_preact_block",
    "plot_receptive_field",
    "plot_relu_sigmoid",
    "plot_shift_equivariance",
    "plot_silu_graph",
    "plot_softmax_ce_graph",
    "plot_valley_paths",
    "plot_weight_templates",
]
