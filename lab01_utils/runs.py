"""A run's files: where runs live, the report's log line, and the weights and history a run
leaves behind.

A run directory (`runs/.../task1_numpy`, `results/task2_torch`, ...) holds `train.log` (one
`format_log_line` per epoch), `history.json` (the same figures, one dict per epoch),
`config.json`, the checkpoint, and, once the run has finished, `weights.npz`.
"""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

import numpy as np

from .config import ENV_RESULTS, TASK_DIRS, TrainConfig, env
from .digests import DIGEST_KEY, RunFileError, array_digest, read_json, read_npz
from .files import atomic_write

__all__ = [
    "checkout_root",
    "find_run",
    "format_log_line",
    "installed_results",
    "kept_val_acc",
    "kept_val_loss",
    "load_history",
    "load_weights",
    "repo_root",
    "run_candidates",
    "run_config",
    "save_weights",
]


def format_log_line(rec: dict) -> str:
    """The report's per-epoch line, the same for both tasks, e.g. (one line)::

    | Epoch: 30 |Lr: 0.0003 |Train Loss: 0.3205 |Train Acc:88.2220
    |Val Loss: 0.2239 |Val Acc:92.4400 |Epoch time:1214.67 sec
    """
    line = (
        f"| Epoch: {rec['epoch']} |Lr: {rec['lr']:.6g} |Train Loss: {rec['train_loss']:.4f} "
        f"|Train Acc:{rec['train_acc']:.4f} |Val Loss: {rec['val_loss']:.4f} "
        f"|Val Acc:{rec['val_acc']:.4f} |Epoch time:{rec['epoch_time']:.2f} sec"
    )
    # After the report's fields, when the run has them: the EMA model, the TTA accuracy.
    if "ema_val_acc" in rec:
        line += f" |EMA Val Loss: {rec['ema_val_loss']:.4f} |EMA Val Acc:{rec['ema_val_acc']:.4f}"
    if "tta_val_acc" in rec:
        line += f" |TTA Val Acc:{rec['tta_val_acc']:.4f}"
    return line


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


def run_config(run_dir: str | os.PathLike) -> TrainConfig:
    """The recipe a finished run followed, from its `config.json` (a key an older run did not
    write has its default)."""
    path = Path(run_dir) / "config.json"
    saved = read_json(path, "config", "train that task again (--overwrite)")
    if not isinstance(saved, dict):
        raise RunFileError(f"{path}: not a run's config (a JSON object)")
    unknown = sorted(set(saved) - set(TrainConfig.__dataclass_fields__))
    if unknown:
        raise RunFileError(f"{path}: not a config of this version of the lab (keys {unknown})")
    return TrainConfig(**saved)


def kept_val_acc(record: dict) -> float:
    """An epoch's validation accuracy of the model the run keeps in `weights.npz`: the EMA
    model's (`ema_val_acc`) when the run has one, else the trained weights' (`val_acc`)."""
    return float(record.get("ema_val_acc", record["val_acc"]))


def kept_val_loss(record: dict) -> float:
    """The validation loss of the same model as `kept_val_acc`."""
    return float(record.get("ema_val_loss", record["val_loss"]))


def checkout_root(start: str | os.PathLike | None = None) -> Path | None:
    """The lab's folder: the first of `start` (default: the working directory) and its
    parents that holds `pyproject.toml` (a notebook runs in `notebooks/`, a script anywhere
    below); None outside one (a pip install, Colab, a hub with the notebooks copied
    elsewhere)."""
    here = Path(start or Path.cwd()).resolve()
    for p in (here, *here.parents):
        if (p / "pyproject.toml").is_file():
            return p
    return None


def repo_root(start: str | os.PathLike | None = None) -> Path:
    """Where the lab's own runs go (`runs/` below it): the checkout, or outside one the
    working directory (a notebook runs in its folder)."""
    return checkout_root(start) or Path(start or Path.cwd()).resolve()


def installed_results() -> Path:
    """The committed final runs installed with the package (`share/lab01/results` under the
    environment's data path: the wheel's data files)."""
    return Path(sysconfig.get_paths()["data"]) / "share" / "lab01" / "results"


def run_candidates(task: str, root: str | os.PathLike | None = None) -> list[Path]:
    """Where a finished run of `task` ("numpy" or "torch") may be, in order: the folder in
    `$LAB01_RESULTS`, the checkout's committed results (`results/`), the results installed
    with the package, then your own full run (`make run` writes `runs/full/`)."""
    sub = TASK_DIRS[task]
    found = [Path(env(ENV_RESULTS)).expanduser() / sub] if env(ENV_RESULTS) else []
    checkout = checkout_root(root)
    if checkout is not None:
        found.append(checkout / "results" / sub)
    found.append(installed_results() / sub)
    found.append(repo_root(root) / "runs" / "full" / sub)
    return found


def find_run(task: str, root: str | os.PathLike | None = None) -> Path | None:
    """The first of `run_candidates(task)` that holds a finished run (`history.json` and
    `weights.npz`: the weights are written when a run completes), or None (a notebook then
    trains a quick run instead, and says so)."""
    return next(
        (
            d
            for d in run_candidates(task, root)
            if (d / "history.json").is_file() and (d / "weights.npz").is_file()
        ),
        None,
    )
