"""Time one training step (forward, loss, backward, SGD) at batch 50: NumPy vs torch CPU.

Both models run in one process, interleaved, several repetitions; prints both medians, the
projected seconds per 60,000-image epoch, the ratio, and where the NumPy time goes.

    python benchmarks/bench_step.py [--reps 30] [--batch-size 50] [--threads 2]
                                    [--numpy-engine processes|threads|plain]

The NumPy model runs the fast engine (`lab01_utils/fast/`) on as many cores as torch gets
threads (`--threads`): by default as that many processes, each on its share of the batch
(`fast/data_parallel.py`), or with `--numpy-engine threads` as one process that splits every
layer between threads (`fast/parallel.py`). `--numpy-engine plain` runs the textbook layers of
`lab01_utils/nn/` (one thread of Python; NumPy's BLAS uses its own threads in the matrix
products), the only engine of the student release and its default there.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from common import blas_report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    ap.add_argument(
        "--pause",
        type=float,
        default=0.2,
        help="seconds between steps, so OpenBLAS's spinning workers go to sleep "
        "and do not steal the cores from the next framework's step",
    )
    ap.add_argument("--no-breakdown", action="store_true")
    ap.add_argument(
        "--numpy-engine",
        choices=("processes", "threads", "plain"),
        default=None,
        help="the NumPy engine: the fast one on processes or threads, or the textbook layers "
        "(default: processes where the package has lab01_utils/fast/, else plain)",
    )
    args = ap.parse_args()

    import torch

    from lab01_utils import nn
    from lab01_utils.models import build_numpy_model, build_torch_model, torch_state_to_numpy
    from lab01_utils.optim import SGD

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    b = args.batch_size
    x = rng.random((b, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, b)

    tm = build_torch_model(seed=0)
    nm = build_numpy_model(seed=0, engine="plain" if args.numpy_engine == "plain" else "auto")
    nm.load_state_dict(torch_state_to_numpy(tm.state_dict()))
    topt = torch.optim.SGD(tm.parameters(), lr=0.03, momentum=0.9, weight_decay=5e-4)
    nopt = SGD(nm.parameters(), lr=0.03, momentum=0.9, weight_decay=5e-4)
    engine, run = numpy_engine(nm, args.numpy_engine, args.threads)
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def numpy_step():
        logits = run(x)
        loss_fn(logits, y)
        run.backward(loss_fn.backward(), input_grad=False)
        nopt.step()

    def torch_step():
        topt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(tm(xt), yt)
        loss.backward()
        topt.step()

    for _ in range(3):
        numpy_step()
        torch_step()
    tn, tt = [], []
    for _ in range(args.reps):
        time.sleep(args.pause)
        t0 = time.perf_counter()
        numpy_step()
        tn.append(time.perf_counter() - t0)
        time.sleep(args.pause)
        t0 = time.perf_counter()
        torch_step()
        tt.append(time.perf_counter() - t0)
    mn, mt = statistics.median(tn), statistics.median(tt)
    steps = 60000 / b
    print(
        f"cpu cores: {os.cpu_count()}, torch threads: {torch.get_num_threads()}, "
        f"NumPy: {engine}, batch {b}"
    )
    print(blas_report())
    print(f"numpy step  median {mn * 1e3:7.1f} ms  -> {mn * steps:6.1f} s / 60k-image epoch")
    print(f"torch step  median {mt * 1e3:7.1f} ms  -> {mt * steps:6.1f} s / 60k-image epoch")
    print(f"ratio numpy / torch: {mn / mt:.2f}x")
    # Each NumPy step and the torch step right after it saw the same machine: the median of
    # those pairs' ratios is less moved by the machine's drift than the ratio of medians.
    paired = statistics.median(a / b for a, b in zip(tn, tt, strict=True))
    print(f"paired ratio (median of step-by-step ratios): {paired:.2f}x")

    if hasattr(run, "close"):
        run.close()
    if not args.no_breakdown:
        if engine.endswith("processes (data_parallel.py)"):
            from lab01_utils.fast import parallel

            parallel.set_num_threads(args.threads)  # one process, each layer on the threads
        breakdown(nm, x, y, loss_fn, args.reps)


def numpy_engine(model, engine: str | None, cores: int):
    """(description, the callable that runs `model`): the fast engine on `cores` processes
    (`fast.data_parallel.DataParallel`) or `cores` threads, or the textbook model itself."""
    from lab01_utils.models import fast_engine

    if engine == "plain" or (engine is None and fast_engine() is None):
        return "the textbook layers (nn/)", model
    if fast_engine() is None:
        raise SystemExit(f"--numpy-engine {engine}: this package has no lab01_utils/fast/")
    from lab01_utils.fast import parallel
    from lab01_utils.fast.data_parallel import DataParallel

    if engine in (None, "processes") and cores > 1:
        return f"fast, {cores} processes (data_parallel.py)", DataParallel(model, processes=cores)
    parallel.set_num_threads(cores)
    return f"fast, {cores} threads (parallel.py)", model


def breakdown(model, x, y, loss_fn, reps: int) -> None:
    """Per-layer forward and backward time of the NumPy model (top-level layers and blocks)."""
    model.stem.input_grad = False  # as in training: no image gradient
    layers = []
    for name, layer in model.body():
        if hasattr(layer, "_modules") and layer._modules and name.startswith("layer"):
            layers += [(f"{name}.{i}", blk) for i, blk in enumerate(layer)]
        else:
            layers.append((name, layer))
    fwd = {n: [] for n, _ in layers}
    bwd = {n: [] for n, _ in layers}
    for _ in range(max(5, reps // 3)):
        h = x
        for n, layer in layers:
            t0 = time.perf_counter()
            h = layer(h)
            fwd[n].append(time.perf_counter() - t0)
        loss_fn(h, y)
        d = loss_fn.backward()
        for n, layer in reversed(layers):
            t0 = time.perf_counter()
            d = layer.backward(d)
            bwd[n].append(time.perf_counter() - t0)
    total = sum(statistics.median(fwd[n]) + statistics.median(bwd[n]) for n, _ in layers)
    print("\nNumPy per-layer breakdown (median ms):")
    print(f"  {'layer':10s} {'forward':>8s} {'backward':>9s} {'share':>6s}")
    for n, _ in layers:
        f, bk = statistics.median(fwd[n]), statistics.median(bwd[n])
        print(f"  {n:10s} {f * 1e3:8.2f} {bk * 1e3:9.2f} {100 * (f + bk) / total:5.1f}%")
    print(f"  {'total':10s} {total * 1e3:8.2f} ms")


if __name__ == "__main__":
    main()
