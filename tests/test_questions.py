"""Tests for lab01_utils/questions.py and the notebooks' questions.

Every question of notebooks 01-07 is headed `### Question N.M: ...` and followed by its answer
cell, which holds the answer in a solution region; the release keeps every question and loses
every answer; a numeric answer is checked against a digest, so the release can say right or
wrong without holding the number; a question's code stub is a notice in a notebook, not an
error.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lab01_utils import questions, solutions
from lab01_utils.checks import CheckFailed

ROOT = Path(__file__).resolve().parents[1]
TEACHING = sorted((ROOT / "notebooks").glob("0[1-7]_*.ipynb"))
MIN_QUESTIONS = 2  # per notebook of the layer-building half (01-07)


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def test_the_teaching_notebooks_are_there():
    assert [p.name[:2] for p in TEACHING] == ["01", "02", "03", "04", "05", "06", "07"]


@pytest.mark.parametrize("path", TEACHING, ids=[p.stem for p in TEACHING])
def test_each_question_is_numbered_for_its_notebook_and_has_an_answer_region(path):
    nb = load(path)
    found = questions.find_questions(nb)
    assert len(found) >= MIN_QUESTIONS, f"{path.name}: {len(found)} questions"
    number = int(path.name[:2])
    ids = [q.id for q in found]
    assert len(set(ids)) == len(ids), f"{path.name}: a question number repeats: {ids}"
    for q in found:
        assert int(q.id.split(".")[0]) == number, f"{path.name}: Question {q.id}"
        assert q.answer_cell is not None, f"{path.name}: Question {q.id} has no answer cell"
        answer = q.answer(nb)
        assert solutions.has_solutions(answer), f"{path.name}: Question {q.id}'s answer cell"
        cell = nb["cells"][q.answer_cell]
        if cell["cell_type"] == "code":
            # A numeric answer: its region is named for the question, and it is checked.
            assert re.search(rf"^# Question {re.escape(q.id)}:", answer, re.M), answer
            assert f'questions.check("{q.id}"' in answer, answer


@pytest.mark.parametrize("path", TEACHING, ids=[p.stem for p in TEACHING])
def test_the_release_keeps_every_question_and_loses_every_answer(path):
    nb = load(path)
    out, regions = solutions.strip_notebook(nb, path.relative_to(ROOT).as_posix())
    before, after = questions.find_questions(nb), questions.find_questions(out)
    assert [(q.id, q.title, q.text(nb)) for q in before] == [
        (q.id, q.title, q.text(out)) for q in after
    ]
    released = "\n".join(source(c) for c in out["cells"])
    for q in after:
        answer = q.answer(out)
        assert not solutions.has_solutions(answer)
        if out["cells"][q.answer_cell]["cell_type"] == "markdown":
            assert solutions.TEXT_STUB in answer, answer
        else:
            assert f'raise NotImplementedError("Question {q.id}:' in answer, answer
    # No line of any answer (nor of any derivation's ending) is left in the release.
    answer_lines = {line.strip() for r in regions for line in r.lines if len(line.strip()) >= 12}
    left = sorted(line for line in answer_lines if line in released.splitlines())
    assert not left, f"{path.name}: answer lines in the release: {left[:5]}"


def test_a_numeric_answer_is_checked_without_the_number():
    d = questions.digest("3.3", 25088)
    assert "25088" not in d and len(d) == 16
    assert questions.check("3.3", 25088, digest=d)
    assert questions.check("3.3", 25088.0, digest=d)
    with pytest.raises(CheckFailed, match=r"Question 3.3: 25089 is not the answer .*exactly"):
        questions.check("3.3", 25089, digest=d)
    with pytest.raises(CheckFailed, match="whole number"):
        questions.check("3.3", 25088.5, digest=d)
    with pytest.raises(CheckFailed, match="must be a number"):
        questions.check("3.3", "25088", digest=d)
    with pytest.raises(CheckFailed, match="not a finite number"):
        questions.check("3.3", float("nan"), digest=d)
    # The digest belongs to its question: the same number answers no other.
    with pytest.raises(CheckFailed):
        questions.check("3.4", 25088, digest=d)


def test_significant_digits_accept_a_neighbour_across_a_rounding_boundary():
    d = questions.digest("1.2", -0.2785, 3)  # "-0.279" (the 4th digit rounds up)
    assert questions.check("1.2", -0.27846, digest=d, digits=3)  # rounds to -0.278 itself
    assert questions.check("1.2", -0.2789, digest=d, digits=3)
    with pytest.raises(CheckFailed, match="3 significant digits.*Hint: the plot"):
        questions.check("1.2", -0.25, digest=d, digits=3, hint="the plot")


def test_the_digest_command_prints_what_check_accepts(capsys):
    assert questions.main(["6.1", "700000"]) == 0
    d = capsys.readouterr().out.strip()
    assert questions.check("6.1", 700000, digest=d)
    assert questions.main(["6.1", "0.5"]) == 2
    assert "not a whole number" in capsys.readouterr().err


def test_a_question_region_is_stubbed_by_its_name_and_restored():
    b, e = solutions.BEGIN_SOLUTION, solutions.END_SOLUTION
    text = (
        "# Question 3.3: multiply-adds\n"
        f"{b}\n"
        "answer = 3 * 3 * 32 * 64 * 7 * 7\n"
        f"{e}\n"
        'questions.check("3.3", answer, digest="x")\n'
    )
    out, regions = solutions.strip_solutions(text, unnamed="unnamed")
    assert 'raise NotImplementedError("Question 3.3: multiply-adds")\n' in out
    assert "3 * 3 * 32" not in out
    assert regions[0].question == "3.3" and regions[0].exercise is None
    assert solutions.restore(out, regions) == text


def test_a_question_stub_is_a_notice_in_a_notebook(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    from lab01_utils import notebook

    ip = InteractiveShell.instance()
    notebook.load_ipython_extension(ip)
    try:
        cell = '# Question 3.3: multiply-adds\nraise NotImplementedError("Question 3.3: m")'
        result = ip.run_cell(cell)
        assert result.success, result.error_in_exec
        out = capsys.readouterr().out
        assert "[Question 3.3 is yours to answer" in out
        assert "3.3" not in notebook.pending  # a question does not hold back later cells
        failing = ip.run_cell("raise ValueError('a bug')")
        assert not failing.success  # anything else is still an error
    finally:
        notebook.unload_ipython_extension(ip)
