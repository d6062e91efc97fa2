"""Grading hand-ins with the instructor's checks only (instructor-only: not in the release).

    python -m lab01_utils.grading SUBMISSIONS [--out grades]      # or `make grade SUBMISSIONS=`

`SUBMISSIONS` is one hand-in (`make handin`'s `.zip`, or a copy of a student's project folder)
or a folder of them. Each is unpacked into a fresh copy of the student release built from
these sources, of which only the exercise files (`handin.exercise_files`) are taken from the
student: the checks, the tests and everything else are the instructor's. Each runs in its own
process, with a time and an output limit; one that does not unpack, does not import, hangs or
prints endlessly gets a row with the reason, and the others are still graded. Written:

* `grades.csv`: one row per student: each exercise's points (declared with its check), the
  total, and how many of the notebooks' questions they answered;
* `results/<student>.json`: what Gradescope's autograder reads
  (`{"score", "output", "tests": [{"name", "score", "max_score", "output"}]}`), each check's
  report as its output;
* `answers/<student>.md`: every question beside the student's answer, for grading by hand.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .config import child_env
from .files import atomic_write, atomic_write_text
from .handin import MANIFEST, exercise_files
from .questions import find_questions
from .solutions import TEXT_STUB

__all__ = ["GradeError", "Grade", "grade_all", "grade_one", "main", "written_answers"]

TIMEOUT_S = 600  # per submission: the checks take well under a minute
MAX_OUTPUT = 2_000_000  # bytes a submission may print
MAX_UNPACKED = 200_000_000  # bytes an archive may unpack to
MARK = "@@lab01-grade@@"

# Run in the submission's copy: every check, one JSON line after a mark (the student's code
# may print anything before it).
CHECK_ALL = f"""
import json, lab01_utils
from lab01_utils import checks
out = {{}}
for ex, r in checks.check_all(verbose=False).items():
    e = checks.EXERCISES[ex]
    out[ex] = {{"title": e.title, "passed": bool(r.passed), "max": e.points,
               "points": e.points if r.passed else 0, "report": r.report()}}
print("\\n{MARK}" + json.dumps({{"package": lab01_utils.__file__, "results": out}}))
"""


class GradeError(Exception):
    """Why a submission could not be graded (one line)."""


@dataclass
class Grade:
    student: str
    submission: str
    status: str = "graded"  # or the reason it could not be
    results: dict = field(default_factory=dict)  # exercise -> {title, passed, points, max, report}
    answers: list = field(default_factory=list)  # written_answers()

    @property
    def total(self) -> int:
        return sum(r["points"] for r in self.results.values())


# ----------------------------------------------------------------------------- unpacking
def unpack(submission: Path, into: Path) -> Path:
    """The project folder of `submission` (a folder, or a zip unpacked into `into`)."""
    if submission.is_dir():
        root = submission
    elif zipfile.is_zipfile(submission):
        with zipfile.ZipFile(submission) as z:
            members = z.infolist()
            if sum(m.file_size for m in members) > MAX_UNPACKED:
                raise GradeError(f"unpacks to more than {MAX_UNPACKED:,} bytes")
            for m in members:
                target = (into / m.filename).resolve()
                if not target.is_relative_to(into.resolve()):
                    raise GradeError(f"holds a path outside the archive: {m.filename!r}")
            z.extractall(into)
        root = into
    else:
        raise GradeError("not a hand-in: neither a folder nor a zip archive")
    if not (root / "lab01_utils").is_dir() and not (root / MANIFEST).is_file():
        inner = [p for p in root.iterdir() if p.is_dir() and (p / "lab01_utils").is_dir()]
        if len(inner) != 1:
            raise GradeError("no lab01_utils/ folder in it: not a hand-in of this lab")
        root = inner[0]
    return root


def student_name(submission: Path, root: Path) -> str:
    try:
        return str(json.loads((root / MANIFEST).read_text())["student"])
    except (OSError, ValueError, KeyError, TypeError):
        name = submission.resolve().name
        return name[: -len(".zip")] if name.endswith(".zip") else name


# ----------------------------------------------------------------------------- running
def run_checks(work: Path, timeout: float, max_output: int) -> dict:
    """Every check in a fresh process on the package in `work`; its results."""
    env = child_env(PYTHONPATH=str(work), OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(
            [sys.executable, "-P", "-c", CHECK_ALL],
            cwd=work,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its whole process group can be stopped
        )
        start, reason = time.monotonic(), None
        while proc.poll() is None:
            time.sleep(0.1)
            if os.fstat(out.fileno()).st_size > max_output:
                reason = f"printed more than {max_output:,} bytes"
            elif time.monotonic() - start > timeout:
                reason = f"did not finish within {timeout:g} s"
            if reason:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise GradeError(reason)
        out.seek(0)
        text = out.read(max_output + 1).decode(errors="replace")
    if MARK not in text:
        last = [line for line in text.strip().splitlines() if line.strip()][-1:] or ["no output"]
        raise GradeError(f"does not import or run (exit {proc.returncode}): {last[0][:300]}")
    found = json.loads(text.rsplit(MARK, 1)[1].splitlines()[0])
    if not Path(found["package"]).resolve().is_relative_to(work.resolve()):
        raise GradeError(f"graded the wrong package ({found['package']})")
    return found["results"]


def written_answers(root: Path, reference: Path) -> list[dict]:
    """Each question of the reference notebooks beside the student's answer cell."""
    rows = []
    for ref in sorted(reference.glob("[0-9][0-9]_*.ipynb")):
        ref_nb = json.loads(ref.read_text(encoding="utf-8"))
        mine = root / "notebooks" / ref.name
        try:
            nb = json.loads(mine.read_text(encoding="utf-8"))
            theirs = {q.id: q.answer(nb) for q in find_questions(nb)}
        except (OSError, ValueError):
            theirs = {}
        for q in find_questions(ref_nb):
            answer = theirs.get(q.id, "")
            stubbed = (
                not answer.strip()
                or TEXT_STUB in answer
                or f'NotImplementedError("Question {q.id}' in answer
            )
            rows.append(
                {
                    "notebook": ref.name,
                    "question": q.id,
                    "title": q.title,
                    "text": q.text(ref_nb),
                    "answer": answer,
                    "answered": not stubbed,
                    "kind": ref_nb["cells"][q.answer_cell]["cell_type"] if q.answer_cell else "",
                }
            )
    return rows


def grade_one(submission: Path, release: Path, scratch: Path, timeout=TIMEOUT_S,
              max_output=MAX_OUTPUT) -> Grade:  # fmt: skip
    """Grade one submission against the built `release` (its notebooks give the questions)."""
    name = submission.resolve().name
    grade = Grade(student=name.removesuffix(".zip"), submission=name)
    try:
        root = unpack(submission, scratch / "unpacked")
        grade.student = student_name(submission, root)
        work = scratch / "work"
        shutil.copytree(release, work)
        for rel in exercise_files():
            if (root / rel).is_file():
                shutil.copyfile(root / rel, work / rel)
        grade.answers = written_answers(root, release / "notebooks")
        grade.results = run_checks(work, timeout, max_output)
    except (GradeError, OSError, ValueError, zipfile.BadZipFile) as e:
        grade.status = str(e) or type(e).__name__
    return grade


# ----------------------------------------------------------------------------- writing
def gradescope(grade: Grade, exercises: dict) -> dict:
    """Gradescope's results.json for one student."""
    tests = []
    for ex, e in exercises.items():
        r = grade.results.get(ex)
        tests.append(
            {
                "name": f"Exercise {ex}: {e.title}",
                "score": r["points"] if r else 0,
                "max_score": e.points,
                "output": r["report"] if r else f"not graded: {grade.status}",
            }
        )
    answered = sum(a["answered"] for a in grade.answers)
    summary = (
        f"{grade.total} of {sum(e.points for e in exercises.values())} points from the checks; "
        f"{answered} of {len(grade.answers)} questions answered (graded by hand)"
    )
    if grade.status != "graded":
        summary = f"could not be graded: {grade.status}"
    return {"score": grade.total, "output": summary, "tests": tests}


def answers_page(grade: Grade) -> str:
    lines = [f"# Written answers: {grade.student}", ""]
    for a in grade.answers:
        lines += [f"## Question {a['question']}: {a['title']} ({a['notebook']})", "", a["text"]]
        lines += ["", f"**Answer** ({'answered' if a['answered'] else 'not answered'}):", ""]
        if a["kind"] == "code":
            lines += ["```python", a["answer"].rstrip(), "```", ""]
        else:
            lines += [a["answer"].rstrip() or "(empty)", ""]
    return "\n".join(lines) + "\n"


def _unique(name: str, taken: set[str]) -> str:
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "student"
    out, n = safe, 2
    while out in taken:
        out, n = f"{safe}-{n}", n + 1
    taken.add(out)
    return out


def grade_all(submissions: Path, out: Path, src: Path, timeout=TIMEOUT_S,
              max_output=MAX_OUTPUT, progress=print) -> list[Grade]:  # fmt: skip
    """Grade every submission under `submissions` (or that one); write the CSV, the results
    JSON and the answer pages under `out`."""
    from . import checks
    from .release import build_release

    submissions, out = Path(submissions), Path(out)
    if not submissions.exists():
        raise FileNotFoundError(f"{submissions}: no such file or folder")
    is_one = submissions.is_file() or (submissions / "lab01_utils").is_dir()
    items = [submissions] if is_one else sorted(p for p in submissions.iterdir()
                                               if not p.name.startswith("."))  # fmt: skip
    grades: list[Grade] = []
    with tempfile.TemporaryDirectory(prefix="lab01-grade-") as tmp:
        release = Path(tmp) / "release"
        build_release(src, release)
        for i, item in enumerate(items):
            scratch = Path(tmp) / f"s{i}"
            scratch.mkdir()
            grade = grade_one(item, release, scratch, timeout, max_output)
            grades.append(grade)
            progress(f"{item.name}: {grade.student}: {grade.total} points ({grade.status})")
            shutil.rmtree(scratch, ignore_errors=True)
    exercises = checks.EXERCISES
    taken: set[str] = set()
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["student", "submission", "status", *exercises, "total", "max", "answered"])
    top = sum(e.points for e in exercises.values())
    for g in grades:
        key = _unique(g.student, taken)
        pts = [g.results[ex]["points"] if ex in g.results else 0 for ex in exercises]
        answered = f"{sum(a['answered'] for a in g.answers)}/{len(g.answers)}"
        w.writerow([g.student, g.submission, g.status, *pts, g.total, top, answered])
        atomic_write_text(out / "results" / f"{key}.json",
                          json.dumps(gradescope(g, exercises), indent=1))  # fmt: skip
        atomic_write_text(out / "answers" / f"{key}.md", answers_page(g))
    atomic_write(out / "grades.csv", lambda f: f.write(buf.getvalue().encode()))
    return grades


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lab01_utils.grading", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("submissions", help="a hand-in (.zip or folder) or a folder of them")
    p.add_argument("--out", default="grades", help="where grades.csv, results/, answers/ go")
    p.add_argument("--src", default=".", help="the instructor's project (default: here)")
    p.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds per submission")
    p.add_argument("--max-output", type=int, default=MAX_OUTPUT, help="bytes per submission")
    p.add_argument("--gradescope", help="also write the one submission's results.json here")
    args = p.parse_args(argv)
    try:
        grades = grade_all(Path(args.submissions), Path(args.out), Path(args.src),
                           args.timeout, args.max_output)  # fmt: skip
    except (FileNotFoundError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.gradescope:
        from . import checks

        if len(grades) != 1:
            print(f"error: --gradescope needs one submission, got {len(grades)}", file=sys.stderr)
            return 2
        atomic_write_text(args.gradescope, json.dumps(gradescope(grades[0], checks.EXERCISES)))
    print(f"wrote {Path(args.out) / 'grades.csv'} ({len(grades)} submissions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
