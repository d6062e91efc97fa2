"""One test per exercise, each with its own marker, so `pytest -m ex3_2` runs Exercise 3.2's.

Each runs the exercise's self-check from `lab01_utils.checks` (the report the notebooks
print): parity with the torch twin, central-difference gradients, and a hint when the error
matches a classic mistake. A failing test's message is that report; an exercise not written
yet is reported as not done (xfail, `tests/conftest.py`), and the run fails until every
exercise it selects passes.
"""

from __future__ import annotations

import pytest

from lab01_utils import checks


def _marked(exercise: str):
    name = "ex" + exercise.replace(".", "_")
    return pytest.param(exercise, marks=getattr(pytest.mark, name), id=name)


@pytest.mark.parametrize("exercise", [_marked(e) for e in checks.EXERCISES])
def test_exercise(exercise):
    result = checks.check(exercise, verbose=False)
    if not result.passed:  # the check's report is the whole story: no traceback around it
        pytest.fail("\n" + result.report(), pytrace=False)
