"""Notebook 04's experiments: why a network wants its activations normalised, what BatchNorm
does to training, and the noise its batch statistics bring.

* `scale_drift`: the standard deviation of every layer's output in a stack of 3x3
  convolutions and SiLUs at initialisation, with the weights multiplied by a gain, with and
  without a BatchNorm after each convolution. Without it the scale changes geometrically with
  depth; with it every layer's output has the same scale whatever the gain.
* `bn_training`: a small convolutional network on the embedded sample trained by plain
  gradient steps at a few fixed learning rates, once with a BatchNorm after every convolution
  and once without (the same weights otherwise).
* `batch_noise`: how much the batch mean and variance of a channel scatter from batch to batch,
  and how much one fixed image's BatchNorm output changes with the images it shares a batch
  with, against the batch size; in eval mode that output does not change at all.

All are built from the lab's layers (`lab01_utils.nn`: in the student release the student's
SiLU, convolution, BatchNorm, linear layer and loss), seeded, and take a second or two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .. import nn
from ..data import load_sample
from ..images import to_images

__all__ = [
    "BN_LRS",
    "WITH",
    "WITHOUT",
    "BNTraining",
    "BatchNoise",
    "batch_noise",
    "bn_training",
    "scale_drift",
    "small_convnet",
]

WITH, WITHOUT = "with BatchNorm", "without BatchNorm"

# The rates `bn_training` compares. Measured over seeds 0-9 (40 steps, batches of 32; the mean
# loss of the last 10 steps): with BatchNorm 2.01-2.12 at 0.03, 1.32-1.46 at 0.3, 1.23-1.48 at
# 3.0; without it 2.30-2.32 at 0.03 and 0.3 (ln 10 = 2.303: nothing learned) and 2.30-2.57 at
# 3.0, where 4 of the 10 runs blow up (9.1, 2e4, 6e24, inf). Without minus with: 0.19-0.29 at
# 0.03, 0.85-0.99 at 0.3, 0.94 or more at 3.0.
BN_LRS: tuple[float, ...] = (0.03, 0.3, 3.0)


def _sample_images(dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """The embedded training sample as images: `(2000, 1, 28, 28)` in [0, 1] and labels
    `(2000,)`."""
    x, y = load_sample("train")
    return to_images(x, dtype), y


# --------------------------------------------------------------------------- scale drift
def scale_drift(
    gains: Sequence[float] = (1.0, 2.0, 4.0),
    *,
    batch_norm: bool = False,
    depth: int = 8,
    width: int = 16,
    batch_size: int = 16,
    seed: int = 0,
) -> dict[float, np.ndarray]:
    """The std of each layer's output, `{gain: (depth,)}`, of a stack `depth` times
    `Conv2d(3x3, padding 1, no bias) [-> BatchNorm2d] -> SiLU` at initialisation.

    The first convolution maps the image's 1 channel to `width`, the others `width` to `width`;
    their weights are torch's default initialisation (U(-1/sqrt(fan_in), 1/sqrt(fan_in))) times
    `gain`, the same draw for every gain. Input: `batch_size` sample images `(N, 1, 28, 28)`;
    float64, training mode, forward only; ~0.1 s per gain.
    """
    rng = np.random.default_rng(seed)
    images, _ = _sample_images(np.float64)
    x = images[rng.choice(len(images), batch_size, replace=False)]  # (N, 1, 28, 28)
    weights = [
        nn.Conv2d(1 if i == 0 else width, width, 3, padding=1, bias=False, rng=rng).weight.data
        for i in range(depth)
    ]
    out = {}
    for gain in gains:
        h, stds = x, []
        for w in weights:
            conv = nn.Conv2d(w.shape[1], width, 3, padding=1, bias=False, dtype=np.float64)
            conv.weight.data = w.astype(np.float64) * gain
            h = conv(h)  # (N, width, 28, 28)
            if batch_norm:
                h = nn.BatchNorm2d(width, dtype=np.float64)(h)
            h = nn.SiLU()(h)
            stds.append(float(h.std()))
        out[gain] = np.array(stds)
    return out


# --------------------------------------------------------------------------- training
def _conv(c_in: int, c_out: int, bias: bool, rng: np.random.Generator) -> nn.Conv2d:
    """A 3x3, stride-2, padding-1 convolution; the weight and the bias are always drawn (in
    that order), so that `rng` ends in the same state with `bias` True or False."""
    conv = nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=True, rng=rng)
    if bias:
        return conv
    plain = nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False, rng=np.random.default_rng(0))
    plain.weight.data = conv.weight.data  # the draw above is replaced: `rng` is left as it was
    return plain


def small_convnet(
    batch_norm: bool, *, widths: Sequence[int] = (16, 32, 32), seed: int = 0
) -> nn.Sequential:
    """`len(widths)` times `Conv2d(3x3, stride 2, padding 1) [-> BatchNorm2d] -> SiLU`, then
    `GlobalAvgPool2d -> Linear(widths[-1], 10)`.

    Shape: `(N, 1, 28, 28)` -> 14, 7, 4 pixels a side for three widths -> logits `(N, 10)`.
    The convolution weights and the linear layer are the same draw from `seed` either way, so
    the two networks differ only by the BatchNorms. Without BatchNorm each convolution has a
    bias; with it, none: the BatchNorm's shift `beta` takes its place (a bias in front of a
    BatchNorm is subtracted again with the mean).
    """
    rng = np.random.default_rng(seed)
    layers: list[nn.Module] = []
    c_in = 1
    for c_out in widths:
        layers.append(_conv(c_in, c_out, not batch_norm, rng))
        if batch_norm:
            layers.append(nn.BatchNorm2d(c_out))
        layers.append(nn.SiLU())
        c_in = c_out
    layers += [nn.GlobalAvgPool2d(), nn.Linear(c_in, 10, rng=rng)]
    return nn.Sequential(*layers)


@dataclass(frozen=True)
class BNTraining:
    """What `bn_training` measured.

    Attributes:
        lrs: the learning rates, in the order run.
        losses: `{"with BatchNorm" | "without BatchNorm": {lr: (steps,) float64}}`, the loss
            of each step's batch before its update; NaN from the step where a run diverged
            (a loss that is not finite) to the end.
    """

    lrs: tuple[float, ...]
    losses: dict[str, dict[float, np.ndarray]]

    def final(self, label: str, lr: float, last: int = 10) -> float:
        """The mean loss of the last `last` steps; `inf` for a run that diverged."""
        tail = self.losses[label][lr][-last:]
        return float(tail.mean()) if np.all(np.isfinite(tail)) else float("inf")

    def finals(self, label: str, last: int = 10) -> list[float]:
        """`final(label, lr)` for every learning rate, in the order of `lrs`."""
        return [self.final(label, lr, last) for lr in self.lrs]


def _train(model: nn.Module, batches: Sequence[np.ndarray], x, y, lr: float) -> np.ndarray:
    """Plain gradient steps `p <- p - lr * dL/dp`, one per batch of indices; the losses."""
    ce = nn.CrossEntropyLoss()
    losses = np.full(len(batches), np.nan)
    step = np.float32(lr)
    with np.errstate(all="ignore"):  # a diverging run overflows before its loss is inf
        for i, idx in enumerate(batches):
            loss = ce(model(x[idx]), y[idx])
            if not np.isfinite(loss):
                break
            losses[i] = loss
            model.backward(ce.backward())
            for p in model.parameters():
                p.data = p.data - step * p.grad
    return losses


def bn_training(
    lrs: Sequence[float] = BN_LRS, *, steps: int = 40, batch_size: int = 32, seed: int = 0
) -> BNTraining:
    """Train `small_convnet(True)` and `small_convnet(False)` from the same weights on the same
    `steps` random batches of the sample (`batch_size` images each, drawn with `seed`), at each
    learning rate of `lrs`, by plain gradient steps (no momentum, no weight decay), training
    mode, float32. About 0.3 s per run, 2 s for the defaults."""
    x, y = _sample_images()
    rng = np.random.default_rng(seed)
    batches = [rng.choice(len(x), batch_size, replace=False) for _ in range(steps)]
    losses: dict[str, dict[float, np.ndarray]] = {WITH: {}, WITHOUT: {}}
    for lr in lrs:
        for label, bn in ((WITH, True), (WITHOUT, False)):
            losses[label][lr] = _train(small_convnet(bn, seed=seed), batches, x, y, lr)
    return BNTraining(tuple(lrs), losses)


# --------------------------------------------------------------------------- batch noise
@dataclass(frozen=True)
class BatchNoise:
    """What `batch_noise` measured, one value per batch size, smallest batch first.

    Attributes:
        batch_sizes: N of each batch.
        mean_spread: the std over random batches of a channel's batch mean, over the channel's
            std in the whole sample; averaged over the channels.
        var_spread: the std over random batches of a channel's (biased) batch variance, over
            the channel's variance in the whole sample; averaged over the channels.
        train_spread: the std, over batches made of one fixed image and N - 1 random
            companions, of that image's BatchNorm output in training mode (batch statistics),
            averaged over its `C * H * W` values.
        eval_change: the largest change of that output from one batch to another in eval mode
            (running statistics): exactly 0.
    """

    batch_sizes: tuple[int, ...]
    mean_spread: np.ndarray
    var_spread: np.ndarray
    train_spread: np.ndarray
    eval_change: np.ndarray

    def slope(self, which: str) -> float:
        """The least-squares slope of log(spread) against log(N) for "mean", "var" or "train":
        -0.5 is a spread that falls like 1 / sqrt(N)."""
        values = {"mean": self.mean_spread, "var": self.var_spread, "train": self.train_spread}
        return float(np.polyfit(np.log(self.batch_sizes), np.log(values[which]), 1)[0])


def batch_noise(
    batch_sizes: Sequence[int] = (2, 4, 8, 16, 32, 64, 128),
    *,
    trials: int = 32,
    channels: int = 16,
    seed: int = 0,
) -> BatchNoise:
    """How BatchNorm's batch statistics scatter with the batch size N.

    The features are what the first BatchNorm of `small_convnet` sees: a 3x3, stride-2
    convolution (1 -> `channels`, torch's initialisation) of the 2000 sample images,
    `(2000, C, 14, 14)`. Per batch size, `trials` random batches of N images give the spread of
    the batch statistics; `trials` batches of image 0 and N - 1 random companions go through a
    fresh `BatchNorm2d(C)` in training mode, and through one in eval mode whose running
    statistics are the whole sample's mean and unbiased variance. Float64; about 1 s for the
    defaults.
    """
    rng = np.random.default_rng(seed)
    images, _ = _sample_images(np.float64)
    conv = nn.Conv2d(1, channels, 3, stride=2, padding=1, bias=False, rng=rng, dtype=np.float64)
    feats = conv(images)  # (2000, C, 14, 14)
    pop_mean = feats.mean(axis=(0, 2, 3))  # (C,)
    pop_var = feats.var(axis=(0, 2, 3))  # (C,), biased: the scale of the batch variances
    frozen = nn.BatchNorm2d(channels, dtype=np.float64)
    m = feats.size // channels
    frozen.running_mean, frozen.running_var = pop_mean, pop_var * m / (m - 1)
    frozen.eval()
    spreads: dict[str, list[float]] = {k: [] for k in ("mean", "var", "train", "eval")}
    for n in batch_sizes:
        means, variances, train_out, eval_out = [], [], [], []
        for _ in range(trials):
            batch = feats[rng.choice(len(feats), n, replace=False)]  # (N, C, 14, 14)
            means.append(batch.mean(axis=(0, 2, 3)))
            variances.append(batch.var(axis=(0, 2, 3)))
            others = 1 + rng.choice(len(feats) - 1, n - 1, replace=False)
            batch = feats[np.concatenate([[0], others])]  # image 0 first
            train_out.append(nn.BatchNorm2d(channels, dtype=np.float64)(batch)[0])
            eval_out.append(frozen(batch)[0])  # (C, 14, 14)
        spreads["mean"].append(float(np.mean(np.std(means, axis=0) / np.sqrt(pop_var))))
        spreads["var"].append(float(np.mean(np.std(variances, axis=0) / pop_var)))
        spreads["train"].append(float(np.mean(np.std(train_out, axis=0))))
        spreads["eval"].append(float(np.max(np.abs(np.array(eval_out) - eval_out[0]))))
    return BatchNoise(
        tuple(batch_sizes), *(np.array(spreads[k]) for k in ("mean", "var", "train", "eval"))
    )
