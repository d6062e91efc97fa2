"""Tests for lab01_utils/__main__.py: `lab01 COMMAND` (also `python -m lab01_utils`)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from lab01_utils import __main__ as entry


def lab01(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lab01_utils", *args], capture_output=True, text=True, timeout=120
    )


def test_help_lists_the_commands_and_exits_0():
    proc = lab01("--help")
    assert proc.returncode == 0 and proc.stderr == ""
    for name in ("run", "train", "compare", "progress"):
        assert f"\n  {name} " in proc.stdout, proc.stdout


def test_usage_errors_go_to_stderr_with_exit_2():
    none = lab01()
    assert none.returncode == 2 and "usage: lab01" in none.stderr and none.stdout == ""
    bogus = lab01("bogus")
    assert bogus.returncode == 2 and "invalid choice: 'bogus'" in bogus.stderr
    extra = lab01("progress", "--all")
    assert extra.returncode == 2 and "progress takes no arguments" in extra.stderr


@pytest.mark.parametrize("command", ["run", "train", "compare"])
def test_each_commands_help_is_its_modules_and_only_prints(command):
    proc = lab01(command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: python -m lab01_utils."), proc.stdout[:200]


def test_a_command_whose_module_is_not_installed_is_not_offered(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        entry.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "lab01_utils.release" else real(name, *a),
    )
    assert "release" not in entry.available() and "train" in entry.available()
    with pytest.raises(SystemExit) as e:
        entry.main(["release"])
    assert e.value.code == 2
