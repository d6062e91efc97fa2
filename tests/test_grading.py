"""Tests for lab01_utils/handin.py and lab01_utils/grading.py: hand-ins graded by the
instructor's checks alone, one row per submission whatever the submission does.

A folder of submissions: complete, empty (stubs), a planted mistake, a check edited to always
pass, one that raises on import, one that loops forever, one that prints endlessly, one that is
not an archive. Hand-in then grade round-trips a filled release to full marks.

Instructor-only (grading is the instructor's).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from lab01_utils import checks, grading, handin, release

ROOT = Path(release.__file__).resolve().parents[1]
TOTAL = sum(e.points for e in checks.EXERCISES.values())
LIMIT_S = 60  # per submission, in these tests


def fill(root: Path) -> None:
    """Put the instructor's solutions back in place of the release's stubs."""
    for rel in handin.exercise_files():
        text = (ROOT / rel).read_text(encoding="utf-8")
        _, regions = release.strip_solutions(text, str(rel))
        path = root / rel
        path.write_text(release.restore(path.read_text(encoding="utf-8"), regions))


@pytest.fixture(scope="module")
def student_release(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release") / "student"
    release.build_release(ROOT, out)
    return out


def copy(student_release: Path, to: Path) -> Path:
    shutil.copytree(student_release, to)
    return to


@pytest.fixture(scope="module")
def graded(student_release, tmp_path_factory):
    subs = tmp_path_factory.mktemp("submissions")
    complete = copy(student_release, subs / "complete")
    fill(complete)  # the exercises, and every question answered (the instructor's notebooks)
    shutil.copytree(ROOT / "notebooks", complete / "notebooks", dirs_exist_ok=True)
    copy(student_release, subs / "empty")
    planted = copy(student_release, subs / "planted")
    fill(planted)
    act = planted / "lab01_utils" / "nn" / "activation.py"
    text = act.read_text()
    assert "1 + x * (1 - s)" in text
    act.write_text(text.replace("1 + x * (1 - s)", "1 + x * s", 1))  # a wrong SiLU backward
    cheat = copy(student_release, subs / "cheat")  # stubs, and a check that always passes
    core = cheat / "lab01_utils" / "checks" / "core.py"
    core.write_text(core.read_text() + "\nCheckResult.passed = property(lambda self: True)\n")
    boom = copy(student_release, subs / "boom")
    fill(boom)
    (boom / "lab01_utils" / "nn" / "linear.py").write_text("raise RuntimeError('boom')\n")
    loops = copy(student_release, subs / "loops")
    (loops / "lab01_utils" / "nn" / "loss.py").write_text("while True:\n    pass\n")
    chatty = copy(student_release, subs / "chatty")
    (chatty / "lab01_utils" / "nn" / "loss.py").write_text("while True:\n    print('x' * 999)\n")
    (subs / "junk.zip").write_bytes(b"this is not a zip archive")
    out = tmp_path_factory.mktemp("grades")
    t0 = time.monotonic()
    grades = grading.grade_all(subs, out, ROOT, timeout=LIMIT_S, max_output=100_000,
                               progress=lambda line: None)  # fmt: skip
    seconds = time.monotonic() - t0
    rows = {r["submission"]: r for r in csv.DictReader((out / "grades.csv").open())}
    return grades, rows, out, seconds


def test_every_submission_gets_a_row_and_the_run_keeps_to_its_limits(graded):
    grades, rows, out, seconds = graded
    assert set(rows) == {"complete", "empty", "planted", "cheat", "boom", "loops", "chatty",
                         "junk.zip"}  # fmt: skip
    assert seconds < 8 * LIMIT_S
    for name, row in rows.items():
        assert (out / "results" / f"{row['student']}.json").is_file(), name
        assert (out / "answers" / f"{row['student']}.md").is_file(), name


def test_the_points_are_the_instructors_checks(graded):
    _, rows, out, _ = graded
    assert rows["complete"]["total"] == str(TOTAL) and rows["complete"]["status"] == "graded"
    assert rows["empty"]["total"] == "0" and rows["empty"]["status"] == "graded"
    assert rows["cheat"]["total"] == "0"  # its edited check was not the one that ran
    planted = rows["planted"]
    assert planted["1.2"] == "0" and planted["1.1"] == "2"
    lost = int(planted["1.2"]) - checks.EXERCISES["1.2"].points
    assert int(planted["total"]) <= TOTAL + lost
    result = json.loads((out / "results" / "planted.json").read_text())
    test = next(t for t in result["tests"] if t["name"].startswith("Exercise 1.2"))
    assert test["score"] == 0 and test["max_score"] == 3 and "dx" in test["output"]
    assert result["score"] == int(planted["total"])
    full = json.loads((out / "results" / "complete.json").read_text())
    assert full["score"] == TOTAL and len(full["tests"]) == len(checks.EXERCISES)
    assert all(t["score"] == t["max_score"] for t in full["tests"])


def test_a_submission_that_fails_says_why(graded):
    _, rows, out, _ = graded
    assert rows["boom"]["status"].startswith("does not import or run")
    assert "RuntimeError: boom" in rows["boom"]["status"]
    assert rows["loops"]["status"] == f"did not finish within {LIMIT_S} s"
    assert rows["chatty"]["status"] == "printed more than 100,000 bytes"
    assert rows["junk.zip"]["status"] == "not a hand-in: neither a folder nor a zip archive"
    for name in ("boom", "loops", "chatty", "junk.zip"):
        assert rows[name]["total"] == "0"
    junk = json.loads((out / "results" / "junk.json").read_text())
    assert junk["output"].startswith("could not be graded: not a hand-in")


def test_written_answers_are_collected_beside_their_questions(graded):
    _, rows, out, _ = graded
    answered, asked = map(int, rows["complete"]["answered"].split("/"))
    assert asked >= 14 and answered == asked  # the instructor's notebooks answer them all
    assert rows["empty"]["answered"] == f"0/{asked}"
    page = (out / "answers" / "empty.md").read_text()
    assert len(re.findall(r"^## Question ", page, re.M)) == asked and "(not answered)" in page


def test_hand_in_then_grade_gives_full_marks(student_release, tmp_path):
    work = copy(student_release, tmp_path / "ada_copy")
    fill(work)
    env = {**os.environ, "PYTHONPATH": str(work), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "lab01_utils.handin", "--name", "ada"],
        cwd=work, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "every exercise passes its self-check" in proc.stdout
    (archive,) = (work / "dist" / "handin").glob("lab01-handin-ada-*.zip")
    with zipfile.ZipFile(archive) as z:
        names = set(z.namelist())
        manifest = json.loads(z.read(handin.MANIFEST))
    assert names == {f.as_posix() for f in handin.handed_in_files(work)} | {handin.MANIFEST}
    assert manifest["student"] == "ada" and manifest["version"].endswith("+student")
    assert set(manifest["exercises"].values()) == {"done"}
    grades = grading.grade_all(archive, tmp_path / "grades", ROOT, timeout=300,
                               progress=lambda line: None)  # fmt: skip
    assert [(g.student, g.total, g.status) for g in grades] == [("ada", TOTAL, "graded")]


def test_a_hand_in_with_exercises_left_says_which(student_release, tmp_path, capsys):
    work = copy(student_release, tmp_path / "bob")
    path, manifest = handin.write_handin(work, "bob", tmp_path / "out",
                                         states={"1.1": "done", "1.2": "not yet"})  # fmt: skip
    assert path.is_file() and manifest["exercises"] == {"1.1": "done", "1.2": "not yet"}
    with pytest.raises(ValueError, match="NAME 'b o b'"):
        handin.write_handin(work, "b o b", tmp_path / "out", states={})


def test_the_autograder_bundle_grades_a_hand_in_as_gradescope_would(student_release, tmp_path):
    from lab01_utils import autograder

    bundle = autograder.build_autograder(ROOT, tmp_path / "autograder.zip", "2.13.0")
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as z:
        names = set(z.namelist())
        assert {"setup.sh", "run_autograder", "source/pyproject.toml"} <= names
        assert (
            "source/lab01_utils/grading.py" in names
            and "source/lab01_utils/checks/core.py" in names
        )
        assert not any("__pycache__" in n for n in names)
        z.extractall(root / "source_tmp")
    (root / "source_tmp" / "source").rename(root / "source")
    setup = (root / "source_tmp" / "setup.sh").read_text()
    assert 'pip install ${TORCH_INDEX:+--index-url "$TORCH_INDEX"} "torch==2.13.0"' in setup
    work = copy(student_release, tmp_path / "carol")
    fill(work)
    path, _ = handin.write_handin(work, "carol", root / "submission", states={})
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "OMP_NUM_THREADS": "1"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # its python3
    run = root / "source_tmp" / "run_autograder"
    proc = subprocess.run(["bash", str(run)], env=env, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == TOTAL and len(results["tests"]) == len(checks.EXERCISES)
    assert {"name", "score", "max_score", "output"} <= set(results["tests"][0])
