"""Resuming a run: whether the checkpoint in a run directory belongs to this recipe, and the
epoch and history to continue from.

Each engine writes and reads its own checkpoint (`engines.py`: `.npz` for Task 1, a
`weights_only` torch file for Task 2), atomically, after every epoch; the checkpoint carries
the history too, so a resume never depends on `history.json` having been written after it (a
crash can fall between the two writes).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from .config import FREE, REPORT_RECIPE, TrainConfig

__all__ = ["config_differences", "resume", "saved_config"]


def saved_config(cfg: TrainConfig, run_dir: Path) -> dict:
    """The config of the run in `run_dir` (`config.json`) as JSON values; a key missing from
    an older run's config.json had its default value then."""
    saved = json.loads(json.dumps(asdict(TrainConfig(task=cfg.task, profile=cfg.profile))))
    saved.update(json.loads((run_dir / "config.json").read_text()))
    return saved


def config_differences(cfg: TrainConfig, run_dir: Path) -> dict[str, tuple]:
    """`{key: (in the run, now)}` for each recipe value of `cfg` that differs from the run in
    `run_dir`; the values in `config.FREE` (epochs, device, threads, engine) may change."""
    saved = saved_config(cfg, run_dir)
    now = json.loads(json.dumps(asdict(cfg)))
    return {k: (saved.get(k), v) for k, v in now.items() if k not in FREE and saved.get(k) != v}


def resume(engine, cfg: TrainConfig, run_dir: Path, ckpt: Path) -> tuple[int, list[dict]]:
    """Load `ckpt` into `engine`; `(last finished epoch, history up to it)`.

    Raises:
        ValueError: the recipe differs from the run's (saying which values, and
            `--recipe report` when that is the difference), or the checkpoint and its history
            disagree.
    """
    diff = config_differences(cfg, run_dir)
    if diff:
        saved = saved_config(cfg, run_dir)
        hint = ""
        if set(diff) <= set(REPORT_RECIPE) and all(
            saved.get(k) == v for k, v in REPORT_RECIPE.items()
        ):
            hint = " (that run used the report's recipe: add --recipe report)"
        raise ValueError(
            f"--resume: the config differs from the run in {run_dir}: "
            + ", ".join(f"{k} was {a!r}, now {b!r}" for k, (a, b) in diff.items())
            + hint
        )
    start_epoch, history = engine.load_checkpoint(ckpt)
    if history is None:  # a checkpoint from before histories were stored in them
        history = json.loads((run_dir / "history.json").read_text())[:start_epoch]
    if len(history) != start_epoch:
        raise ValueError(
            f"--resume: {ckpt} is at epoch {start_epoch} but its history has "
            f"{len(history)} epochs; start a fresh run in another --out directory"
        )
    return start_epoch, history
