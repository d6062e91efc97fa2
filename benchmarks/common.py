"""What the benchmark scripts share: one NumPy training step on a fixed batch, and timing
two or more variants of it in turn."""

from __future__ import annotations

import importlib
import statistics
import time
from collections.abc import Callable

import numpy as np


def numpy_training_step(
    batch_size: int = 50, seed: int = 0, package: str = "lab01_utils", engine: str = "fast"
) -> tuple[object, Callable[[], None]]:
    """The lab's NumPy model and a `step()` that runs forward, loss, backward (no image
    gradient, as in training) and SGD on one fixed random batch of `batch_size` images.

    `package`: where the engine comes from (`ab_revision.py` imports an older copy of
    `lab01_utils` under another name). `engine`: "fast" or "plain" (`build_numpy_model`'s
    argument; a revision from before that argument had only its fast engine)."""
    nn = importlib.import_module(f"{package}.nn")
    models = importlib.import_module(f"{package}.models")
    optim = importlib.import_module(f"{package}.optim")

    rng = np.random.default_rng(seed)
    x = rng.random((batch_size, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, batch_size)
    try:
        model = models.build_numpy_model(seed=seed, engine=engine)
    except TypeError:  # an older revision: no engine argument, the fast engine
        model = models.build_numpy_model(seed=seed)
    opt = optim.SGD(model.parameters(), lr=0.03, momentum=0.9, weight_decay=2e-4)
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        loss_fn(model(x), y)
        model.backward(loss_fn.backward(), input_grad=False)
        opt.step()

    return model, step


def alternate(
    timed: list[Callable[[], None]],
    rounds: int,
    prepare: list[Callable[[], None]] | None = None,
) -> list[list[float]]:
    """Call each of `timed` once per round, `rounds` times, reversing the order every other
    round; return each one's times in ms. `prepare[i]()` runs untimed just before each call
    of `timed[i]` (e.g. to switch a setting). One warm-up call each comes first.

    Variants timed a fraction of a second apart see the same machine: on one whose speed
    drifts, only such pairs compare the variants and not the drift (see `paired_ratio`)."""
    prepare = prepare or [lambda: None] * len(timed)
    for before, fn in zip(prepare, timed, strict=True):  # warm-up
        before()
        fn()
    times: list[list[float]] = [[] for _ in timed]
    order = list(range(len(timed)))
    for k in range(rounds):
        for i in order if k % 2 == 0 else order[::-1]:
            prepare[i]()
            t0 = time.perf_counter()
            timed[i]()
            times[i].append(1e3 * (time.perf_counter() - t0))
    return times


def paired_ratio(times: list[float], base: list[float]) -> float:
    """The median of the round-by-round ratios `times / base` (from `alternate`)."""
    return statistics.median(np.array(times) / np.array(base))


def blas_report() -> str:
    """NumPy's BLAS as threadpoolctl sees it (library, kernel, threads), and whether the
    OpenBLAS settings that slow its GEMMs are set, for the first line of a benchmark."""
    import os

    from threadpoolctl import threadpool_info

    blas = [
        f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')} kernel, "
        f"threads: {i.get('num_threads')})"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    env = [k for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ]
    note = f"; {' and '.join(env)} set (unset them to time the real kernel)" if env else ""
    return "BLAS: " + (", ".join(blas) or "none found") + note
