"""`SGD` and `MultiStepLR` with torch's exact update rules."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .config import lr_at_step
from .nn.module import Parameter


class SGD:
    """Stochastic gradient descent with momentum, as `torch.optim.SGD` (dampening 0).

    Args:
        params: the `Parameter`s to update (e.g. `model.parameters()`).
        lr: learning rate (settable attribute `lr`, changed by the scheduler).
        momentum: mu; weight_decay: L2 coefficient lambda; nesterov: Nesterov momentum.

    For each parameter `p` with gradient `g`, exactly as torch writes it:

        g = g + weight_decay * p                 # decay joins the gradient *before* momentum
        buf = g                 (first step)     # torch starts the buffer at g
        buf = momentum * buf + g (later steps)
        g = g + momentum * buf  if nesterov else buf
        p = p - lr * g

    With zero dampening (the only kind here) starting the buffer at g is the same as starting
    it at 0 (`momentum * 0 + g`); torch writes it this way so that dampening, when used, does
    not shrink the very first step.
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ):
        self.params = list(params)
        if not self.params:
            raise ValueError("SGD: got an empty parameter list")
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(
                f"SGD: lr, momentum and weight_decay must be >= 0, got lr={lr}, "
                f"momentum={momentum}, weight_decay={weight_decay}"
            )
        if nesterov and momentum <= 0:
            raise ValueError("SGD: nesterov momentum requires momentum > 0")
        self.lr, self.momentum = lr, momentum
        self.weight_decay, self.nesterov = weight_decay, nesterov
        self.momentum_buffers: list[np.ndarray | None] = [None] * len(self.params)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        # Exercise 7.1: SGD with momentum
        ### BEGIN SOLUTION
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            if self.momentum:
                buf = self.momentum_buffers[i]
                if buf is None:
                    buf = self.momentum_buffers[i] = np.array(g, copy=True)
                else:
                    buf *= self.momentum
                    buf += g
                g = g + self.momentum * buf if self.nesterov else buf
            p.data -= self.lr * g
        ### END SOLUTION

    def state_dict(self) -> dict[str, np.ndarray]:
        """Momentum buffers as `momentum_buffer.{i}` arrays plus `lr` (no pickle needed)."""
        out = {"lr": np.array(self.lr)}
        for i, buf in enumerate(self.momentum_buffers):
            if buf is not None:
                out[f"momentum_buffer.{i}"] = buf.copy()
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.lr = float(state["lr"])
        for i, p in enumerate(self.params):
            key = f"momentum_buffer.{i}"
            if key in state:
                buf = np.asarray(state[key])
                if buf.shape != p.data.shape:
                    raise ValueError(
                        f"SGD.load_state_dict: {key} has shape {buf.shape}, parameter {i} has "
                        f"shape {p.data.shape}"
                    )
                self.momentum_buffers[i] = buf.astype(p.data.dtype, copy=True)
            else:
                self.momentum_buffers[i] = None


def multistep_lr(
    base_lr: float, epoch: int, milestones: Sequence[int], gamma: float = 0.1
) -> float:
    """The learning rate after `epoch` scheduler steps: `base_lr * gamma ** #{m <= epoch}`.

    A pure function of the step, so a resumed run needs no scheduler state to agree.
    With base 0.03, milestones (15, 25): `epoch` 0-14 gives 0.03 (training epochs 1-15, each
    run before its step), 15-24 gives 0.003 (epochs 16-25) and 25-29 gives 0.0003 (26-30).
    """
    # Exercise 7.2: the step learning-rate schedule
    ### BEGIN SOLUTION
    return base_lr * gamma ** sum(1 for m in milestones if m <= epoch)
    ### END SOLUTION


class MultiStepLR:
    """Multiply the learning rate by `gamma` at each milestone epoch, like torch's.

    Call `step()` once at the end of each epoch. `last_epoch` counts those calls. As in
    torch, the rate is set at construction too (a milestone at 0 decays the first epoch's
    rate), and every `step()` sets `optimizer.lr` from the schedule (`multistep_lr`, a pure
    function of the epoch): a rate changed by hand in between is overwritten at the next
    `step()`. (torch's chainable MultiStepLR keeps a hand-set rate until the next milestone.)
    """

    def __init__(self, optimizer: SGD, milestones: Sequence[int], gamma: float = 0.1):
        if list(milestones) != sorted(milestones):
            raise ValueError(f"MultiStepLR: milestones must be increasing, got {milestones}")
        self.optimizer, self.milestones, self.gamma = optimizer, list(milestones), gamma
        self.base_lr = optimizer.lr
        self.last_epoch = 0
        self.optimizer.lr = self.get_last_lr()[0]

    def step(self) -> None:
        self.last_epoch += 1
        self.optimizer.lr = self.get_last_lr()[0]

    def get_last_lr(self) -> list[float]:
        return [multistep_lr(self.base_lr, self.last_epoch, self.milestones, self.gamma)]

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"last_epoch": np.array(self.last_epoch), "base_lr": np.array(self.base_lr)}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.last_epoch = int(state["last_epoch"])
        self.base_lr = float(state["base_lr"])
        self.optimizer.lr = self.get_last_lr()[0]


class WarmupCosineLR:
    """The `cosine` schedule (`config.lr_at_step`): a linear warm-up, then a cosine decay to 0,
    stepped once per batch. `step()` after each optimizer step; `last_step` counts them. Given
    code (not an exercise); equal to torch's `SequentialLR` of `LinearLR` and
    `CosineAnnealingLR` stepped per batch."""

    def __init__(self, optimizer: SGD, total_steps: int, warmup_steps: int):
        if not 0 <= warmup_steps < total_steps:
            raise ValueError(
                f"WarmupCosineLR: need 0 <= warmup_steps < total_steps, got {warmup_steps}, "
                f"{total_steps}"
            )
        self.optimizer, self.total_steps, self.warmup_steps = optimizer, total_steps, warmup_steps
        self.base_lr = optimizer.lr
        self.last_step = 0
        self.optimizer.lr = self.get_last_lr()[0]

    def step(self) -> None:
        self.last_step += 1
        self.optimizer.lr = self.get_last_lr()[0]

    def get_last_lr(self) -> list[float]:
        return [lr_at_step(self.base_lr, self.last_step, self.total_steps, self.warmup_steps)]

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"last_step": np.array(self.last_step), "base_lr": np.array(self.base_lr)}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.last_step = int(state["last_step"])
        self.base_lr = float(state["base_lr"])
        self.optimizer.lr = self.get_last_lr()[0]
