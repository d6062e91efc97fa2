"""Solution regions: finding them in a `.py` file or a notebook, replacing each by a stub, and
putting them back.

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
`restore` puts the regions back, which the tests use to prove the stubs are exactly the
solutions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BEGIN_SOLUTION",
    "END_SOLUTION",
    "EXERCISE_LINE",
    "STUB_LINE",
    "TEXT_STUB",
    "Region",
    "ReleaseError",
    "dumps_notebook",
    "has_solutions",
    "restore",
    "strip_notebook",
    "strip_solutions",
]

# Spelled in two pieces so that this file, which ships in the release, holds no marker line.
BEGIN_SOLUTION = "### BEGIN " + "SOLUTION"
END_SOLUTION = "### END " + "SOLUTION"
TEXT_STUB = "YOUR ANSWER HERE"  # nbgrader's stub for a markdown solution region

EXERCISE_LINE = re.compile(
    r"^\s*#\s*(?P<kind>Exercise|Question)\s+(?P<id>\d+\.\d+)\s*:\s*(?P<title>.+?)\s*$"
)
STUB_LINE = re.compile(
    r'^(?P<indent>\s*)raise NotImplementedError\("(?P<msg>(?:Exercise|Question)[^"]*)"\)\s*$'
)


class ReleaseError(ValueError):
    """A malformed solution region (unterminated, nested, unnamed); names file and line."""


@dataclass(frozen=True)
class Region:
    """One solution region: the exercise it belongs to and its lines (markers excluded)."""

    exercise: str | None  # "3.2", or None for an unnamed notebook region or a question
    title: str
    indent: str
    lines: tuple[str, ...]
    question: str | None = None  # "3.3" for a notebook question's answer region

    @property
    def stub(self) -> str:
        """The stub's message, e.g. `Exercise 3.2: im2col convolution forward` or
        `Question 3.3: multiply-adds of layer2.0's first convolution`."""
        if self.question is not None:
            return f"Question {self.question}: {self.title}"
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
        question = None
        if match and match["kind"] == "Question":
            exercise, question, title = None, match["id"], match["title"]
        elif match:
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
        region = Region(exercise, title, indent, tuple(body), question)
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


def strip_notebook(
    nb: dict, where: str = "<notebook>", *, only: Iterable[str] | None = None
) -> tuple[dict, list[Region]]:
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
                    only=only,
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
