"""Shared fixtures for the tests (tolerances and helpers live in `helpers.py`), and the
progress view that opens every test run.

The run starts with one line per exercise (done, not yet, failing) from `lab01_utils.progress`.
A test that needs an exercise which does not pass its check yet waits for it: it is skipped
with the exercise named (`pytest.mark.needs` on its module; a stub's `NotImplementedError`
anywhere also counts), and the exercise's own test in `test_exercises.py` is reported as not
done (xfail) until written, then fails with the check's report while wrong. Once an exercise
passes its check, everything that needs it runs for real. The run fails while any exercise it
selected is not done.
"""

from __future__ import annotations

import os

# The tests run thousands of tiny GEMMs and convolutions. On a small, shared machine, BLAS
# and torch thread pools only add synchronisation (measured on 2 loaded cores: a batch-4
# forward + backward of the lab model took ~2 s in torch and ~0.5 s in NumPy with 2 threads,
# under 0.1 s each with 1). OpenBLAS and torch read these when they load, hence before the
# imports; an explicit setting in the environment wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lab01_utils import progress  # noqa: E402
from lab01_utils.checks.core import stub_exercise  # noqa: E402


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, fixed-seed generator per test, so every test is reproducible on its own."""
    return np.random.default_rng(1234)


# ----------------------------------------------------------------------------- progress
def pytest_configure(config):
    config.addinivalue_line(
        "markers", "needs(*exercises): the exercises whose code these tests run"
    )
    config.addinivalue_line(
        "markers",
        "waits_while_failing(*exercises): wait only while one of these fails its check "
        "(an exercise not written yet does not stop these tests)",
    )
    config._lab01_states = progress.statuses()
    config._lab01_selected = set()
    config._lab01_waiting = 0
    if any(s.state != progress.DONE for s in config._lab01_states.values()):
        config.option.reportchars = "fE"  # failures and errors only: the table says the rest


def _waiting_reason(states, exercises) -> str | None:
    for ex in exercises:
        s = states.get(ex)
        if s is not None and s.state != progress.DONE:
            why = "not written yet" if s.state == progress.NOT_YET else "failing its check"
            return f"waiting for Exercise {ex} ({s.title}), {why}"
    return None


def pytest_collection_modifyitems(config, items):
    states = config._lab01_states
    for item in items:
        if item.path.name == "test_exercises.py" and hasattr(item, "callspec"):
            ex = item.callspec.params.get("exercise")
            config._lab01_selected.add(ex)
            if states[ex].state == progress.NOT_YET:
                why = states[ex].detail if "needs" in states[ex].detail else "not done yet"
                item.add_marker(pytest.mark.xfail(reason=f"Exercise {ex}: {why}", run=False))
            continue
        marker = item.get_closest_marker("needs")
        reason = _waiting_reason(states, marker.args if marker else ())
        failing = item.get_closest_marker("waits_while_failing")
        if failing and not reason:
            broken = [e for e in failing.args if states[e].state == progress.FAILING]
            reason = _waiting_reason(states, broken)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_collection_finish(session):
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    states = session.config._lab01_states
    if tr is None:
        return
    if all(s.state == progress.DONE for s in states.values()):
        tr.write_line(f"lab01: {progress.summary(states)}")
        return
    tr.write_line("Your exercises:")
    for line in progress.table(states):
        tr.write_line(line)
    tr.write_line(progress.summary(states))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A stub met by a test that was not marked as needing it: waiting, not failing."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed or call.excinfo is None:
        return
    ex_id = stub_exercise(call.excinfo.value)
    if ex_id in item.config._lab01_states:
        reason = _waiting_reason(item.config._lab01_states, [ex_id])
        if reason:
            report.outcome = "skipped"
            report.longrepr = (str(item.path), item.location[1], f"Skipped: {reason}")


_waiting = {"tests": 0}  # how many tests of this run waited for an exercise


def pytest_runtest_logreport(report):
    if (
        report.when != "teardown"
        and report.skipped
        and "waiting for Exercise" in str(report.longrepr)
    ):
        _waiting["tests"] += 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    states = config._lab01_states
    if all(s.state == progress.DONE for s in states.values()):
        return
    n = _waiting["tests"]
    if n:
        terminalreporter.write_line(f"{n} tests wait for exercises that do not pass yet (skipped).")
    terminalreporter.write_line(progress.next_step(states))


def pytest_sessionfinish(session, exitstatus):
    states = session.config._lab01_states
    pending = [ex for ex in session.config._lab01_selected if states[ex].state != progress.DONE]
    if pending and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
