"""Every core on one training step: the engine splits the batch between threads.

torch runs each layer on all cores. NumPy's element-wise operations (BatchNorm, SiLU, the
im2col copies) run on one core, and only its matrix products use the BLAS's threads; on a
2-core machine that left the NumPy step at 2x torch's. So the layers split their work along
the batch themselves: with T threads, rows `[0, M/T)` go to the calling thread and the other
chunks to T-1 pool threads, each running the *same* NumPy code on its slice (NumPy releases
the GIL inside its loops and the BLAS does inside a product, so the slices really run side by
side). Per-channel sums (BatchNorm, weight gradients) are taken per chunk and added, the only
place where the result depends on T (float32 round-off of a sum in a different order).

Then the BLAS itself must run single-threaded: two engine threads each asking a 2-thread BLAS
for a product would put four threads on two cores, and OpenBLAS's idle workers spin for a
while after each product, starving the other thread. `set_num_threads` therefore limits
NumPy's BLAS (and only NumPy's, not torch's) to one thread while T > 1.

    from lab01_utils.nn import parallel
    parallel.set_num_threads(1)     # the plain, single-threaded engine (and BLAS threads back)
    parallel.num_threads()          # default: the cores this process may use, or $LAB01_NUM_THREADS

Small arrays (under `MIN_ELEMENTS`) are never split: a thread hand-off costs 40 us timed alone
and about 55 us inside a training step (`benchmarks/profile_step.py --handoffs`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

MIN_ELEMENTS = 1 << 15  # split only arrays at least this big (32k values, tens of us of work)

_threads: int | None = None
_pool: ThreadPoolExecutor | None = None
_blas_limit: list | None = None  # [(BLAS library, its original thread count)] while held


def _default_threads() -> int:
    env = os.environ.get("LAB01_NUM_THREADS")
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ValueError(f"LAB01_NUM_THREADS must be a positive int, got {env!r}") from None
        if n < 1:
            raise ValueError(f"LAB01_NUM_THREADS must be a positive int, got {env!r}")
        return n
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _numpy_blas(limit: int | None) -> None:
    """Hold NumPy's own BLAS at `limit` threads (None: give it back its original count)."""
    global _blas_limit
    if _blas_limit is not None:
        for lib, original in _blas_limit:
            lib.set_num_threads(original)
        _blas_limit = None
    if limit is None:
        return
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # then the BLAS keeps its threads: slower, same results
        return
    numpy_dir = os.path.dirname(os.path.dirname(np.__file__))
    ours = [
        lib
        for lib in ThreadpoolController().lib_controllers
        if lib.user_api == "blas" and lib.filepath.startswith(numpy_dir)
    ]
    _blas_limit = [(lib, lib.num_threads) for lib in ours]
    for lib in ours:
        lib.set_num_threads(limit)


def set_num_threads(n: int) -> None:
    """Use `n` threads per layer (1: everything on the calling thread, BLAS as it was)."""
    global _threads, _pool
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive int, got {n!r}")
    if _pool is not None:
        _pool.shutdown()
        _pool = None
    _threads = int(n)
    if _threads > 1:
        _pool = ThreadPoolExecutor(_threads - 1, thread_name_prefix="lab01-nn")
        _numpy_blas(1)
    else:
        _numpy_blas(None)


def num_threads() -> int:
    """Threads each layer uses (set on first use from the available cores)."""
    if _threads is None:
        set_num_threads(_default_threads())
    return _threads


def chunks(n: int, parts: int) -> list[slice]:
    """`range(n)` cut into `parts` near-equal consecutive slices (no empty ones)."""
    parts = max(1, min(parts, n))
    bounds = [n * i // parts for i in range(parts + 1)]
    return [slice(bounds[i], bounds[i + 1]) for i in range(parts)]


def run_each(work: Callable, items: list) -> list:
    """`[work(item) for item in items]`, the first on the calling thread and the others on
    the pool, side by side; results in order. Exceptions propagate."""
    if len(items) == 1 or _pool is None:
        return [work(item) for item in items]
    futures = [_pool.submit(work, item) for item in items[1:]]
    first = work(items[0])
    return [first, *(f.result() for f in futures)]


def for_chunks(work: Callable[[slice], object], n: int, size: int) -> list:
    """Call `work(rows)` for consecutive row slices covering `range(n)`, one per thread, and
    return the results in order. `size` (the elements touched) decides whether to split."""
    return run_each(work, chunks(n, num_threads() if size >= MIN_ELEMENTS else 1))


def for_batch(work: Callable[[slice], object], x: np.ndarray) -> list:
    """`for_chunks` over the first axis of `x` (the batch); a 0-d `x` is one piece (`...`)."""
    if x.ndim == 0:
        return [work(...)]
    return for_chunks(work, x.shape[0], x.size)


def iadd(out: np.ndarray, other: np.ndarray) -> np.ndarray:
    """`out += other`, split along the first axis over the threads; returns `out`.

    For the residual additions of the blocks: one pass over a whole activation, worth
    sharing between the cores like every other pass."""
    if out.shape != other.shape:
        raise ValueError(f"iadd: shapes differ, out {out.shape} and other {other.shape}")

    def work(rows):
        np.add(out[rows], other[rows], out=out[rows])

    for_batch(work, out)
    return out
