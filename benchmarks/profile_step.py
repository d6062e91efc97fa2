"""Where a NumPy training step spends its time, by function (cProfile, one thread).

    LAB01_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/profile_step.py [--steps 10]

Profiles `--steps` full training steps (forward, loss, backward, SGD) at batch 50 and prints
the time per step in each part of the engine, then cProfile's top functions. Run it with one
thread: with the batch split over threads, the pool threads' work is invisible to cProfile.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats

import numpy as np

# cProfile's function names -> the part of the engine they belong to ("file:function").
PARTS = {
    "conv.py:work": "convolution GEMMs (forward and backward)",
    "functional.py:im2col": "im2col copies",
    "functional.py:pad_nhwc": "im2col copies",
    "functional.py:col2im_offsets": "col2im (stride-2 input gradients)",
    "norm.py": "BatchNorm",
    "activation.py": "SiLU",
    "optim.py": "SGD",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--top", type=int, default=15, help="how many functions to list")
    args = ap.parse_args()

    from lab01_utils import nn
    from lab01_utils.models import build_numpy_model
    from lab01_utils.optim import SGD

    rng = np.random.default_rng(0)
    x = rng.random((args.batch_size, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, args.batch_size)
    model = build_numpy_model(seed=0)
    opt = SGD(model.parameters(), lr=0.03, momentum=0.9, weight_decay=2e-4)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        loss_fn(model(x), y)
        model.backward(loss_fn.backward(), input_grad=False)
        opt.step()

    for _ in range(3):  # warm-up: allocations, BLAS start-up
        step()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(args.steps):
        step()
    prof.disable()
    stats = pstats.Stats(prof)

    total = max(v[3] for v in stats.stats.values())  # cumulative time of the outermost call
    parts: dict[str, float] = {}
    for (filename, _, func), (_, _, tottime, _, _) in stats.stats.items():
        name = f"{filename.rsplit('/', 1)[-1]}:{func}"
        part = next((p for key, p in PARTS.items() if name.startswith(key)), "everything else")
        parts[part] = parts.get(part, 0.0) + tottime
    print(f"threads: {nn.parallel.num_threads()}, batch {args.batch_size}, {args.steps} steps")
    print(f"step: {1e3 * total / args.steps:.1f} ms (under cProfile)\n")
    for part, t in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"  {part:<42} {1e3 * t / args.steps:7.1f} ms  {100 * t / total:5.1f}%")
    print()
    stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
