"""Check of Exercise 8.1: one training epoch (`train_one_epoch`'s averages) and its step
(`NumpyEngine.train_step`), against a scripted engine and against `TorchEngine`.

It imports the engines and one epoch (`engines.py`, `epoch.py`), never the training loop
(`train.py`) or the command line.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np

from .. import engines, epoch
from ..config import TrainConfig
from ..models import build_numpy_model
from .compare import STEP_RTOL, compare, import_torch, worst
from .core import CheckResult, Stop, call, exercise


class _FakeLoader:
    """Three batches of 4, 4 and 2 images (a smaller last batch, as in a real epoch)."""

    sizes = (4, 4, 2)

    def __len__(self) -> int:
        return len(self.sizes)

    def epoch(self, epoch: int):
        for k in self.sizes:
            yield np.zeros((k, 1, 28, 28), np.float32), np.zeros(k, np.int64)


class _FakeEngine:
    """Returns known (loss, correct) pairs, so the epoch's averages are known exactly."""

    name = "check"
    steps = ((1.0, 1), (2.0, 2), (4.0, 2))

    def __init__(self) -> None:
        self.calls = 0

    def train_step(self, xb, yb):
        loss, ok = self.steps[self.calls % len(self.steps)]
        self.calls += 1
        return loss, ok


def _check_epoch_averages(res: CheckResult, train_one_epoch_fn) -> None:
    engine = _FakeEngine()
    out = call(res, "train_one_epoch", train_one_epoch_fn, engine, _FakeLoader(), 1)
    if engine.calls != 3:
        res.fail(f"train_one_epoch called engine.train_step {engine.calls} times for 3 batches")
        res.hint("one_step_per_batch")
        raise Stop
    if not isinstance(out, tuple) or len(out) != 2:
        res.fail(f"train_one_epoch returned {out!r}; expected (train_loss, train_acc)")
        raise Stop
    loss, acc = out
    context = " for batches of 4, 4, 2 images with mean losses 1, 2, 4 and 1, 2, 2 correct"
    ok = compare(res, "train_loss", loss, 2.0, context=context)
    if not ok:
        res.explain(
            loss,
            [
                (
                    7 / 3,
                    "weigh_by_size",
                )
            ],
        )
    if not compare(res, "train_acc", acc, 50.0, context=context):
        ok = False
        res.explain(acc, [(0.5, "percent")])
    if not ok:
        raise Stop


def _check_train_step(res: CheckResult, engine_cls) -> None:
    torch = import_torch()

    cfg = TrainConfig(
        task="numpy", widths=(4, 4, 8), batch_size=8, lr=0.05, milestones=(), seed=3, device="cpu"
    )
    init = build_numpy_model(cfg.widths, cfg.num_classes, cfg.seed).state_dict()
    engine = call(res, "NumpyEngine(...)", engine_cls, cfg, init)
    twin = engines.TorchEngine(replace(cfg, task="torch"), init)
    eval_twin = copy.deepcopy(twin.model).eval()
    engine.model.eval()  # as `evaluate` leaves it after an epoch
    rng = np.random.default_rng(18)
    for step in range(1, 4):
        xb = rng.random((8, 1, 28, 28), dtype=np.float32)
        yb = rng.integers(0, 10, size=8).astype(np.int64)
        out = call(res, "NumpyEngine.train_step", engine.train_step, xb, yb)
        want_loss, want_ok = twin.train_step(xb, yb)
        if not isinstance(out, tuple) or len(out) != 2:
            res.fail(f"train_step returned {out!r}; expected (loss, number correct)")
            raise Stop
        loss, ok = out
        context = f" at step {step} (a float32 model, widths {cfg.widths}, batch 8)"
        if not compare(res, "loss", loss, want_loss, rtol=STEP_RTOL, context=context):
            params = dict(engine.model.named_parameters())
            if step > 1 and all(np.array_equal(p.data, init[k]) for k, p in params.items()):
                res.hint("no_step")
            elif step == 1:
                with torch.no_grad():
                    logits = eval_twin(torch.from_numpy(xb))
                    eval_loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(yb))
                res.explain(
                    loss,
                    [
                        (
                            eval_loss.item(),
                            "train_mode",
                        )
                    ],
                )
            raise Stop
        if int(ok) != want_ok:
            res.fail(
                f"train_step counted {ok} correct predictions{context}; torch counts {want_ok}"
            )
            res.hint("count_correct")
            raise Stop
    got, want = engine.state_dict(), twin.state_dict()
    for key in want:
        if not compare(res, key, got[key], want[key], rtol=STEP_RTOL, context=" after 3 steps"):
            if np.array_equal(got[key], init[key]):
                res.hint("no_step")
            raise Stop


@exercise(
    "8.1",
    "one training epoch",
    where="lab01_utils/engines.py, NumpyEngine.train_step, and lab01_utils/epoch.py, "
    "train_one_epoch",
    points=3,
    depends=(
        "1.1",
        "1.2",
        "2.1",
        "2.2",
        "2.3",
        "2.4",
        "3.1",
        "3.2",
        "3.3",
        "4.1",
        "4.2",
        "5.1",
        "7.1",
    ),
    hints={
        "one_step_per_batch": "call engine.train_step(xb, yb) once per mini-batch of "
        "loader.epoch(epoch)",
        "weigh_by_size": "weigh each batch's mean loss by its size: sum(loss_b * N_b) / "
        "sum(N_b); a plain mean over batches over-weights a smaller last batch",
        "percent": "train_acc is in percent: 100 * correct / seen",
        "no_step": "the weights did not move: after the backward pass "
        "(self.model.backward(self.loss_fn.backward(), ...)) call self.optimizer.step()",
        "train_mode": "call self.model.train() first: `evaluate` leaves the model in eval mode",
        "count_correct": "count argmax(logits, axis=1) == y over the batch",
    },
    train_one_epoch_fn=lambda: epoch.train_one_epoch,
    engine_cls=lambda: engines.NumpyEngine,
)
def check_train_epoch(res: CheckResult, train_one_epoch_fn, engine_cls) -> None:
    """Exercise 8.1: `train_one_epoch`'s averages with a scripted engine, then three
    `NumpyEngine.train_step` calls against `TorchEngine`'s from the same weights."""
    _check_epoch_averages(res, train_one_epoch_fn)
    res.ok("train_one_epoch averages the loss per image and the accuracy in percent")
    _check_train_step(res, engine_cls)
    res.ok(
        "three NumpyEngine.train_step calls match TorchEngine's: losses, correct counts "
        f"and every weight afterwards (relative error {worst(res, 'loss'):.0e} on the loss)"
    )
