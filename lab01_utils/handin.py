"""Handing in: one archive of the student's work, with a manifest.

    make handin                 # = python -m lab01_utils.handin  (or `lab01 handin`)
    make handin NAME=ada        # the name in the archive's file name and manifest

writes `dist/handin/lab01-handin-<name>-<time>.zip` holding the exercise files (every
file the exercises' registry names), the notebooks, and `handin.json`: the
release's version, each file's sha256, and each exercise's state from its self-check when the
archive was made. Unfinished exercises are handed in as they are (and listed). Nothing else
of the folder goes in: the grader uses its own checks and tests (`grading.py`).
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import io
import json
import re
import sys
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

from .files import atomic_write

__all__ = ["MANIFEST", "exercise_files", "handed_in_files", "main", "write_handin"]

MANIFEST = "handin.json"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def exercise_files(root: Path | None = None) -> list[Path]:
    """The files that hold the exercises, relative to the lab's folder, sorted: those the
    exercises' registry names (`checks`, each exercise's `where`)."""
    from . import checks

    names = set()
    for ex in checks.EXERCISES.values():
        names |= set(re.findall(r"lab01_utils/[\w/]+\.py", ex.where))
    return sorted(Path(n) for n in names)


def handed_in_files(root: Path) -> list[Path]:
    """What a hand-in holds: the exercise files and the notebooks."""
    return [f for f in exercise_files() if (root / f).is_file()] + sorted(
        p.relative_to(root) for p in (root / "notebooks").glob("*.ipynb")
    )


def _exercise_states() -> dict[str, str]:
    from .progress import statuses

    return {ex: s.state for ex, s in statuses().items()}


def write_handin(root: Path, name: str, out_dir: Path, states: dict[str, str] | None = None):
    """Write the archive; `(its path, the manifest)`."""
    from . import __version__

    root = Path(root).resolve()
    if not NAME.match(name):
        raise ValueError(
            f"NAME {name!r}: use letters, digits, '.', '_' or '-' (at most 64), e.g. NAME=ada"
        )
    if not (root / "lab01_utils").is_dir():
        raise ValueError(f"{root} is not the lab's folder (no lab01_utils/): run it from there")
    files = handed_in_files(root)
    states = _exercise_states() if states is None else states
    manifest = {
        "lab": "lab01",
        "version": __version__,
        "student": name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "files": {f.as_posix(): hashlib.sha256((root / f).read_bytes()).hexdigest() for f in files},
        "exercises": states,
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for f in files:
            z.write(root / f, f.as_posix())
        z.writestr(MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path(out_dir) / f"lab01-handin-{name}-{stamp}.zip"
    atomic_write(path, lambda f: f.write(buf.getvalue()))
    return path, manifest


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m lab01_utils.handin",
        description="Write one archive of your work (exercise files, notebooks, a manifest) "
        "to hand in.",
    )
    p.add_argument(
        "--name",
        default="",
        help="your name or id in the archive (default: your account's name, unless it is a "
        "shared one such as root or jovyan)",
    )
    p.add_argument("--out", default="dist/handin", help="the folder to write it in")
    args = p.parse_args(argv)
    name = args.name
    if not name:
        account = re.sub(r"[^A-Za-z0-9._-]", "_", _account())
        if account.lower() in SHARED_ACCOUNTS:
            print(
                f"error: say whose work this is: make handin NAME=yourname (or --name). Your "
                f"account is called {account!r}, as on every Colab or hub machine, so it "
                "cannot name you.",
                file=sys.stderr,
            )
            return 2
        name = account
        print(f"named after your account, {account!r} (NAME=... to choose another name)")
    try:
        path, manifest = write_handin(Path.cwd(), name, Path(args.out))
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    states = manifest["exercises"]
    left = [ex for ex, s in states.items() if s != "done"]
    print(f"wrote {path} ({len(manifest['files'])} files); hand in this one file.")
    if left:
        print(
            f"not done yet ({len(left)} of {len(states)}): "
            + ", ".join(f"{ex} ({states[ex]})" for ex in left)
        )
    else:
        print(f"every exercise passes its self-check ({len(states)} of {len(states)}).")
    return 0


# Accounts many people share (Colab, Jupyter's images, containers): not a student's name.
SHARED_ACCOUNTS = {"", "root", "jovyan", "colab", "user", "ubuntu", "student", "nobody"}


def _account() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (some containers)
        return ""


if __name__ == "__main__":
    sys.exit(main())
