"""Tests for lab01_utils/update.py: a student takes a corrected release mid-term (a changed
test, a change to an exercise file outside the exercises) and keeps their exercises and their
notebook answers; a file they edited that the release replaces stops the update untouched.

Instructor-only (it builds releases from the instructor's sources).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lab01_utils import release
from lab01_utils.questions import find_questions
from lab01_utils.solutions import dumps_notebook

ROOT = Path(release.__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns(".git", ".venv", "runs", "dist", "grades", "__pycache__",
                              ".pytest_cache", ".ruff_cache", "results")  # fmt: skip
ACT = "lab01_utils/nn/activation.py"
TEST = "tests/test_linear.py"
NB = "notebooks/01_silu.ipynb"


def tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}  # fmt: skip


def update(student: Path, new: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(student)}
    cmd = [sys.executable, "-m", "lab01_utils.update", str(new), *extra]
    return subprocess.run(cmd, cwd=student, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    """(the release as first given, a corrected one: a changed test, and a change to an
    exercise file outside its exercises)."""
    base = tmp_path_factory.mktemp("releases")
    first = release.build_release(ROOT, base / "first").out
    src = base / "src2"
    shutil.copytree(ROOT, src, ignore=SKIP)
    test = src / TEST
    test.write_text(test.read_text() + "\n\n# corrected in the second release\n")
    act = src / ACT
    act.write_text(act.read_text() + "\n\n# A note added by the second release.\n")
    nb = json.loads((src / NB).read_text())
    nb["cells"].append({"cell_type": "markdown", "id": "erratum", "metadata": {},
                        "source": ["An erratum from the second release.\n"]})  # fmt: skip
    (src / NB).write_text(dumps_notebook(nb))
    second = release.build_release(src, base / "second").out
    return first, second


def a_students_copy(first: Path, to: Path) -> Path:
    shutil.copytree(first, to)
    act = to / ACT
    text = act.read_text()
    stub = 'raise NotImplementedError("Exercise 1.1: SiLU forward")'
    assert stub in text
    act.write_text(text.replace(stub, "return x * sigmoid(x)  # my answer"))
    nb = json.loads((to / NB).read_text())
    q = next(q for q in find_questions(nb) if nb["cells"][q.answer_cell]["cell_type"] == "markdown")
    nb["cells"][q.answer_cell]["source"] = ["My own answer, in my words.\n"]
    (to / NB).write_text(dumps_notebook(nb))
    return to


def test_an_update_keeps_the_exercises_and_the_answers(releases, tmp_path):
    first, second = releases
    student = a_students_copy(first, tmp_path / "me")
    proc = update(student, second)
    assert proc.returncode == 0, proc.stderr
    assert (student / TEST).read_bytes() == (second / TEST).read_bytes()
    act = (student / ACT).read_text()
    assert "return x * sigmoid(x)  # my answer" in act  # the student's exercise
    assert "# A note added by the second release." in act  # and the release's change
    nb = json.loads((student / NB).read_text())
    sources = ["".join(c["source"]) for c in nb["cells"]]
    assert "My own answer, in my words.\n" in sources  # the answer, in the new notebook
    assert "An erratum from the second release.\n" in sources
    assert "01_silu.ipynb: the new version, your answers kept" in proc.stdout
    assert (student / release.MANIFEST).read_bytes() == (second / release.MANIFEST).read_bytes()
    assert (
        f"{TEST}: replaced" in proc.stdout and f"{ACT}: the release's change merged" in proc.stdout
    )
    again = update(student, second)  # nothing left to do
    assert again.returncode == 0 and "0 file(s) written" in again.stdout


def test_a_file_the_student_edited_stops_the_update_untouched(releases, tmp_path):
    first, second = releases
    student = a_students_copy(first, tmp_path / "me")
    (student / TEST).write_text((student / TEST).read_text() + "\n# my own test tweak\n")
    before = tree(student)
    proc = update(student, second)
    assert proc.returncode == 2
    assert f"{TEST}: you edited it, and the new release replaces it" in proc.stderr
    assert "nothing was changed" in proc.stderr and "Traceback" not in proc.stderr
    assert tree(student) == before
    forced = update(student, second, "--force")
    assert forced.returncode == 0 and (student / TEST).read_bytes() == (second / TEST).read_bytes()


def test_a_folder_without_a_manifest_is_refused(releases, tmp_path):
    _, second = releases
    (tmp_path / "plain").mkdir()
    proc = update(tmp_path / "plain", second)
    assert proc.returncode == 2 and "no release-manifest.json" in proc.stderr
