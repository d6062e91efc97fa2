"""Notebook support, loaded by the first cell of every notebook::

    %load_ext lab01_utils.notebook

From then on, a cell that reaches an exercise you have not written yet (its stub raises
`NotImplementedError("Exercise N.M: ...")`) prints a one-line notice naming the exercise and
the file to edit, and stops there; the cell counts as finished, so Run All goes on to the end
of the notebook. A later cell that needs a result such a cell did not compute (a `NameError`,
or an `assert` on it, while an exercise is pending in this kernel) gets a notice too. A
question's answer cell that is still a stub (`NotImplementedError("Question N.M: ...")`)
prints a notice asking for the answer, and Run All goes on. Anything else (a wrong answer
while nothing is pending, a failing self-check, a bug) is an error as usual, with IPython's own
traceback, and stops the run where it happened.

`checks.check_...().require()` in a notebook: a check whose exercise is not written yet is a
notice too; a failing one stops the notebook with the check's report (printed above it) and
one line saying so, without a traceback.

How: IPython's handler for these exception classes (`set_custom_exc`) prints the notice, or
IPython's usual traceback for any other; after a notice, the `post_run_cell` event marks the
cell's run as a success. The cell's code runs as written (nothing is wrapped around it), so a
traceback points at the line that raised.
"""

from __future__ import annotations

import re

from .checks import EXERCISES, CheckFailed
from .checks.core import ExercisePending, stub_exercise

__all__ = ["load_ipython_extension", "pending", "unload_ipython_extension"]


# Exercises whose stub a cell met since the extension was loaded (in this kernel).
pending: dict[str, str] = {}


def _notice(ex_id: str) -> str:
    ex = EXERCISES.get(ex_id)
    what = f"Exercise {ex_id}" + (f" ({ex.title})" if ex else "")
    where = f" in {ex.where}" if ex else ""
    return (
        f"[{what} is not written yet, so this cell stops here; the notebook goes on. Write it"
        f"{where}, restart the kernel and run the notebook again.]"
    )


def _question_stub(exc: BaseException) -> str | None:
    if isinstance(exc, NotImplementedError):
        m = re.match(r"Question (\d+\.\d+)\b", str(exc))
        return m[1] if m else None
    return None


def on_stop(exc: BaseException) -> bool:
    """A cell raised `exc`: True (after printing a notice) when it is a stub's
    `NotImplementedError`, or a `NameError` or `AssertionError` while an exercise is pending;
    False when it is an error as usual."""
    q_id = _question_stub(exc)
    if q_id is not None:
        print(
            f"[Question {q_id} is yours to answer: replace the `raise NotImplementedError` line "
            "of this cell with `answer = ...` (your number) and run the cell again.]"
        )
        return True
    ex_id = stub_exercise(exc)
    if ex_id is not None:
        pending[ex_id] = str(exc)
        if isinstance(exc, ExercisePending):  # the check's report above says where
            print("[This cell stops here; the notebook goes on without it.]")
        else:
            print(_notice(ex_id))
        return True
    if isinstance(exc, (NameError, AssertionError)) and not isinstance(exc, CheckFailed):
        if pending:
            waits = " and ".join(f"Exercise {e}" for e in pending)
            if isinstance(exc, NameError) and getattr(exc, "name", None):
                print(
                    f"[This cell waits for {waits}: it uses `{exc.name}`, which is not defined "
                    "yet, most likely because the cell above that defines it stopped at that "
                    "exercise. If you skipped cells, run the cells above this one in order.]"
                )
            else:
                print(
                    "[This cell needs results a cell above could not compute: it waits for "
                    f"{waits}.]"
                )
            return True
    return False


def _on_exception(shell, etype, value, tb, tb_offset=None):
    """IPython's handler for `NotImplementedError`, `NameError` and `AssertionError` raised
    by a cell: a notice where `on_stop` gives one (the cell then counts as run), one line for
    a failing check (still an error), else IPython's usual traceback."""
    if isinstance(value, CheckFailed):  # its report is already printed
        print(f"[{value}]")
    elif on_stop(value):
        _noticed["exc"] = value
    else:
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)


def _after_cell(result) -> None:
    """`post_run_cell`: a cell that stopped with a notice ran successfully."""
    if result.error_in_exec is not None and result.error_in_exec is _noticed.pop("exc", None):
        result.error_in_exec = None


# The exception the last notice stood for (matched by identity, so a stale one is harmless).
_noticed: dict[str, BaseException] = {}
_HANDLED = (NotImplementedError, NameError, AssertionError)


def load_ipython_extension(ip) -> None:
    ip.set_custom_exc(_HANDLED, _on_exception)
    if _after_cell not in ip.events.callbacks["post_run_cell"]:
        ip.events.register("post_run_cell", _after_cell)


def unload_ipython_extension(ip) -> None:
    ip.set_custom_exc((), None)
    if _after_cell in ip.events.callbacks["post_run_cell"]:
        ip.events.unregister("post_run_cell", _after_cell)
