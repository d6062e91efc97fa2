"""The shared memory behind `DataParallel`: one mapping made before the fork, with counters
that a waiting process checks in a loop (no sleeping, so no waking up), buffers for the rows,
logits and gradients, the `all_gather` of BatchNorm's statistics, and the pipes that wake an
idle worker.
"""

from __future__ import annotations

import mmap
import os
import signal

import numpy as np

from ..nn import Module

__all__ = [
    "BACKWARD",
    "ERROR_BYTES",
    "FORWARD",
    "STOP",
    "WORKER_SPIN_SECONDS",
    "Aborted",
    "Group",
    "WorkerError",
    "flat_arrays",
    "pieces",
]

FORWARD, BACKWARD, STOP = 1, 2, 3
_MAX_GATHER = 4 * 1024 + 8  # float64 values one process can contribute to one all_gather
ERROR_BYTES = 4096
# How long an idle worker keeps checking for the next command before it sleeps. Within a
# training step the next command comes within milliseconds; between steps a sleeping worker
# leaves the cores to whatever else runs (a benchmark's torch step).
WORKER_SPIN_SECONDS = 0.005


class WorkerError(RuntimeError):
    """A worker process failed; the message carries its traceback."""


class Group:
    """The shared mapping and this process's place in it."""

    def __init__(
        self,
        world: int,
        n_params: int,
        max_batch: int,
        image_shape: tuple[int, int, int],
        out_size: int,
        dtype,
    ):
        self.world, self.rank, self.running = world, 0, False
        item = np.dtype(dtype).itemsize
        in_size = int(np.prod(image_shape))
        self.max_batch, self.image_shape = max_batch, image_shape
        self.in_size, self.out_size = in_size, out_size
        ctl_bytes = 8 * 64
        sizes = {
            "gather": 8 * world * _MAX_GATHER,
            "weights": item * n_params,
            "grads": item * world * n_params,
            "x": item * max_batch * in_size,
            "out": item * max_batch * out_size,
            "error": ERROR_BYTES * world,
        }
        self._map = mmap.mmap(-1, ctl_bytes + sum(sizes.values()))  # shared across fork
        self.ctl = np.frombuffer(self._map, dtype=np.int64, count=64)
        offset = ctl_bytes
        views = {}
        for name, size in sizes.items():
            kind = np.uint8 if name == "error" else np.float64 if name == "gather" else dtype
            views[name] = np.frombuffer(
                self._map, dtype=kind, count=size // np.dtype(kind).itemsize, offset=offset
            )
            offset += size
        self.gather_buf = views["gather"].reshape(world, _MAX_GATHER)
        self.weights = views["weights"]
        self.grads = views["grads"].reshape(world, n_params)
        # One row per image: `x[rows]` is a process's share of the batch (images or their
        # gradients), `out[rows]` its logits or their gradients.
        self.x = views["x"].reshape(max_batch, in_size)
        self.out = views["out"].reshape(max_batch, out_size)
        self.error = views["error"].reshape(world, ERROR_BYTES)
        # One pipe per worker: a sleeping worker wakes when a byte arrives.
        self.bells = [os.pipe() for _ in range(world - 1)]
        self.pids: list[int] = []
        self.parent = os.getpid()  # the main process (a worker exits when it is gone)
        self.broken = ""  # why the group can no longer run commands
        self.calls = 0  # all_gather calls in the current command

    # ctl layout: 0 command number, 1 command, 2 batch size, 3 training, 4 input grad,
    # 5 abort (the main process failed mid-command); 8 + r: last command rank r finished;
    # 16 + r: rank r's all_gather stamp; 32 + r: rank r failed.
    def stamp(self) -> int:
        return (int(self.ctl[0]) << 20) + self.calls

    def ring(self) -> None:
        """(Main process) wake the workers that sleep: a new command is in `ctl`."""
        for _, write_end in self.bells[: len(self.pids)]:
            os.write(write_end, b"!")

    def all_gather(self, values: np.ndarray) -> list[np.ndarray]:
        k = values.shape[0]
        if k > _MAX_GATHER:
            raise ValueError(f"all_gather: {k} values, at most {_MAX_GATHER}")
        self.calls += 1
        self.gather_buf[self.rank, :k] = values
        stamp = self.stamp()
        self.ctl[16 + self.rank] = stamp
        for r in range(self.world):
            if r != self.rank:
                self.wait(lambda r=r: self.ctl[16 + r] >= stamp)
        out = [self.gather_buf[r, :k].astype(values.dtype) for r in range(self.world)]
        # Nobody may overwrite a slot before everyone has read it: a second stamp.
        self.calls += 1
        stamp = self.stamp()
        self.ctl[16 + self.rank] = stamp
        for r in range(self.world):
            if r != self.rank:
                self.wait(lambda r=r: self.ctl[16 + r] >= stamp)
        return out

    def wait(self, ready) -> None:
        """Spin until `ready()`; fail if another process failed or exited meanwhile."""
        spins = 0
        while not ready():
            spins += 1
            if spins % 4096 == 0:
                self.check()

    def check(self) -> None:
        if self.rank != 0:
            if self.ctl[5]:
                raise Aborted
            if os.getppid() != self.parent:  # the main process is gone
                os._exit(1)
            return
        self.check_alive()
        for r in range(1, self.world):
            if self.ctl[32 + r]:
                text = bytes(self.error[r]).rstrip(b"\0").decode(errors="replace")
                self.ctl[32 + r] = 0
                raise WorkerError(f"DataParallel worker {r} failed:\n{text}")

    def check_alive(self) -> None:
        """(Main process) raise if a worker process has exited. The group cannot go on
        without it: the other workers are stopped too."""
        for r, pid in enumerate(self.pids, start=1):
            if os.waitpid(pid, os.WNOHANG)[0]:
                self.pids.remove(pid)
                self.broken = f"DataParallel worker {r} (pid {pid}) exited"
                for other in self.pids:
                    os.kill(other, signal.SIGKILL)
                    os.waitpid(other, 0)
                self.pids = []
                raise WorkerError(self.broken)


class Aborted(Exception):
    """The main process failed mid-command: the workers drop theirs."""


def flat_arrays(model: Module) -> list[np.ndarray]:
    """Every parameter and floating buffer of `model`, in a fixed order."""
    arrays = [p.data for _, p in model.named_parameters()]
    arrays += [b for _, b in model.named_buffers() if np.issubdtype(b.dtype, np.floating)]
    return arrays


def pieces(flat: np.ndarray, arrays: list[np.ndarray]) -> list[np.ndarray]:
    """Views of the vector `flat` shaped like `arrays`, one after the other: where each array
    lies in a shared buffer of all of them."""
    views, offset = [], 0
    for a in arrays:
        views.append(flat[offset : offset + a.size].reshape(a.shape))
        offset += a.size
    return views
