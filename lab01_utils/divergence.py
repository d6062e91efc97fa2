"""When a run has diverged: the one rule, and the check that nothing non-finite is kept.

A run is stopped (`TrainingDiverged`, exit status 2 on the command line) when

* a step's loss is NaN or infinite;
* the mean training loss over `DIVERGE_WINDOW` consecutive steps of an epoch (or over the
  whole epoch, when it has fewer steps) exceeds `DIVERGE_LOSS`, three times the loss of a
  chance-level guess (`ln 10 = 2.30` for 10 classes): a network that sits there for a stretch
  is not learning, it is blowing up (with `--lr 100` at a constant rate the loss climbs to
  1e30 while staying finite);
* after an epoch, a parameter or a BatchNorm statistic is NaN or infinite (a finite loss can
  hide an infinite `running_var`): the checkpoint is then *not* written, so the one kept is
  the previous epoch's, whose arrays were checked the same way.

On the committed runs (`results/**/history.json`) the highest epoch mean is 0.70, far below
the threshold; a test checks that.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping

import numpy as np

from .config import NUM_CLASSES, TrainingDiverged

__all__ = ["DIVERGE_LOSS", "DIVERGE_WINDOW", "Guard", "TrainingDiverged", "non_finite"]

DIVERGE_LOSS = 3 * math.log(NUM_CLASSES)  # 6.91
DIVERGE_WINDOW = 50  # steps


class Guard:
    """Watches one epoch's step losses; `step()` raises `TrainingDiverged` by the rule above."""

    def __init__(self, name: str, epoch: int):
        self.name, self.epoch = name, epoch
        self.window: deque[float] = deque(maxlen=DIVERGE_WINDOW)
        self.total, self.steps = 0.0, 0

    def step(self, loss: float) -> None:
        self.steps += 1
        where = f"{self.name}: at epoch {self.epoch}, step {self.steps}"
        if not math.isfinite(loss):
            raise TrainingDiverged(f"{where} the loss is {loss}; stopped.")
        self.window.append(loss)
        self.total += loss
        if len(self.window) == DIVERGE_WINDOW:
            self._check(sum(self.window) / DIVERGE_WINDOW, f"{DIVERGE_WINDOW} steps", where)

    def end_of_epoch(self) -> None:
        """An epoch shorter than the window is judged by its mean."""
        if 0 < self.steps < DIVERGE_WINDOW:
            where = f"{self.name}: at epoch {self.epoch}"
            self._check(self.total / self.steps, f"the epoch's {self.steps} steps", where)

    def _check(self, mean: float, over: str, where: str) -> None:
        if mean > DIVERGE_LOSS:
            raise TrainingDiverged(
                f"{where} the training loss averaged {mean:.4g} over {over}, more than "
                f"{DIVERGE_LOSS:.2f} (3 x ln {NUM_CLASSES}, three times a chance-level guess's "
                "loss): the run is diverging; stopped."
            )


def non_finite(state: Mapping[str, np.ndarray]) -> list[str]:
    """The keys of `state` (a `state_dict`) whose arrays hold a NaN or an infinity."""
    return [
        k
        for k, v in state.items()
        if np.issubdtype(np.asarray(v).dtype, np.floating) and not np.isfinite(v).all()
    ]
