"""The student release as a student meets it: the day-one test run, Run All, `make run`, a
wrong answer, and the same with the solutions put back.

Each runs the release's own commands in a fresh copy of it, in a subprocess whose
`lab01_utils` is the release's (the working directory comes first on `sys.path`).

Instructor-only: `make student` leaves this file out.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lab01_utils import checks, release

ROOT = Path(release.__file__).resolve().parents[1]
DAY_ONE_MAX_LINES = 100
TIMEOUT = 900
# The release's test command: the first line of `make test` there.
TEST_COMMAND = ("-m", "pytest", "-q", "-p", "no:cacheprovider", "tests")
NOTEBOOKS = ("-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly")
NOTEBOOKS += ("--nbval-lax", "--nbval-current-env", "notebooks")


def run_in(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root), "LAB01_PROFILE": "quick"}
    return subprocess.run(
        [sys.executable, *args], cwd=root, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )


@pytest.fixture(scope="module")
def day_one(tmp_path_factory) -> Path:
    """A fresh copy of the release, every exercise still a stub."""
    out = tmp_path_factory.mktemp("day_one") / "student"
    release.build_release(ROOT, out)
    return out


@pytest.fixture(scope="module")
def solved(tmp_path_factory) -> Path:
    """The release with the instructor's solutions put back in place of the stubs."""
    out = tmp_path_factory.mktemp("solved") / "student"
    summary = release.build_release(ROOT, out)
    for rel in summary.stubs:
        if rel.endswith(".py"):
            text = (ROOT / rel).read_text(encoding="utf-8")
            _, regions = release.strip_solutions(text, rel)
            path = out / rel
            path.write_text(release.restore(path.read_text(encoding="utf-8"), regions))
    return out


def test_the_release_is_the_students(day_one):
    readme = (day_one / "README.md").read_text()
    assert readme == (ROOT / release.STUDENT_README).read_text()
    assert "make test" in readme and "make lab" in readme
    for instructor_only in ("make student", "solution", "grading", "release"):
        assert instructor_only not in readme.lower(), instructor_only
    for absent in (".ci", "tests/test_notebooks_policy.py", "tests/test_project.py"):
        assert not (day_one / absent).exists(), absent
    # lint is offered, not a gate before the tests
    plan = subprocess.run(
        ["make", "-n", "test", "PY=python"], cwd=day_one, capture_output=True, text=True
    )
    assert "pytest" in plan.stdout and "ruff" not in plan.stdout, plan.stdout + plan.stderr


@pytest.mark.slow
def test_day_one_the_test_command_shows_progress_first_and_fails(day_one):
    proc = run_in(day_one, *TEST_COMMAND)
    out = proc.stdout + proc.stderr
    lines = out.splitlines()
    assert proc.returncode != 0, out[-3000:]
    assert len(lines) <= DAY_ONE_MAX_LINES, f"{len(lines)} lines:\n{out}"
    table = lines[lines.index("Your exercises:") + 1 :][: len(checks.EXERCISES)]
    for ex, line in zip(checks.EXERCISES, table, strict=True):
        assert re.match(
            rf"\s+{re.escape(ex)}\s+{re.escape(checks.EXERCISES[ex].title)}\s+not yet", line
        )
    assert "0 of 16 exercises done (0 of 50 points)" in out
    assert "Next: Exercise 1.1 (SiLU forward)" in out
    assert "Traceback" not in out and "FAILED" not in out and "Error" not in out, out
    assert re.search(r"\d+ tests wait for exercises that do not pass yet", out), out


@pytest.mark.slow
def test_day_one_every_notebook_runs_to_the_end(day_one):
    proc = run_in(day_one, *NOTEBOOKS)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]


def test_day_one_make_run_lists_what_is_left(day_one):
    proc = run_in(day_one, "-m", "lab01_utils.main")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "0 of 16 exercises done" in proc.stdout and "Traceback" not in proc.stderr
    assert "trains your own engine once every exercise passes" in proc.stdout


@pytest.mark.slow
def test_a_wrong_answer_fails_its_exercise_and_the_rest_waits(solved, tmp_path):
    root = tmp_path / "student"
    shutil.copytree(solved, root)
    act = root / "lab01_utils/nn/activation.py"
    text = act.read_text()
    assert "return x * s" in text
    act.write_text(text.replace("return x * s", "return s", 1))  # sigmoid, not SiLU
    proc = run_in(root, *TEST_COMMAND)
    out = proc.stdout
    assert proc.returncode != 0
    assert re.search(r"1\.1\s+SiLU forward\s+FAILING", out), out[:3000]
    assert re.search(r"1\.2\s+SiLU backward\s+not yet\s+needs Exercise 1\.1 first", out)
    assert "hint: that is sigmoid(x)" in out  # the check's report, as the failure
    failed = re.findall(r"^FAILED (\S+)", out, re.M)
    assert failed == ["tests/test_exercises.py::test_exercise[ex1_1]"], failed
    assert "Fix: Exercise 1.1 (SiLU forward)" in out
    assert len(out.splitlines()) <= DAY_ONE_MAX_LINES, out


@pytest.mark.slow
def test_with_the_solutions_everything_runs_for_real(solved):
    proc = run_in(solved, *TEST_COMMAND, "-m", "not browser")
    tail = proc.stdout[-3000:]
    assert proc.returncode == 0, tail + proc.stderr[-2000:]
    assert "16 of 16 exercises done (50 of 50 points)" in proc.stdout
    assert "skipped" not in tail and "xfail" not in tail and "failed" not in tail, tail
    notebooks = run_in(solved, *NOTEBOOKS)
    assert notebooks.returncode == 0, (notebooks.stdout + notebooks.stderr)[-4000:]
    run = run_in(solved, "-m", "lab01_utils.main")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert (solved / "runs/quick/comparison.md").is_file()
