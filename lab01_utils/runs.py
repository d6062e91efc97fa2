"""A run's files: where runs live, the report's log line, and the weights and history a run
leaves behind.

A run directory (`runs/.../task1_numpy`, `results/task2_torch`, ...) holds `train.log` (one
`format_log_line` per epoch), `history.json` (the same figures, one dict per epoch),
`config.json`, the checkpoint, and, once the run has finished, `weights.npz`.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from .config import TASK_DIRS
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
    """The final `state_dict` (torch keys) as an uncompressed `.npz`; load with
    `np.load(path, allow_pickle=False)` into either model."""
    atomic_write(path, lambda f: np.savez(f, **state))


def load_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A `weights.npz` -> `{key: array}` (torch `state_dict` keys), no pickle.

    Raises:
        ValueError: naming the file, when it is not such an `.npz` (e.g. a torch `.pt`
            checkpoint, whose zip holds `archive/data.pkl`, or a damaged file).
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            if not hasattr(z, "files"):
                raise ValueError("it holds one array, not a state_dict")
            state = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: not a readable weights.npz ({e})") from None
    bad = [k for k, v in state.items() if "/" in k or v.dtype.kind not in "fiub"]
    if bad:
        raise ValueError(
            f"{path}: not a weights.npz written by this lab (entries {bad[:3]}): a torch "
            ".pt file is read with torch.load"
        )
    return state


def load_history(run_dir: str | os.PathLike) -> list[dict]:
    """The per-epoch history saved by `train` in `run_dir/history.json`."""
    path = Path(run_dir) / "history.json"
    if not path.exists():
        raise FileNotFoundError(f"no history.json in {run_dir}: train that task first")
    return json.loads(path.read_text())


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
