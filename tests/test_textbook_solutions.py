"""A student's plain textbook solutions, written from the student release alone, pass every
self-check and every test of the release.

`textbook_solutions.json` maps `"<file>::<stub message>"` (with `#1`, `#2` where one file
repeats a message) to the lines that replace that stub. They were written against the release's
stubs, docstrings and notebooks only, never the reference solutions: naive NCHW NumPy, as a
student writes it. This proves the release asks for nothing its stubs do not say (no memory
layout, no speed tricks). Instructor-only (`make student` leaves it out).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lab01_utils import release

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = Path(__file__).with_name("textbook_solutions.json")
STUB = re.compile(r'^\s*raise NotImplementedError\("(?P<msg>Exercise [^"]*)"\)\s*$')


def fill(root: Path, stubbed: list[str], solutions: dict[str, str]) -> list[str]:
    """Replace every stub in the files `stubbed` (relative to `root`) by its solution; return
    the keys used."""
    used = []
    for rel in stubbed:
        path = root / rel
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        seen: dict[str, int] = {}
        out = []
        for line in lines:
            m = STUB.match(line)
            if not m:
                out.append(line)
                continue
            msg = m["msg"]
            seen[msg] = seen.get(msg, 0) + 1
            key = f"{rel}::{msg}"
            if key not in solutions:
                key = f"{key}#{seen[msg]}"
            assert key in solutions, f"no textbook solution for {rel}: {msg}"
            used.append(key)
            out.append(solutions[key])
        path.write_text("".join(out), encoding="utf-8")
    return used


@pytest.fixture(scope="module")
def filled_release(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("textbook") / "release"
    summary = release.build_release(ROOT, out)
    stubbed = sorted(k for k in summary.stubs if k.endswith(".py"))
    solutions = json.loads(SOLUTIONS.read_text(encoding="utf-8"))
    used = fill(out, stubbed, solutions)
    assert sorted(used) == sorted(solutions), "solutions for stubs the release does not have"
    return out


def run_in(root: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root), "LAB01_PROFILE": "quick"}
    return subprocess.run(
        [sys.executable, *args], cwd=root, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_the_release_has_no_fast_engine_and_its_layers_no_speed_machinery(filled_release):
    assert not (filled_release / "lab01_utils" / "fast").exists()
    for path in (filled_release / "lab01_utils" / "nn").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        for word in ("thread", "parallel", "nhwc", "channels_last", "fused", "as_strided"):
            assert word not in text.lower(), f"{path.name} mentions {word}"


@pytest.mark.slow
def test_textbook_solutions_pass_every_self_check(filled_release):
    code = (
        "import lab01_utils, sys; from lab01_utils import checks\n"
        "assert lab01_utils.__file__.startswith(sys.argv[1]), lab01_utils.__file__\n"
        "results = checks.check_all(verbose=False)\n"
        "bad = [k for k, r in results.items() if not r.passed]\n"
        "print(len(results), 'checks;', 'failing:', bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    proc = run_in(filled_release, "-c", code, str(filled_release))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "failing: []" in proc.stdout


@pytest.mark.slow
def test_textbook_solutions_pass_every_test_of_the_release(filled_release):
    """Every test of the release but the slow ones (full-data runs, which retrain or
    re-evaluate with the textbook engine for minutes) and the browser's."""
    proc = run_in(
        filled_release,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
        "tests",
        "-m",
        "not slow and not browser",
    )
    tail = proc.stdout[-3000:]
    assert proc.returncode == 0, tail + proc.stderr[-2000:]
    assert " passed" in tail and "failed" not in tail, tail
    assert "skipped" not in tail and "xfail" not in tail, tail  # nothing waits: all done
    assert "16 of 16 exercises done (50 of 50 points)" in proc.stdout


@pytest.mark.slow
def test_textbook_solutions_run_every_notebook_and_make_run(filled_release):
    notebooks = run_in(
        filled_release,
        *("-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"),
        *("--nbval-lax", "--nbval-current-env", "notebooks"),
    )
    assert notebooks.returncode == 0, (notebooks.stdout + notebooks.stderr)[-4000:]
    run = run_in(filled_release, "-m", "lab01_utils.main")  # `make run`, quick profile
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert "the textbook layers (nn/)" in run.stdout  # the student's own engine trained
    assert (filled_release / "runs/quick/comparison.md").is_file()
