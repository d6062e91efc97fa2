"""The package as a student on a hub or a plain `pip install` gets it: built into a wheel,
installed (not editable) into a fresh virtual environment, the notebooks copied to a folder
outside any checkout. Every notebook runs there in the quick profile, and the committed final
runs are found where the wheel installed them.

Instructor-only (it builds from the instructor's sources); marked slow (a few minutes).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALL_TIMEOUT = 900
RUN_TIMEOUT = 1200

pytestmark = pytest.mark.slow


def run(cmd, cwd, env=None, timeout=INSTALL_TIMEOUT):
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path, dict]:
    """(the venv's python, a folder with the notebooks and nothing else, the environment)."""
    import torch

    base = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", base / "dist", ROOT], base)
    (wheel,) = (base / "dist").glob("lab01_utils-*.whl")
    run([sys.executable, "-m", "venv", base / "venv"], base)
    py = base / "venv" / "bin" / "python"
    torch_req = f"torch=={torch.__version__.split('+')[0]}"  # the build already here
    run([py, "-m", "pip", "install", "-q", torch_req], base)
    run([py, "-m", "pip", "install", "-q", wheel, "nbval>=0.11"], base)
    work = base / "course"  # no pyproject.toml here or above it
    shutil.copytree(ROOT / "notebooks", work / "notebooks")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env |= {"LAB01_PROFILE": "quick", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    env["PATH"] = f"{py.parent}{os.pathsep}{env.get('PATH', '')}"
    return py, work, env


def test_the_package_is_not_the_checkouts_and_finds_the_installed_results(installed):
    py, work, env = installed
    code = (
        "import json, lab01_utils\n"
        "from lab01_utils.runs import checkout_root, find_run\n"
        "print(json.dumps({'package': lab01_utils.__file__, 'checkout': str(checkout_root()),"
        " 'numpy': str(find_run('numpy')), 'torch': str(find_run('torch'))}))"
    )
    found = json.loads(run([py, "-c", code], work, env).stdout)
    venv = py.parent.parent
    assert Path(found["package"]).is_relative_to(venv), found  # not the editable checkout
    assert found["checkout"] == "None"
    for task, sub in (("numpy", "task1_numpy"), ("torch", "task2_torch")):
        assert Path(found[task]) == venv / "share" / "lab01" / "results" / sub, found


def test_every_notebook_runs_from_a_folder_outside_the_checkout(installed):
    py, work, env = installed
    proc = subprocess.run(
        [
            py,
            "-m",
            "pytest",
            "-q",
            "--nbval-lax",
            "--nbval-current-env",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            "notebooks",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    tail = (proc.stdout + proc.stderr)[-4000:]
    assert proc.returncode == 0, tail
    assert " failed" not in tail and " passed" in tail, tail
    assert not (work / "pyproject.toml").exists()


def test_the_widgets_work_on_ipywidgets_7_7(installed):
    """Colab has shipped ipywidgets 7.7: the kernel side of every explorer works there too.
    (Last in this file: it downgrades the environment's ipywidgets.)"""
    py, work, env = installed
    run(
        [py, "-m", "pip", "install", "-q", "ipywidgets==7.7.*", "pytest>=7.4", "hypothesis>=6.80"],
        work,
        env,
    )
    version = run([py, "-c", "import ipywidgets; print(ipywidgets.__version__)"], work, env)
    assert version.stdout.startswith("7.7."), version.stdout
    proc = subprocess.run(
        [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_widgets.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    tail = (proc.stdout + proc.stderr)[-3000:]
    assert proc.returncode == 0 and " passed" in tail and " failed" not in tail, tail
