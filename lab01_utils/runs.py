"""A run's files: where runs live, the report's log line, and the weights and history a run
leaves behind.

A run directory (`runs/.../task1_numpy`, `results/task2_torch`, ...) holds `train.log` (one
`format_log_line` per epoch), `history.json` (the same figures, one dict per epoch),
`config.json`, the checkpoint, and, once the run has finished, `weights.npz`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .config import TASK_DIRS
from .digests import DIGEST_KEY, RunFileError, array_digest, read_json, read_npz
from .files import atomic_write

__all__ = [
    "find_run",
    "format_log_line",
    "load_history",
    "load_weights",
    "repo_root",
    "run_candidates",
    "save_weights",
]


def format_log_line(rec: dict) -> str:
    """The report's per-epoch line, the same for both tasks, e.g. (one line)::

    | Epoch: 30 |Lr: 0.0003 |Train Loss: 0.3205 |Train Acc:88.2220
    |Val Loss: 0.2239 |Val Acc:92.4400 |Epoch time:1214.67 sec
    """
    return (
        f"| Epoch: {rec['epoch']} |Lr: {rec['lr']:.6g} |Train Loss: {rec['train_loss']:.4f} "
        f"|Train Acc:{rec['train_acc']:.4f} |Val Loss: {rec['val_loss']:.4f} "
        f"|Val Acc:{rec['val_acc']:.4f} |Epoch time:{rec['epoch_time']:.2f} sec"
    )


def save_weights(path: Path, state: dict[str, np.ndarray]) -> None:
    """The final `state_dict` (torch keys) as an uncompressed `.npz`, with its digest; load
    with `load_weights` into either model."""
    arrays = dict(state)
    arrays[DIGEST_KEY] = np.array(array_digest(arrays))
    atomic_write(path, lambda f: np.savez(f, **arrays))


def load_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A `weights.npz` -> `{key: array}` (torch `state_dict` keys), no pickle, its digest
    checked (`digests.py`).

    Raises:
        RunFileError: (a ValueError) naming the file, when it is not such an `.npz` (e.g. a
            torch `.pt` checkpoint, whose zip holds `archive/data.pkl`), or it is damaged,
            truncated or empty.
    """
    redo = "train the run again, or take the file anew from the lab's results"
    state = read_npz(path, "weights.npz", redo)
    bad = [k for k, v in state.items() if v.dtype.kind not in "fiub"]
    if bad:
        raise RunFileError(f"{path}: not a weights.npz written by this lab (entries {bad[:3]})")
    return state


def load_history(run_dir: str | os.PathLike) -> list[dict]:
    """The per-epoch history saved by `train` in `run_dir/history.json`."""
    path = Path(run_dir) / "history.json"
    if not path.exists():
        raise FileNotFoundError(f"no history.json in {run_dir}: train that task first")
    history = read_json(path, "history", "train that task again (--overwrite)")
    if not isinstance(history, list) or not all(isinstance(r, dict) for r in history):
        raise RunFileError(f"{path}: not a run's history (a list of epochs)")
    return history


def repo_root(start: str | os.PathLike | None = None) -> Path:
    """The lab's folder: the first of `start` (default: the working directory) and its parents
    that holds `pyproject.toml` (a notebook runs in `notebooks/`, a script anywhere below)."""
    here = Path(start or Path.cwd()).resolve()
    for p in (here, *here.parents):
        if (p / "pyproject.toml").is_file():
            return p
    raise FileNotFoundError(
        f"no pyproject.toml in {here} or above it: run this from inside the lab's folder"
    )


def run_candidates(task: str, root: str | os.PathLike | None = None) -> list[Path]:
    """Where a finished run of `task` ("numpy" or "torch") may be, in order: the committed
    results (`results/`), then your own full run (`make run` writes `runs/full/`)."""
    base = repo_root(root)
    return [base / "results" / TASK_DIRS[task], base / "runs" / "full" / TASK_DIRS[task]]


def find_run(task: str, root: str | os.PathLike | None = None) -> Path | None:
    """The first of `run_candidates(task)` that holds a finished run (`history.json` and
    `weights.npz`: the weights are written when a run completes), or None."""
    return next(
        (
            d
            for d in run_candidates(task, root)
            if (d / "history.json").is_file() and (d / "weights.npz").is_file()
        ),
        None,
    )
