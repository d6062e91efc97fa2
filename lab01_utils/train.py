"""The training loop, the same for both tasks: Task 1 (the NumPy engine) and Task 2 (PyTorch).

Both tasks share everything but the engine: the data, the seeded mini-batches (identical
batches and augmentations for the same seed), the initial weights (the NumPy model's
initialisation is copied into the torch model), the schedule, the log format, the history
and the checkpoints. What remains different is only how each computes a step (`engines.py`).

    python -m lab01_utils.train --task both --profile quick      # seconds, embedded sample
    python -m lab01_utils.train --task numpy                     # the lab's recipe, full data
    python -m lab01_utils.train --task numpy --resume            # continue an interrupted run

Outputs, per task, under `--out` (default `runs/`): `task1_numpy/` or `task2_torch/` with
`train.log` (one report-format line per epoch), `history.json`, `config.json`, a checkpoint
written atomically after every epoch, and `weights.npz` (the final `state_dict`, torch keys).

The jobs around the loop live beside it: the recipe and every default in `config.py`, the
engines in `engines.py`, one epoch in `epoch.py`, resuming in `checkpoints.py`, a run's files
in `runs.py`, the command line in `cli.py`. The names a notebook needs are importable from
here too.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from .checkpoints import claim, run_lock
from .checkpoints import resume as resume_run
from .config import REPORT_RECIPE, TASK_DIRS, TrainConfig, TrainingDiverged
from .data import default_profile, load_sample, load_with_source
from .divergence import non_finite
from .engines import NumpyEngine, TorchEngine, make_engine
from .epoch import evaluate, train_one_epoch
from .files import atomic_write_text
from .loader import MiniBatchLoader
from .metrics import predict_logits
from .runs import format_log_line, load_weights, save_weights
from .tta import tta_logits


def load_data(cfg: TrainConfig, verbose: bool = True):
    """`(x_train, y_train, x_test, y_test, source_label)` for the config's profile.

    `quick` always uses the embedded sample; `full` needs the full set and says how to get it.
    With `cfg.val_split = N` the evaluation set ("Val" in the log) is the last N training
    images, held out of training, instead of the test set: what a recipe is chosen on.
    """
    if cfg.profile == "quick":
        xtr, ytr = load_sample("train")
        xte, yte = load_sample("test")
        label = "embedded sample"
    else:
        xtr, ytr, src = load_with_source("train", verbose=verbose, allow_sample=False)
        xte, yte, _ = load_with_source("test", verbose=verbose, allow_sample=False)
        label = src.label()
    if cfg.val_split:
        if cfg.val_split >= len(ytr):
            raise ValueError(f"val_split {cfg.val_split} leaves no training images of {len(ytr)}")
        xte, yte = xtr[-cfg.val_split :], ytr[-cfg.val_split :]
        xtr, ytr = xtr[: -cfg.val_split], ytr[: -cfg.val_split]
        label += f"; Val = the last {cfg.val_split:,} training images, held out"
    if cfg.train_limit:
        xtr, ytr = xtr[: cfg.train_limit], ytr[: cfg.train_limit]
    if cfg.test_limit:
        xte, yte = xte[: cfg.test_limit], yte[: cfg.test_limit]
    return xtr, ytr, xte, yte, label


def train(
    cfg: TrainConfig,
    out_dir: str | os.PathLike = "runs",
    resume: bool | str = False,
    quiet: bool = False,
    callbacks: Sequence[Callable[[list[dict]], None]] = (),
    data=None,
    overwrite: bool = False,
) -> list[dict]:
    """Train `cfg.task` with `cfg`'s recipe; returns the history (one dict per epoch).

    Writes under `out_dir/task1_numpy` or `out_dir/task2_torch`, one run at a time (a second
    run into the same folder is refused). `resume`: False starts a run, and refuses a folder
    that holds one unless `overwrite` (which moves the old run aside first); True continues
    the run there (the config must match; an error if there is none); "auto" continues it if
    there is one, else starts. `callbacks` are called with
    the history after every epoch (e.g. `widgets.TrainingCurves`). `data` may pass
    `(x_train, y_train, x_test, y_test)` to skip loading.

    Raises:
        TrainingDiverged: by `divergence.py`'s rule (a non-finite or sustained huge loss,
            non-finite weights or BatchNorm statistics); the message says what is kept.
    """
    run_dir = Path(out_dir) / TASK_DIRS[cfg.task]
    run_dir.mkdir(parents=True, exist_ok=True)
    with run_lock(run_dir):
        engine_cls = NumpyEngine if cfg.task == "numpy" else TorchEngine
        continuing = claim(run_dir, resume, overwrite, engine_cls.checkpoint_name)
        return _train(cfg, run_dir, continuing, quiet, callbacks, data)


def _train(cfg, run_dir: Path, continuing: bool, quiet: bool, callbacks, data) -> list[dict]:
    if data is None:
        xtr, ytr, xte, yte, source = load_data(cfg, verbose=not quiet)
    else:
        xtr, ytr, xte, yte = data
        source = "given arrays"
    for name, labels in (("training", ytr), ("test", yte)):
        if len(labels) == 0:
            raise ValueError(f"the {name} set is empty: nothing to train or evaluate on")
    loader = MiniBatchLoader(
        xtr,
        ytr,
        batch_size=cfg.batch_size,
        shuffle=True,
        augment=cfg.augment,
        seed=cfg.seed,
        max_shift=cfg.max_shift,
        flip_prob=cfg.flip_prob,
        erase_prob=cfg.erase_prob,
    )
    engine = make_engine(cfg, steps_per_epoch=len(loader))
    history = _open_run(cfg, engine, run_dir, continuing, quiet)
    if not quiet:
        where = f" on {engine.device}" if cfg.task == "torch" else f", {engine.describe()}"
        print(
            f"Task {'1 (NumPy)' if cfg.task == 'numpy' else '2 (PyTorch)'}{where}: "
            f"{len(ytr):,} train / {len(yte):,} test images ({source}), "
            f"{cfg.epochs} epochs, batch {cfg.batch_size}, lr {cfg.lr}"
        )
    # Bars only where someone watches: a terminal, or a notebook (tqdm.auto makes a widget).
    show_bar = not quiet and (sys.stderr.isatty() or "ipykernel" in sys.modules)
    for epoch in range(len(history) + 1, cfg.epochs + 1):
        try:
            record = _one_epoch(cfg, engine, loader, (xte, yte), epoch, show_bar, run_dir)
            bad = non_finite(engine.state_dict())
            if engine.ema is not None:
                bad += [f"ema.{k}" for k in non_finite(_evaluated_state(engine))]
            if bad:
                raise TrainingDiverged(
                    f"{cfg.task}: after epoch {epoch}, {len(bad)} arrays hold NaN or inf "
                    f"({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}); stopped."
                )
        except TrainingDiverged as e:
            ckpt = run_dir / engine.checkpoint_name
            raise TrainingDiverged(f"{e} {_kept(ckpt, len(history))}") from None
        history.append(record)
        _record(engine, run_dir, history, quiet)
        for cb in callbacks:
            cb(history)
    if engine.ema is not None:  # the raw weights beside the evaluated (averaged) ones
        save_weights(run_dir / "weights_raw.npz", engine.state_dict())
    save_weights(run_dir / "weights.npz", _evaluated_state(engine))
    return history


def _evaluated_state(engine) -> dict:
    from .models import torch_state_to_numpy

    model = engine.evaluated_model()
    state = model.state_dict()
    return state if engine.name == "numpy" else torch_state_to_numpy(state)


def _kept(ckpt: Path, epochs_done: int) -> str:
    """What a diverged run leaves, truthfully: every checkpoint written was checked finite."""
    if not epochs_done or not ckpt.exists():
        return (
            "No epoch had finished, so no checkpoint was written. Try a smaller --lr "
            "(and check --momentum, --weight-decay)."
        )
    return (
        f"The checkpoint of epoch {epochs_done} is kept in {ckpt} (every array in it "
        "finite); rerun with a smaller --lr in another --out, or --overwrite."
    )


def _open_run(cfg: TrainConfig, engine, run_dir: Path, resume: bool, quiet: bool) -> list[dict]:
    """The history to continue from (empty for a fresh run); writes the run's config.json and
    a train.log holding that history's lines."""
    ckpt = run_dir / engine.checkpoint_name
    history: list[dict] = []
    if resume:
        start_epoch, history = resume_run(engine, cfg, run_dir, ckpt)
        if not quiet:
            print(f"resuming {cfg.task} from epoch {start_epoch} ({ckpt})")
    atomic_write_text(run_dir / "config.json", json.dumps(asdict(cfg), indent=2))
    atomic_write_text(run_dir / "train.log", "".join(format_log_line(r) + "\n" for r in history))
    return history


def _one_epoch(cfg: TrainConfig, engine, loader, test, epoch: int, show_bar: bool, run_dir):
    """Train one epoch, evaluate, step the schedule; the epoch's record for the history."""
    lr = engine.get_lr()
    t0 = time.perf_counter()
    desc = f"{cfg.task} epoch {epoch}/{cfg.epochs}"
    train_loss, train_acc = train_one_epoch(
        engine, loader, epoch, desc=desc, show_bar=show_bar, run_dir=run_dir
    )
    train_time = time.perf_counter() - t0
    val_loss, val_acc = evaluate(engine, *test, cfg.eval_batch_size)
    extra = {}
    if engine.ema is not None:  # the averaged model, judged the same way
        ema_loss, ema_acc = evaluate(_Judge(engine), *test, cfg.eval_batch_size)
        extra |= {"ema_val_loss": ema_loss, "ema_val_acc": ema_acc}
    if cfg.tta and epoch == cfg.epochs:  # the evaluated model (EMA when on), ten views
        x, y = test
        logits = tta_logits(engine.evaluated_model(), x, cfg.eval_batch_size)
        extra["tta_val_acc"] = 100.0 * float((logits.argmax(axis=1) == y).mean())
    epoch_time = time.perf_counter() - t0
    engine.after_epoch()
    return {
        "epoch": epoch,
        "lr": lr,
        "train_loss": train_loss,
        "train_acc": train_acc,
        "val_loss": val_loss,
        "val_acc": val_acc,
        "train_time": train_time,
        "epoch_time": epoch_time,
        **extra,  # after the report's fields
    }


class _Judge:
    """`evaluate()` on the engine's evaluated model (the EMA model) with the engine's loss."""

    def __init__(self, engine):
        self.engine, self.model = engine, engine.evaluated_model()

    def predict_logits(self, xb):
        return predict_logits(self.model, xb, len(xb))

    def batch_loss(self, logits, yb):
        return self.engine.batch_loss(logits, yb)


def _record(engine, run_dir: Path, history: list[dict], quiet: bool) -> None:
    """After an epoch: the checkpoint (which carries the history too, so a resume never
    depends on history.json having been written after it: a crash can fall between the two
    writes), history.json, and the epoch's line in train.log and on screen."""
    from tqdm.auto import tqdm

    engine.save_checkpoint(run_dir / engine.checkpoint_name, len(history), history)
    atomic_write_text(run_dir / "history.json", json.dumps(history, indent=1))
    line = format_log_line(history[-1])
    with open(run_dir / "train.log", "a") as f:
        f.write(line + "\n")
    if not quiet:
        tqdm.write(line, file=sys.stdout)


# --------------------------------------------------------------------------- command line


if __name__ == "__main__":
    from .cli import main

    sys.exit(main())


__all__ = [
    "REPORT_RECIPE",
    "TASK_DIRS",
    "NumpyEngine",
    "TorchEngine",
    "TrainConfig",
    "TrainingDiverged",
    "default_profile",
    "evaluate",
    "format_log_line",
    "load_data",
    "load_weights",
    "make_engine",
    "save_weights",
    "train",
    "train_one_epoch",
]
