"""Data parallelism over processes: every core runs the whole model on its share of the batch.

`parallel.py` splits each layer's work between threads of one process. Those threads take
turns at Python's GIL between NumPy calls, and on a virtual machine every such turn can put a
thread to sleep for tens of microseconds; a training step makes thousands of NumPy calls.
Processes have a GIL each. `DataParallel` forks one worker process per extra core, each with
a replica of the model, and splits every batch between them, as torch's
`DistributedDataParallel` does with one process per GPU:

* forward: each process runs the model on its rows of the batch. Where BatchNorm needs
  statistics of the whole batch, the processes exchange their per-channel count, mean and
  sum of squared deviations (`all_gather`) and combine them the same way (`fused.py`; torch's
  `SyncBatchNorm` does this across GPUs). The main process gathers the logits.
* backward: the main process hands each worker its rows of `dlogits`; BatchNorm exchanges
  its two per-channel sums; at the end each worker's parameter gradients are added to the
  main process's. `.grad` then holds the gradient of the whole batch, as without processes.
* the weights: before each forward the main process copies every parameter and buffer to
  the workers, so the optimizer, `load_state_dict` or `train()`/`eval()` need nothing else.

The processes talk through one shared memory mapping made before the fork: counters that a
waiting process checks in a loop (no sleeping, so no waking up), and buffers for the rows,
logits and gradients. With every BatchNorm computed by `fused.py`, results equal the
one-process model's to float round-off (tests/test_data_parallel.py).

    from lab01_utils.fast.data_parallel import DataParallel
    dp = DataParallel(model, processes=2)   # forks now; dp.close() (or exit) stops the workers
    logits = dp(x); loss = loss_fn(logits, y); dp.backward(loss_fn.backward()); opt.step()
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import sys
import time
import traceback
import weakref

import numpy as np

from ..images import IMAGE_SHAPE, as_image_batch
from ..nn import BatchNorm2d, Module
from . import collective, parallel
from .fused import FusedBatchNorm2d, FusedPreActBlock
from .shared import (
    BACKWARD,
    ERROR_BYTES,
    FORWARD,
    STOP,
    WORKER_SPIN_SECONDS,
    Aborted,
    Group,
    WorkerError,
    flat_arrays,
    pieces,
)

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


class DataParallel(Module):
    """Run `model` on `processes` processes, each on its share of every batch.

    Args:
        model: the NumPy model, built by `build_numpy_model(engine="fast")`, whose
            BatchNorms all run through `fused.py`, so that they can exchange statistics.
        processes: how many processes (default: the cores this process may use); 1 runs the
            model in this process only.
        max_batch: the largest batch `forward` accepts.
        image_shape: one image's `(C, H, W)`; the shared input buffer holds `max_batch` of
            them, and the workers give `model` batches of shape `(n, C, H, W)`.

    Shape: as `model`: `(N, C, H, W)` or `(N, C*H*W)` -> `(N, num_classes)`, with
    `(C, H, W) = image_shape`, the lab's `(1, 28, 28)` by default.

    `parameters()`, `state_dict()`, `train()`/`eval()` are the wrapped model's. The workers
    run one engine thread each (`parallel.set_num_threads(1)` in every process)."""

    def __init__(
        self,
        model: Module,
        processes: int | None = None,
        max_batch: int = 1024,
        image_shape: tuple[int, int, int] = IMAGE_SHAPE,
    ):
        super().__init__()
        world = processes if processes is not None else parallel._default_threads()
        if not isinstance(world, int) or world < 1:
            raise ValueError(f"DataParallel: processes must be a positive int, got {world!r}")
        image_shape = tuple(image_shape)
        if len(image_shape) != 3 or not all(isinstance(d, int) and d > 0 for d in image_shape):
            raise ValueError(
                f"DataParallel: image_shape must be (C, H, W) of positive ints, got {image_shape!r}"
            )
        # Every BatchNorm must run through fused.py: a FusedBatchNorm2d, or one of a
        # FusedPreActBlock's own pairs.
        fused_blocks = tuple(
            name + "." for name, m in model.named_modules() if isinstance(m, FusedPreActBlock)
        )
        plain = [
            name
            for name, m in model.named_modules()
            if isinstance(m, BatchNorm2d)
            and not isinstance(m, FusedBatchNorm2d)
            and not name.startswith(fused_blocks)
        ]
        if plain:
            raise ValueError(
                f"DataParallel: the BatchNorm layers {plain} cannot share their statistics "
                'between processes; build the model with build_numpy_model(engine="fast")'
            )
        self.module, self.world = model, world
        self.max_batch, self.image_shape = max_batch, image_shape
        self._rows: list[slice] | None = None
        self._in_shape = None
        if world == 1:
            self._group = None
            return
        out_size = model.num_classes
        flat = flat_arrays(model)
        n_params, dtype = sum(a.size for a in flat), flat[0].dtype
        group = Group(world, n_params, max_batch, image_shape, out_size, dtype)
        parallel.set_num_threads(1)
        parallel.hold_numpy_blas()
        group.parent = os.getpid()
        for rank in range(1, world):
            pid = os.fork()
            if pid == 0:  # the worker: serve commands until told to stop
                group.rank = rank
                code = 0
                try:
                    die_with_parent(group.parent)
                    _serve(group, model, seen=0)
                except BaseException:  # noqa: BLE001 (a worker must never return)
                    code = 1
                os._exit(code)
            group.pids.append(pid)
        self._group = group
        weakref.finalize(self, _stop, group)

    def extra_repr(self) -> str:
        return f"processes={self.world}"

    # The wrapped model's state is the state.
    def named_parameters(self, prefix: str = ""):
        return self.module.named_parameters(prefix)

    def state_dict(self):
        return self.module.state_dict()

    def load_state_dict(self, state) -> None:
        self.module.load_state_dict(state)

    def train(self, mode: bool = True):
        self.module.train(mode)
        object.__setattr__(self, "training", mode)
        return self

    def forward(self, x: np.ndarray) -> np.ndarray:
        group = self._group
        if group is None:
            return self.module(x)
        x = np.asarray(x)
        n = x.shape[0] if x.ndim else 0
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(
                f"DataParallel: expected floating-point images in [0, 1], got dtype {x.dtype}; "
                "convert raw pixels with lab01_utils.data.to_images"
            )
        in_shape = x.shape
        x = as_image_batch(x, "DataParallel", self.image_shape)
        if n > self.max_batch:
            raise ValueError(
                f"DataParallel: a batch of {n} images is more than max_batch={self.max_batch}"
            )
        self._in_shape = in_shape
        if n < self.world:  # too few images to give every process one: this process alone
            self._rows = []
            return self.module(x)
        rows = parallel.chunks(n, self.world)
        self._rows = rows
        flat = flat_arrays(self.module)
        np.concatenate([a.ravel() for a in flat], out=group.weights, casting="unsafe")
        group.x[:n] = x.reshape(n, -1)
        out = self._command(FORWARD, n, lambda: self.module(x[rows[0]]))
        outs = [out] + [group.out[r] for r in rows[1:]]
        return np.concatenate(outs).astype(out.dtype, copy=False)

    def backward(self, dy: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        group = self._group
        if group is None:
            return self.module.backward(dy, input_grad=input_grad)
        if self._rows is None:
            raise RuntimeError("DataParallel.backward called before forward")
        rows, n = self._rows, self._in_shape[0]
        if not rows:  # the forward ran in this process alone
            return self.module.backward(dy, input_grad=input_grad)
        if dy.shape != (n, group.out_size):
            raise ValueError(
                f"DataParallel.backward: dy has shape {dy.shape}, expected {(n, group.out_size)}"
            )
        group.out[:n] = dy
        group.ctl[4] = int(input_grad)
        dx = self._command(BACKWARD, n, lambda: self.module.backward(dy[rows[0]], input_grad))
        params = [p for _, p in self.module.named_parameters()]
        shapes = [p.data for p in params]
        for p in params:
            p.grad = np.array(p.grad, dtype=p.data.dtype)  # our own copy, to add into
        for r in range(1, self.world):  # add the workers' gradients
            for p, g in zip(params, pieces(group.grads[r], shapes), strict=True):
                p.grad += g
        if not input_grad:
            return None
        parts = [dx.reshape(dx.shape[0], -1)] + [group.x[r] for r in rows[1:]]
        return np.concatenate(parts).astype(dx.dtype, copy=False).reshape(self._in_shape)

    def _command(self, cmd: int, n: int, own_share):
        """Start `cmd` on the workers, run this process's share, wait for theirs."""
        group = self._group
        if group.broken:
            raise WorkerError(f"{group.broken}: make a new DataParallel")
        if parallel.num_threads() != 1:  # each process is one thread: the cores are taken
            parallel.set_num_threads(1)
        parallel.hold_numpy_blas()
        group.ctl[1], group.ctl[2], group.ctl[3], group.ctl[5] = (
            cmd,
            n,
            int(self.module.training),
            0,
        )
        group.calls = 0
        group.ctl[0] += 1  # go
        group.ring()
        group.running = True
        collective.set_group(group)

        def workers_done() -> bool:
            return all(group.ctl[8 + r] >= group.ctl[0] for r in range(1, self.world))

        try:
            try:
                result = own_share()
            except BaseException:
                group.ctl[5] = 1  # abort: the workers give up their share...
                while not group.broken and not workers_done():  # ...before the next command
                    try:
                        group.check_alive()
                    except WorkerError:
                        break
                raise
            group.wait(workers_done)
            group.check()
        finally:
            group.running = False
            collective.set_group(None)
        return result

    def close(self) -> None:
        """Stop the worker processes (also done when the object is collected or at exit)."""
        if self._group is not None:
            _stop(self._group)
            self._group = None


def _stop(group: Group) -> None:
    if not group.pids:
        _close_bells(group)
        return
    group.ctl[1] = STOP
    group.ctl[0] += 1
    group.ring()
    for pid in group.pids:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    group.pids = []
    _close_bells(group)


def _close_bells(group: Group) -> None:
    for fds in group.bells:
        for fd in fds:
            os.close(fd)
    group.bells = []


def die_with_parent(parent: int) -> None:
    """(In a worker, right after the fork) have the kernel kill this process when `parent`
    dies, whoever then adopts it: init or a subreaper such as a desktop session's
    `systemd --user` (Linux's `PR_SET_PDEATHSIG`). Elsewhere the workers notice a new parent
    pid within a second. A parent already gone before the call ends the worker at once."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the pid check below still works
            pass
    if os.getppid() != parent:
        os._exit(1)


def _serve(group: Group, model: Module, seen: int) -> None:
    """A worker's loop: wait for a command after command number `seen`, run this rank's
    share, report. (`seen` comes from before the fork: the main process may give the first
    command before this process gets here.)"""
    parallel.set_num_threads(1)
    parallel.hold_numpy_blas()
    rank = group.rank
    bell = group.bells[rank - 1][0]
    os.set_blocking(bell, False)
    while True:
        idle = time.perf_counter()
        while group.ctl[0] == seen:  # spin for a while, then sleep until the bell rings
            if time.perf_counter() - idle > WORKER_SPIN_SECONDS:
                select.select([bell], [], [], 1.0)
                if os.getppid() != group.parent:  # the main process is gone
                    return
        try:
            os.read(bell, 1 << 16)  # the rings so far: each command rings once
        except BlockingIOError:
            pass
        seen = int(group.ctl[0])
        cmd, n = int(group.ctl[1]), int(group.ctl[2])
        if cmd == STOP:
            return
        rows = parallel.chunks(n, group.world)[rank]
        group.calls, group.running = 0, True
        collective.set_group(group)
        try:
            if cmd == FORWARD:
                flat = flat_arrays(model)
                for a, w in zip(flat, pieces(group.weights, flat), strict=True):
                    a[...] = w
                model.train(bool(group.ctl[3]))
                x = group.x[rows].reshape(-1, *group.image_shape)
                group.out[rows] = model(x.astype(flat[0].dtype))
            elif cmd == BACKWARD:
                params = [p for _, p in model.named_parameters()]
                dy = group.out[rows].astype(params[0].data.dtype)
                dx = model.backward(dy, bool(group.ctl[4]))
                shapes = [p.data for p in params]
                for p, g in zip(params, pieces(group.grads[rank], shapes), strict=True):
                    g[...] = p.grad
                if dx is not None:
                    group.x[rows] = dx.reshape(len(dx), -1)
        except Aborted:
            pass
        except BaseException:  # noqa: BLE001 (reported to the main process, which raises)
            text = traceback.format_exc().encode()[-ERROR_BYTES:]
            group.error[rank, :] = 0
            group.error[rank, : len(text)] = np.frombuffer(text, dtype=np.uint8)
            group.ctl[32 + rank] = 1
        finally:
            group.running = False
            collective.set_group(None)
        group.ctl[8 + rank] = seen
