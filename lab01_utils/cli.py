"""The command line of the training loop: `python -m lab01_utils.train --help`.

Every option maps to one `TrainConfig` field, and its help text shows that field's default
as `config.py` defines it (and where `--recipe report` or `--profile quick` changes it), so
the help cannot disagree with the code.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .config import (
    DEVICES,
    ENGINES,
    ENV_PROFILE,
    PROFILES,
    RECIPES,
    SCHEDULES,
    TASK_DIRS,
    TrainConfig,
    TrainingDiverged,
    describe_default,
)
from .data import default_profile
from .models import fast_engine
from .train import train

# (flag, TrainConfig field, type, help); the default is appended from config.py.
VALUE_OPTIONS = (
    ("--epochs", "epochs", int, "number of epochs"),
    ("--batch-size", "batch_size", int, "mini-batch size"),
    ("--lr", "lr", float, "initial learning rate"),
    ("--momentum", "momentum", float, "SGD momentum"),
    ("--weight-decay", "weight_decay", float, "L2 weight decay"),
    ("--seed", "seed", int, "seed of the initial weights and of the batches"),
    ("--max-shift", "max_shift", int, "largest shift in pixels on each axis"),
    ("--flip-prob", "flip_prob", float, "probability of a left-right flip"),
    (
        "--erase-prob",
        "erase_prob",
        float,
        "random erasing: blank a random box in each training image with this probability",
    ),
    (
        "--label-smoothing",
        "label_smoothing",
        float,
        "training loss: this much of each target spread over all classes (0: none)",
    ),
    ("--warmup-epochs", "warmup_epochs", int, "the cosine schedule's linear warm-up"),
    (
        "--ema-decay",
        "ema_decay",
        float,
        "evaluate an exponential moving average of the weights and buffers with this decay "
        "per step (0: off)",
    ),
    ("--train-limit", "train_limit", int, "use only the first N training images"),
    (
        "--val-split",
        "val_split",
        int,
        "evaluate on the last N training images, held out of training, instead of the test "
        "set (for choosing a recipe; 0: the test set)",
    ),
    ("--threads", "torch_threads", int, "torch CPU threads"),
)
# What a default of None means, in words.
NONE_MEANS = {"train_limit": "all of them", "torch_threads": "torch's own choice"}
# (flag, TrainConfig field, help) of the switches that turn a default-off feature on.
SWITCHES = (
    ("--nesterov", "nesterov", "Nesterov momentum"),
    (
        "--zero-init-residual",
        "zero_init_residual",
        "start the last conv of every residual branch at zero",
    ),
    ("--tta", "tta", "also evaluate the last epoch with the 10-view test-time augmentation"),
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m lab01_utils.train",
        description=(
            "Train the lab's pre-activation ResNet on Fashion-MNIST: Task 1 in NumPy, Task 2 in "
            "PyTorch, same data, batches, initial weights and recipe. One report-format line "
            "per epoch; a checkpoint after every epoch (use --resume after an interruption)."
        ),
    )
    p.add_argument(
        "--task", choices=["numpy", "torch", "both"], default="both", help="default: both"
    )
    p.add_argument(
        "--profile",
        choices=PROFILES,
        default=None,
        help="quick: the embedded sample, a run of seconds; full: the recipe on the full "
        f"data. Default: ${ENV_PROFILE}, else full when the data is here, else quick",
    )
    p.add_argument(
        "--recipe",
        choices=sorted(RECIPES),
        default="lab",
        help="lab: the lab's recipe (the defaults below); report: the report's exact recipe; "
        "improved: the one the accuracy sweep chose (label smoothing 0.1, a 1-epoch warm-up "
        "then cosine from lr 0.05, EMA 0.999; docs/RESULTS.md). The other options override "
        "it. Default: lab",
    )
    for flag, name, kind, text in VALUE_OPTIONS:
        default = NONE_MEANS[name] if name in NONE_MEANS else describe_default(name)
        p.add_argument(
            flag,
            dest=name,
            type=kind,
            default=None,
            metavar=flag[2:].upper().replace("-", "_"),
            help=f"{text} (default: {default})",
        )
    p.add_argument(
        "--milestones",
        type=int,
        nargs="*",
        default=None,
        help=f"epochs after which lr *= gamma (default: {describe_default('milestones')})",
    )
    p.add_argument(
        "--widths",
        type=int,
        nargs=3,
        default=None,
        help=f"stage widths (default: {describe_default('widths')})",
    )
    p.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default=None,
        help="learning rate: step (x gamma after each milestone epoch) or cosine (a linear "
        f"warm-up, then a cosine decay to 0, per batch) (default: {describe_default('schedule')})",
    )
    p.add_argument("--no-augment", action="store_true", help="train without shifts and flips")
    for flag, name, text in SWITCHES:
        p.add_argument(
            flag, dest=name, action="store_true", default=None, help=f"{text} (default: off)"
        )
    p.add_argument("--out", default="runs", help="output directory (default: runs)")
    p.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=False,
        choices=[True, "auto"],
        type=lambda v: "auto" if v == "auto" else v,
        help="continue the run in --out from its checkpoint (an error if there is none); "
        "--resume auto: continue it if there is one, else start",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="start anew where a run already is: the old run is moved aside first, whole "
        "(to <folder>.replaced-<time>)",
    )
    p.add_argument(
        "--device",
        choices=DEVICES,
        default=None,
        help=f"torch only (default: {describe_default('device')})",
    )
    p.add_argument(
        "--engine",
        choices=["auto", *ENGINES],
        default=TrainConfig.numpy_engine,
        help="Task 1's engine: plain (the textbook layers of nn/), fast (lab01_utils/fast/: "
        "channels-last, threaded, fused; same results), auto (the fastest this package has). "
        f"Default: {describe_default('numpy_engine')}",
    )
    p.add_argument(
        "--processes",
        type=int,
        default=None,
        help="Task 1 on this many processes, each on its share of every batch (fast engine "
        "only). Default: one per core on Linux with the fast engine, else 1",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars or log lines")
    return p


def cli_processes(engine: str, processes: int | None) -> int:
    """`--processes`, or where it is not given, the command line's default: one process per
    core where the fast engine runs and forking is safe (`fast.default_processes`), else 1."""
    if processes is not None:
        return processes
    fast = fast_engine()
    if fast is None or engine == "plain":
        return 1
    return fast.default_processes()


def config_from_args(args: argparse.Namespace, task: str) -> TrainConfig:
    overrides = {name: getattr(args, name) for _, name, _, _ in VALUE_OPTIONS}
    overrides |= {name: getattr(args, name) for _, name, _ in SWITCHES}
    overrides |= {
        "task": task,
        "milestones": tuple(args.milestones) if args.milestones is not None else None,
        "widths": tuple(args.widths) if args.widths else None,
        "augment": False if args.no_augment else None,
        "schedule": args.schedule,
        "device": args.device,
        "numpy_engine": args.engine,
        "numpy_processes": cli_processes(args.engine, args.processes),
    }
    return TrainConfig.for_profile(args.profile or default_profile(), args.recipe, **overrides)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    tasks = ["numpy", "torch"] if args.task == "both" else [args.task]
    try:
        for task in tasks:
            cfg = config_from_args(args, task)
            train(cfg, args.out, resume=args.resume, quiet=args.quiet, overwrite=args.overwrite)
    except (ValueError, TrainingDiverged, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # --out unusable: a file, not writable, a full disk, a size limit
        where = f" ({e.filename})" if e.filename else ""
        print(
            f"error: cannot write the run under --out {args.out}{where}: "
            f"{e.strerror or e}; choose another --out or free the space",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted; {checkpoint_state(args.out)}", file=sys.stderr)
        return 130
    return 0


def checkpoint_state(out) -> str:
    """What an interrupted command left in `out`, truthfully: which task's run is checkpointed
    at which epoch, or that no epoch finished."""
    found = []
    for folder in TASK_DIRS.values():
        try:
            history = json.loads((Path(out) / folder / "history.json").read_text())
        except (OSError, ValueError):
            continue
        found.append(f"{folder} at epoch {len(history)}")
    if not found:
        return f"no epoch had finished, so nothing is checkpointed in {out}"
    return f"checkpointed in {out}: {', '.join(found)}; rerun with --resume to continue"


if __name__ == "__main__":
    sys.exit(main())
