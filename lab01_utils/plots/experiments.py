"""Figures of the notebooks' experiments (`lab01_utils.experiments`): curves of several runs
overlaid, and a statistic per layer. They draw what they are given and compute nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

__all__ = ["plot_curves", "plot_per_layer"]


def plot_curves(
    panels: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    xlabel: str = "step",
    logy: bool | Sequence[bool] = False,
    title: str | None = None,
    x: Mapping[str, Sequence[float]] | None = None,
) -> Figure:
    """One panel per entry of `panels` (`{panel title: {line label: values}}`), the lines of
    a panel overlaid; `x` gives a line's x values by label (default 0, 1, 2, ...).

    `logy`: one flag for every panel, or one per panel. Lines are labelled with their keys.
    """
    if not panels:
        raise ValueError("plot_curves: no panels to draw")
    logs = [logy] * len(panels) if isinstance(logy, bool) else list(logy)
    if len(logs) != len(panels):
        raise ValueError(f"plot_curves: {len(logs)} logy flags for {len(panels)} panels")
    fig = Figure(figsize=(min(15, 5 * len(panels)), 3.6))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (name, lines), log in zip(axes, panels.items(), logs, strict=True):
        for i, (label, values) in enumerate(lines.items()):
            xs = list(x[label]) if x is not None and label in x else list(range(len(values)))
            ax.plot(xs, list(values), label=label, color=f"C{i % 10}", lw=1.6)
        ax.set_title(name)
        ax.set_xlabel(xlabel)
        if log:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        if lines:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_per_layer(
    stats: Mapping[str, Sequence[float]],
    layers: Sequence[str],
    *,
    ylabel: str,
    logy: bool = False,
    title: str | None = None,
) -> Figure:
    """A statistic per layer (`{series label: one value per layer}`), the layers named on the
    x axis in network order: e.g. the activations' standard deviation at two weight scales."""
    for label, values in stats.items():
        if len(values) != len(layers):
            raise ValueError(
                f"plot_per_layer: {label!r} has {len(values)} values for {len(layers)} layers"
            )
    fig = Figure(figsize=(max(6, 0.45 * len(layers) + 2), 3.6))
    ax = fig.subplots()
    for i, (label, values) in enumerate(stats.items()):
        ax.plot(range(len(layers)), list(values), "o-", label=label, color=f"C{i % 10}")
    ax.set_xticks(range(len(layers)))
    ax.set_xticklabels(layers, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
