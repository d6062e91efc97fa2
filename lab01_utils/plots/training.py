"""Figures of training runs: curves, the learning-rate schedule, step losses, and the
evaluation (confusion matrix, misclassified images, accuracy per class)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..config import DEFAULTS, lr_at
from ..formats import CLASS_NAMES
from ..runs import kept_val_acc
from .figure import count_axes
from .layers import plot_images

__all__ = [
    "plot_ablation",
    "plot_confusion_matrix",
    "plot_lr_schedule",
    "plot_misclassified",
    "plot_per_class_accuracy",
    "plot_step_losses",
    "plot_training_curves",
]


def plot_training_curves(
    histories: Mapping[str, Sequence[Mapping]] | Sequence[Mapping], title: str | None = None
) -> Figure:
    """Loss (left) and accuracy (right) per epoch, train (solid) and val (dashed), runs overlaid.

    Args:
        histories: `{run name: history}`, a history being `train()`'s list of per-epoch dicts
            (`epoch`, `train_loss`, `val_loss`, `train_acc`, `val_acc`); a bare list is one run.
    Lines are labelled `"<run> train"` and `"<run> val"`.
    """
    if not isinstance(histories, Mapping):
        histories = {"run": histories}
    fig = Figure(figsize=(10, 3.6))
    ax_l, ax_a = fig.subplots(1, 2)
    for i, (name, hist) in enumerate(histories.items()):
        if not hist:
            continue
        ep = [r["epoch"] for r in hist]
        # Earlier runs are drawn wider, so runs that coincide (Task 1 and 2) stay visible.
        style = {"color": f"C{i % 10}", "lw": max(1.0, 4.0 - 1.5 * i), "ms": max(3, 8 - 2 * i)}
        for ax, key in ((ax_l, "loss"), (ax_a, "acc")):
            ax.plot(ep, [r[f"train_{key}"] for r in hist], "o-", label=f"{name} train", **style)
            ax.plot(ep, [r[f"val_{key}"] for r in hist], "s--", label=f"{name} val", **style)
    ax_l.set_title("loss")
    ax_a.set_title("accuracy (%)")
    count_axes((ax_l, ax_a), "epoch")
    for ax in (ax_l, ax_a):
        if ax.lines:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "waiting for the first epoch", ha="center", transform=ax.transAxes)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_lr_schedule(
    base_lr: float = DEFAULTS["lr"],
    epochs: int = DEFAULTS["epochs"],
    milestones: Sequence[int] = DEFAULTS["milestones"],
    gamma: float = DEFAULTS["gamma"],
    histories: Mapping[str, Sequence[Mapping]] | None = None,
) -> Figure:
    """The learning rate used during each epoch 1..`epochs` under `MultiStepLR` (log scale).

    During epoch `e` (1-based) the rate is `config.lr_at(base_lr, e, milestones, gamma)`:
    the scheduler has stepped `e - 1` times. `histories` overlays the `lr` recorded by runs.
    The schedule is the first line, labelled `MultiStepLR`.
    """
    ep = np.arange(1, epochs + 1)
    lrs = [lr_at(base_lr, int(e), milestones, gamma) for e in ep]
    fig = Figure(figsize=(7, 3.4))
    ax = fig.subplots()
    ax.plot(ep, lrs, drawstyle="steps-mid", lw=2, label="MultiStepLR")
    for i, (name, hist) in enumerate((histories or {}).items()):
        ax.plot(
            [r["epoch"] for r in hist],
            [r["lr"] for r in hist],
            "x",
            color=f"C{i + 1}",
            label=f"{name} (recorded)",
        )
    for m in milestones:
        ax.axvline(m + 0.5, color="0.6", ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.set_title(f"MultiStepLR: lr {base_lr:g}, x{gamma:g} after epochs {list(milestones)}")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_step_losses(losses: Mapping[str, Sequence[float]]) -> Figure:
    """Per-step training losses of several engines (left) and, for two or more, each one's
    relative difference from the first (right, log scale)."""
    names = list(losses)
    ref = np.asarray(losses[names[0]], dtype=np.float64)
    fig = Figure(figsize=(10, 3.4))
    ax_l, ax_d = fig.subplots(1, 2)
    for i, name in enumerate(names):
        v = np.asarray(losses[name], dtype=np.float64)
        ax_l.plot(np.arange(1, len(v) + 1), v, "o-" if i == 0 else "x--", label=name)
        if i:
            rel = np.abs(v - ref) / np.abs(ref)
            ax_d.semilogy(
                np.arange(1, len(v) + 1),
                np.maximum(rel, 1e-12),
                "o-",
                label=f"|{name} - {names[0]}| / {names[0]}",
            )
    ax_l.set_title("training loss per step")
    ax_d.set_title("relative difference (exact zeros drawn at 1e-12)")
    for ax in (ax_l, ax_d):
        ax.set_xlabel("step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3, which="both")
        if ax.lines:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- evaluation


def plot_confusion_matrix(
    cm: np.ndarray,
    class_names: Sequence[str] = CLASS_NAMES,
    title: str = "confusion matrix",
    normalize: bool = False,
) -> Figure:
    """`cm[i, j]`: true class `i` (rows) predicted as `j` (columns), counts written in the cells.

    With `normalize`, each row is shown in percent of its class.
    """
    cm = np.asarray(cm)
    shown = 100.0 * cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    k = len(cm)
    fig = Figure(figsize=(6.4, 5.6))
    ax = fig.subplots()
    im = ax.imshow(shown, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046)
    top = float(shown.max()) if shown.size else 0.0
    for (i, j), v in np.ndenumerate(shown):
        text = f"{v:.0f}" if normalize else f"{int(v)}"
        ax.text(
            j,
            i,
            text,
            ha="center",
            va="center",
            fontsize=7,
            color="white" if v > 0.6 * top else "black",
        )
    names = list(class_names)[:k]
    ax.set_xticks(range(k), names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(k), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_misclassified(
    x: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    class_names: Sequence[str] = CLASS_NAMES,
    n: int = 16,
    ncols: int = 8,
    title: str = "misclassified",
) -> Figure:
    """The first `n` images with `y_pred != y_true`, titled `true / predicted`."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    wrong = np.flatnonzero(y_true != y_pred)[:n]
    if len(wrong) == 0:
        fig = Figure(figsize=(4, 1.5))
        ax = fig.subplots()
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
        ax.set_title(title)
        return fig
    titles = [f"{class_names[y_true[i]]}\n→ {class_names[y_pred[i]]}" for i in wrong]
    n_wrong = int((y_true != y_pred).sum())
    return plot_images(
        np.asarray(x)[wrong],
        titles,
        ncols=ncols,
        suptitle=f"{title}: {n_wrong} of {len(y_true)} (true → predicted)",
    )


def plot_per_class_accuracy(
    accuracies: Mapping[str, Sequence[float]], class_names: Sequence[str] = CLASS_NAMES
) -> Figure:
    """Grouped bars: accuracy (percent) per class, one bar per run (see `per_class_accuracy`)."""
    names = list(accuracies)
    k = len(class_names)
    width = 0.8 / max(1, len(names))
    fig = Figure(figsize=(10, 3.6))
    ax = fig.subplots()
    for i, name in enumerate(names):
        acc = np.asarray(accuracies[name], dtype=np.float64)
        ax.bar(np.arange(k) + (i - (len(names) - 1) / 2) * width, acc, width, label=name)
    ax.set_xticks(range(k), class_names, rotation=30, ha="right")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title("accuracy per class")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def plot_ablation(
    histories: Mapping[str, Sequence[Sequence[Mapping]]],
    figure_key: Callable[[Mapping], float] = kept_val_acc,
    last: int = 15,
) -> Figure:
    """A sweep's variants side by side: the validation accuracy of the evaluated model over
    the last `last` epochs, mean over the seeds (left), and the final epoch's, one dot per
    seed and a bar at their mean (right).

    Args:
        histories: `{variant: [history of seed 0, history of seed 1, ...]}`, each history a
            run's list of per-epoch dicts; only finished runs belong here.
        figure_key: record -> accuracy (%); default: the rule's figure
            (`runs.kept_val_acc`: the EMA model's where the run has one).
    """
    fig = Figure(figsize=(11, 3.8))
    ax_c, ax_f = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    names = [n for n, hs in histories.items() if hs]
    for i, name in enumerate(names):
        hs = histories[name]
        n = min(len(h) for h in hs)
        acc = np.array([[figure_key(r) for r in h[:n]] for h in hs])
        ep = np.arange(1, n + 1)[-last:]
        ax_c.plot(ep, acc.mean(axis=0)[-last:], "o-", ms=3, color=f"C{i % 10}", label=name)
        final = acc[:, -1]
        ax_f.bar(i, final.mean(), color=f"C{i % 10}", alpha=0.45)
        ax_f.plot(np.full(len(final), i), final, "o", color=f"C{i % 10}")
        ax_f.annotate(
            f"{final.mean():.2f}",
            (i, final.max()),
            ha="center",
            va="bottom",
            xytext=(0, 3),
            textcoords="offset points",
            fontsize=8,
        )
    ax_c.set_title(f"validation accuracy (%), last {last} epochs, mean over seeds")
    count_axes((ax_c,), "epoch")
    ax_f.set_xticks(range(len(names)), names, rotation=20)
    ax_f.set_title("final epoch: each seed (dots), their mean (bar)")
    if names:
        finals = [figure_key(h[-1]) for n in names for h in histories[n]]
        ax_f.set_ylim(min(finals) - 0.3, max(finals) + 0.3)
        ax_c.legend(fontsize=8)
    else:
        for ax in (ax_c, ax_f):
            ax.text(0.5, 0.5, "no finished runs yet", ha="center", transform=ax.transAxes)
    ax_f.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig
