"""Files written whole or not at all: a temp file in the same directory, then `os.replace`.

The training runs' files (checkpoints, logs, histories, configs, final weights), the
decoded-data cache, the comparison and the embedded sample go through `atomic_write`, so a
crash, a full disk or Ctrl-C mid-write leaves the previous file as it was, never half of a new
one. (The student release is a whole tree; `release.py` writes its stamp file last.)
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object], mode=None) -> None:
    """Write `path` by calling `write(f)` on a temp file next to it, then rename it over `path`.

    Args:
        path: the file to write; its directory is created if needed.
        write: called once with the open binary file.
        mode: the new file's permission bits; by default those of any new file (0o666 less the
            umask), which `tempfile.mkstemp`'s private 0o600 would not give.

    If `write` raises (or the process is interrupted), the temp file is removed and `path` is
    left untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """`atomic_write` of a UTF-8 text."""
    atomic_write(path, lambda f: f.write(text.encode()))
