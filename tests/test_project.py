"""The project's set-up files agree with each other."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]
# conda names that differ from the PyPI name
CONDA_TO_PYPI = {"pytorch": "torch"}


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[]", req.strip(), maxsplit=1)[0].lower()


def _pyproject_deps() -> set[str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = meta["optional-dependencies"]
    deps = list(meta["dependencies"]) + [d for group in extras.values() for d in group]
    return {_name(d) for d in deps} - {"lab01-utils"}  # `dev` names the other extras


def _environment_deps() -> set[str]:
    names = set()
    text = (ROOT / "environment.yml").read_text()
    for line in text[text.index("dependencies:") :].splitlines():
        m = re.match(r"^\s+-\s+([A-Za-z0-9_.\-]+)", line)
        if m and m.group(1) not in ("pip", "python", "-e"):
            names.add(CONDA_TO_PYPI.get(m.group(1).lower(), m.group(1).lower()))
    return names


def test_environment_yml_matches_pyproject():
    py, env = _pyproject_deps(), _environment_deps()
    assert py - env == set(), f"in pyproject.toml but not environment.yml: {sorted(py - env)}"
    assert env - py == set(), f"in environment.yml but not pyproject.toml: {sorted(env - py)}"


def test_environment_yml_installs_the_package():
    assert re.search(r"^\s+-\s+-e \.\s*$", (ROOT / "environment.yml").read_text(), re.M)


def test_readme_opens_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    head = text[: text.index("\n## ")]
    assert "make run" in head and "make test" in head


def test_makefile_takes_torch_from_a_variable_and_ci_pins_the_cpu_build():
    assert re.search(r"^TORCH_REQ \?= torch$", (ROOT / "Makefile").read_text(), re.M)
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'TORCH_REQ="torch==2.13.0"' in ci and "make test" in ci
