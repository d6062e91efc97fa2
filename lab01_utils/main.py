"""`make run`: train Task 1 (NumPy) and Task 2 (PyTorch), then write the comparison.

Task 1 runs on the exercises' code: until every exercise passes its check, `make run` lists
what is left (`lab01_utils.progress`) and exits with status 2, training nothing.

The profile is `$LAB01_PROFILE` if set, else `full` (the lab's recipe, ~hours on a laptop CPU)
when the full Fashion-MNIST is on this machine, else `quick` (the embedded sample, seconds).
Runs resume from their checkpoints, so an interrupted `make run` continues where it stopped.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import progress
from .compare import write_comparison
from .config import TrainConfig, TrainingDiverged
from .data import data_source_name, default_profile
from .train import train


def main(argv: Sequence[str] | None = None) -> int:
    argparse.ArgumentParser(
        prog="python -m lab01_utils.main",
        description="`make run`: train Task 1 (NumPy, on the exercises' code) and Task 2 "
        "(PyTorch), then write the comparison into runs/<profile>/. The profile is "
        "$LAB01_PROFILE, else full when the full data is here, else quick. Runs resume from "
        "their checkpoints. No options: `python -m lab01_utils.train --help` has them all.",
    ).parse_args(argv)
    states = progress.statuses()
    if any(s.state != progress.DONE for s in states.values()):
        print(progress.report(states))
        print("\n`make run` trains your own engine once every exercise passes its check.")
        return 2
    profile = default_profile()
    out = Path("runs") / profile
    print(f"lab01: profile '{profile}' (set LAB01_PROFILE=quick|full to choose)")
    data = "the embedded sample" if profile == "quick" else data_source_name("train")
    print(f"lab01: training data: {data}")
    if profile == "full":
        print("lab01: the full recipe takes hours on a laptop CPU; Ctrl-C is safe, rerun resumes")
    try:
        for task in ("numpy", "torch"):
            cfg = TrainConfig.for_profile(profile, task=task)
            # Resume whatever an earlier, interrupted `make run` left.
            train(cfg, out, resume="auto")
    except (TrainingDiverged, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: checkpoints are in {out}; `make run` resumes", file=sys.stderr)
        return 130
    md, png = write_comparison(out)
    print()
    print(md.read_text())
    print(f"comparison: {md}\ncurves:     {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
