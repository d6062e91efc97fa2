"""Is the engine faster with setting A or B? Alternate them step by step in one process.

    python benchmarks/ab_setting.py lab01_utils.fast.parallel MIN_ELEMENTS "1 << 15" "1 << 18"
    OPENBLAS_NUM_THREADS=1 python benchmarks/ab_setting.py lab01_utils.fast.parallel \\
        _threads 1 2          # one engine thread against two (see below)

Sets the module-level name `ATTR` of `MODULE` to each value in turn (values are Python
expressions), one NumPy training step (forward, loss, backward, SGD; a batch of
`--batch-size`, 50) per value, alternating the order, `--steps` times each, and prints each
value's median, 25th percentile and minimum, and the median of the step-by-step ratios
against the first value.

Why alternate steps: this machine's speed drifts by tens of percent within minutes, so two
runs one after the other compare the drift, not the settings; the paired ratio of steps
taken a fraction of a second apart does not. A setting the engine reads at call time (as
`parallel.MIN_ELEMENTS`) can be compared this way; one read at import cannot.

`parallel._threads` with NumPy's BLAS held at one thread (`OPENBLAS_NUM_THREADS=1`) compares
thread counts fairly; without it, `set_num_threads(1)` would hand the BLAS its threads back.
"""

from __future__ import annotations

import argparse
import importlib
import statistics

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("module", help="e.g. lab01_utils.fast.parallel")
    ap.add_argument("attr", help="a module-level name, e.g. MIN_ELEMENTS")
    ap.add_argument("values", nargs="+", help="Python expressions, at least two")
    ap.add_argument("--steps", type=int, default=60, help="timed steps per value")
    ap.add_argument("--batch-size", type=int, default=50)
    args = ap.parse_args()
    if len(args.values) < 2:
        ap.error("give at least two values to compare")

    from common import alternate, numpy_training_step, paired_ratio

    module = importlib.import_module(args.module)
    if not hasattr(module, args.attr):
        ap.error(f"{args.module} has no attribute {args.attr!r}")
    values = [eval(v, {}) for v in args.values]  # noqa: S307 (the user's own command line)

    restarts_workers = args.module.endswith("parallel") and args.attr == "_threads"

    def use(value) -> None:
        if restarts_workers:
            module.set_num_threads(value)  # new worker threads...
            step()  # ...whose threads start here, untimed
        else:
            setattr(module, args.attr, value)

    _, step = numpy_training_step(args.batch_size)

    times = alternate(
        [step] * len(values), args.steps, prepare=[lambda v=v: use(v) for v in values]
    )
    print(f"{args.module}.{args.attr}, {args.steps} steps each, batch {args.batch_size}")
    for text, ts in zip(args.values, times, strict=True):
        ratio = paired_ratio(ts, times[0])
        print(
            f"  {text:>12s}: median {statistics.median(ts):7.1f} ms, "
            f"p25 {np.percentile(ts, 25):7.1f}, min {min(ts):7.1f}; "
            f"step by step against the first: {ratio:.3f}x"
        )


if __name__ == "__main__":
    main()
