"""A Gradescope autograder for the lab (instructor-only): `make autograder` writes
`dist/autograder.zip`, the bundle Gradescope's "Zip file upload" takes:

* `setup.sh`: installs torch (the CPU build; `TORCH_INDEX` may name its index) and the
  instructor's package from `source/`, once, when Gradescope builds the image;
* `run_autograder`: grades the one hand-in in `/autograder/submission` (a `make handin` zip,
  or the project's files) exactly as `python -m lab01_utils.grading` does, and writes
  `/autograder/results/results.json` (`AUTOGRADER_ROOT` replaces `/autograder` for a local try);
* `source/`: these sources (the instructor's checks, tests and notebooks; the student release
  each submission is graded in is built from them).
"""

from __future__ import annotations

import argparse
import io
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

from .files import atomic_write
from .release import INCLUDE, STUDENT_README, project_files

__all__ = ["RUN_AUTOGRADER", "SETUP_SH", "build_autograder", "main"]

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
set -euo pipefail
cd /autograder/source
python3 -m pip install --upgrade pip
python3 -m pip install ${{TORCH_INDEX:+--index-url "$TORCH_INDEX"}} "torch=={torch}"
python3 -m pip install -e .
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for each submission; AUTOGRADER_ROOT lets it run elsewhere.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
mkdir -p "$ROOT/results"
cd "$ROOT/source"
python3 -m lab01_utils.grading "$ROOT/submission" --src . --out "$ROOT/grades" \\
    --gradescope "$ROOT/results/results.json"
"""


def _source_files(src: Path) -> list[Path]:
    """The project's files and the student README: the bundle builds its release from them."""
    return project_files(src, (*INCLUDE, STUDENT_README))


def build_autograder(src: Path, out: Path, torch_version: str) -> Path:
    """Write the bundle to `out` (a `.zip`); returns it."""
    src = Path(src).resolve()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (("setup.sh", SETUP_SH.format(torch=torch_version)),
                           ("run_autograder", RUN_AUTOGRADER)):  # fmt: skip
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16
            z.writestr(info, text)
        for rel in _source_files(src):
            z.write(src / rel, (Path("source") / rel).as_posix())
    atomic_write(out, lambda f: f.write(buf.getvalue()))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    import torch

    p = argparse.ArgumentParser(prog="python -m lab01_utils.autograder", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--out", default="dist/autograder.zip")
    p.add_argument("--src", default=".")
    p.add_argument("--torch", default=torch.__version__.split("+")[0], help="torch to install")
    args = p.parse_args(argv)
    try:
        path = build_autograder(Path(args.src), Path(args.out), args.torch)
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {path}: upload it as the assignment's autograder (Zip file upload)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
