"""The first cell of every notebook: nothing where the lab is installed; on Colab or a
JupyterHub without it, it fetches the student release to where the student's work is kept
(Colab: their Google Drive; a hub: their home folder), installs it, and says what next.

The cell cannot import the package (it is what the cell installs), so its logic is written
out in `CELL`, the same in every notebook (`tests/test_setup_cell.py` checks that and runs the
cell in a simulated Colab and a simulated hub). `LAB01_SOURCE` in it is where the release is
fetched from: `python -m lab01_utils.release --source URL` (`make student SOURCE=URL`) writes
the course's git URL into the release's notebooks.
"""

from __future__ import annotations

import json
import re

__all__ = ["CELL", "PLACEHOLDER", "SOURCE_LINE", "cell", "insert", "with_source"]

PLACEHOLDER = "https://github.com/YOUR-COURSE/lab01-student.git"
SOURCE_LINE = re.compile(r'^LAB01_SOURCE = "([^"]*)"', re.M)

CELL = """# Set-up. Where the lab is installed (`make`, or pip) this cell does nothing. On Colab
# or a JupyterHub without it, it fetches the lab into a folder where your work is kept (Colab:
# your Google Drive; a hub: your home folder), installs it there and says what to do next.
LAB01_SOURCE = "https://github.com/YOUR-COURSE/lab01-student.git"  # the course's copy
LAB01_FOLDER = "lab01"


def lab01_setup(source, folder, *, installed=None, colab=None, home=None, run=None,
                drive_root="/content/drive/MyDrive"):
    import importlib.util
    import os
    import subprocess
    import sys

    if installed is None:
        installed = importlib.util.find_spec("lab01_utils") is not None
    if installed:
        return "ready"
    if "YOUR-COURSE" in source:
        print("The lab is not installed here, and LAB01_SOURCE above is not set: ask your "
              "instructor for the lab's git URL, put it there and run this cell again.")
        return "no source"
    run = run or subprocess.check_call
    if colab is None:
        colab = "google.colab" in sys.modules
    if colab:
        from google.colab import drive

        drive.mount(os.path.dirname(drive_root))
        home = drive_root
    target = os.path.join(home or os.path.expanduser("~"), folder)
    if os.path.isdir(os.path.join(target, "lab01_utils")):
        print(f"The lab is already in {target}: your work there is kept.")
    else:
        run(["git", "clone", "--depth", "1", source, target])
    run([sys.executable, "-m", "pip", "install", "-q", "-e", target])
    where = "Runtime > Restart session" if colab else "Kernel > Restart Kernel"
    print(f"Installed the lab from {target}. Now {where}, then open the notebooks in "
          f"{target}/notebooks (your answers are saved there) and run them from the top.")
    return "installed"


_lab01 = lab01_setup(LAB01_SOURCE, LAB01_FOLDER)"""


def with_source(text: str, source: str) -> str:
    """The cell's text with `LAB01_SOURCE` set to `source`."""
    if '"' in source or "\n" in source:
        raise ValueError(f"--source {source!r}: a git URL has no quotes or newlines")
    new, n = SOURCE_LINE.subn(f'LAB01_SOURCE = "{source}"', text, count=1)
    if n != 1:
        raise ValueError("the set-up cell has no LAB01_SOURCE line")
    return new


def cell(source: str = PLACEHOLDER) -> dict:
    """The set-up cell as a notebook cell (nbformat 4.5)."""
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": "lab01-setup",
        "metadata": {"tags": ["lab01-setup"]},
        "outputs": [],
        "source": with_source(CELL, source).splitlines(keepends=True),
    }


def insert(nb: dict, source: str = PLACEHOLDER) -> dict:
    """`nb` with the set-up cell first among its code cells (replacing an older one)."""
    nb = json.loads(json.dumps(nb))
    cells = [c for c in nb["cells"] if c.get("id") != "lab01-setup"]
    first_code = next((i for i, c in enumerate(cells) if c["cell_type"] == "code"), len(cells))
    cells.insert(first_code, cell(source))
    nb["cells"] = cells
    return nb
