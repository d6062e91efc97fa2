"""The engine's batch-splitting threads (lab01_utils/fast/parallel.py): same results, any count."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from helpers import channels_last

from lab01_utils.fast import parallel
from lab01_utils.models import build_numpy_model
from lab01_utils.nn import CrossEntropyLoss


@pytest.fixture
def threads():
    """Set the thread count for one test, then restore the previous one."""
    before = parallel.num_threads()
    yield parallel.set_num_threads
    parallel.set_num_threads(before)


@pytest.mark.parametrize("n, parts", [(10, 1), (10, 3), (3, 5), (100, 2), (1, 4)])
def test_chunks_cover_the_range_in_order(n, parts):
    sl = parallel.chunks(n, parts)
    assert len(sl) == min(parts, n)
    assert [i for s in sl for i in range(n)[s]] == list(range(n))
    sizes = [s.stop - s.start for s in sl]
    assert max(sizes) - min(sizes) <= 1


def test_for_chunks_returns_the_results_in_order_and_splits_only_big_work(threads):
    threads(3)
    got = parallel.for_chunks(lambda r: (r.start, r.stop), 90, parallel.MIN_ELEMENTS)
    assert got == [(0, 30), (30, 60), (60, 90)]
    assert parallel.for_chunks(lambda r: r, 90, parallel.MIN_ELEMENTS - 1) == [slice(0, 90)]


def test_worker_exceptions_reach_the_caller(threads):
    threads(2)

    def work(rows):
        if rows.start > 0:
            raise RuntimeError("boom in the second slice")

    with pytest.raises(RuntimeError, match="second slice"):
        parallel.for_chunks(work, 10, parallel.MIN_ELEMENTS)


@pytest.mark.parametrize("n_threads", [1, 2, 3])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_iadd_adds_in_place_over_every_slice(threads, rng, n_threads, layout):
    threads(n_threads)
    shape = (7, 16, 20, 20)  # 44,800 values: big enough to be split
    assert np.prod(shape) >= parallel.MIN_ELEMENTS
    out = rng.standard_normal(shape)
    if layout == "channels_last":
        out = channels_last(out)
    other = rng.standard_normal(shape)
    expected = out + other
    other_before = other.copy()
    assert parallel.iadd(out, other) is out
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(other, other_before)


def test_iadd_names_mismatched_shapes():
    with pytest.raises(ValueError, match=r"out \(2, 3\) and other \(3, 2\)"):
        parallel.iadd(np.zeros((2, 3)), np.zeros((3, 2)))


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_set_num_threads_rejects_bad_counts(bad):
    with pytest.raises(ValueError, match="positive int"):
        parallel.set_num_threads(bad)


def test_env_variable_sets_the_default(monkeypatch):
    monkeypatch.setenv("LAB01_NUM_THREADS", "3")
    assert parallel._default_threads() == 3
    monkeypatch.setenv("LAB01_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="LAB01_NUM_THREADS"):
        parallel._default_threads()


def test_numpy_blas_is_held_at_one_thread_only_while_splitting(threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def numpy_blas_threads():
        root = os.path.dirname(os.path.dirname(np.__file__))
        info = threadpoolctl.threadpool_info()
        return [i["num_threads"] for i in info if i["filepath"].startswith(root)]

    threads(1)
    original = numpy_blas_threads()
    threads(2)
    assert all(n == 1 for n in numpy_blas_threads())
    threads(1)
    assert numpy_blas_threads() == original


def _step(dtype, n_threads, set_threads):
    set_threads(n_threads)
    rng = np.random.default_rng(0)
    model = build_numpy_model((8, 16, 32), seed=1, engine="fast")
    model.load_state_dict({k: v.astype(dtype) for k, v in model.state_dict().items()})
    x = rng.random((24, 1, 28, 28)).astype(dtype)
    y = rng.integers(0, 10, 24)
    loss_fn = CrossEntropyLoss()
    logits = model(x)
    loss_fn(logits, y)
    dx = model.backward(loss_fn.backward())
    grads = {k: p.grad.copy() for k, p in model.named_parameters()}
    return logits, dx, grads, model.state_dict()


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-4)])
def test_the_whole_model_computes_the_same_with_1_2_or_3_threads(threads, dtype, rtol):
    """Forward, input gradient, every parameter gradient and BN's running statistics; only
    the order of the per-channel sums changes, so float64 agrees to round-off."""
    ref = _step(dtype, 1, threads)
    for t in (2, 3):
        got = _step(dtype, t, threads)
        np.testing.assert_allclose(got[0], ref[0], rtol=rtol, atol=rtol * 1e-2)
        np.testing.assert_allclose(got[1], ref[1], rtol=rtol, atol=rtol * np.abs(ref[1]).max())
        for k in ref[2]:
            scale = np.abs(ref[2][k]).max()
            np.testing.assert_allclose(
                got[2][k], ref[2][k], rtol=rtol, atol=rtol * scale, err_msg=k
            )
        for k in ref[3]:  # running statistics: near-zero means need a scale-relative atol
            scale = float(np.abs(ref[3][k]).max())
            np.testing.assert_allclose(
                got[3][k], ref[3][k], rtol=rtol, atol=rtol * scale, err_msg=k
            )


def test_a_forked_child_starts_its_own_workers(threads):
    """The workers are threads of the parent: a child process made by fork must not hand
    work to them (it would wait forever), but start its own."""
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    threads(2)
    parallel.for_chunks(lambda r: r, 10, parallel.MIN_ELEMENTS)  # the workers exist now
    pid = os.fork()
    if pid == 0:  # the child: exit status 0 only if a split call completes in it
        try:
            got = parallel.for_chunks(lambda r: (r.start, r.stop), 10, parallel.MIN_ELEMENTS)
            os._exit(0 if got == [(0, 5), (5, 10)] else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_split_call_inside_a_split_call_runs_on_the_calling_thread(threads):
    """A `work` that itself splits must not hand work to busy workers (a deadlock)."""
    threads(2)

    def outer(rows):
        return parallel.for_chunks(lambda r: (r.start, r.stop), 4, parallel.MIN_ELEMENTS)

    got = parallel.for_chunks(outer, 2, parallel.MIN_ELEMENTS)
    assert got == [[(0, 4)], [(0, 4)]]  # inside, the rows come in one piece


@pytest.mark.parametrize("spin", [0.0, 0.005])
def test_hand_offs_work_with_and_without_spinning(threads, monkeypatch, spin):
    """Sleeping at once (0) and spinning first reach the same results, over many calls, with
    the worker and the caller each finishing first."""
    monkeypatch.setattr(parallel, "THREAD_SPIN_SECONDS", spin)
    threads(2)
    for i in range(200):
        slow_second = i % 2 == 0

        def work(rows, slow_second=slow_second, i=i):
            if (rows.start > 0) == slow_second and i % 50 == 0:
                time.sleep(0.01)  # longer than any spin: the other side goes to sleep
            return rows.start

        assert parallel.for_chunks(work, 10, parallel.MIN_ELEMENTS) == [0, 5]


def test_more_pieces_than_threads_all_run_in_order(threads):
    threads(2)
    assert parallel.run_each(lambda i: i * i, [1, 2, 3, 4]) == [1, 4, 9, 16]
