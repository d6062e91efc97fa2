"""Figures for the walkthrough notebooks: they draw, and compute nothing but what they draw.

Every `plot_*` function is pure: it builds a fresh `matplotlib.figure.Figure` (no pyplot, no
global figure registry, nothing to close) and returns it. In a notebook, `show_figure(fig)`
displays it as a PNG; `figure_to_png(fig)` gives the bytes (what the widgets in `widgets.py`
put into an `ipywidgets.Image`).

What the figures show (predictions, the confusion matrix, accuracy per class, feature maps,
the layer table) is computed in `metrics.py`; image shapes are `images.py`'s. The figures of
the data and the layers are in `plots/layers.py`, those of training runs in
`plots/training.py`.
"""

from .figure import figure_to_png, show_figure
from .layers import (
    plot_augmentation,
    plot_channel_stats,
    plot_class_grid,
    plot_feature_maps,
    plot_im2col,
    plot_images,
    plot_pixel_statistics,
    plot_silu,
)
from .training import (
    plot_ablation,
    plot_confusion_matrix,
    plot_lr_schedule,
    plot_misclassified,
    plot_per_class_accuracy,
    plot_step_losses,
    plot_training_curves,
)

__all__ = [
    "figure_to_png",
    "plot_ablation",
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
    "show_figure",
]
