"""Notebook 10's computations: each task's trained run (the committed results where they are,
else a quick run made on the spot), and the two engines trained side by side from the same
start on the same batches."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..config import TASK_DIRS, TASK_NAMES, TrainConfig
from ..data import load_sample
from ..engines import make_engine
from ..loader import MiniBatchLoader
from ..models import build_numpy_model
from ..runs import find_run, load_history, load_weights
from ..train import train

__all__ = ["REPORT", "SameTraining", "TaskRun", "same_training", "task_runs"]

# The report's last epoch of each task, as its logs print it, and its mean epoch time (s).
REPORT = {
    "numpy": (
        "| Epoch: 30 |Lr: 0.0003 |Train Loss: 0.3205 |Train Acc:88.2220 |Val Loss: 0.2239 "
        "|Val Acc:92.4400 |Epoch time:1214.67 sec",
        1214.67,
    ),
    "torch": (
        "| Epoch: 30 |Train Loss: 0.0876 |Train Acc:97.1020 |Val Loss: 0.2442 |Val Acc:92.3500 "
        "|Epoch time:254.01 sec |LR: 3.000000000000004e-05",
        254.01,
    ),
}


@dataclass(frozen=True)
class TaskRun:
    """One task's trained network: its per-epoch `history`, its `weights` (what
    `weights.npz` keeps) and where they come from. `finished`: a finished full run (the
    committed results, or your own), not a quick run made just now."""

    task: str
    history: list[dict]
    weights: dict[str, np.ndarray]
    source: str
    finished: bool

    @property
    def label(self) -> str:
        return TASK_NAMES[self.task]


def task_runs(quick_overrides: Mapping | None = None) -> dict[str, TaskRun]:
    """Each task's run, by task label ("Task 1 (NumPy)", "Task 2 (PyTorch)"): the committed
    results, else your own finished full run (`runs.find_run`), else a quick run trained now
    on the embedded sample with `quick_overrides` (e.g. a smaller slice; `TrainConfig` fields).
    A quick run needs your exercises: until they are written it stops at the first one."""
    found = {}
    for task in TASK_NAMES:
        results = find_run(task)
        if results is not None:
            history = load_history(results)
            weights = load_weights(results / "weights.npz")
            run = TaskRun(task, history, weights, f"finished run in {results}", True)
        else:
            cfg = TrainConfig.for_profile("quick", task=task, **dict(quick_overrides or {}))
            out = Path(tempfile.mkdtemp(prefix=f"lab01_{task}_"))
            history = train(cfg, out_dir=out, quiet=True)
            weights = load_weights(out / TASK_DIRS[task] / "weights.npz")
            source = "a quick run made just now on the embedded sample"
            run = TaskRun(task, history, weights, source, False)
        found[run.label] = run
    return found


@dataclass(frozen=True)
class SameTraining:
    """Both engines' training losses step by step (`losses`: name -> `(steps,)`), and their
    largest relative differences: of the losses, and of the weights after the last step."""

    losses: dict[str, np.ndarray]
    loss_difference: float
    weight_difference: float


def same_training(steps: int = 20, batch_size: int = 10) -> SameTraining:
    """Task 1's and Task 2's engines from the same initial weights, fed the same `steps`
    augmented batches of the embedded training sample (the quick profile's recipe)."""
    x_train, y_train = load_sample("train")
    cfg = TrainConfig.for_profile("quick", batch_size=batch_size, torch_threads=1)
    init = build_numpy_model(cfg.widths, cfg.num_classes, cfg.seed).state_dict()
    engines = {
        "NumPy": make_engine(replace(cfg, task="numpy"), init),
        "PyTorch": make_engine(replace(cfg, task="torch", device="cpu"), init),
    }
    loader = MiniBatchLoader(
        x_train, y_train, cfg.batch_size, augment=True, max_shift=cfg.max_shift, seed=cfg.seed
    )
    losses: dict[str, list[float]] = {name: [] for name in engines}
    for _, (xb, yb) in zip(range(steps), loader.epoch(1), strict=False):
        for name, engine in engines.items():
            losses[name].append(engine.train_step(xb, yb)[0])
    a, b = np.array(losses["NumPy"]), np.array(losses["PyTorch"])
    w1, w2 = engines["NumPy"].state_dict(), engines["PyTorch"].state_dict()
    weight_difference = max(
        float(np.abs(w1[k] - w2[k]).max() / max(np.abs(w2[k]).max(), 1e-30))
        for k in w1
        if w1[k].dtype.kind == "f"
    )
    return SameTraining(
        {name: np.array(v) for name, v in losses.items()},
        float(np.max(np.abs(a - b) / np.abs(b))),
        weight_difference,
    )
