"""Where the student stands: each exercise done, not yet written, or failing its check.

    python -m lab01_utils.progress       # the table, the points, and what to do next

The same table opens the test run (`tests/conftest.py`) and `make run` (which trains only
once every exercise passes).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from . import checks

DONE, NOT_YET, FAILING = "done", "not yet", "FAILING"


@dataclass(frozen=True)
class Status:
    """One exercise's state, from its self-check."""

    exercise: str
    title: str
    state: str  # DONE, NOT_YET or FAILING
    where: str  # the file(s) to edit
    detail: str  # the check's first finding ("" when done)

    @property
    def notebook(self) -> str:
        """The notebook that introduces the exercise, e.g. "03"."""
        return f"{int(self.exercise.split('.')[0]):02d}"


def statuses() -> dict[str, Status]:
    """Every exercise's `Status`, by running its self-check (quietly, a few seconds in all)."""
    out = {}
    results = checks.check_all(verbose=False)
    for ex_id, result in results.items():
        ex = checks.EXERCISES[ex_id]
        blocked = [d for d in ex.depends if not results[d].passed]
        if result.passed:
            state, detail = DONE, ""
        elif blocked:  # it cannot pass before what it builds on does
            state, detail = NOT_YET, f"needs Exercise {blocked[0]} first"
        elif not result.implemented:
            state = NOT_YET
            detail = (
                f"needs Exercise {result.missing} first"
                if result.missing not in (None, ex_id)
                else "not written yet"
            )
        else:
            state = FAILING
            detail = next((m for m in result.messages if not m.startswith(("ok:", "note:"))), "")
        out[ex_id] = Status(ex_id, ex.title, state, ex.where, detail)
    return out


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def table(states: dict[str, Status]) -> list[str]:
    """One line per exercise: number, title, state, and the check's first finding."""
    lines = []
    for s in states.values():
        detail = s.detail
        if s.state == NOT_YET and "needs" not in detail:
            detail = f"{s.where.split(',')[0]}, notebook {s.notebook}"
        lines.append(f"  {s.exercise:>4}  {s.title:<32} {s.state:<8} {_short(detail, 56)}")
    return lines


def summary(states: dict[str, Status]) -> str:
    """E.g. "3 of 16 exercises done (7 of 50 points); 1 failing its check"."""
    done = [s for s in states.values() if s.state == DONE]
    failing = [s for s in states.values() if s.state == FAILING]
    points = sum(checks.EXERCISES[s.exercise].points for s in done)
    total = sum(e.points for e in checks.EXERCISES.values())
    text = f"{len(done)} of {len(states)} exercises done ({points} of {total} points)"
    return text + (f"; {len(failing)} failing its check" if failing else "")


def next_step(states: dict[str, Status]) -> str:
    """What to do next: fix the first failing exercise, else write the first one not done."""
    for wanted in (FAILING, NOT_YET):
        for s in states.values():
            if s.state == wanted and "needs" not in s.detail:
                verb = "Fix" if wanted == FAILING else "Next"
                return (
                    f"{verb}: Exercise {s.exercise} ({s.title}) in {s.where}; notebook "
                    f"{s.notebook} introduces it, and `checks.check('{s.exercise}')` "
                    "prints its full report."
                )
    return "Every exercise passes its check: `make run` trains your own engine."


def report(states: dict[str, Status] | None = None) -> str:
    """The table, the summary and the next step, as printed."""
    states = statuses() if states is None else states
    return "\n".join(["Your exercises:", *table(states), summary(states), next_step(states)])


def main() -> int:
    states = statuses()
    print(report(states))
    return 0 if all(s.state == DONE for s in states.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
