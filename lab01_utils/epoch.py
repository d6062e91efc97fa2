"""One epoch: a pass of training steps over the mini-batches, and the evaluation after it.

Both work with either engine (`engines.py`): anything with `name`, `train_step(xb, yb)`,
`predict_logits(xb)` and `batch_loss(logits, yb)`.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from .config import EVAL_BATCH_SIZE, TrainingDiverged
from .divergence import Guard
from .images import to_images
from .metrics import predict_batches


def evaluate(
    engine,
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int = EVAL_BATCH_SIZE,
    *,
    show_bar: bool = False,
) -> tuple[float, float]:
    """Mean loss and accuracy (percent) of the model in eval mode over `(x, y)`; `show_bar`
    draws a progress bar over the batches (a notebook re-evaluating 10,000 images)."""
    from tqdm.auto import tqdm

    total_loss, correct = 0.0, 0
    batches = predict_batches(lambda xb: engine.predict_logits(to_images(xb)), x, batch_size)
    total = -(-len(y) // batch_size)
    for rows, logits in tqdm(batches, total=total, desc="evaluate", disable=not show_bar):
        yb = y[rows].astype(np.int64)
        total_loss += engine.batch_loss(logits, yb) * len(yb)
        correct += int((logits.argmax(axis=1) == yb).sum())
    return total_loss / len(y), 100.0 * correct / len(y)


def train_one_epoch(
    engine,
    loader,
    epoch: int,
    *,
    desc: str = "",
    show_bar: bool = False,
    run_dir: str | os.PathLike | None = None,
) -> tuple[float, float]:
    """One pass over `loader.epoch(epoch)`: one `engine.train_step(xb, yb)` per mini-batch.

    Args:
        engine: a `NumpyEngine` or `TorchEngine` (anything with `name` and `train_step`).
        loader: a `MiniBatchLoader` (`loader.epoch(epoch)` yields `(xb, yb)`; `len(loader)`).
        epoch: the 1-based epoch number (it seeds the shuffle and the augmentation).
        desc, show_bar: the progress bar's label, and whether to draw it.
        run_dir: unused; kept for callers that pass it.

    Returns:
        `(train_loss, train_acc)`: the mean loss per image over the epoch (each batch's mean
        loss weighted by its size, so a smaller last batch counts for what it holds) and the
        accuracy in percent.

    Raises:
        TrainingDiverged: the loss is NaN or inf, or stays far above chance level's
            (`divergence.py` has the rule).
    """
    from tqdm.auto import tqdm

    loss_sum, correct, seen = 0.0, 0, 0
    bar = tqdm(
        loader.epoch(epoch),
        total=len(loader),
        desc=desc,
        disable=not show_bar,
        leave=False,
        file=sys.stderr,
    )
    guard = Guard(engine.name, epoch)
    for step, (xb, yb) in enumerate(bar):
        loss, ok = engine.train_step(xb, yb)
        if hasattr(engine, "after_step"):  # a per-batch learning-rate schedule moves on
            engine.after_step()
        try:
            guard.step(loss)
        except TrainingDiverged:
            bar.close()
            raise
        # Exercise 8.1: one training epoch
        ### BEGIN SOLUTION
        loss_sum += loss * len(yb)
        correct += ok
        seen += len(yb)
        ### END SOLUTION
        if step % 10 == 0:
            bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{100 * correct / seen:.2f}")
    bar.close()
    guard.end_of_epoch()
    # Exercise 8.1: one training epoch
    ### BEGIN SOLUTION
    return loss_sum / seen, 100.0 * correct / seen
    ### END SOLUTION


__all__ = ["TrainingDiverged", "evaluate", "train_one_epoch"]
