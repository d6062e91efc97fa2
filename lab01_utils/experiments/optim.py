"""Notebook 07's experiments: gradient descent in a narrow valley (plain, with momentum, at
learning rates too low and too high), why a step schedule lowers the rate late, and what
augmentation does to the train-test gap.

* `make_valley`: a least-squares problem in two weights whose loss is a narrow valley, with
  curvature 1 along one weight and 50 along the other (condition number 50). Its full-batch
  gradient is exact gradient descent; a mini-batch gradient is a noisy estimate of it.
* `descend`, `momentum_vs_plain`, `learning_rates`: full-batch runs of the lab's `SGD` (in
  the student release, the student's Exercise 7.1) on the valley, the path and the loss of
  each.
* `schedules`: mini-batch SGD with momentum on the valley at a constant high rate, a
  constant low rate and a step schedule (`MultiStepLR`, Exercise 7.2), against full-batch
  descent with the same number of gradient evaluations.
* `augmentation_gap`: a small MLP (the lab's `Linear` and `SiLU`) trained on 1,000 sample
  images with and without the training augmentation (Exercise 7.3): the train-test gap, and
  the accuracy on shifted and flipped test images.

Every optimiser here is `lab01_utils.optim.SGD`; nothing writes its update out again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .. import nn
from ..augment import apply_augmentation
from ..config import MAX_SHIFT
from ..data import load_sample
from ..formats import NUM_CLASSES
from ..images import to_images
from ..loader import MiniBatchLoader
from ..optim import SGD, MultiStepLR

__all__ = [
    "VALLEY_CURVATURES",
    "VALLEY_LRS",
    "AugmentationRun",
    "PathRun",
    "ScheduleRun",
    "Valley",
    "augmentation_gap",
    "descend",
    "learning_rates",
    "make_valley",
    "momentum_vs_plain",
    "schedules",
]

VALLEY_CURVATURES = (1.0, 50.0)  # the Hessian's eigenvalues: flat along w1, steep along w2
# Plain gradient descent on the valley is stable for lr < 2 / 50 = 0.04 (the steep direction).
VALLEY_LRS: dict[str, float] = {"too low": 0.004, "near the limit": 0.035, "too high": 0.042}


@dataclass(frozen=True)
class Valley:
    """The least-squares loss `L(w) = (1/2N) ||x w - y||^2` in two weights `w`.

    `x` is built so that `x.T @ x / N = diag(curvatures)` exactly, and `y = x @ optimum + r`
    with a residual `r` orthogonal to both columns of `x`, so the minimum is at `optimum` and
    `L(w) - L(optimum) = 1/2 sum_i curvatures[i] (w_i - optimum_i)^2` (the *excess* loss, what
    the experiments report). Each example's gradient `x_n (x_n . w - y_n)` is not zero at the
    optimum (the residual), so mini-batch gradients stay noisy there, as in a real network.

    Attributes:
        x: `(N, 2)` inputs; y: `(N,)` targets.
        curvatures: `(2,)` the Hessian's diagonal; optimum: `(2,)`; start: `(2,)` where runs
            start.
    """

    x: np.ndarray
    y: np.ndarray
    curvatures: np.ndarray
    optimum: np.ndarray
    start: np.ndarray

    def excess_loss(self, w: np.ndarray) -> float:
        """`L(w) - L(optimum)` for one point `w` `(2,)`."""
        d = np.asarray(w, np.float64) - self.optimum
        return float(0.5 * np.sum(self.curvatures * d * d))

    def gradient(self, w: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
        """The gradient of the mean loss over the examples `idx` (all of them when None) at
        `w`: `x_b.T @ (x_b @ w - y_b) / B`, shape `(2,)`."""
        xb, yb = (self.x, self.y) if idx is None else (self.x[idx], self.y[idx])
        return xb.T @ (xb @ w - yb) / len(yb)


def make_valley(
    *,
    curvatures: Sequence[float] = VALLEY_CURVATURES,
    n: int = 1000,
    noise: float = 0.5,
    start: Sequence[float] = (-4.0, 0.6),
    seed: int = 0,
) -> Valley:
    """A `Valley` of `n` examples with the given curvatures, its minimum at the origin and
    residuals of standard deviation about `noise`."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, 2)))  # (n, 2), orthonormal columns
    curv = np.asarray(curvatures, np.float64)
    x = q * np.sqrt(n * curv)  # x.T @ x / n = diag(curv)
    r = noise * rng.standard_normal(n)
    r -= q @ (q.T @ r)  # orthogonal to x's columns: the least-squares solution is exact
    optimum = np.zeros(2)
    return Valley(x=x, y=x @ optimum + r, curvatures=curv, optimum=optimum, start=np.array(start))


@dataclass(frozen=True)
class PathRun:
    """Full-batch runs on a valley, one per name.

    Attributes:
        valley: the `Valley` they ran on.
        settings: `{name: {"lr": ..., "momentum": ...}}`.
        paths: `{name: (steps + 1, 2)}` the weights after 0, 1, ..., steps steps.
        losses: `{name: (steps + 1,)}` the excess loss at those points.
    """

    valley: Valley
    settings: dict[str, dict[str, float]]
    paths: dict[str, np.ndarray]
    losses: dict[str, np.ndarray]


def descend(
    valley: Valley, *, lr: float, momentum: float = 0.0, steps: int = 100
) -> tuple[np.ndarray, np.ndarray]:
    """`steps` full-batch steps of the lab's `SGD` from `valley.start`.

    Returns: the path `(steps + 1, 2)` and the excess loss along it `(steps + 1,)`.
    """
    w = nn.Parameter(valley.start.astype(np.float64))
    opt = SGD([w], lr=lr, momentum=momentum)
    path = [w.data.copy()]
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run may overflow
        for _ in range(steps):
            w.grad = valley.gradient(w.data)
            opt.step()
            path.append(w.data.copy())
    path_arr = np.array(path)  # (steps + 1, 2)
    return path_arr, np.array([valley.excess_loss(p) for p in path_arr])


def _runs(valley: Valley, settings: Mapping[str, dict[str, float]], steps: int) -> PathRun:
    paths, losses = {}, {}
    for name, kw in settings.items():
        paths[name], losses[name] = descend(valley, steps=steps, **kw)
    return PathRun(valley, {k: dict(v) for k, v in settings.items()}, paths, losses)


def momentum_vs_plain(
    *,
    lr: float = 0.01,
    momentum: float = 0.9,
    plain_limit_lr: float = VALLEY_LRS["near the limit"],
    steps: int = 100,
    seed: int = 0,
) -> PathRun:
    """Full-batch runs on `make_valley(seed=seed)`, `steps` steps each: plain SGD and SGD with
    `momentum` at the same `lr`, and plain SGD at `plain_limit_lr`, close to the largest rate
    it survives (2 / 50). Names: "plain, lr 0.01", "momentum 0.9, lr 0.01", "plain, lr 0.035"
    (with the rates given). Takes ~10 ms."""
    settings = {
        f"plain, lr {lr:g}": {"lr": lr, "momentum": 0.0},
        f"momentum {momentum:g}, lr {lr:g}": {"lr": lr, "momentum": momentum},
        f"plain, lr {plain_limit_lr:g}": {"lr": plain_limit_lr, "momentum": 0.0},
    }
    return _runs(make_valley(seed=seed), settings, steps)


def learning_rates(
    lrs: Mapping[str, float] | None = None, *, steps: int = 60, seed: int = 0
) -> PathRun:
    """Plain full-batch SGD on `make_valley(seed=seed)` at each rate of `lrs` (default
    `VALLEY_LRS`: too low, near the limit 2 / 50, just above it). Takes ~10 ms."""
    lrs = VALLEY_LRS if lrs is None else lrs
    return _runs(make_valley(seed=seed), {k: {"lr": v} for k, v in lrs.items()}, steps)


@dataclass(frozen=True)
class ScheduleRun:
    """What `schedules` measured, one entry per run name.

    Attributes:
        epochs: 1, ..., the number of epochs (for the x axis).
        lrs: `{name: (epochs,)}` the learning rate used during each epoch.
        epoch_loss: `{name: (epochs,)}` the mean excess loss over each epoch's steps (for the
            full-batch run: after its one step).
        final_loss: `{name: the mean excess loss over the last 5 epochs}`.
    """

    epochs: np.ndarray
    lrs: dict[str, np.ndarray]
    epoch_loss: dict[str, np.ndarray]
    final_loss: dict[str, float]


def _minibatch_run(
    valley: Valley,
    lr: float,
    momentum: float,
    milestones: Sequence[int],
    gamma: float,
    epochs: int,
    batch_size: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Mini-batch SGD with momentum and `MultiStepLR`, stepped once per epoch: the rate and
    the mean excess loss of each epoch, `(epochs,)` each."""
    w = nn.Parameter(valley.start.astype(np.float64))
    opt = SGD([w], lr=lr, momentum=momentum)
    sched = MultiStepLR(opt, milestones=list(milestones), gamma=gamma)
    rng = np.random.default_rng(seed)
    n = len(valley.y)
    lrs, losses = [], []
    for _ in range(epochs):
        lrs.append(opt.lr)
        order = rng.permutation(n)
        epoch = []
        for start in range(0, n, batch_size):
            w.grad = valley.gradient(w.data, order[start : start + batch_size])
            opt.step()
            epoch.append(valley.excess_loss(w.data))
        losses.append(np.mean(epoch))
        sched.step()
    return np.array(lrs), np.array(losses)


def schedules(
    *,
    lr: float = 0.01,
    momentum: float = 0.9,
    milestones: Sequence[int] = (15, 25),
    gamma: float = 0.1,
    epochs: int = 30,
    batch_size: int = 10,
    seed: int = 0,
) -> ScheduleRun:
    """Four runs on `make_valley(seed=seed)` (1,000 examples), each `epochs` epochs long:

    * "constant {lr}": mini-batches of `batch_size`, momentum, the rate `lr` throughout;
    * "constant {lr * gamma**2}": the same at the schedule's final rate throughout;
    * "step schedule": `lr`, multiplied by `gamma` after each of `milestones` (`MultiStepLR`);
    * "full batch": one exact gradient step per epoch at `lr` with momentum: the same number
      of per-example gradients as one mini-batch epoch.

    Returns a `ScheduleRun`. Takes ~0.2 s.
    """
    valley = make_valley(seed=seed)
    low = lr * gamma ** len(milestones)
    settings = {
        f"constant {lr:g}": (lr, ()),
        f"constant {low:g}": (low, ()),
        "step schedule": (lr, tuple(milestones)),
    }
    lrs, losses = {}, {}
    for name, (rate, ms) in settings.items():
        lrs[name], losses[name] = _minibatch_run(
            valley, rate, momentum, ms, gamma, epochs, batch_size, seed
        )
    _, full = descend(valley, lr=lr, momentum=momentum, steps=epochs)
    lrs["full batch"], losses["full batch"] = np.full(epochs, lr), full[1:]
    return ScheduleRun(
        epochs=np.arange(1, epochs + 1),
        lrs=lrs,
        epoch_loss=losses,
        final_loss={k: float(np.mean(v[-5:])) for k, v in losses.items()},
    )


@dataclass(frozen=True)
class AugmentationRun:
    """What `augmentation_gap` measured, for the runs "without" and "with" augmentation.

    Attributes:
        epochs: 1, ..., the number of epochs.
        train_accuracy: `{run: (epochs,)}` on the (unaugmented) training images after each
            epoch.
        batch_accuracy: `{run: (epochs,)}` the running accuracy on the epoch's training
            batches, as they were trained on (augmented or not), while the weights change:
            what a training log's "Train Acc" reports.
        test_accuracy: `{run: (epochs,)}` on the 500 test images.
        shifted_accuracy: `{run: accuracy}` on the test images moved by one pixel, the mean
            over the four directions (right, left, down, up).
        flipped_accuracy: `{run: {"horizontal": acc, "vertical": acc}}` on the test images
            mirrored left-right and upside down.
    """

    epochs: np.ndarray
    train_accuracy: dict[str, np.ndarray]
    batch_accuracy: dict[str, np.ndarray]
    test_accuracy: dict[str, np.ndarray]
    shifted_accuracy: dict[str, float]
    flipped_accuracy: dict[str, dict[str, float]]

    def gap(self, run: str, last: int = 5) -> float:
        """Train minus test accuracy of `run`, averaged over its `last` epochs."""
        return float(np.mean(self.train_accuracy[run][-last:] - self.test_accuracy[run][-last:]))

    def shift_drop(self, run: str) -> float:
        """How much `run`'s final test accuracy falls when the test images move one pixel."""
        return float(self.test_accuracy[run][-1] - self.shifted_accuracy[run])


def _accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    """The fraction of images `(N, 1, 28, 28)` whose largest logit is their label `(N,)`."""
    return float(np.mean(model(x.reshape(len(x), -1)).argmax(axis=1) == y))


def augmentation_gap(
    *,
    hidden: int = 128,
    train_images: int = 1000,
    epochs: int = 20,
    lr: float = 0.05,
    momentum: float = 0.9,
    batch_size: int = 50,
    max_shift: int = MAX_SHIFT,
    seed: int = 0,
) -> AugmentationRun:
    """A small MLP, `Linear(784, hidden)`, `SiLU`, `Linear(hidden, 10)` (~100k parameters),
    trained by SGD with momentum on the first `train_images` images of the embedded sample,
    once without and once with the lab's augmentation (shifts of up to `max_shift` pixels and
    flips with probability 0.5, drawn by `MiniBatchLoader`); both runs start from the same
    weights and see the same batches. Returns an `AugmentationRun`. Takes ~1 s."""
    x, y = load_sample("train")
    x, y = x[:train_images], y[:train_images]
    xt, yt = load_sample("test")
    x_img, xt_img = to_images(x), to_images(xt)  # (N, 1, 28, 28) float32 in [0, 1]
    names = ("without", "with")
    train, batch, test, shifted, flipped = {}, {}, {}, {}, {}
    for name in names:
        rng = np.random.default_rng(seed)
        model = nn.Sequential(
            nn.Linear(784, hidden, rng=rng), nn.SiLU(), nn.Linear(hidden, NUM_CLASSES, rng=rng)
        )
        loss_fn = nn.CrossEntropyLoss()
        opt = SGD(model.parameters(), lr=lr, momentum=momentum)
        loader = MiniBatchLoader(
            x, y, batch_size, augment=name == "with", max_shift=max_shift, seed=seed
        )
        tr, ba, te = [], [], []
        for epoch in range(1, epochs + 1):
            right = 0
            for xb, yb in loader.epoch(epoch):
                logits = model(xb.reshape(len(xb), -1))  # (B, 784) -> (B, 10)
                right += int(np.sum(logits.argmax(axis=1) == yb))
                loss_fn(logits, yb)
                model.backward(loss_fn.backward())
                opt.step()
            ba.append(right / len(y))
            tr.append(_accuracy(model, x_img, y))
            te.append(_accuracy(model, xt_img, yt))
        train[name], batch[name], test[name] = np.array(tr), np.array(ba), np.array(te)
        moves = ((1, 0), (-1, 0), (0, 1), (0, -1))
        shifted[name] = float(
            np.mean([_accuracy(model, apply_augmentation(xt_img, sx, sy), yt) for sx, sy in moves])
        )
        flipped[name] = {
            "horizontal": _accuracy(model, xt_img[..., ::-1], yt),
            "vertical": _accuracy(model, xt_img[..., ::-1, :], yt),
        }
    return AugmentationRun(
        epochs=np.arange(1, epochs + 1),
        train_accuracy=train,
        batch_accuracy=batch,
        test_accuracy=test,
        shifted_accuracy=shifted,
        flipped_accuracy=flipped,
    )
