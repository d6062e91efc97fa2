"""Each layer of the lab's model, NumPy against torch: forward + backward, layer by layer.

    python benchmarks/compare_layers.py [--reps 30] [--threads 2] [--batch-size 50]

`bench_step.py` says how far apart the two training steps are; this says where. It records
the input shape of every leaf layer (convolutions, BatchNorm, SiLU) in one forward pass of the
NumPy model, then times, for each distinct layer and shape, a forward and a backward of the
NumPy layer and of its torch twin (`torch.nn` with the same weights, NCHW input, autograd),
and prints the medians, their ratio, and the totals per layer type weighted by how often the
model uses each layer. As in training, the first convolution computes no input gradient.
`--threads` sets both frameworks' threads (for one thread, also set `OPENBLAS_NUM_THREADS=1`,
as `set_num_threads(1)` hands NumPy's BLAS its own threads back).

Each framework is timed in its own run of `--reps` calls, with a pause before it: torch's
OpenMP threads keep spinning for a while after its last operation, and timed right after
them the NumPy layer would find one core taken.

A layer timed on its own is not a layer inside a training step: it re-allocates the same few
arrays call after call (with page faults a step mostly does not have), and it finds its data
in the cache. Read the ratios, and the totals as where a step's time goes, not as a step.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter

import numpy as np


def median_ms(fn, reps: int, pause: float) -> float:
    time.sleep(pause)
    for _ in range(3):  # warm-up
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def layer_shapes(model, x) -> Counter:
    """How often each (kind, layer config, input shape, needs dx) occurs in one forward."""
    from lab01_utils import nn

    seen: Counter = Counter()
    originals = {}
    for _, mod in model.named_modules():
        if isinstance(mod, nn.Conv2d):
            cfg = (mod.in_channels, mod.out_channels, mod.kernel_size, mod.stride, mod.padding)
            key = ("Conv2d", cfg, mod is not model.stem)
        elif isinstance(mod, nn.BatchNorm2d):
            key = ("BatchNorm2d", (mod.num_features,), True)
        elif isinstance(mod, nn.SiLU):
            key = ("SiLU", (), True)
        else:
            continue

        def record(inp, key=key, fwd=mod.forward):
            seen[(*key, inp.shape)] += 1
            return fwd(inp)

        originals[mod] = mod.forward
        mod.forward = record
    # The model's blocks may run each BatchNorm + SiLU pair as one step (fast/fused.py), which
    # calls neither module's forward: record through the plain block's forward instead.
    for _, mod in model.named_modules():
        if isinstance(mod, nn.PreActBlock) and type(mod).forward is not nn.PreActBlock.forward:
            originals[mod] = mod.forward
            mod.forward = nn.PreActBlock.forward.__get__(mod)
    try:
        model(x)
    finally:
        for mod in originals:
            del mod.forward  # the instance attribute: the class's forward again
    return seen


def twins(kind: str, cfg: tuple):
    """A fresh fast NumPy layer and its torch twin with the same weights."""
    import torch

    from lab01_utils import fast, nn

    if kind == "Conv2d":
        c_in, c_out, k, s, p = cfg
        ours = nn.Conv2d(c_in, c_out, k, s, p, bias=False, rng=np.random.default_rng(0))
        theirs = torch.nn.Conv2d(c_in, c_out, k, s, p, bias=False)
        theirs.weight.data = torch.from_numpy(ours.weight.data.copy())
    elif kind == "BatchNorm2d":
        ours, theirs = nn.BatchNorm2d(cfg[0]), torch.nn.BatchNorm2d(cfg[0])
    else:
        ours, theirs = nn.SiLU(), torch.nn.SiLU()
    return fast.accelerate(ours), theirs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument(
        "--threads", type=int, default=2, help="threads of both: torch's and the NumPy engine's"
    )
    ap.add_argument("--pause", type=float, default=0.3, help="seconds before each timed run")
    args = ap.parse_args()

    import torch

    from lab01_utils.fast import parallel
    from lab01_utils.fast.layout import nchw_view
    from lab01_utils.models import build_numpy_model

    torch.set_num_threads(args.threads)
    parallel.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    shapes = layer_shapes(
        build_numpy_model(seed=0, engine="fast"), rng.random((args.batch_size, 1, 28, 28))
    )

    print(
        f"batch {args.batch_size}; NumPy engine threads {parallel.num_threads()}, "
        f"torch threads {torch.get_num_threads()}; forward + backward, median of {args.reps}\n"
    )
    print(f"  {'layer':44s} {'used':>4s} {'numpy':>8s} {'torch':>8s} {'ratio':>6s}")
    totals: dict[str, list[float]] = {}
    for (kind, cfg, needs_dx, shape), count in sorted(shapes.items(), key=lambda kv: str(kv[0])):
        ours, theirs = twins(kind, cfg)
        if kind == "Conv2d":
            ours.input_grad = needs_dx
        n, c, h, w = shape
        # Inputs as the fast engine sees them: channels-last memory (fast/layout.py).
        x = nchw_view(rng.standard_normal((n, h, w, c), dtype=np.float32))
        _, c_out, h_out, w_out = ours(x).shape
        dy = nchw_view(rng.standard_normal((n, h_out, w_out, c_out), dtype=np.float32))
        xt = torch.from_numpy(np.ascontiguousarray(x)).requires_grad_(needs_dx)
        dyt = torch.from_numpy(np.ascontiguousarray(dy))

        def numpy_layer(ours=ours, x=x, dy=dy):
            ours(x)
            ours.backward(dy)

        def torch_layer(theirs=theirs, xt=xt, dyt=dyt):
            theirs.zero_grad(set_to_none=True)
            xt.grad = None
            theirs(xt).backward(dyt)

        tn = median_ms(numpy_layer, args.reps, args.pause)
        tt = median_ms(torch_layer, args.reps, args.pause)
        name = f"{kind} {cfg} on {tuple(shape[1:])}" if cfg else f"{kind} on {tuple(shape[1:])}"
        print(f"  {name:44s} {count:4d} {tn:8.2f} {tt:8.2f} {tn / tt:5.2f}x")
        total = totals.setdefault(kind, [0.0, 0.0])
        total[0] += count * tn
        total[1] += count * tt
    print("\n  totals per training step (each layer times how often the model uses it):")
    all_n = all_t = 0.0
    for kind, (tn, tt) in totals.items():
        print(f"  {kind:44s} {'':4s} {tn:8.1f} {tt:8.1f} {tn / tt:5.2f}x")
        all_n, all_t = all_n + tn, all_t + tt
    print(f"  {'all of them':44s} {'':4s} {all_n:8.1f} {all_t:8.1f} {all_n / all_t:5.2f}x")


if __name__ == "__main__":
    main()
