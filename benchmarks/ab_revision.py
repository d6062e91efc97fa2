"""Is the engine in the working tree faster than at git revision REV? Alternate, step by step.

    python benchmarks/ab_revision.py REV [--steps 60] [--batch-size 50]
    python benchmarks/ab_revision.py HEAD~1

Extracts `lab01_utils/` as it was at REV (`git archive`) into a temporary folder under another
package name, imports both versions into this one process, builds the same model with each,
and times one NumPy training step of each in turn (alternating the order), `--steps` times.
Prints both medians and the median of the step-by-step ratios (working tree / REV; below 1 the
working tree is faster). Like `ab_setting.py` this compares two engines within the same
seconds, which this machine's drift allows no other way; unlike it, any change can be compared.
Both engines keep their own worker threads; each one's workers sleep while the other computes
(after `parallel.THREAD_SPIN_SECONDS` of checking for work).
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from common import alternate, numpy_training_step, paired_ratio

ROOT = Path(__file__).resolve().parents[1]
OLD = "lab01_at_rev"  # the package name REV's engine is imported under


def extract(rev: str, into: Path) -> None:
    """`lab01_utils/` at `rev` -> `into/OLD/` (its imports inside the package are relative)."""
    proc = subprocess.run(
        ["git", "archive", "--format=tar", rev, "lab01_utils"],
        cwd=ROOT,
        capture_output=True,
    )
    if proc.returncode != 0:
        sys.exit(f"ab_revision.py: git archive {rev} failed: {proc.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        tar.extractall(into, filter="data")
    (into / "lab01_utils").rename(into / OLD)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("rev", help="a git revision, e.g. HEAD~1 or a commit hash")
    ap.add_argument("--steps", type=int, default=60, help="timed steps per engine")
    ap.add_argument("--batch-size", type=int, default=50)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        extract(args.rev, Path(tmp))
        sys.path.insert(0, tmp)
        steps = {
            "working tree": numpy_training_step(args.batch_size)[1],
            args.rev: numpy_training_step(args.batch_size, package=OLD)[1],
        }
        times = alternate(list(steps.values()), args.steps)
    print(f"{args.steps} steps each, batch {args.batch_size}")
    for name, ts in zip(steps, times, strict=True):
        print(f"  {name:>14s}: median {statistics.median(ts):7.1f} ms")
    print(f"working tree / {args.rev}, step by step: {paired_ratio(times[0], times[1]):.3f}x")


if __name__ == "__main__":
    main()
