"""A run's folder: who may write it (one run at a time, never over another run unasked),
whether its checkpoint belongs to this recipe, and the epoch and history to continue from.

Each engine writes and reads its own checkpoint (`engines.py`: `.npz` for Task 1, a
`weights_only` torch file for Task 2), atomically, after every epoch; the checkpoint carries
the history too, so a resume never depends on `history.json` having been written after it (a
crash can fall between the two writes).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict
from pathlib import Path

from .config import FREE, REPORT_RECIPE, TrainConfig
from .digests import RunFileError, read_json

try:
    import fcntl
except ImportError:  # Windows: no lock (one run per folder is then up to the user)
    fcntl = None

__all__ = [
    "RunDirError",
    "claim",
    "config_differences",
    "holds_a_run",
    "resume",
    "run_lock",
    "saved_config",
]


def saved_config(cfg: TrainConfig, run_dir: Path) -> dict:
    """The config of the run in `run_dir` (`config.json`) as JSON values; a key missing from
    an older run's config.json had its default value then."""
    saved = json.loads(json.dumps(asdict(TrainConfig(task=cfg.task, profile=cfg.profile))))
    found = read_json(
        run_dir / "config.json",
        "config",
        "the recipe of that run is unknown, so it cannot be resumed: start it anew with "
        "--overwrite (the old files are moved aside)",
    )
    if not isinstance(found, dict):
        raise RunFileError(f"{run_dir / 'config.json'}: not a run's config (a JSON object)")
    saved.update(found)
    return saved


def config_differences(cfg: TrainConfig, run_dir: Path) -> dict[str, tuple]:
    """`{key: (in the run, now)}` for each recipe value of `cfg` that differs from the run in
    `run_dir`; the values in `config.FREE` (epochs, device, threads, engine) may change."""
    saved = saved_config(cfg, run_dir)
    now = json.loads(json.dumps(asdict(cfg)))
    # A cosine schedule decays to 0 at the last epoch: the epoch count is part of its recipe.
    free = [k for k in FREE if not (k == "epochs" and cfg.schedule == "cosine")]
    return {k: (saved.get(k), v) for k, v in now.items() if k not in free and saved.get(k) != v}


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
    if cfg.epochs < start_epoch:
        raise ValueError(
            f"--resume: the run in {run_dir} has done {start_epoch} epochs, more than the "
            f"{cfg.epochs} asked for: ask for at least {start_epoch} (--epochs), or use another "
            "--out"
        )
    if history is None:  # a checkpoint from before histories were stored in them
        history = read_json(run_dir / "history.json", "history", "start it anew (--overwrite)")
        history = history[:start_epoch]
    if len(history) != start_epoch:
        raise ValueError(
            f"--resume: {ckpt} is at epoch {start_epoch} but its history has "
            f"{len(history)} epochs; start a fresh run in another --out directory"
        )
    return start_epoch, history


# ----------------------------------------------------------------------------- run ownership
class RunDirError(ValueError):
    """A run directory holds another run, or another process is writing it."""


RESUME_CHOICES = (False, True, "auto")
_RUN_FILES = ("history.json", "weights.npz", "checkpoint.npz", "checkpoint.pt")


def holds_a_run(run_dir: Path) -> bool:
    """Whether `run_dir` holds a run's results (a checkpoint, a history or weights); a
    `config.json` alone, left by a run stopped before its first epoch, holds nothing."""
    return any((run_dir / name).exists() for name in _RUN_FILES)


def claim(run_dir: Path, resume, overwrite: bool, checkpoint_name: str) -> bool:
    """Decide how a run may use `run_dir`; True when it continues the run there.

    `resume`: False (a new run: refused where a run is, unless `overwrite`), True (continue
    the run there: an error if there is none) or "auto" (continue it if there is one, else
    start). `overwrite` first moves an existing run aside, whole, to a sibling folder
    `<name>.replaced-<time>` (nothing is deleted).
    """
    if resume not in RESUME_CHOICES:
        raise ValueError(f"resume must be False, True or 'auto', got {resume!r}")
    for stale in run_dir.glob(".*.tmp"):  # half-written by a killed run (we hold the lock)
        stale.unlink(missing_ok=True)
    has_ckpt = (run_dir / checkpoint_name).exists()
    if resume is True and not has_ckpt and not overwrite:
        raise RunDirError(
            f"--resume: no checkpoint ({checkpoint_name}) in {run_dir}: nothing to resume; "
            "run without --resume to start it"
        )
    if resume and has_ckpt and not overwrite:
        return True
    if holds_a_run(run_dir):
        if not overwrite:
            raise RunDirError(
                f"{run_dir} holds a run ({_describe(run_dir)}): --resume continues it, "
                "--overwrite moves it aside and starts anew, or choose another --out"
            )
        aside = run_dir.with_name(f"{run_dir.name}.replaced-{time.strftime('%Y%m%d-%H%M%S')}")
        run_dir.rename(aside)
        run_dir.mkdir(parents=True)
        print(f"--overwrite: the earlier run is now in {aside}")
    return False


def _describe(run_dir: Path) -> str:
    try:
        history = json.loads((run_dir / "history.json").read_text())
        epochs = f"{len(history)} epoch{'s' if len(history) != 1 else ''} done"
    except (OSError, ValueError):
        epochs = "no readable history"
    finished = "finished" if (run_dir / "weights.npz").exists() else "not finished"
    return f"{epochs}, {finished}"


@contextlib.contextmanager
def run_lock(run_dir: Path):
    """Hold `.<name>.lock` beside `run_dir` for the run's life: a second run into the same
    folder is refused, naming the first one's pid and start time. The operating system
    releases the lock when its process ends, however it ends: a killed run leaves none."""
    if fcntl is None:
        yield
        return
    path = run_dir.with_name(f".{run_dir.name}.lock")  # beside it: --overwrite moves the folder
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise RunDirError(
                f"{run_dir} is in use by another run ({other}): wait for it to end, or choose "
                "another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(
            fd, f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}".encode(), 0
        )
        yield
    finally:
        os.close(fd)  # releases the lock
