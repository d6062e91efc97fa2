"""Tests for lab01_utils/fast/data_parallel.py: the model run by several processes, each on its
share of the batch, gives what the one-process model gives (logits, input gradient, every
parameter gradient, BatchNorm's running statistics), in training and eval mode and over
several optimizer steps; a failing or vanished worker is reported, and the workers stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from helpers import PARITY_RTOL_F32, PARITY_RTOL_F64, rel_error

from lab01_utils.fast import collective
from lab01_utils.fast.data_parallel import DataParallel, WorkerError
from lab01_utils.fast.fused import FusedBatchNorm2d
from lab01_utils.models import build_numpy_model
from lab01_utils.nn import Conv2d, CrossEntropyLoss, GlobalAvgPool2d, Linear, Module, SiLU
from lab01_utils.optim import SGD

WIDTHS = (8, 12, 16)  # a small model: the tests fork processes that each run it


def models(dtype):
    ref = build_numpy_model(widths=WIDTHS, seed=3, engine="fast").to(dtype)
    ours = build_numpy_model(widths=WIDTHS, seed=3, engine="fast").to(dtype)
    return ref, ours


def batch(rng, n, dtype):
    return rng.random((n, 1, 28, 28)).astype(dtype), rng.integers(0, 10, n)


@pytest.fixture
def closing():
    """DataParallel objects made in a test, closed at its end whatever happens."""
    made = []
    yield made
    for dp in made:
        dp.close()


@pytest.mark.parametrize("processes", [2, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_equals_the_one_process_model_over_sgd_steps(rng, processes, dtype, closing):
    ref, ours = models(dtype)
    dp = DataParallel(ours, processes=processes)
    closing.append(dp)
    loss_fn = CrossEntropyLoss()
    opts = [SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4) for m in (ref, ours)]
    rtol = PARITY_RTOL_F64 if dtype == np.float64 else 20 * PARITY_RTOL_F32
    for n in (7, 12, 7):  # uneven shares too
        x, y = batch(rng, n, dtype)
        loss_ref = loss_fn(ref(x), y)
        dx_ref = ref.backward(loss_fn.backward(), input_grad=True)
        logits = dp(x)
        assert logits.dtype == np.dtype(dtype)
        loss = loss_fn(logits, y)
        dx = dp.backward(loss_fn.backward(), input_grad=True)
        assert abs(loss - loss_ref) <= rtol * abs(loss_ref)
        assert dx.shape == x.shape and rel_error(dx, dx_ref) < rtol
        grads = dict(ref.named_parameters())
        for name, p in ours.named_parameters():
            assert p.grad.dtype == np.dtype(dtype), name
            assert rel_error(p.grad, grads[name].grad) < rtol, name
        for opt in opts:
            opt.step()
    ref_buffers = dict(ref.named_buffers())
    for name, b in ours.named_buffers():
        assert rel_error(b, ref_buffers[name]) < rtol, name
    # Eval mode: the running statistics, on every process.
    ref.eval()
    dp.eval()
    x, _ = batch(rng, 9, dtype)
    assert rel_error(dp(x), ref(x)) < rtol
    dp.train()
    ours.eval()  # the wrapped model's mode is the one that counts
    assert rel_error(dp(x), ref(x)) < rtol


def test_a_batch_smaller_than_the_process_count_runs_here(rng, closing):
    ref, ours = models(np.float64)
    dp = DataParallel(ours, processes=3)
    closing.append(dp)
    x, _ = batch(rng, 2, np.float64)
    assert rel_error(dp(x), ref(x)) < PARITY_RTOL_F64
    dy = rng.standard_normal((2, 10))
    assert rel_error(dp.backward(dy), ref.backward(dy)) < PARITY_RTOL_F64


def test_one_process_is_the_model_itself(rng):
    ref, ours = models(np.float64)
    dp = DataParallel(ours, processes=1)
    x, _ = batch(rng, 4, np.float64)
    np.testing.assert_array_equal(dp(x), ref(x))
    assert [n for n, _ in dp.named_parameters()] == [n for n, _ in ref.named_parameters()]
    assert dp.state_dict().keys() == ref.state_dict().keys()


def test_bad_input_is_named(rng, closing):
    dp = DataParallel(build_numpy_model(widths=WIDTHS, engine="fast"), processes=2, max_batch=8)
    closing.append(dp)
    with pytest.raises(ValueError, match=r"expected images .* got shape \(4, 3, 28, 28\)"):
        dp(np.zeros((4, 3, 28, 28), dtype=np.float32))
    with pytest.raises(ValueError, match="a batch of 9 images is more than max_batch=8"):
        dp(np.zeros((9, 784), dtype=np.float32))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        dp.backward(np.zeros((4, 10), dtype=np.float32))
    dp(np.zeros((4, 784), dtype=np.float32))
    with pytest.raises(ValueError, match=r"dy has shape \(3, 10\), expected \(4, 10\)"):
        dp.backward(np.zeros((3, 10), dtype=np.float32))
    with pytest.raises(ValueError, match="processes must be a positive int"):
        DataParallel(build_numpy_model(widths=WIDTHS, engine="fast"), processes=0)


class _ColourNet(Module):
    """A model of other images than the lab's: (N, 3, 12, 10) -> (N, 5)."""

    num_classes = 5

    def __init__(self, seed):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.conv = Conv2d(3, 6, 3, padding=1, bias=False, rng=rng)
        self.bn = FusedBatchNorm2d(6)
        self.act = SiLU()
        self.pool = GlobalAvgPool2d()
        self.fc = Linear(6, 5, rng=rng)

    def layers(self):
        return [self.conv, self.bn, self.act, self.pool, self.fc]

    def forward(self, x):
        for layer in self.layers():
            x = layer(x)
        return x

    def backward(self, dy, input_grad=True):
        for layer in reversed(self.layers()):
            dy = layer.backward(dy)
        return dy


def test_image_shape_sets_the_shared_buffer_and_the_workers_batches(rng, closing):
    ref, ours = _ColourNet(seed=5).to(np.float64), _ColourNet(seed=5).to(np.float64)
    dp = DataParallel(ours, processes=2, max_batch=16, image_shape=(3, 12, 10))
    closing.append(dp)
    x = rng.random((9, 3, 12, 10))
    assert rel_error(dp(x), ref(x)) < PARITY_RTOL_F64
    dy = rng.standard_normal((9, 5))
    assert rel_error(dp.backward(dy), ref.backward(dy)) < PARITY_RTOL_F64
    grads = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        assert rel_error(p.grad, grads[name].grad) < PARITY_RTOL_F64, name
    assert rel_error(dp(x.reshape(9, -1)), ref(x)) < PARITY_RTOL_F64  # flat rows too
    with pytest.raises(
        ValueError, match=r"expected images of shape \(N, 3, 12, 10\) or \(N, 360\)"
    ):
        dp(np.zeros((4, 1, 28, 28)))
    with pytest.raises(ValueError, match=r"got shape \(4, 3, 10, 12\)"):
        dp(np.zeros((4, 3, 10, 12)))  # as many numbers per image, in another shape
    with pytest.raises(ValueError, match=r"image_shape must be \(C, H, W\)"):
        DataParallel(_ColourNet(seed=5), processes=2, image_shape=(28, 28))


def test_a_model_with_plain_batchnorm_is_refused():
    from lab01_utils.nn import BatchNorm2d

    model = build_numpy_model(widths=WIDTHS, engine="fast")
    model.bn = BatchNorm2d(WIDTHS[-1])
    with pytest.raises(ValueError, match=r"BatchNorm layers \['bn'\] cannot share"):
        DataParallel(model, processes=2)


def test_a_worker_error_reaches_the_caller_and_the_next_step_works(rng, closing, monkeypatch):
    model = build_numpy_model(widths=WIDTHS, engine="fast")
    real = type(model.fc).forward

    def fc_forward(self, x):  # fails in worker 1 only (the fork copies this patch)
        if collective.active() and collective._group.rank == 1 and x.shape[0] == 5:
            raise ArithmeticError("planted in worker 1")
        return real(self, x)

    monkeypatch.setattr(type(model.fc), "forward", fc_forward)
    dp = DataParallel(model, processes=2)
    closing.append(dp)
    with pytest.raises(WorkerError, match="(?s)worker 1 failed.*ArithmeticError: planted"):
        dp(rng.random((10, 784)).astype(np.float32))  # worker 1 gets 5 images
    assert dp(rng.random((8, 784)).astype(np.float32)).shape == (8, 10)


def test_an_error_here_stops_the_workers_share_and_the_next_step_works(rng, closing):
    model = build_numpy_model(widths=WIDTHS, engine="fast")
    dp = DataParallel(model, processes=2)
    closing.append(dp)
    real = model.fc.forward
    model.fc.forward = lambda x: (_ for _ in ()).throw(ArithmeticError("planted here"))
    with pytest.raises(ArithmeticError, match="planted here"):
        dp(rng.random((8, 784)).astype(np.float32))
    model.fc.forward = real
    assert dp(rng.random((8, 784)).astype(np.float32)).shape == (8, 10)


def test_a_vanished_worker_is_reported_and_close_reaps_the_rest(rng):
    dp = DataParallel(build_numpy_model(widths=WIDTHS, engine="fast"), processes=3)
    pids = list(dp._group.pids)
    os.kill(pids[0], signal.SIGKILL)
    with pytest.raises(WorkerError, match="worker 1 .* exited"):
        dp(rng.random((9, 784)).astype(np.float32))
    with pytest.raises(WorkerError, match="exited: make a new DataParallel"):
        dp(rng.random((9, 784)).astype(np.float32))
    dp.close()
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


# A process that adopts orphans (as a desktop session's `systemd --user` does) starts the main
# process, which forks its workers and then works; the adopter kills the main process and
# reports, as JSON, the workers still alive after it and how long they took to go.
SUBREAPER = """
import ctypes, json, os, signal, subprocess, sys, time
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
main = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdout=subprocess.PIPE, text=True)
workers = json.loads(main.stdout.readline())
os.kill(main.pid, signal.SIGKILL)
main.wait()
t0 = time.monotonic()

def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False

while time.monotonic() - t0 < 5 and any(alive(p) for p in workers):
    time.sleep(0.05)
left = [p for p in workers if alive(p)]
seconds = time.monotonic() - t0
for p in left:
    os.kill(p, signal.SIGKILL)
while True:  # reap what was adopted
    try:
        os.waitpid(-1, 0)
    except ChildProcessError:
        break
print(json.dumps({"workers": workers, "left": left, "seconds": seconds}))
"""
MAIN = """
import json, numpy as np
from lab01_utils.fast.data_parallel import DataParallel
from lab01_utils.models import build_numpy_model
dp = DataParallel(build_numpy_model(widths=(8, 12, 16), engine="fast"), processes=3)
x = np.random.default_rng(0).random((9, 784)).astype(np.float32)
dp(x)
print(json.dumps(dp._group.pids), flush=True)
while True:
    dp(x)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a subreaper is Linux's")
def test_workers_die_with_their_parent_under_a_subreaper():
    proc = subprocess.run(
        [sys.executable, "-c", SUBREAPER, MAIN], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(report["workers"]) == 2
    assert report["left"] == [], f"workers outlived their parent: {report}"
    assert report["seconds"] < 1.0, report
