"""Taking a corrected release mid-term without losing your work.

    make update RELEASE=path/to/new/release     # = python -m lab01_utils.update PATH

Every file of the new release replaces yours, except your work:

* an exercise file (`handin.exercise_files`) that the new release did not change is kept as it
  is; one it changed gets the change merged into your version (`git merge-file`, against the
  version you were given, which `release-manifest.json` holds);
* a notebook becomes the new release's, with your answer to each of its questions put back
  (the cell after each `Question N.M` heading), and your own extra cells are listed;
* any other file you edited, which the new release would replace, stops the update before
  anything is written, naming the files (move your changes aside, or `--force` to take the
  new ones).

It reports what it changed. Nothing is written until the whole plan is known.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .files import atomic_write
from .questions import find_questions

__all__ = ["MANIFEST", "Plan", "UpdateError", "main", "plan_update", "apply"]

MANIFEST = "release-manifest.json"


class UpdateError(ValueError):
    """The update cannot go ahead; the message says why and what to do."""


@dataclass
class Plan:
    writes: dict[str, bytes] = field(default_factory=dict)  # path -> new contents
    removes: list[str] = field(default_factory=list)
    report: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _manifest(root: Path, what: str) -> dict:
    try:
        return json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UpdateError(
            f"{root}: no {MANIFEST}: {what} is not a release this can update"
        ) from None
    except ValueError as e:
        raise UpdateError(f"{root / MANIFEST}: damaged ({e})") from None


def _merge(mine: str, old: str, new: str) -> str | None:
    """Three-way merge of the release's change (old -> new) into `mine`; None on a conflict."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for name, text in (("mine", mine), ("old", old), ("new", new)):
            p = Path(tmp) / name
            p.write_text(text, encoding="utf-8")
            paths.append(str(p))
        try:
            proc = subprocess.run(["git", "merge-file", "-p", *paths], capture_output=True,
                                  text=True, timeout=60)  # fmt: skip
        except FileNotFoundError:
            raise UpdateError("merging an exercise file needs git (git merge-file)") from None
    return proc.stdout if proc.returncode == 0 else None


def _notebook(mine_path: Path, new_path: Path) -> tuple[bytes, str]:
    """The new notebook with the student's answer cells put back; a line for the report."""
    from .solutions import dumps_notebook

    new = json.loads(new_path.read_text(encoding="utf-8"))
    if not mine_path.is_file():
        return new_path.read_bytes(), f"{new_path.name}: new"
    mine = json.loads(mine_path.read_text(encoding="utf-8"))
    theirs = {q.id: mine["cells"][q.answer_cell] for q in find_questions(mine) if q.answer_cell}
    kept = []
    for q in find_questions(new):
        if q.answer_cell is not None and q.id in theirs:
            cell = json.loads(json.dumps(theirs[q.id]))
            if cell["cell_type"] == new["cells"][q.answer_cell]["cell_type"]:
                new["cells"][q.answer_cell] = cell
                kept.append(q.id)
    new_ids = {c.get("id") for c in new["cells"]}
    extra = [c.get("id") for c in mine["cells"] if c.get("id") not in new_ids]
    line = f"{new_path.name}: the new version, your answers kept ({', '.join(kept) or 'none'})"
    if extra:
        line += f"; {len(extra)} cell(s) of yours not in it (your old copy: .update-backup/)"
    return dumps_notebook(new).encode(), line


def plan_update(root: Path, new: Path, force: bool = False) -> Plan:
    root, new = Path(root).resolve(), Path(new).resolve()
    if root == new:
        raise UpdateError("RELEASE is this folder: give the new release's folder")
    old_m, new_m = _manifest(root, "this folder"), _manifest(new, f"RELEASE {new}")
    old_files, new_files = old_m["files"], new_m["files"]
    pristine_old = old_m.get("exercise_files", {})
    plan = Plan()
    for rel, new_digest in sorted(new_files.items()):
        mine_path, new_path = root / rel, new / rel
        mine_digest, old_digest = _digest(mine_path), old_files.get(rel)
        if rel.endswith(".ipynb"):
            if new_digest == old_digest or mine_digest == new_digest:
                continue  # the release did not change it: yours stays as it is
            data, line = _notebook(mine_path, new_path)
            plan.writes[rel] = data
            plan.report.append(line)
        elif rel in new_m.get("exercise_files", {}):
            if new_digest == old_digest or mine_digest == new_digest:
                continue  # unchanged by the release: your version stays
            if mine_digest in (None, old_digest):
                plan.writes[rel] = new_path.read_bytes()
                plan.report.append(f"{rel}: the new version (you had not changed it)")
                continue
            merged = _merge(mine_path.read_text(encoding="utf-8"), pristine_old.get(rel, ""),
                            new_path.read_text(encoding="utf-8"))  # fmt: skip
            if merged is None:
                plan.refused.append(f"{rel}: your exercise and the release's change overlap")
            else:
                plan.writes[rel] = merged.encode()
                plan.report.append(f"{rel}: the release's change merged into your exercises")
        elif mine_digest != new_digest:
            if mine_digest not in (None, old_digest) and not force:
                plan.refused.append(f"{rel}: you edited it, and the new release replaces it")
            else:
                plan.writes[rel] = new_path.read_bytes()
                plan.report.append(f"{rel}: {'new' if mine_digest is None else 'replaced'}")
    for rel in sorted(set(old_files) - set(new_files)):
        if (root / rel).is_file():
            if _digest(root / rel) == old_files[rel] or force:
                plan.removes.append(rel)
                plan.report.append(f"{rel}: removed (no longer in the release)")
            else:
                plan.report.append(f"{rel}: no longer in the release; your edited copy is kept")
    plan.writes[MANIFEST] = (new / MANIFEST).read_bytes()
    return plan


def apply(root: Path, plan: Plan) -> None:
    root = Path(root)
    backup = root / ".update-backup"
    for rel, data in plan.writes.items():
        target = root / rel
        if target.is_file() and rel.endswith(".ipynb"):
            (backup / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(target, backup / rel)
        atomic_write(target, lambda f, data=data: f.write(data))
    for rel in plan.removes:
        (root / rel).unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lab01_utils.update", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("release", help="the folder of the new release")
    p.add_argument("--force", action="store_true", help="take the new version of files you edited")
    args = p.parse_args(argv)
    try:
        plan = plan_update(Path.cwd(), Path(args.release), args.force)
    except UpdateError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if plan.refused:
        print("error: nothing was changed: " + "; ".join(plan.refused), file=sys.stderr)
        print("Move your changes aside (or use --force for files that are not exercises) and "
              "run it again.", file=sys.stderr)  # fmt: skip
        return 2
    apply(Path.cwd(), plan)
    for line in plan.report:
        print(line)
    print(f"updated to {args.release}: {len(plan.writes) - 1} file(s) written, "
          f"{len(plan.removes)} removed")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
