"""Tests for lab01_utils/release.py: the student release `make student` writes.

The release is regenerated here (so `make test` checks it every time): it holds no marker and
no line of solution code; each stub is numbered and replaces exactly one solution region (put
back, the sources come out byte for byte); it lints, compiles and is deterministic; and, run in
a fresh interpreter that imports the *release's* package, every exercise's check reads "not
implemented yet", and every check passes once the solutions are put back.

Instructor-only: `make student` leaves this file out.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lab01_utils import checks, release

ROOT = Path(release.__file__).resolve().parents[1]
TEXT_SUFFIXES = {".py", ".ipynb", ".md", ".toml", ".yml", ".yaml", ".txt", ".cfg", ".sh", ""}
# A solution line this short ("else:", "return y") says nothing on its own.
MIN_SOLUTION_LINE = 12
SUBPROCESS_TIMEOUT = 300

# Run every check in a fresh interpreter, once per release root given on the command line
# (dropping the previous root's `lab01_utils` in between, so torch is imported only once),
# and print one JSON line per root.
CHECK_ALL = """
import json, sys
for root in sys.argv[1:]:
    for name in [m for m in sys.modules if m == "lab01_utils" or m.startswith("lab01_utils.")]:
        del sys.modules[name]
    sys.path.insert(0, root)
    import lab01_utils
    from lab01_utils import checks
    out = {ex: (r.passed, r.implemented, r.missing, r.report())
           for ex, r in checks.check_all(verbose=False).items()}
    print(json.dumps({"package": lab01_utils.__file__, "results": out}))
    sys.path.remove(root)
"""


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "student"
    return release.build_release(ROOT, out)


@pytest.fixture(scope="module")
def sources() -> dict[str, tuple[str, list[release.Region]]]:
    """Every released source file with solution regions: its text and its regions."""
    found = {}
    for rel in release.release_files(ROOT):
        if rel.suffix == ".py":
            text = (ROOT / rel).read_text(encoding="utf-8")
            if release.has_solutions(text):
                found[rel.as_posix()] = (text, release.strip_solutions(text, str(rel))[1])
        elif rel.suffix == ".ipynb":
            nb = json.loads((ROOT / rel).read_text(encoding="utf-8"))
            regions = release.strip_notebook(nb, rel.as_posix())[1]
            if regions:
                found[rel.as_posix()] = ("", regions)
    return found


def text_lines(path: Path) -> list[str]:
    """The stripped lines of a text file; for a notebook, of its cells' sources."""
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text(encoding="utf-8"))
        text = "".join("".join(c.get("source", "")) + "\n" for c in nb.get("cells", []))
    else:
        text = path.read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines()]


def text_files(root: Path) -> list[Path]:
    names = {"Makefile"}
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and (p.suffix in TEXT_SUFFIXES - {""} or p.name in names)
    )


def run_checks(*roots: Path) -> list[dict]:
    """`checks.check_all()` in a fresh interpreter that imports each root's `lab01_utils`."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [sys.executable, "-c", CHECK_ALL, *map(str, roots)],
        cwd=roots[0].parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()[-len(roots) :]
    found = [json.loads(line) for line in lines]
    for root, data in zip(roots, found, strict=True):
        # The release's own package was imported, not the instructor's editable install.
        assert Path(data["package"]).resolve().is_relative_to(root.resolve()), data["package"]
    return [data["results"] for data in found]


# ----------------------------------------------------------------------------- contents
def test_every_exercise_has_a_numbered_stub_and_a_check(built):
    assert built.exercises() == list(checks.EXERCISES)
    for path, messages in built.stubs.items():
        for msg in messages:
            if path.endswith(".ipynb") and re.fullmatch(
                r"Question \d+\.\d+: .+|Exercise in .+", msg
            ):
                continue  # a question's numeric answer (questions.py), a markdown answer
            m = re.fullmatch(r"Exercise (\d+\.\d+): .+", msg)
            assert m and m[1] in checks.EXERCISES, (path, msg)
    for ex in checks.EXERCISES.values():
        assert getattr(checks, ex.check.__name__) is ex.check, ex
        stub_files = [
            p
            for p, msgs in built.stubs.items()
            if any(m.startswith(f"Exercise {ex.id}:") for m in msgs)
        ]
        assert all(p in ex.where for p in stub_files), (ex.id, stub_files, ex.where)


def test_every_exercise_has_its_pytest_marker():
    markers = set(re.findall(r'^\s*"(ex\d+_\d+):', (ROOT / "pyproject.toml").read_text(), re.M))
    assert {"ex" + ex.replace(".", "_") for ex in checks.EXERCISES} <= markers


def test_the_release_holds_the_project_and_leaves_out_the_rest(built):
    out = built.out
    for rel in (
        "README.md",
        "Makefile",
        "pyproject.toml",
        "environment.yml",
        "lab01_utils/checks/core.py",
        "lab01_utils/sample/fashion_mnist_sample.npz",
        "tests/test_exercises.py",
        "tests/conftest.py",
    ):
        assert (out / rel).is_file(), rel
    for rel in release.INSTRUCTOR_ONLY + (".git", ".venv", "dist", "runs"):
        assert not (out / rel).exists(), rel
    assert not list(out.rglob("__pycache__")) and not list(out.rglob("*.pyc"))
    # Files without solutions are copied byte for byte.
    for rel in release.release_files(ROOT):
        key = rel.as_posix()
        if rel.suffix != ".ipynb" and key not in built.stubs and key not in release.VERSIONED:
            assert (out / rel).read_bytes() == (ROOT / rel).read_bytes(), rel


def test_the_releases_package_has_its_own_version_and_no_instructor_command(built):
    import lab01_utils

    version = lab01_utils.__version__
    assert "+" not in version
    init = (built.out / "lab01_utils" / "__init__.py").read_text()
    assert f'__version__ = "{version}+student"' in init
    assert f'version = "{version}+student"' in (built.out / "pyproject.toml").read_text()
    # Otherwise the two files are the instructor's.
    for rel in release.VERSIONED:
        mine = (ROOT / rel).read_text().replace(f'"{version}"', f'"{version}+student"', 1)
        assert (built.out / rel).read_text() == mine, rel
    assert not (built.out / "lab01_utils" / "release.py").exists()
    entry = (built.out / "lab01_utils" / "__main__.py").read_text()
    assert '"release": ("lab01_utils.release"' in entry  # offered only where it is installed


def split_regions(lines: list[str]) -> tuple[set[str], set[str]]:
    """(lines outside, lines inside) solution regions, found without `release`'s parser."""
    outside, inside, in_region = set(), set(), False
    for line in lines:
        if line == release.BEGIN_SOLUTION:
            in_region = True
        elif line == release.END_SOLUTION:
            in_region = False
        else:
            (inside if in_region else outside).add(line)
    return outside, inside


@pytest.fixture(scope="module")
def solution_lines() -> set[str]:
    """The lines to look for: every line of a solution region, except the short ones and
    those that the package's given code also holds outside every region (`n, h, w, c =
    x.shape` opens several functions). Such a line anywhere in the release (a notebook, a
    test, a doc) is a leak."""
    generic, solution = set(), set()
    for rel in release.release_files(ROOT):
        if (ROOT / rel).suffix in TEXT_SUFFIXES - {""}:
            outside, inside = split_regions(text_lines(ROOT / rel))
            if rel.parts[0] == "lab01_utils" and rel.suffix == ".py":
                generic |= outside
            solution |= {line for line in inside if len(line) >= MIN_SOLUTION_LINE}
    return solution - generic


def leaks_in(root: Path, solution: set[str]) -> set[str]:
    return {
        f"{path.relative_to(root).as_posix()}: {line}"
        for path in text_files(root)
        for line in text_lines(path)
        if line in solution
    }


def test_no_marker_and_no_solution_line_survives(built, solution_lines):
    markers = {release.BEGIN_SOLUTION, release.END_SOLUTION}
    for path in text_files(built.out):
        assert not markers & set(text_lines(path)), f"a marker line survives in {path}"
    assert len(solution_lines) > 100, "suspiciously few solution lines to look for"
    leaks = leaks_in(built.out, solution_lines)
    assert not leaks, "solution code in the release:\n" + "\n".join(sorted(leaks))


def test_the_leak_search_finds_a_pasted_solution_line(tmp_path, solution_lines):
    line = sorted(solution_lines)[0]
    (tmp_path / "notes.md").write_text(f"Like this:\n\n        {line}\n")
    assert leaks_in(tmp_path, solution_lines) == {f"notes.md: {line}"}


def test_each_stub_replaces_exactly_its_solution(built, sources):
    for rel, (text, regions) in sources.items():
        if rel.endswith(".py"):
            stubbed = (built.out / rel).read_text(encoding="utf-8")
            assert release.restore(stubbed, regions) == text, rel


def test_the_release_compiles_and_lints(built):
    for path in built.out.rglob("*.py"):
        ast.parse(path.read_text(encoding="utf-8"), str(path))
    stubbed = sorted(p for p in built.stubs if p.endswith(".py"))
    for args in (["check"], ["format", "--check"]):
        proc = subprocess.run(
            [sys.executable, "-m", "ruff", *args, "--no-cache", *stubbed],
            cwd=built.out,
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_notebooks_in_the_release_have_no_outputs(built):
    for path in built.out.rglob("*.ipynb"):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, path


def tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_generation_is_deterministic_and_replaces_its_previous_output(tmp_path, capsys):
    first, second = tmp_path / "first", tmp_path / "second"
    assert release.main(["--src", str(ROOT), "--out", str(first)]) == 0
    assert "stubs for exercises 1.1" in capsys.readouterr().out
    (second / "lab01_utils").mkdir(parents=True)
    (second / release.RELEASE_STAMP).write_text("")
    (second / "stale.txt").write_text("from an older release")
    assert release.main(["--src", str(ROOT), "--out", str(second)]) == 0
    assert tree_digest(first) == tree_digest(second)


def test_an_unrelated_output_directory_is_not_deleted(tmp_path, capsys):
    (tmp_path / "precious.txt").write_text("keep me")
    assert release.main(["--src", str(ROOT), "--out", str(tmp_path)]) == 2
    assert "refusing to delete" in capsys.readouterr().err
    assert (tmp_path / "precious.txt").read_text() == "keep me"


# ----------------------------------------------------------------------------- regions
def test_regions_become_numbered_stubs_with_their_indentation():
    src = (
        "def f(x):\n"
        "    y = 2\n"
        "    # Exercise 9.1: double it\n"
        f"    {release.BEGIN_SOLUTION}\n"
        "    return x * y\n"
        f"    {release.END_SOLUTION}\n"
    )
    text, regions = release.strip_solutions(src)
    assert text == (
        "def f(x):\n"
        "    y = 2\n"
        "    # Exercise 9.1: double it\n"
        '    raise NotImplementedError("Exercise 9.1: double it")\n'
    )
    assert [(r.exercise, r.title, r.lines) for r in regions] == [
        ("9.1", "double it", ("    return x * y\n",))
    ]
    assert release.restore(text, regions) == src
    kept, _ = release.strip_solutions(src, only={"9.2"})
    assert kept == src.replace(f"    {release.BEGIN_SOLUTION}\n", "").replace(
        f"    {release.END_SOLUTION}\n", ""
    )


@pytest.mark.parametrize(
    ("src", "problem"),
    [
        (f"# Exercise 1.1: a\n{release.BEGIN_SOLUTION}\nx = 1\n", "without an END"),
        (f"x = 1\n{release.END_SOLUTION}\n", "without a BEGIN"),
        (f"# Exercise 1.1: a\n{release.BEGIN_SOLUTION}\n{release.BEGIN_SOLUTION}\n", "nested"),
        (f"x = 1\n{release.BEGIN_SOLUTION}\nx = 2\n{release.END_SOLUTION}\n", "Exercise N.M"),
    ],
)
def test_malformed_regions_are_errors_naming_the_line(src, problem):
    with pytest.raises(release.ReleaseError, match=problem):
        release.strip_solutions(src, "demo.py")


def test_notebook_cells_are_stubbed_and_outputs_stripped():
    b, e = release.BEGIN_SOLUTION, release.END_SOLUTION
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": 7,
                "id": "a1",
                "metadata": {"execution": {"iopub.status.busy": "2025-01-01"}, "tags": ["x"]},
                "outputs": [{"output_type": "stream", "name": "stdout", "text": ["42\n"]}],
                "source": [
                    "# Exercise 3.2: im2col convolution forward\n",
                    f"{b}\n",
                    "y = conv(x)\n",
                    f"{e}\n",
                    "checks.check_conv2d_forward()",
                ],
            },  # fmt: skip
            {
                "cell_type": "code",
                "execution_count": 8,
                "id": "a2",
                "metadata": {},
                "outputs": [],
                "source": f"for i in range(3):\n    {b}\n    total += i\n    {e}\n",
            },
            {
                "cell_type": "markdown",
                "id": "a3",
                "metadata": {},
                "source": [f"{b}\n", "The answer is 42.\n", f"{e}\n"],
            },
        ],
        "metadata": {"widgets": {"state": {}}, "kernelspec": {"name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    original = json.dumps(nb)
    out, regions = release.strip_notebook(nb, "notebooks/03_conv.ipynb")
    assert json.dumps(nb) == original  # the input is left alone
    first, second, third = out["cells"]
    assert first["source"] == [
        "# Exercise 3.2: im2col convolution forward\n",
        'raise NotImplementedError("Exercise 3.2: im2col convolution forward")\n',
        "checks.check_conv2d_forward()",
    ]
    assert first["outputs"] == [] and first["execution_count"] is None
    assert first["metadata"] == {"tags": ["x"]}
    assert second["source"] == (
        "for i in range(3):\n"
        '    raise NotImplementedError("Exercise in 03_conv: complete this cell")\n'
    )
    assert third["source"] == [release.TEXT_STUB + "\n"]
    assert "widgets" not in out["metadata"] and out["metadata"]["kernelspec"]
    assert [r.exercise for r in regions] == ["3.2", None, None]
    assert release.dumps_notebook(out) == release.dumps_notebook(json.loads(json.dumps(out)))


# ----------------------------------------------------------------------------- the checks, live
@pytest.fixture(scope="module")
def restored(built, sources, tmp_path_factory) -> Path:
    """A copy of the release with every solution put back in place of its stub."""
    root = tmp_path_factory.mktemp("restored") / "student"
    shutil.copytree(built.out, root)
    for rel, (_, regions) in sources.items():
        if rel.endswith(".py"):
            path = root / rel
            path.write_text(release.restore(path.read_text(encoding="utf-8"), regions))
    return root


@pytest.fixture(scope="module")
def live(built, restored) -> tuple[dict, dict]:
    """Every check's result on the release, and on the release with the solutions back."""
    stubs, solutions = run_checks(built.out, restored)
    return stubs, solutions


def test_every_check_reads_not_implemented_on_the_stubs(live):
    results = live[0]
    assert list(results) == list(checks.EXERCISES)
    for ex, (passed, implemented, missing, report) in results.items():
        assert not passed and not implemented, report
        # Its own stub, or a stub of an exercise it builds on (a backward needs its forward).
        assert missing == ex or missing in checks.EXERCISES[ex].depends, report
        assert f"Exercise {missing}" in report and "not implemented yet" in report, report
        assert "unexpected" not in report and "raised" not in report, report


def test_every_check_passes_with_the_solutions_put_back(live):
    results = live[1]
    assert list(results) == list(checks.EXERCISES)
    failed = {ex: report for ex, (passed, *_, report) in results.items() if not passed}
    assert not failed, "\n\n".join(failed.values())


@pytest.mark.parametrize("how", ["python -P -m pytest", "pytest", "python -m pytest"])
def test_the_grading_command_imports_the_submissions_package(tmp_path, how):
    """README, "check a submission": with PYTHONPATH at the student's copy, run from the
    instructor's checkout, `python -P -m pytest` (3.11+) and the `pytest` command import the
    student's `lab01_utils`; plain `python -m pytest` puts the checkout first and does not."""
    if how.startswith("python -P") and sys.version_info < (3, 11):
        pytest.skip("-P is new in Python 3.11")
    submission = tmp_path / "submission"
    (submission / "lab01_utils").mkdir(parents=True)
    (submission / "lab01_utils" / "__init__.py").write_text("")
    probe = tmp_path / "probe" / "test_probe.py"
    probe.parent.mkdir()
    probe.write_text(
        "import pathlib\nimport lab01_utils\n"
        "def test_which():\n"
        "    home = pathlib.Path(lab01_utils.__file__).parent.parent\n"
        f"    assert home == pathlib.Path({str(submission)!r})\n"
    )
    if how == "pytest":
        cmd = [str(Path(sys.executable).parent / "pytest")]
    else:
        cmd = [sys.executable, *how.split()[1:]]
    env = {**os.environ, "PYTHONPATH": str(submission)}
    done = subprocess.run(
        [*cmd, "-p", "no:cacheprovider", "-q", str(probe)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if how == "python -m pytest":
        assert done.returncode == 1, done.stdout + done.stderr  # the checkout's package
    else:
        assert done.returncode == 0, done.stdout + done.stderr
