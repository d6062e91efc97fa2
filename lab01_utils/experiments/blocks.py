"""Notebook 05's experiment: how the gradient reaches the input of a deep stack of
pre-activation blocks at initialisation, with the identity shortcut and without it.

Both stacks hold the same layers with the same weights: `PreActBlock`s (identity shortcut,
`C -> C`, stride 1) and, for the stack without shortcuts, each block's own `bn1, act1, conv1,
bn2, act2, conv2` chained by `Sequential` (`plain_block`). A stem convolution in front sets the
scale of the signal the first block sees, as the lab's stem does; the loss is a fixed random
linear read-out of the last block's output, `L = sum(r * y)`, so `dL/dy = r`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .. import nn

__all__ = ["GradientFlow", "gradient_flow", "plain_block", "spread_by_depth"]


def plain_block(block: nn.PreActBlock) -> nn.Sequential:
    """`block`'s main path alone (its layers and weights, shared), without the shortcut.

    Shape: `(N, C, H, W)` -> `(N, C, H, W)` for an identity block.
    """
    if block.has_projection:
        raise ValueError("plain_block: only an identity block (C -> C, stride 1) has a plain twin")
    return nn.Sequential(block.bn1, block.act1, block.conv1, block.bn2, block.act2, block.conv2)


@dataclass(frozen=True)
class GradientFlow:
    """What `gradient_flow` measured; index 0 is the first block (next to the stem).

    Attributes:
        residual, plain: RMS of `dL/dx` at the input of each block, `(depth,)`, with the
            identity shortcut and without it.
        residual_std, plain_std: standard deviation of each block's output (the forward
            signal), `(depth,)`.
    """

    residual: np.ndarray
    plain: np.ndarray
    residual_std: np.ndarray
    plain_std: np.ndarray

    @property
    def depth(self) -> int:
        return len(self.residual)

    def spread(self, which: str) -> float:
        """How much the gradient grew from the last block to the first: RMS(first) / RMS(last)
        for "residual" or "plain" (1 is a gradient that reaches the stem unchanged)."""
        g = {"residual": self.residual, "plain": self.plain}[which]
        return float(g[0] / g[-1])


def _rms(a: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(a))))


def _run(stem: nn.Module, blocks: Sequence[nn.Module], x: np.ndarray, r: np.ndarray):
    """Forward through `stem` and `blocks`, backward from `dL/dy = r`: the gradient's RMS at
    each block's input and the std of each block's output, first block first."""
    h = stem(x)
    stds = []
    for block in blocks:
        h = block(h)
        stds.append(float(h.std()))
    grads, g = [], r
    for block in reversed(blocks):
        g = block.backward(g)
        grads.append(_rms(g))
    return np.array(grads[::-1]), np.array(stds)


def gradient_flow(
    depth: int = 16, channels: int = 16, batch_size: int = 8, size: int = 8, seed: int = 0
) -> GradientFlow:
    """The gradient at the input of each of `depth` blocks at initialisation, training mode.

    Args:
        depth: the number of blocks (each two 3x3 convolutions deep).
        channels: C of every block; `batch_size`, `size`: the input `(N, C, size, size)`.
        seed: draws the weights (torch's default initialisation), the input `x ~ N(0, 1)` and
            the read-out `r ~ N(0, 1)`, shared by both stacks.

    The stack with shortcuts runs the lab's `PreActBlock` (forward and backward); the one
    without runs the same layers, so the two differ only by the `+ x`. Float64; about 0.1 s.
    """
    if depth < 1:
        raise ValueError(f"gradient_flow: depth must be >= 1, got {depth}")
    rng = np.random.default_rng(seed)
    stem = nn.Conv2d(channels, channels, 3, padding=1, bias=False, rng=rng, dtype=np.float64)
    blocks = [nn.PreActBlock(channels, channels, rng=rng, dtype=np.float64) for _ in range(depth)]
    x = rng.standard_normal((batch_size, channels, size, size))  # (N, C, H, W)
    r = rng.standard_normal((batch_size, channels, size, size))  # dL/dy of the read-out
    plain, plain_std = _run(stem, [plain_block(b) for b in blocks], x, r)
    residual, residual_std = _run(stem, blocks, x, r)
    return GradientFlow(residual, plain, residual_std, plain_std)


def spread_by_depth(
    depths: Sequence[int] = (2, 4, 8, 12, 16, 20), seed: int = 0, **kwargs
) -> dict[str, list[float]]:
    """`GradientFlow.spread` for stacks of each depth: `{"with shortcut": [...],
    "without shortcut": [...]}`, one value per depth (`kwargs` go to `gradient_flow`)."""
    runs = [gradient_flow(d, seed=seed, **kwargs) for d in depths]
    return {
        "with shortcut": [run.spread("residual") for run in runs],
        "without shortcut": [run.spread("plain") for run in runs],
    }
