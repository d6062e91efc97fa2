"""Notebook 07's picture: paths of gradient descent drawn over the contours of a narrow
valley, the loss `1/2 sum_i a_i (w_i - c_i)^2` of `experiments.optim.make_valley`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

__all__ = ["plot_valley_paths"]


def plot_valley_paths(
    paths: Mapping[str, np.ndarray],
    curvatures: Sequence[float],
    optimum: Sequence[float] = (0.0, 0.0),
    *,
    title: str | None = None,
    limits: tuple[float, float, float, float] | None = None,
) -> Figure:
    """Each path `(T, 2)` (the weights after 0, 1, ..., T - 1 steps) as a line of dots over
    the contours of the excess loss `1/2 sum_i curvatures[i] (w_i - optimum_i)^2`, its start
    circled and the minimum starred; the lines are labelled with `paths`' keys.

    `limits`: `(w1_min, w1_max, w2_min, w2_max)`; by default the box around every finite
    point of the paths and the minimum, with a margin. Points outside it are not drawn.
    """
    if not paths:
        raise ValueError("plot_valley_paths: no paths to draw")
    a = np.asarray(curvatures, np.float64)
    c = np.asarray(optimum, np.float64)
    if limits is None:
        pts = np.concatenate([np.asarray(p, np.float64) for p in paths.values()] + [c[None]])
        pts = pts[np.isfinite(pts).all(axis=1)]
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        pad = 0.08 * np.maximum(hi - lo, 1e-3)
        limits = (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])
    x0, x1, y0, y1 = limits
    g1, g2 = np.meshgrid(np.linspace(x0, x1, 300), np.linspace(y0, y1, 300))
    loss = 0.5 * (a[0] * (g1 - c[0]) ** 2 + a[1] * (g2 - c[1]) ** 2)  # (300, 300)
    fig = Figure(figsize=(7.5, 4.2))
    ax = fig.subplots()
    top = max(float(loss.max()), 1e-6)
    levels = np.geomspace(top * 1e-4, top, 14)
    ax.contour(g1, g2, loss, levels=levels, colors="0.75", linewidths=0.8)
    for i, (label, path) in enumerate(paths.items()):
        p = np.asarray(path, np.float64)
        inside = (p[:, 0] >= x0) & (p[:, 0] <= x1) & (p[:, 1] >= y0) & (p[:, 1] <= y1)
        p = np.where(inside[:, None], p, np.nan)  # a gap where the path leaves the box
        ax.plot(p[:, 0], p[:, 1], ".-", ms=3, lw=1.2, color=f"C{i % 10}", label=label)
    start = np.asarray(next(iter(paths.values())), np.float64)[0]
    ax.plot(*start, "o", mfc="none", mec="k", ms=9)
    ax.annotate("start", start, textcoords="offset points", xytext=(6, 6), fontsize=8)
    ax.plot(*c, "*", color="k", ms=11)
    ax.annotate("minimum", c, textcoords="offset points", xytext=(6, -12), fontsize=8)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel(f"$w_1$ (curvature {a[0]:g})")
    ax.set_ylabel(f"$w_2$ (curvature {a[1]:g})")
    ax.legend(fontsize=8, loc="lower right")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
