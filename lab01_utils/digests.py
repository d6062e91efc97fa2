"""Files that prove themselves: every checkpoint and `weights.npz` carries a digest of its
contents, checked when it is read, and every fault in reading one is a one-line
`RunFileError` naming the file, what is wrong and what to do.

The digest is a sha256 over the arrays themselves (each key, dtype, shape and bytes, in key
order), not over the file's bytes, so it is stored inside the file, beside the arrays: an
`.npz` entry `__digest__` (not a `state_dict` key: `load_weights` drops it), a `digest` entry
of Task 2's torch checkpoint. A file written before digests existed has none: it loads with a
notice.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = [
    "DIGEST_KEY",
    "RunFileError",
    "array_digest",
    "read_json",
    "read_npz",
    "tree_digest",
    "verify",
]

DIGEST_KEY = "__digest__"


class RunFileError(ValueError):
    """A run's file is missing, damaged, or not what it should be; the message names it."""


def array_digest(arrays: Mapping[str, np.ndarray]) -> str:
    """sha256 of `arrays` by key, dtype, shape and contents (the digest entry left out)."""
    h = hashlib.sha256()
    for key in sorted(k for k in arrays if k != DIGEST_KEY):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def tree_digest(obj) -> str:
    """sha256 of a torch checkpoint's nested dicts, lists, tensors, numbers and strings."""
    h = hashlib.sha256()

    def walk(x) -> None:
        if isinstance(x, Mapping):
            h.update(b"{")
            for k in sorted(x, key=str):
                h.update(f"{k!s}:".encode())
                walk(x[k])
            h.update(b"}")
        elif isinstance(x, (list, tuple)):
            h.update(b"[")
            for v in x:
                walk(v)
            h.update(b"]")
        elif hasattr(x, "detach"):  # a tensor
            a = x.detach().cpu().contiguous().numpy()
            h.update(f"T{a.dtype.str}{a.shape}".encode())
            h.update(a.tobytes())
        else:
            h.update(f"{type(x).__name__}={x!r};".encode())

    walk(obj)
    return h.hexdigest()


_noticed: set[str] = set()


def verify(path: os.PathLike, stored: str | None, actual: str, redo: str) -> None:
    """Compare a file's stored digest with the one of what was read from it."""
    if stored is None:
        key = str(Path(path).resolve())
        if key not in _noticed:
            _noticed.add(key)
            print(
                f"notice: {path} was written before files carried a digest; it is read "
                "without that check",
                file=sys.stderr,
            )
        return
    if stored != actual:
        raise RunFileError(
            f"{path}: damaged (its contents do not match the digest stored in it); {redo}"
        )


def read_npz(path: os.PathLike, what: str, redo: str) -> dict[str, np.ndarray]:
    """Every array of an `.npz` written by this lab, its digest checked and removed.

    Args:
        path: the file.
        what: what it should be, for the message ("weights.npz", "Task 1 checkpoint").
        redo: what to do when it cannot be used (e.g. "start the run anew with --overwrite").
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            if not hasattr(z, "files"):
                raise RunFileError(f"{path}: not a {what}: it holds one array; {redo}")
            foreign = [k for k in z.files if "/" in k]
            if foreign:  # a torch .pt is a zip too: archive/data.pkl, ...
                raise RunFileError(
                    f"{path}: not a {what} written by this lab (entries {foreign[:3]}): a "
                    "torch .pt file is read with torch.load"
                )
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise RunFileError(f"{path}: no such file; {redo}") from None
    except RunFileError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
        size = path.stat().st_size if path.exists() else 0
        how = "it is empty" if size == 0 else f"truncated or damaged ({type(e).__name__}: {e})"
        raise RunFileError(f"{path}: not a readable {what}: {how}; {redo}") from None
    stored = arrays.pop(DIGEST_KEY, None)
    verify(path, None if stored is None else str(stored), array_digest(arrays), redo)
    return arrays


def read_json(path: os.PathLike, what: str, redo: str):
    """A JSON file of a run (`config.json`, `history.json`), or a one-line `RunFileError`."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunFileError(f"{path}: missing (the run's {what}); {redo}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RunFileError(f"{path}: the run's {what} is damaged ({e}); {redo}") from None
    except OSError as e:
        raise RunFileError(f"{path}: cannot be read ({e.strerror}); {redo}") from None
