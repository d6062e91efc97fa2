"""Task 1 vs Task 2 side by side: a markdown table and a PNG of both tasks' curves.

python -m lab01_utils.compare runs/            # reads runs/task1_numpy, runs/task2_torch
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import TASK_DIRS, TASK_NAMES
from .files import atomic_write, atomic_write_text
from .plots import plot_training_curves
from .runs import load_history

# What a run measured besides the report's fields, where it did: (key in the last epoch's
# record, row label). `--ema-decay`: the EMA model's accuracy, the model weights.npz keeps;
# `--tta`: the last epoch over ten views.
EXTRA_ROWS = (
    ("ema_val_acc", "Final val accuracy, EMA model (%)"),
    ("tta_val_acc", "Final val accuracy, TTA (%)"),
)


def summarize(history: list[dict]) -> dict:
    """Final and best validation accuracy, final train accuracy and the mean epoch time; the
    final EMA and TTA accuracies where the run measured them."""
    if not history:
        raise ValueError("empty history")
    last = history[-1]
    return {
        "epochs": len(history),
        "final_val_acc": last["val_acc"],
        "best_val_acc": max(r["val_acc"] for r in history),
        "final_train_acc": last["train_acc"],
        "final_val_loss": last["val_loss"],
        "mean_epoch_time": sum(r["epoch_time"] for r in history) / len(history),
        **{key: last[key] for key, _ in EXTRA_ROWS if key in last},
    }


def comparison_table(histories: dict[str, list[dict]]) -> str:
    """A markdown table with one column per task, plus the NumPy/torch epoch-time ratio."""
    names = [t for t in ("numpy", "torch") if t in histories]
    s = {t: summarize(histories[t]) for t in names}
    rows = [
        ("Epochs", "{epochs}"),
        ("Final val accuracy (%)", "{final_val_acc:.2f}"),
        ("Best val accuracy (%)", "{best_val_acc:.2f}"),
        ("Final train accuracy (%)", "{final_train_acc:.2f}"),
        ("Final val loss", "{final_val_loss:.4f}"),
        ("Mean epoch time (s)", "{mean_epoch_time:.1f}"),
    ]
    lines = [
        "| | " + " | ".join(TASK_NAMES[t] for t in names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for label, fmt in rows:
        lines.append(f"| {label} | " + " | ".join(fmt.format(**s[t]) for t in names) + " |")
        if label.startswith("Final val accuracy"):  # then the EMA and TTA figures, if any
            for key, extra in EXTRA_ROWS:
                if any(key in s[t] for t in names):
                    cells = [f"{s[t][key]:.2f}" if key in s[t] else "-" for t in names]
                    lines.append(f"| {extra} | " + " | ".join(cells) + " |")
    if len(names) == 2:
        ratio = s["numpy"]["mean_epoch_time"] / s["torch"]["mean_epoch_time"]
        gap = s["numpy"]["final_val_acc"] - s["torch"]["final_val_acc"]
        lines += [
            "",
            f"Epoch time ratio NumPy / PyTorch: **{ratio:.2f}x**. "
            f"Final accuracy difference (NumPy - PyTorch): {gap:+.2f} points.",
            "",
            "The epoch times compare the two engines only when both runs had the machine to "
            "themselves with the same number of cores (each run's `config.json`: "
            "`numpy_processes`, `torch_threads`).",
        ]
    return "\n".join(lines) + "\n"


def write_comparison(run_root: str | Path, out_dir: str | Path | None = None) -> tuple[Path, Path]:
    """Write `comparison.md` and `comparison.png` for the tasks found under `run_root`."""
    run_root = Path(run_root)
    out_dir = Path(out_dir) if out_dir is not None else run_root
    histories = {}
    for task, sub in TASK_DIRS.items():
        if (run_root / sub / "history.json").exists():
            histories[task] = load_history(run_root / sub)
    if not histories:
        raise FileNotFoundError(
            f"no finished task under {run_root} (expected {list(TASK_DIRS.values())})"
        )
    md, png = out_dir / "comparison.md", out_dir / "comparison.png"
    atomic_write_text(md, "# Task 1 vs Task 2\n\n" + comparison_table(histories))
    fig = plot_training_curves({TASK_NAMES.get(t, t): h for t, h in histories.items()})
    atomic_write(png, lambda f: fig.savefig(f, format="png", dpi=110))
    return md, png


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lab01_utils.compare", description=__doc__)
    ap.add_argument("run_root", nargs="?", default="runs")
    args = ap.parse_args(argv)
    try:
        md, png = write_comparison(args.run_root)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(md.read_text())
    print(f"wrote {md} and {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
