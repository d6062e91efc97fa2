"""Notebook 02's experiments: what a linear classifier's weight rows look like, why a softmax
must be computed after subtracting the row maximum, and how the learning rate decides whether
softmax regression trains.

* `fit_linear_classifier`: a linear map 784 -> 10 fitted to one-hot targets by ridge
  regression (least squares, no exercise needed), so its weight rows can be looked at as
  28x28 templates before any layer is written.
* `softmax_overflow`: the naive softmax `exp(z) / sum(exp(z))` against `exp(log_softmax(z))`
  (the lab's, in the student release the student's) on random logits of growing size.
* `softmax_regression`: `Linear(784, 10)` + `CrossEntropyLoss` on the embedded sample,
  trained by plain gradient steps at several learning rates, with the largest stable rate
  predicted from the loss's curvature at initialisation (`stable_lr`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .. import nn
from ..data import load_sample
from ..formats import NUM_CLASSES

__all__ = [
    "LINEAR_LRS",
    "LinearFit",
    "RegressionRun",
    "fit_linear_classifier",
    "naive_softmax",
    "sample_pixels",
    "softmax_overflow",
    "softmax_regression",
    "stable_lr",
    "template_correlation",
]

# The rates `softmax_regression` compares, chosen by measuring (seeds 0-9, 100 steps): at
# 1e-3 the loss falls by 0.21-0.28, at 0.1 by 1.62-1.70 without ever rising, at 2.0 it rises on
# about half the steps and ends at 1.6-6.5. The curvature bound `stable_lr` is ~0.18.
LINEAR_LRS: dict[str, float] = {"too low": 1e-3, "good": 0.1, "too high": 2.0}


def sample_pixels(split: str = "train", dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """The embedded sample as flat pixels in [0, 1]: x `(N, 784)` of `dtype` and labels y
    int64 `(N,)` (N = 2000 for "train", 500 for "test")."""
    x, y = load_sample(split)
    return x.astype(dtype) / np.asarray(255, dtype), y


def _with_ones(x: np.ndarray) -> np.ndarray:
    """`[x, 1]`: x `(N, D)` with a column of ones appended, `(N, D + 1)`, so that an affine map
    is one matrix product (the last row of the coefficients is the bias)."""
    return np.concatenate([x, np.ones((len(x), 1), x.dtype)], axis=1)


@dataclass(frozen=True)
class LinearFit:
    """What `fit_linear_classifier` fitted.

    Attributes:
        weight: `(num_classes, 784)`, torch's `(out, in)` layout: row k scores class k.
        bias: `(num_classes,)`.
        train_accuracy, test_accuracy: the fraction of the sample's images whose largest
            score is their class (2000 train, 500 test images).
    """

    weight: np.ndarray
    bias: np.ndarray
    train_accuracy: float
    test_accuracy: float


def fit_linear_classifier(*, ridge: float = 300.0) -> LinearFit:
    """Fit scores `s = W x + b` to one-hot targets by ridge regression on the embedded training
    sample: minimise `||[x, 1] A - onehot(y)||^2 + ridge ||W||^2` (the bias not penalised),
    solved in closed form in float64. The penalty keeps the 785 coefficients per class from
    fitting the pixels' noise, so the rows look like the classes. Takes ~0.1 s."""
    x, y = sample_pixels("train", np.float64)
    design = _with_ones(x)  # (N, 785)
    target = np.eye(NUM_CLASSES)[y]  # (N, 10)
    penalty = ridge * np.eye(design.shape[1])
    penalty[-1, -1] = 0.0  # do not shrink the bias
    coef = np.linalg.solve(design.T @ design + penalty, design.T @ target)  # (785, 10)
    xt, yt = sample_pixels("test", np.float64)
    return LinearFit(
        weight=coef[:-1].T.copy(),  # (10, 784)
        bias=coef[-1].copy(),
        train_accuracy=float(np.mean((design @ coef).argmax(axis=1) == y)),
        test_accuracy=float(np.mean((_with_ones(xt) @ coef).argmax(axis=1) == yt)),
    )


def template_correlation(weight: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The Pearson correlation of every row of `weight` `(K, D)` with every row of `reference`
    `(K, D)` over the D pixels: `(K, K)`, entry `[k, j]` for row k of `weight` and row j of
    `reference`. A large diagonal means both classifiers learned the same template per class."""
    k = len(weight)
    return np.corrcoef(np.asarray(weight, np.float64), np.asarray(reference, np.float64))[:k, k:]


def naive_softmax(logits: np.ndarray) -> np.ndarray:
    """`exp(z) / sum_j exp(z_j)` along axis 1, exactly as the formula reads: `exp` overflows to
    inf for logits above ~88.7 (float32) or ~709.8 (float64), and inf / inf is nan.
    Shape `(N, K)` -> `(N, K)`."""
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)


def softmax_overflow(
    scales: Sequence[float] = (1, 3, 10, 30, 100, 300, 1000, 3000),
    *,
    batch: int = 1000,
    num_classes: int = NUM_CLASSES,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """For each scale s, `batch` rows of logits `s * N(0, 1)` `(batch, num_classes)`, in
    float32 and float64: the fraction of rows whose softmax has a non-finite entry, computed
    naively (`naive_softmax`) and as `exp(nn.log_softmax(z))`.

    Returns `{"naive float32": (len(scales),), "naive float64": ..., "shifted float32": ...,
    "shifted float64": ...}`, and "worst row-sum error": per scale, the largest
    |sum_k p_k - 1| of the shifted softmax over both dtypes.
    """
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((batch, num_classes))
    out: dict[str, list[float]] = {
        f"{kind} {dt}": [] for kind in ("naive", "shifted") for dt in ("float32", "float64")
    }
    row_sum: list[float] = []
    for s in scales:
        worst = 0.0
        for dt in ("float32", "float64"):
            z = (s * base).astype(dt)
            naive = naive_softmax(z)
            shifted = np.exp(nn.log_softmax(z))
            out[f"naive {dt}"].append(float(np.mean(~np.isfinite(naive).all(axis=1))))
            out[f"shifted {dt}"].append(float(np.mean(~np.isfinite(shifted).all(axis=1))))
            with np.errstate(invalid="ignore"):
                worst = max(worst, float(np.nanmax(np.abs(shifted.sum(axis=1) - 1.0))))
        row_sum.append(worst)
    result = {k: np.array(v) for k, v in out.items()}
    result["worst row-sum error"] = np.array(row_sum)
    return result


def stable_lr(x: np.ndarray, num_classes: int = NUM_CLASSES) -> float:
    """The largest learning rate at which plain gradient descent on the mean cross-entropy of
    a linear classifier is stable near initialisation, `2 / lambda_max(H)`.

    With all-equal probabilities `p = 1/K` the Hessian of the loss with respect to
    `(weight, bias)` is `(X^T X / N) kron (I/K - 1 1^T / K^2)` with `X = [x, 1]`, whose largest
    eigenvalue is `lambda_max(X^T X / N) / K`. A step larger than 2 / lambda_max overshoots
    along that direction more than it corrects. x: `(N, D)`."""
    design = _with_ones(np.asarray(x, np.float64))
    curvature = np.linalg.eigvalsh(design.T @ design / len(design))[-1] / num_classes
    return float(2.0 / curvature)


@dataclass(frozen=True)
class RegressionRun:
    """What `softmax_regression` measured.

    Attributes:
        lrs: `{name: learning rate}`, as given.
        losses: `{name: (steps + 1,)}` the mean training loss after 0, 1, ..., steps steps.
        weights: `{name: (10, 784)}` the weight matrix at the end of each run.
        test_accuracy: `{name: accuracy on the 500 test images}` at the end.
        stable_lr: `stable_lr(x)` of the training sample.
    """

    lrs: dict[str, float]
    losses: dict[str, np.ndarray]
    weights: dict[str, np.ndarray]
    test_accuracy: dict[str, float]
    stable_lr: float

    def ups(self, name: str) -> float:
        """The fraction of steps of run `name` after which the loss went up."""
        return float(np.mean(np.diff(self.losses[name]) > 0))


def _gradient_step(layer: nn.Module, lr: float) -> None:
    """Plain SGD, no momentum, no weight decay: every parameter moves against its gradient by
    `lr` times it (in place: `Parameter.data` is the array the layer reads)."""
    for param in layer.parameters():
        param.data -= lr * param.grad


def softmax_regression(
    lrs: Mapping[str, float] | None = None, *, steps: int = 100, seed: int = 0
) -> RegressionRun:
    """Softmax regression on the embedded sample: `Linear(784, 10)` (the lab's, torch's
    default initialisation, float32) and `CrossEntropyLoss`, trained on all 2000 training
    images as one batch (so each step is exact gradient descent and the curves are smooth)
    with `_gradient_step`, once per learning rate, every run from the same initial weights.

    Args:
        lrs: `{name: learning rate}`; default `LINEAR_LRS`.
        steps: gradient steps per run.
    Returns: a `RegressionRun`. Takes ~0.3 s per run of 100 steps.
    """
    lrs = dict(LINEAR_LRS if lrs is None else lrs)
    x, y = sample_pixels("train")
    xt, yt = sample_pixels("test")
    losses, weights, accuracy = {}, {}, {}
    for name, lr in lrs.items():
        layer = nn.Linear(784, NUM_CLASSES, rng=np.random.default_rng(seed))
        loss_fn = nn.CrossEntropyLoss()
        curve = []
        for _ in range(steps):
            curve.append(loss_fn(layer(x), y))
            layer.backward(loss_fn.backward())
            _gradient_step(layer, lr)
        curve.append(loss_fn(layer(x), y))
        losses[name] = np.array(curve, dtype=np.float64)
        weights[name] = layer.weight.data.copy()
        accuracy[name] = float(np.mean(layer(xt).argmax(axis=1) == yt))
    return RegressionRun(
        lrs=lrs, losses=losses, weights=weights, test_accuracy=accuracy, stable_lr=stable_lr(x)
    )
