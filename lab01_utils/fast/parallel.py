"""Every core on one training step: the engine splits the batch between threads.

torch runs each layer on all cores. NumPy's element-wise operations (BatchNorm, SiLU, the
im2col copies) run on one core, and only its matrix products use the BLAS's threads; on a
2-core machine that left the NumPy step at 2x torch's. So the layers split their work along
the batch themselves: with T threads, rows `[0, M/T)` go to the calling thread and the other
chunks to T-1 worker threads, each running the *same* NumPy code on its slice (NumPy releases
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

Handing a slice to another thread and collecting its result is the expensive part of all this.
A thread that goes to sleep (blocks on a lock) while it waits must be woken by the operating
system, and on a virtual machine whose other tenants keep the host busy that takes from tens
of microseconds up to a millisecond, twice per hand-off (the worker wakes to start, the caller
wakes when it ends), with ~135 hand-offs in a training step. So both sides first *spin*: they
keep checking for up to `THREAD_SPIN_SECONDS` whether there is work (or a result), calling
`time.sleep(0)` between checks, which lets the other thread have the GIL without giving up the
core. Only then do they sleep. OpenMP's threads, which run torch's layers, do the same.
Measured (`benchmarks/ab_setting.py lab01_utils.fast.parallel THREAD_SPIN_SECONDS 0 0.005`):
a training step 0.75-0.92x as long as with threads that sleep at once in the hours when the
host is busy (and the same, 0.99-1.02x, when it is quiet).

Small arrays (under `MIN_ELEMENTS`) are never split: even a spinning hand-off costs tens of
microseconds (`benchmarks/profile_step.py --handoffs`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import numpy as np

from ..config import env_num_threads

MIN_ELEMENTS = 1 << 15  # split only arrays at least this big (32k values, tens of us of work)
THREAD_SPIN_SECONDS = 0.005  # how long a waiting thread keeps checking before it sleeps (0: never)

_threads: int | None = None
_workers: list[_Worker] = []  # the threads besides the caller's (T - 1 of them)
_busy = threading.Lock()  # held while the workers run a split call
_blas_limit: list | None = None  # [(BLAS library, its original thread count)] while held


def _default_threads() -> int:
    n = env_num_threads()  # $LAB01_NUM_THREADS
    if n is not None:
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


def hold_numpy_blas() -> None:
    """Hold NumPy's BLAS at one thread (what `set_num_threads(n > 1)` does; `data_parallel.py`
    needs it in every process, whose cores are already taken by the other processes)."""
    if _blas_limit is None:
        _numpy_blas(1)


def set_num_threads(n: int) -> None:
    """Use `n` threads per layer (1: everything on the calling thread, BLAS as it was)."""
    global _threads, _workers
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive int, got {n!r}")
    with _busy:  # not while a split call is running
        for worker in _workers:
            worker.stop()
        _threads = int(n)
        _workers = [_Worker(f"lab01-nn-{i + 1}") for i in range(_threads - 1)]
    if _threads > 1:
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


def _forget_workers_in_child() -> None:
    """After `os.fork()` the child has only the forking thread: start its own workers anew."""
    global _threads, _workers, _busy
    _threads, _workers, _busy = None, [], threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers_in_child)


def _spin_until(ready: Callable[[], bool]) -> bool:
    """Check `ready()` for up to `THREAD_SPIN_SECONDS`; True as soon as it is, False if time
    ran out."""
    end = time.perf_counter() + THREAD_SPIN_SECONDS
    while not ready():
        if time.perf_counter() >= end:
            return False
        time.sleep(0)  # returns at once, but lets the other thread take the GIL meanwhile
    return True


class _Worker:
    """One extra thread that runs the calls handed to it, one at a time.

    `submit(work, item)` hands over `work(item)`; `outcome()` waits for it and returns
    `(True, result)` or `(False, exception)`. Either side spins before it sleeps (see the
    module docstring); `_mutex` makes "nothing to do, so I sleep" and "here is something, wake
    up" exclusive, so no wake-up is lost."""

    def __init__(self, name: str):
        self._mutex = threading.Lock()
        self._wake = threading.Lock()  # held; released to wake the sleeping worker
        self._wake.acquire()
        self._done = threading.Lock()  # held; released to wake the sleeping caller
        self._done.acquire()
        self._task: tuple | None = None
        self._outcome: tuple | None = None
        self._worker_asleep = self._caller_asleep = False
        threading.Thread(target=self._loop, name=name, daemon=True).start()

    def submit(self, work: Callable | None, item) -> None:
        with self._mutex:
            self._outcome = None
            self._task = (work, item)
            if self._worker_asleep:
                self._worker_asleep = False
                self._wake.release()

    def outcome(self) -> tuple[bool, object]:
        if not _spin_until(lambda: self._outcome is not None):
            with self._mutex:
                asleep = self._caller_asleep = self._outcome is None
            if asleep:
                self._done.acquire()
        return self._outcome

    def stop(self) -> None:
        self.submit(None, None)

    def _loop(self) -> None:
        while True:
            if not _spin_until(lambda: self._task is not None):
                with self._mutex:
                    asleep = self._worker_asleep = self._task is None
                if asleep:
                    self._wake.acquire()
            work, item = self._task
            if work is None:  # stop()
                return
            try:
                outcome = (True, work(item))
            except BaseException as exc:  # handed back to the caller, which raises it
                outcome = (False, exc)
            with self._mutex:
                self._task = None
                self._outcome = outcome
                if self._caller_asleep:
                    self._caller_asleep = False
                    self._done.release()


def run_each(work: Callable, items: list) -> list:
    """`[work(item) for item in items]`, the first on the calling thread and the next ones on
    the worker threads, side by side; results in order. Exceptions propagate.

    Items beyond the thread count, and calls made while another split call runs (a `work`
    that itself splits, or a second thread using the engine), run one after the other on the
    calling thread."""
    if len(items) == 1 or not _workers or not _busy.acquire(blocking=False):
        return [work(item) for item in items]
    try:
        handed = list(zip(_workers, items[1:], strict=False))  # fewer items than workers is fine
        for worker, item in handed:
            worker.submit(work, item)
        try:
            first = work(items[0])
            rest = [work(item) for item in items[1 + len(handed) :]]
        finally:  # collect every worker's outcome before the workers can be reused
            outcomes = [worker.outcome() for worker, _ in handed]
    finally:
        _busy.release()
    for ok, value in outcomes:
        if not ok:
            raise value
    return [first, *(value for _, value in outcomes), *rest]


def for_chunks(work: Callable[[slice], object], n: int, size: int) -> list:
    """Call `work(rows)` for consecutive row slices covering `range(n)`, one per thread, and
    return the results in order. `size` (the elements touched) decides whether to split."""
    # While the workers are busy (a `work` that itself splits, or another thread's split
    # call), run_each would run the pieces one after the other anyway: take the rows whole.
    split = size >= MIN_ELEMENTS and not _busy.locked()
    return run_each(work, chunks(n, num_threads() if split else 1))


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
