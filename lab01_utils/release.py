"""Write the student release: the project with every solution region replaced by a stub.

    python -m lab01_utils.release --out dist/student        # what `make student` runs

A solution region is a block of lines between nbgrader's markers, each alone on its line
(nbgrader compares the stripped line with the marker, so these sources work with
`nbgrader generate_assignment` too). In a `.py` file the line just above the region names the
exercise, and the stub repeats that name, so a student can grep for it:

    # Exercise 3.2: im2col convolution forward          (kept: tells the student where)
    <BEGIN marker>
    ...the instructor's code...                         (replaced by the next line)
    <END marker>

    raise NotImplementedError("Exercise 3.2: im2col convolution forward")

Notebook code cells follow the same rule; a region without an `# Exercise N.M: title` line
above it gets a stub that names the notebook instead. Markdown cells get nbgrader's text stub.

Everything else is copied byte for byte, except that notebooks lose their outputs, execution
counts and widget state. The output is a pure function of the sources (files are visited in
sorted order, nothing records a time or a path), so regenerating gives identical bytes.
`restore` puts the regions back, which the tests use to prove the stubs are exactly the
solutions.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

# Spelled in two pieces so that this file, which ships in the release, holds no marker line.
BEGIN_SOLUTION = "### BEGIN " + "SOLUTION"
END_SOLUTION = "### END " + "SOLUTION"
TEXT_STUB = "YOUR ANSWER HERE"  # nbgrader's stub for a markdown solution region

EXERCISE_LINE = re.compile(r"^\s*#\s*Exercise\s+(?P<id>\d+\.\d+)\s*:\s*(?P<title>.+?)\s*$")
_EXERCISE_ID = re.compile(r"Exercise (\d+\.\d+)")
STUB_LINE = re.compile(r'^(?P<indent>\s*)raise NotImplementedError\("(?P<msg>Exercise[^"]*)"\)\s*$')

# What the release holds: these top-level entries of the project, when present ...
INCLUDE = (
    ".ci",
    ".gitignore",
    "Makefile",
    "README.md",
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
    "tests/test_textbook_solutions.py",  # fills a release with a student's solutions
    "tests/textbook_solutions.json",
    "benchmarks/ab_revision.py",  # needs git, and times the fast engine like the others:
    "benchmarks/ab_setting.py",
    "benchmarks/compare_layers.py",
    "benchmarks/profile_step.py",
)

# Written into the release so that a regeneration may replace it (and nothing else).
RELEASE_STAMP = ".student-release"

# While exercises are still stubs, the imports and the sizes (h_out, w_out, ...) handed to the
# student are unused; the release's ruff config extends the project's and lets those two rules
# pass in the files that hold stubs, so `make test` in the release reaches the tests.
RUFF_RELAXED_RULES = ("F401", "F841")


class ReleaseError(ValueError):
    """A malformed solution region (unterminated, nested, unnamed); names file and line."""


@dataclass(frozen=True)
class Region:
    """One solution region: the exercise it belongs to and its lines (markers excluded)."""

    exercise: str | None  # "3.2", or None for an unnamed notebook region
    title: str
    indent: str
    lines: tuple[str, ...]

    @property
    def stub(self) -> str:
        """The stub's message, e.g. `Exercise 3.2: im2col convolution forward`."""
        if self.exercise is None:
            return self.title
        return f"Exercise {self.exercise}: {self.title}"


def _is_marker(line: str, marker: str) -> bool:
    return line.strip() == marker


def has_solutions(text: str) -> bool:
    """Whether `text` holds at least one solution marker line."""
    return any(_is_marker(line, BEGIN_SOLUTION) for line in text.splitlines())


def strip_solutions(
    text: str,
    where: str = "<text>",
    *,
    only: Iterable[str] | None = None,
    unnamed: str | None = None,
    stub_kind: str = "code",
) -> tuple[str, list[Region]]:
    """Replace each solution region of `text` by its stub; return the new text and regions.

    Args:
        text: a `.py` file or a notebook cell's source.
        where: a name for error messages (`path` or `path, cell 3`).
        only: stub only the regions of these exercise ids (the others keep their solution,
            without markers); None: every region.
        unnamed: the stub message for a region with no `# Exercise N.M: title` line above
            it; None makes that an error (the rule for `.py` files).
        stub_kind: "code" (raise NotImplementedError) or "markdown" (nbgrader's text stub).

    Returns:
        `(new_text, regions)`; the regions in order, including those kept by `only`.

    Raises:
        ReleaseError: a region is nested, unterminated, unnamed (when `unnamed` is None), or
            an END marker has no BEGIN.
    """
    keep = None if only is None else set(only)
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    regions: list[Region] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _is_marker(line, END_SOLUTION):
            raise ReleaseError(f"{where}, line {i + 1}: END marker without a BEGIN marker")
        if not _is_marker(line, BEGIN_SOLUTION):
            out.append(line)
            i += 1
            continue
        begin = i
        indent = line[: len(line) - len(line.lstrip())]
        match = EXERCISE_LINE.match(lines[i - 1]) if i > 0 else None
        if match:
            exercise, title = match["id"], match["title"]
        elif unnamed is not None:
            exercise, title = None, unnamed
        else:
            raise ReleaseError(
                f"{where}, line {i + 1}: a solution region needs a '# Exercise N.M: title' "
                "line just above it"
            )
        body: list[str] = []
        i += 1
        while i < len(lines) and not _is_marker(lines[i], END_SOLUTION):
            if _is_marker(lines[i], BEGIN_SOLUTION):
                raise ReleaseError(f"{where}, line {i + 1}: nested BEGIN marker")
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise ReleaseError(f"{where}, line {begin + 1}: BEGIN marker without an END marker")
        end_line = lines[i]
        i += 1
        region = Region(exercise, title, indent, tuple(body))
        regions.append(region)
        if keep is not None and exercise not in keep:
            out.extend(body)  # the solution stays, the markers go
            continue
        newline = "\n" if end_line.endswith("\n") else ""
        if stub_kind == "markdown":
            out.append(f"{indent}{TEXT_STUB}{newline}")
        else:
            out.append(f'{indent}raise NotImplementedError("{region.stub}"){newline}')
    return "".join(out), regions


def restore(text: str, regions: Sequence[Region]) -> str:
    """Put `regions` (as `strip_solutions` returned them) back in place of their stubs."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    pending = list(regions)
    for line in lines:
        m = STUB_LINE.match(line)
        if m and pending and m["msg"] == pending[0].stub and m["indent"] == pending[0].indent:
            region = pending.pop(0)
            newline = "\n" if line.endswith("\n") else ""
            out.append(f"{region.indent}{BEGIN_SOLUTION}\n")
            out.extend(region.lines)
            out.append(f"{region.indent}{END_SOLUTION}{newline}")
        else:
            out.append(line)
    if pending:
        raise ReleaseError(f"restore: {len(pending)} region(s) found no stub, first {pending[0]}")
    return "".join(out)


# --------------------------------------------------------------------------- notebooks

# Cell metadata that records a run rather than the content.
_VOLATILE_CELL_METADATA = ("execution", "ExecuteTime", "collapsed", "scrolled")


def _source_text(source) -> str:
    return "".join(source) if isinstance(source, list) else source


def _as_source(text: str, like) -> list[str] | str:
    return text.splitlines(keepends=True) if isinstance(like, list) else text


def strip_notebook(nb: dict, where: str = "<notebook>") -> tuple[dict, list[Region]]:
    """A notebook (parsed JSON) with solution regions stubbed and outputs cleared.

    Code cells: regions become `raise NotImplementedError(...)`, outputs are emptied and
    execution counts reset. Markdown cells: regions become nbgrader's text stub. The
    notebook's widget state and each cell's run metadata are dropped. `nb` is not modified.
    """
    nb = json.loads(json.dumps(nb))  # a deep copy that keeps key order
    stem = Path(where).stem
    regions: list[Region] = []
    for index, cell in enumerate(nb.get("cells", [])):
        kind = cell.get("cell_type")
        if kind in ("code", "markdown"):
            text = _source_text(cell.get("source", ""))
            if has_solutions(text):
                new, found = strip_solutions(
                    text,
                    f"{where}, cell {index}",
                    unnamed=f"Exercise in {stem}: complete this cell",
                    stub_kind="markdown" if kind == "markdown" else "code",
                )
                cell["source"] = _as_source(new, cell.get("source", ""))
                regions.extend(found)
        if kind == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        for key in _VOLATILE_CELL_METADATA:
            cell.get("metadata", {}).pop(key, None)
    nb.get("metadata", {}).pop("widgets", None)
    return nb, regions


def dumps_notebook(nb: dict) -> str:
    """nbformat's on-disk layout (indent 1, sorted keys, UTF-8), so diffs stay small."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- the release


def release_files(src: Path) -> list[Path]:
    """The project's files that go into the release, relative to `src`, sorted."""
    files: list[Path] = []
    for name in INCLUDE:
        top = src / name
        if top.is_file():
            files.append(Path(name))
        elif top.is_dir():
            for path in sorted(top.rglob("*")):
                rel = path.relative_to(src)
                if any(part in SKIP_NAMES for part in rel.parts):
                    continue
                if path.is_file() and not path.name.endswith(SKIP_SUFFIXES):
                    files.append(rel)
    return sorted(f for f in files if not _instructor_only(f))


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


def build_release(src: str | Path, out: str | Path) -> ReleaseSummary:
    """Write the student release of the project at `src` into `out` (replaced if it is a
    previous release). Returns what was written."""
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
                text, regions = strip_solutions(text, key)
                stubs[key] = [r.stub for r in regions]
            target.write_text(text, encoding="utf-8", newline="\n")
        elif rel.suffix == ".ipynb":
            nb = json.loads(source.read_text(encoding="utf-8"))
            nb, regions = strip_notebook(nb, key)
            if regions:
                stubs[key] = [r.stub for r in regions]
            target.write_text(dumps_notebook(nb), encoding="utf-8", newline="\n")
            notebooks += 1
        else:
            shutil.copyfile(source, target)
        shutil.copymode(source, target)
    py_with_stubs = [k for k in stubs if k.endswith(".py")]
    (out / "ruff.toml").write_text(_ruff_config(py_with_stubs), encoding="utf-8")
    (out / RELEASE_STAMP).write_text(
        "The student release of lab01, written by `python -m lab01_utils.release`.\n",
        encoding="utf-8",
    )
    return ReleaseSummary(out, len(files) + 2, stubs, notebooks)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m lab01_utils.release",
        description="Write the student release: solution regions become numbered "
        "NotImplementedError stubs, notebook outputs are cleared, everything else is copied.",
    )
    p.add_argument("--out", default="dist/student", help="output directory (replaced)")
    p.add_argument("--src", default=".", help="the project root (default: the current one)")
    args = p.parse_args(argv)
    try:
        summary = build_release(args.src, args.out)
    except (ReleaseError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
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
