"""Write the student release: the project with every solution region replaced by a stub.

    python -m lab01_utils.release --out dist/student        # what `make student` runs

Solution regions and their stubs are `solutions.py`'s. Everything else is copied byte for
byte, except that notebooks lose their outputs, execution counts and widget state. The output
is a pure function of the sources (files are visited in sorted order, nothing records a time
or a path), so regenerating gives identical bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .setup_cell import with_source
from .solutions import (
    BEGIN_SOLUTION,
    END_SOLUTION,
    EXERCISE_LINE,
    STUB_LINE,
    TEXT_STUB,
    Region,
    ReleaseError,
    dumps_notebook,
    has_solutions,
    restore,
    strip_notebook,
    strip_solutions,
)

__all__ = [  # the release, and the solution regions it is built from (solutions.py)
    "BEGIN_SOLUTION",
    "END_SOLUTION",
    "EXERCISE_LINE",
    "INSTRUCTOR_ONLY",
    "RELEASE_STAMP",
    "STUB_LINE",
    "STUDENT_README",
    "TEXT_STUB",
    "Region",
    "ReleaseError",
    "ReleaseSummary",
    "build_release",
    "dumps_notebook",
    "has_solutions",
    "main",
    "release_files",
    "restore",
    "strip_notebook",
    "strip_solutions",
]

_EXERCISE_ID = re.compile(r"Exercise (\d+\.\d+)")

# The release's README is the student's; the project's README.md (the instructor's: releases,
# solutions, grading) stays in the sources.
STUDENT_README = "docs/STUDENT_README.md"


# What the release holds: these top-level entries of the project, when present ...
INCLUDE = (
    ".gitignore",
    "LICENSE",
    "MANIFEST.in",
    "Makefile",
    "benchmarks",
    "docs",
    "environment.yml",
    "lab01_utils",
    "notebooks",
    "pyproject.toml",
    "results",
    "scripts",
    "tests",
)
# ... minus caches, and minus the instructor's own tests (they plant mistakes in copies of
# the solutions, and they regenerate this release).
SKIP_NAMES = {
    "__pycache__",
    ".ipynb_checkpoints",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    ".DS_Store",
}
SKIP_SUFFIXES = (".pyc", ".pyo")
# The fast engine (lab01_utils/fast/: channels-last, threads, BatchNorm + SiLU fused, one
# process per core) is instructor-only too: its layers compute what the exercises ask for, so
# they hold the answers. The release trains with the textbook layers of nn/ alone.
INSTRUCTOR_ONLY = (
    "tests/test_release.py",
    "tests/test_checks.py",
    "lab01_utils/fast",
    "tests/test_fast_layers.py",
    "tests/test_fused.py",
    "tests/test_parallel.py",
    "tests/test_data_parallel.py",
    "tests/test_fast_benchmarks.py",
    "tests/test_fast_train.py",
    "tests/test_textbook_solutions.py",  # fills a release with a student's solutions
    "tests/test_student_release.py",  # runs the release as a student does
    "tests/textbook_solutions.json",
    "tests/test_notebooks_policy.py",  # keeps the course repository's notebooks clean
    "tests/test_project.py",  # the instructor's set-up files (.ci/, README) agree
    "tests/test_layout.py",  # the package's module sizes and imports
    "tests/test_wheel_install.py",  # builds a wheel of the instructor's sources
    "tests/test_grading.py",  # grading is the instructor's
    "tests/test_questions.py",  # every question has its answer in place (the instructor's)
    "tests/test_update.py",  # builds releases from the instructor's sources
    "lab01_utils/release.py",  # this command (`lab01 release`) is the instructor's
    "lab01_utils/grading.py",  # grading hand-ins (`lab01 grade`)
    "lab01_utils/autograder.py",  # the Gradescope bundle
    STUDENT_README,  # written as the release's README.md
    "benchmarks/ab_revision.py",  # needs git, and times the fast engine like the others:
    "benchmarks/ab_setting.py",
    "benchmarks/compare_layers.py",
    "benchmarks/profile_step.py",
)

# The release's package has its own version, so an install of it cannot pass for the
# instructor's: `0.1.0` becomes `0.1.0+student` in these two files.
VERSIONED = ("pyproject.toml", "lab01_utils/__init__.py")
STUDENT_VERSION_SUFFIX = "+student"

# Written into the release so that a regeneration may replace it (and nothing else).
RELEASE_STAMP = ".student-release"

# While exercises are still stubs, the imports and the sizes (h_out, w_out, ...) handed to the
# student are unused; the release's ruff config extends the project's and lets those two rules
# pass in the files that hold stubs, so `make test` in the release reaches the tests.
RUFF_RELAXED_RULES = ("F401", "F841")


def project_files(src: Path, names=INCLUDE) -> list[Path]:
    """The files of `names` (files, or folders walked) under `src`, relative to it, sorted,
    less caches (`SKIP_NAMES`, `SKIP_SUFFIXES`)."""
    files: set[Path] = set()
    for name in names:
        top = src / name
        if top.is_file():
            files.add(Path(name))
        elif top.is_dir():
            for path in top.rglob("*"):
                rel = path.relative_to(src)
                if any(part in SKIP_NAMES for part in rel.parts):
                    continue
                if path.is_file() and not path.name.endswith(SKIP_SUFFIXES):
                    files.add(rel)
    return sorted(files)


def release_files(src: Path) -> list[Path]:
    """The project's files that go into the release, relative to `src`, sorted."""
    return [f for f in project_files(src) if not _instructor_only(f)]


def _instructor_only(rel: Path) -> bool:
    """Whether `rel` is, or lies in a folder that is, in `INSTRUCTOR_ONLY`."""
    return any(
        rel.as_posix() == entry or rel.as_posix().startswith(entry + "/")
        for entry in INSTRUCTOR_ONLY
    )


@dataclass
class ReleaseSummary:
    """What `build_release` wrote."""

    out: Path
    files: int
    stubs: dict[str, list[str]]  # relative path -> stub messages, in order
    notebooks: int

    def exercises(self) -> list[str]:
        """The exercise ids that have at least one stub, in numeric order."""
        ids = {m[1] for msgs in self.stubs.values() for m in map(_EXERCISE_ID.match, msgs) if m}
        return sorted(ids, key=lambda s: tuple(int(p) for p in s.split(".")))


def _prepare_out(out: Path) -> None:
    if out.exists():
        if not out.is_dir():
            raise ReleaseError(f"--out {out} exists and is not a directory")
        if any(out.iterdir()) and not (out / RELEASE_STAMP).exists():
            raise ReleaseError(
                f"--out {out} is not empty and is not a previous student release "
                f"(no {RELEASE_STAMP}); refusing to delete it"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True)


def _ruff_config(stubbed: Iterable[str]) -> str:
    rules = ", ".join(f'"{r}"' for r in RUFF_RELAXED_RULES)
    lines = [
        "# Written by `make student`: the project's ruff settings, except that in the files",
        "# with exercises, imports and variables only the solutions use may stay unused.",
        'extend = "pyproject.toml"',
        "",
        "[lint.per-file-ignores]",
    ]
    lines += [f'"{path}" = [{rules}]' for path in sorted(stubbed)]
    return "\n".join(lines) + "\n"


MANIFEST = "release-manifest.json"


def _write_manifest(out: Path) -> None:
    """`release-manifest.json`: every file's sha256 as released, and the exercise files'
    texts (what `update.py` merges a later release's changes against)."""
    from .handin import exercise_files

    files = {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    pristine = {
        rel.as_posix(): (out / rel).read_text(encoding="utf-8")
        for rel in exercise_files()
        if (out / rel).is_file()
    }
    manifest = {"files": files, "exercise_files": pristine}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def _set_source(nb: dict, git_url: str, where: str) -> None:
    for cell in nb.get("cells", []):
        if cell.get("id") == "lab01-setup":
            text = with_source("".join(cell["source"]), git_url)
            cell["source"] = text.splitlines(keepends=True)
            return
    raise ReleaseError(f"{where}: no set-up cell (id lab01-setup) to write --source into")


def _mark_version(path: Path, suffix: str) -> None:
    """`version = "X"` / `__version__ = "X"` -> `"X+student"`, exactly once in the file."""
    text = path.read_text(encoding="utf-8")
    pattern = re.compile(r'^((?:__)?version(?:__)? = ")([^"+]+)(")', re.M)
    new, n = pattern.subn(rf"\g<1>\g<2>{suffix}\g<3>", text, count=1)
    if n != 1:
        raise ReleaseError(f"{path}: no version line to mark as the student release's")
    path.write_text(new, encoding="utf-8", newline="\n")


def build_release(
    src: str | Path, out: str | Path, git_url: str | None = None, answers: bool = False
) -> ReleaseSummary:
    """Write the student release of the project at `src` into `out` (replaced if it is a
    previous release). `git_url`: the course's git URL of the release, written into every
    notebook's set-up cell (`setup_cell.py`: what Colab and hub students install from).
    `answers`: the answer key instead, for after the deadline: every solution region and
    every question's answer in place (markers removed), version `+answers`.
    Returns what was written."""
    keep = () if answers else None  # strip_solutions' `only`: () stubs nothing
    src, out = Path(src).resolve(), Path(out).resolve()
    if not (src / "pyproject.toml").is_file() or not (src / "lab01_utils").is_dir():
        raise ReleaseError(f"{src} is not the project root (no pyproject.toml / lab01_utils)")
    if src == out or src in out.parents and out.relative_to(src).parts[0] in INCLUDE:
        raise ReleaseError(f"--out {out} lies inside the sources that it would copy")
    files = release_files(src)
    _prepare_out(out)
    stubs: dict[str, list[str]] = {}
    notebooks = 0
    for rel in files:
        source, target = src / rel, out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        key = rel.as_posix()
        if rel.suffix == ".py":
            text = source.read_text(encoding="utf-8")
            if has_solutions(text):
                text, regions = strip_solutions(text, key, only=keep)
                stubs[key] = [] if answers else [r.stub for r in regions]
            target.write_text(text, encoding="utf-8", newline="\n")
        elif rel.suffix == ".ipynb":
            nb = json.loads(source.read_text(encoding="utf-8"))
            nb, regions = strip_notebook(nb, key, only=keep)
            if answers:
                regions = []
            if git_url is not None:
                _set_source(nb, git_url, key)
            if regions:
                stubs[key] = [r.stub for r in regions]
            target.write_text(dumps_notebook(nb), encoding="utf-8", newline="\n")
            notebooks += 1
        else:
            shutil.copyfile(source, target)
        shutil.copymode(source, target)
    for key in VERSIONED:
        _mark_version(out / key, "+answers" if answers else STUDENT_VERSION_SUFFIX)
    shutil.copyfile(src / STUDENT_README, out / "README.md")
    py_with_stubs = [k for k in stubs if k.endswith(".py")]
    (out / "ruff.toml").write_text(_ruff_config(py_with_stubs), encoding="utf-8")
    (out / RELEASE_STAMP).write_text(
        "The student release of lab01, written by `python -m lab01_utils.release`.\n",
        encoding="utf-8",
    )
    _write_manifest(out)
    return ReleaseSummary(out, len(files) + 4, stubs, notebooks)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m lab01_utils.release",
        description="Write the student release: solution regions become numbered "
        "NotImplementedError stubs, notebook outputs are cleared, everything else is copied.",
    )
    p.add_argument("--out", default="dist/student", help="output directory (replaced)")
    p.add_argument("--src", default=".", help="the project root (default: the current one)")
    p.add_argument(
        "--source",
        help="the course's git URL of this release, written into each notebook's set-up "
        "cell (what students on Colab or a JupyterHub install from)",
    )
    p.add_argument(
        "--answers",
        action="store_true",
        help="write the answer key instead: the release with every solution and answer in "
        "place (for after the deadline)",
    )
    args = p.parse_args(argv)
    try:
        summary = build_release(args.src, args.out, args.source, answers=args.answers)
    except (ReleaseError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.answers:
        print(f"wrote {summary.out}: the answer key ({summary.files} files, every solution and "
              "answer in place)")  # fmt: skip
        return 0
    n_stubs = sum(len(v) for v in summary.stubs.values())
    print(
        f"wrote {summary.out}: {summary.files} files, {summary.notebooks} notebooks, "
        f"{n_stubs} stubs for exercises {', '.join(summary.exercises())}"
    )
    for path, msgs in summary.stubs.items():
        print(f"  {path}: {len(msgs)} stub(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
