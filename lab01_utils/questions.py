"""The notebooks' questions: finding them, and checking a numeric answer without holding it.

A question is a markdown cell that opens with a heading `### Question N.M: title`. The student
answers in the cell right after it:

* in words, a markdown cell whose answer, in the instructor's notebook, is a solution region
  (the release replaces it by `YOUR ANSWER HERE`, `solutions.py`);
* with a number, a code cell::

      # Question 3.3: multiply-adds of layer2.0's first convolution
      <BEGIN marker>
      answer = ...                      (the instructor's computation)
      <END marker>
      questions.check("3.3", answer, digest="...", digits=3)

  In the release the region becomes `raise NotImplementedError("Question 3.3: ...")`, which the
  notebook extension shows as a one-line notice; the student replaces that line with their own
  `answer = ...` and runs the cell.

`check` compares a salted sha256 digest of the answer rounded to `digits` significant digits
with the digest the notebook gives, so the release can say "right" without shipping the
number in plain sight. It is a self-check, not a secret: with a few digits, a loop over
candidates finds the number; the written answers and the exercises are what is graded.
`python -m lab01_utils.questions 3.3 25088 --digits 3` prints the digest to paste.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .checks.core import CheckFailed

__all__ = ["HEADING", "Question", "check", "digest", "find_questions", "main"]

HEADING = re.compile(r"^\s*#{1,6}\s*Question\s+(?P<id>\d+\.\d+)\s*[:.—-]?\s*(?P<title>.*)$")
_SALT = "lab01-question-v1"


def digest(question: str, value: float, digits: int = 0) -> str:
    """The salted sha256 of `value` for `question`: exact for `digits=0` (a whole number),
    else rounded to `digits` significant digits."""
    if digits == 0:
        if float(value) != int(value):
            raise ValueError(f"Question {question}: {value!r} is not a whole number")
        text = str(int(value))
    else:
        text = f"{float(value):.{digits}g}"
    return hashlib.sha256(f"{_SALT}:{question}:{text}".encode()).hexdigest()[:16]


_digest = digest  # `check` takes a keyword argument of the same name


def _candidates(value: float, digits: int) -> list[float]:
    """`value` and its neighbours half a unit in the last kept digit away, so an answer that
    rounds to the other side of a boundary still counts."""
    if digits == 0 or value == 0 or not math.isfinite(value):
        return [value]
    unit = 10.0 ** (math.floor(math.log10(abs(value))) - digits + 1)
    return [value, value - unit / 2, value + unit / 2]


def check(question: str, value, *, digest: str, digits: int = 0, hint: str = "") -> bool:
    """Whether `value` answers `question`; prints "right" or raises `CheckFailed` saying what
    was checked (the notebook shows that as one line, without a traceback).

    Args:
        question: "3.3".
        value: the student's number (an int, a float or a 0-d array).
        digest: the notebook's digest of the right answer (`digest()`).
        digits: 0 for a whole number; else how many significant digits are compared.
        hint: one sentence that helps without giving the number away.
    """
    want = digest
    try:
        if isinstance(value, (str, bytes, bool)):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        raise CheckFailed(
            f"Question {question}: the answer must be a number, got {type(value).__name__} "
            f"{value!r}"
        ) from None
    if not math.isfinite(number):
        raise CheckFailed(f"Question {question}: the answer is {number}, not a finite number")
    if digits == 0 and number != int(number):
        raise CheckFailed(f"Question {question}: the answer is a whole number; got {value!r}")
    for candidate in _candidates(number, digits):
        if _digest(question, candidate, digits) == want:
            print(f"Question {question}: right.")
            return True
    how = "exactly" if digits == 0 else f"to {digits} significant digits"
    more = f" Hint: {hint}" if hint else ""
    raise CheckFailed(f"Question {question}: {value!r} is not the answer (compared {how}).{more}")


@dataclass(frozen=True)
class Question:
    """A question in a notebook: its id, title, and the cells that ask and answer it."""

    id: str
    title: str
    cell: int  # the question's markdown cell
    answer_cell: int | None  # the cell right after it, or None when the notebook ends there

    def text(self, nb: dict) -> str:
        return _source(nb["cells"][self.cell])

    def answer(self, nb: dict) -> str:
        return "" if self.answer_cell is None else _source(nb["cells"][self.answer_cell])


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def find_questions(nb: dict | str | Path) -> list[Question]:
    """The questions of a notebook (parsed JSON or a path), in order."""
    if not isinstance(nb, dict):
        nb = json.loads(Path(nb).read_text(encoding="utf-8"))
    cells = nb.get("cells", [])
    found = []
    for i, cell in enumerate(cells):
        if cell.get("cell_type") != "markdown":
            continue
        first = _source(cell).lstrip().split("\n", 1)[0]
        m = HEADING.match(first)
        if m:
            found.append(
                Question(m["id"], m["title"].strip(), i, i + 1 if i + 1 < len(cells) else None)
            )
    return found


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m lab01_utils.questions",
        description="Print the digest of a numeric answer, to paste into the notebook's check.",
    )
    p.add_argument("question", help="the question's number, e.g. 3.3")
    p.add_argument("value", type=float, help="the right answer")
    p.add_argument("--digits", type=int, default=0, help="significant digits (0: whole number)")
    args = p.parse_args(argv)
    try:
        print(digest(args.question, args.value, args.digits))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
