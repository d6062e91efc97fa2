"""Turning a figure into what a notebook or a widget shows, and the one way an image is drawn."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure

from ..images import as_image

__all__ = ["count_axes", "figure_to_png", "image_axis", "show_figure"]


def figure_to_png(fig: Figure, dpi: float | None = None) -> bytes:
    """The figure as PNG bytes (rendered with Agg, whatever pyplot's backend is)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def show_figure(fig: Figure, dpi: float | None = None) -> None:
    """Display the figure in a notebook as a plain PNG (kept in the saved notebook)."""
    from IPython.display import Image, display

    display(Image(data=figure_to_png(fig, dpi)))


def image_axis(ax, img: np.ndarray, title: str | None = None, cmap: str = "gray") -> None:
    img = as_image(img)
    vmax = 255 if img.dtype == np.uint8 else max(1.0, float(img.max()))
    ax.imshow(img, cmap=cmap, vmin=0, vmax=vmax)
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=8)


def count_axes(axes, xlabel: str) -> None:
    """Axes over a count (epochs, channels): integer ticks, the label, a light grid."""
    from matplotlib.ticker import MaxNLocator

    for ax in axes:
        ax.set_xlabel(xlabel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
