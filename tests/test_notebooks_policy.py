"""The notebooks are committed clean, so diffs stay readable and nbval checks what matters.

Policy (nbval runs with `--nbval-lax`: only cells tagged `nbval-check-output` would have their
outputs compared, so the asserting check cells carry the weight):

* no outputs and no execution counts;
* no volatile metadata: no widget state and no Python version (`language_info.version`) in
  the notebook's metadata, no execution timings (or other run-time keys) in a cell's metadata;
* the `python3` kernelspec;
* named `NN_name.ipynb`, numbered 00, 01, ... without gaps;
* at least one `assert` in a code cell;
* no `sys.path` manipulation (the package is installed in editable mode).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
NAME = re.compile(r"^(\d{2})_[a-z0-9]+(?:_[a-z0-9]+)*\.ipynb$")
EXPECTED_COUNT = 11  # 00_setup_and_data .. 10_compare_and_explore
# Run-time keys that Jupyter and nbclient write into a cell's metadata.
VOLATILE_CELL_KEYS = {"execution", "collapsed", "scrolled", "ExecuteTime"}


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def ids(paths):
    return [p.name for p in paths]


def test_notebooks_are_numbered_without_gaps():
    names = [p.name for p in NOTEBOOKS]
    assert len(names) == EXPECTED_COUNT, names
    bad = [n for n in names if not NAME.match(n)]
    assert not bad, f"not named NN_name.ipynb: {bad}"
    numbers = [int(NAME.match(n).group(1)) for n in names]
    assert numbers == list(range(len(names))), names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_no_outputs_or_execution_counts(path):
    nb = load(path)
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name} cell {i} has outputs"
            assert cell.get("execution_count") is None, f"{path.name} cell {i} has a count"
        else:
            assert "outputs" not in cell and "execution_count" not in cell


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_no_volatile_metadata(path):
    nb = load(path)
    assert "widgets" not in nb["metadata"], f"{path.name}: widget state in the metadata"
    version = nb["metadata"].get("language_info", {}).get("version")
    assert version is None, f"{path.name}: the last kernel's Python version {version} is recorded"
    for i, cell in enumerate(nb["cells"]):
        keys = set(cell.get("metadata", {})) & VOLATILE_CELL_KEYS
        assert not keys, f"{path.name} cell {i}: volatile metadata {sorted(keys)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_kernelspec_is_python3(path):
    spec = load(path)["metadata"].get("kernelspec", {})
    assert spec.get("name") == "python3" and spec.get("language") == "python", spec


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_has_an_assert(path):
    code = [source(c) for c in load(path)["cells"] if c["cell_type"] == "code"]
    assert any(re.search(r"^\s*assert\b", s, re.MULTILINE) for s in code), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_no_sys_path_hacks(path):
    for i, cell in enumerate(load(path)["cells"]):
        if cell["cell_type"] == "code":
            assert "sys.path" not in source(cell), f"{path.name} cell {i} edits sys.path"
