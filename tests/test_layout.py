"""The package's layout keeps its shape: small modules, no import cycle, the checks apart from
the training loop, each default defined once, the environment read in one place.

Read from the sources with `ast` (nothing is imported), so a failure names the file and line.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lab01_utils"
MAX_LINES = 400
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
# The training loop and what drives it; a check may use the engines and one epoch, never these.
LOOP = {"lab01_utils.train", "lab01_utils.cli", "lab01_utils.main", "lab01_utils.checkpoints"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


NAMES = {module_name(p): p for p in MODULES}


def imports(path: Path, *, top_level_only: bool) -> set[str]:
    """The package's modules that `path` imports (`from . import x` counts as `x` when it is a
    module). With `top_level_only`, imports inside functions (done when called) are left out."""
    tree = ast.parse(path.read_text(), str(path))
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    if top_level_only:  # `if TYPE_CHECKING:` and `if __name__ == "__main__":` blocks run apart
        nodes = [n for n in nodes if not isinstance(n, ast.If)]
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in NAMES else target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m in NAMES and m != name}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_over_400_lines(path):
    n = len(path.read_text().splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(PACKAGE.parent)} has {n} lines (at most {MAX_LINES})"


def test_no_import_cycle():
    graph = {name: imports(path, top_level_only=True) for name, path in NAMES.items()}
    done: set[str] = set()

    def visit(name: str, stack: list[str]) -> None:
        if name in stack:
            cycle = stack[stack.index(name) :] + [name]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if name in done:
            return
        for dep in sorted(graph[name]):
            # importing `a.b` runs `a/__init__.py` first; that edge is the package's own
            if not name.startswith(dep + "."):
                visit(dep, [*stack, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_no_check_imports_the_training_loop():
    graph = {name: imports(path, top_level_only=False) for name, path in NAMES.items()}
    for start in (n for n in NAMES if n.startswith("lab01_utils.checks")):
        seen, todo = set(), [start]
        while todo:
            name = todo.pop()
            for dep in graph[name] - seen:
                assert dep not in LOOP, f"{start} reaches the training loop ({dep}) via {name}"
                seen.add(dep)
                todo.append(dep)


DEFAULT_NAMES = ("max_shift", "flip_prob", "erase_prob")


def test_each_augmentation_default_is_defined_once():
    """`max_shift: int = 2` or `flip_prob=0.5` in a signature would be a second definition:
    every default of these comes from `config.py`'s constant."""
    literal = re.compile(rf"\b({'|'.join(DEFAULT_NAMES)})\s*(:\s*[\w |]+)?=\s*[-\d.]+")
    where = [
        f"{p.relative_to(PACKAGE.parent)}:{i}: {line.strip()}"
        for p in MODULES
        if p.name != "config.py"
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if literal.search(line)
    ]
    assert not where, "defaults written outside config.py:\n" + "\n".join(where)


def test_the_environment_is_read_only_in_config():
    where = [
        f"{p.relative_to(PACKAGE.parent)}:{i}"
        for p in MODULES
        if p.name != "config.py"
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"os\.environ\b|os\.getenv\(", line)
    ]
    assert not where, "environment read outside config.py: " + ", ".join(where)
