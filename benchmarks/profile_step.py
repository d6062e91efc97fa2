"""Where a training step of the fast NumPy engine spends its time: by part, or by layer type.

    LAB01_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/profile_step.py [--steps 10]
    python benchmarks/profile_step.py --by-layer [--steps 15]
    python benchmarks/profile_step.py --handoffs [--steps 60]

Default: cProfile over `--steps` full training steps (forward, loss, backward, SGD) at batch
50, the time per step in each part of the engine, then cProfile's top functions. Run it with
one thread: with the batch split over threads, the worker threads' work is invisible to
cProfile. `--by-layer`: wall-clock time of every layer's forward and backward, summed by
layer type and shape, with any number of threads (the default: all cores). `--handoffs`:
what handing work between the engine's threads costs inside a step: steps with one extra
empty round trip to the worker threads before every split call, alternated with plain steps.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

import numpy as np

# cProfile's function names -> the part of the engine they belong to ("file:function").
PARTS = {
    "layers.py:work": "convolution GEMMs (forward and backward), SiLU",
    "layout.py:im2col_nhwc": "im2col copies",
    "layout.py:pad_nhwc": "im2col copies",
    "layout.py:col2im_offsets": "col2im (stride-2 input gradients)",
    "fused.py": "BatchNorm + SiLU as one step (fast/fused.py)",
    "optim.py": "SGD",
    "parallel.py:work": "residual additions (parallel.iadd)",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--top", type=int, default=15, help="how many functions to list")
    ap.add_argument("--by-layer", action="store_true", help="time each layer type instead")
    ap.add_argument("--handoffs", action="store_true", help="time the thread hand-offs instead")
    args = ap.parse_args()

    from common import numpy_training_step

    from lab01_utils.fast import parallel

    model, step = numpy_training_step(args.batch_size)

    if args.by_layer:
        by_layer(model, step, args.steps)
        return
    if args.handoffs:
        handoffs(step, args.steps)
        return
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
    print(f"threads: {parallel.num_threads()}, batch {args.batch_size}, {args.steps} steps")
    print(f"step: {1e3 * total / args.steps:.1f} ms (under cProfile)\n")
    for part, t in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"  {part:<42} {1e3 * t / args.steps:7.1f} ms  {100 * t / total:5.1f}%")
    print()
    stats.sort_stats("tottime").print_stats(args.top)


def handoffs(step, steps: int) -> None:
    """Alternate plain steps with steps that add one empty round trip per split call."""
    from common import alternate

    from lab01_utils.fast import parallel

    plain_run_each = parallel.run_each
    calls = [0]

    def counting(work, items):
        calls[0] += len(items) > 1
        return plain_run_each(work, items)

    def with_extra(work, items):
        if len(items) > 1:
            plain_run_each(lambda item: None, items)  # the extra, empty hand-off
        return plain_run_each(work, items)

    parallel.run_each = counting
    step()
    per_step = calls[0]
    try:
        plain, extra = alternate(
            [step, step],
            steps,
            prepare=[
                lambda: setattr(parallel, "run_each", plain_run_each),
                lambda: setattr(parallel, "run_each", with_extra),
            ],
        )
    finally:
        parallel.run_each = plain_run_each
    diff = float(np.median(np.array(extra) - np.array(plain)))
    print(f"threads: {parallel.num_threads()}, {steps} steps each; split calls: {per_step} a step")
    print(
        f"plain step {np.median(plain):.1f} ms, with one extra hand-off per call "
        f"{np.median(extra):.1f} ms (medians)"
    )
    if per_step:
        each = 1e3 * diff / per_step
        print(f"paired difference {diff:.2f} ms per step: {each:.0f} us a hand-off")


def by_layer(model, step, steps: int) -> None:
    """Wrap every leaf layer's forward and backward in a timer; print ms per step by type."""
    from lab01_utils import nn
    from lab01_utils.fast import fused, parallel

    spent: dict[str, float] = {}

    def timed(fn, key):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            out = fn(*args, **kwargs)
            spent[key] = spent.get(key, 0.0) + time.perf_counter() - t0
            return out

        return wrapper

    for _, mod in model.named_modules():
        if isinstance(mod, nn.Conv2d):
            k = mod.kernel_size
            kind = f"Conv2d {k}x{k} stride {mod.stride}, C_in {mod.in_channels}"
        elif isinstance(mod, nn.BatchNorm2d):
            kind = f"BatchNorm2d {mod.num_features}"
        elif isinstance(mod, (nn.SiLU, nn.Linear, nn.GlobalAvgPool2d)):
            kind = type(mod).__name__
        else:
            continue
        mod.forward = timed(mod.forward, f"{kind}, forward")
        mod.backward = timed(mod.backward, f"{kind}, backward")

    # The blocks' BatchNorm + SiLU pairs, which run as one step (fast/fused.py).
    def timed_pair(fn, direction):
        def pair(bn, *args):
            return timed(fn, f"BatchNorm2d+SiLU {bn.num_features}, {direction}")(bn, *args)

        return pair

    fused.bn_silu_forward = timed_pair(fused.bn_silu_forward, "forward")
    fused.bn_silu_backward = timed_pair(fused.bn_silu_backward, "backward")
    for _ in range(3):
        step()
    spent.clear()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    total = (time.perf_counter() - t0) / steps
    print(f"threads: {parallel.num_threads()}, {steps} steps, step {1e3 * total:.1f} ms\n")
    for key, t in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {key:<48} {1e3 * t / steps:7.2f} ms  {100 * t / steps / total:5.1f}%")
    groups: dict[str, float] = {}
    for key, t in spent.items():
        layer = key.split()[0].rstrip(",")
        groups[layer] = groups.get(layer, 0.0) + t / steps
    print(
        "\n  "
        + ", ".join(
            f"{k} {1e3 * v:.1f} ms" for k, v in sorted(groups.items(), key=lambda kv: -kv[1])
        )
    )


if __name__ == "__main__":
    main()
