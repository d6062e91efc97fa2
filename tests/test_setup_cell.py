"""Tests for lab01_utils/setup_cell.py: the first cell of every notebook does nothing where the
lab is installed, and on a simulated Colab or JupyterHub fetches and installs the lab where
the student's work is kept, with the right commands; no network is used."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from lab01_utils import setup_cell

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
URL = "https://example.org/course/lab01-student.git"


def define(text: str = setup_cell.CELL) -> dict:
    """The cell's definitions, without running its last line (the call)."""
    body, last = text.rsplit("\n", 1)
    assert last.startswith("_lab01 = lab01_setup("), last
    namespace: dict = {"__name__": "lab01_setup_cell"}
    exec(compile(body, "<setup cell>", "exec"), namespace)
    return namespace


@pytest.fixture
def fake_colab(monkeypatch):
    mounted = []
    drive = types.SimpleNamespace(mount=lambda path: mounted.append(path))
    colab = types.ModuleType("google.colab")
    colab.drive = drive
    google = types.ModuleType("google")
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    return mounted


def test_every_notebook_opens_with_the_same_set_up_cell():
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text(encoding="utf-8"))
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        # The same everywhere but the course's URL, which `make student SOURCE=` may set.
        url = setup_cell.SOURCE_LINE.search("".join(code[0]["source"]))
        assert url, f"{path.name}: its first code cell is not the set-up cell"
        assert code[0] == setup_cell.cell(url[1]), f"{path.name}: its first code cell"
        assert "".join(code[1]["source"]).strip().endswith("%load_ext lab01_utils.notebook")


def test_where_the_lab_is_installed_it_does_nothing(capsys):
    calls = []
    ns = define()
    assert ns["lab01_setup"](URL, "lab01", run=calls.append) == "ready"  # it is, here
    assert calls == [] and capsys.readouterr().out == ""


def test_on_colab_it_mounts_the_drive_clones_there_and_installs(fake_colab, tmp_path, capsys):
    calls = []
    ns = define(setup_cell.with_source(setup_cell.CELL, URL))
    drive = tmp_path / "drive" / "MyDrive"
    out = ns["lab01_setup"](
        ns["LAB01_SOURCE"], "lab01", installed=False, run=calls.append, drive_root=str(drive)
    )
    assert out == "installed"
    assert fake_colab == [str(drive.parent)]
    target = str(drive / "lab01")
    assert calls == [
        ["git", "clone", "--depth", "1", URL, target],
        [sys.executable, "-m", "pip", "install", "-q", "-e", target],
    ]
    said = capsys.readouterr().out
    assert "Runtime > Restart session" in said and f"{target}/notebooks" in said


def test_on_a_hub_it_uses_the_home_folder_and_keeps_earlier_work(tmp_path, capsys):
    calls = []
    ns = define()
    (tmp_path / "lab01" / "lab01_utils").mkdir(parents=True)  # fetched before: keep it
    out = ns["lab01_setup"](URL, "lab01", installed=False, colab=False, home=str(tmp_path),
                            run=calls.append)  # fmt: skip
    assert out == "installed"
    assert calls == [[sys.executable, "-m", "pip", "install", "-q", "-e", str(tmp_path / "lab01")]]
    said = capsys.readouterr().out
    assert "already in" in said and "Kernel > Restart Kernel" in said


def test_without_a_source_it_says_what_to_ask_for(tmp_path, capsys):
    calls = []
    ns = define()
    out = ns["lab01_setup"](ns["LAB01_SOURCE"], "lab01", installed=False, colab=False,
                            home=str(tmp_path), run=calls.append)  # fmt: skip
    assert out == "no source" and calls == []
    assert "ask your instructor for the lab's git URL" in capsys.readouterr().out


def test_the_source_is_set_in_one_place():
    text = setup_cell.with_source(setup_cell.CELL, URL)
    assert text.count(URL) == 1 and setup_cell.PLACEHOLDER not in text
    with pytest.raises(ValueError, match="no quotes"):
        setup_cell.with_source(setup_cell.CELL, 'x"; import os')
