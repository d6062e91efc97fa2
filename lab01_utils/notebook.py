"""Notebook support, loaded by the first cell of every notebook::

    %load_ext lab01_utils.notebook

From then on, a cell that reaches an exercise you have not written yet (its stub raises
`NotImplementedError("Exercise N.M: ...")`) prints a one-line notice naming the exercise and
the file to edit, and stops there; the cell counts as finished, so Run All goes on to the end
of the notebook. A later cell that needs a result such a cell did not compute (a `NameError`,
or an `assert` on it, while an exercise is pending in this kernel) gets the same kind of
notice. A question's answer cell that is still a stub (`NotImplementedError("Question N.M: ...")`)
prints a notice asking for the answer, and Run All goes on. Anything else (a wrong answer
while nothing is pending, a failing self-check, a bug)
is an error as usual and stops the run where it happened.

`checks.check_...().require()` in a notebook: a check whose exercise is not written yet is a
notice too; a failing one stops the notebook with the check's report (printed above it) and
one line saying so, without a traceback.

How: an IPython AST transformer wraps each cell as `try: <cell> except (NotImplementedError,
NameError, AssertionError): <notice or re-raise>`, keeping the cell's last expression on its
own so that its value still shows.
"""

from __future__ import annotations

import ast
import re

from .checks import EXERCISES, CheckFailed
from .checks.core import stub_exercise

__all__ = ["load_ipython_extension", "pending", "unload_ipython_extension"]

_ON_STOP = "_lab01_on_stop"
_VALUE = "_lab01_value"
_OK = "_lab01_ok"
_EXC = "_lab01_exc"

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
    """A transformed cell caught `exc`: True (after printing a notice) when it is a stub's
    `NotImplementedError`, or a `NameError` or `AssertionError` while an exercise is pending;
    False to re-raise."""
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
        print(_notice(ex_id))
        return True
    if isinstance(exc, (NameError, AssertionError)) and not isinstance(exc, CheckFailed):
        if pending:
            waits = ", ".join(f"Exercise {e}" for e in pending)
            print(
                f"[This cell needs results a cell above could not compute: it waits for {waits}.]"
            )
            return True
    return False


def value(compute):
    """The value of a cell's last expression (`compute()`), or None after a notice."""
    try:
        return compute()
    except (NotImplementedError, NameError, AssertionError) as exc:
        if not on_stop(exc):
            raise
        return None


class _Guard(ast.NodeTransformer):
    """`<head>; <last expr>` -> `ok = True; try: <head> except ...: ok = on_stop(...) or raise;
    value(lambda: <last expr>) if ok else None`."""

    def visit_Module(self, node: ast.Module) -> ast.Module:
        body = node.body
        if not body:
            return node
        last = body[-1] if isinstance(body[-1], ast.Expr) else None
        head = body[:-1] if last is not None else body
        stmts: list[ast.stmt] = [ast.parse(f"{_OK} = True").body[0]]
        if head:
            guard = ast.parse(
                "try:\n    pass\n"
                f"except (NotImplementedError, NameError, AssertionError) as {_EXC}:\n"
                f"    if not {_ON_STOP}({_EXC}):\n        raise\n    {_OK} = False"
            ).body[0]
            guard.body = head
            stmts.append(guard)
        if last is not None:
            expr = ast.IfExp(
                test=ast.Name(_OK, ast.Load()),
                body=ast.Call(
                    ast.Name(_VALUE, ast.Load()),
                    [ast.Lambda(ast.arguments([], [], None, [], [], None, []), last.value)],
                    [],
                ),
                orelse=ast.Constant(None),
            )
            stmts.append(ast.Expr(expr))
        node.body = stmts
        return ast.fix_missing_locations(node)


def _check_failed(shell, etype, evalue, tb, tb_offset=None):
    """A failing self-check: its report is already printed; one line, no traceback."""
    print(f"[{evalue}]")


def load_ipython_extension(ip) -> None:
    if not any(isinstance(t, _Guard) for t in ip.ast_transformers):
        ip.ast_transformers.append(_Guard())
    ip.push({_ON_STOP: on_stop, _VALUE: value}, interactive=False)
    ip.set_custom_exc((CheckFailed,), _check_failed)


def unload_ipython_extension(ip) -> None:
    ip.ast_transformers[:] = [t for t in ip.ast_transformers if not isinstance(t, _Guard)]
    ip.set_custom_exc((), None)
