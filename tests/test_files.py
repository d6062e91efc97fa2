"""`lab01_utils.files.atomic_write`: a file is replaced whole or not at all."""

import os
import stat

import pytest

from lab01_utils.files import atomic_write, atomic_write_text


def _leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    path = tmp_path / "checkpoint.npz"
    path.write_bytes(b"old")

    def broken(f):
        f.write(b"half a chec")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, broken)
    assert path.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_an_interrupt_mid_write_leaves_no_new_file_and_no_temp_file(tmp_path):
    path = tmp_path / "runs" / "history.json"

    def interrupted(f):
        f.write(b"[{")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, interrupted)
    assert not path.exists()
    assert _leftovers(path.parent) == []


def test_replaces_the_file_and_creates_its_directory(tmp_path):
    path = tmp_path / "a" / "b" / "train.log"
    atomic_write_text(path, "one\n")
    atomic_write_text(path, "two\n")
    assert path.read_text() == "two\n"
    assert _leftovers(path.parent) == []


@pytest.mark.skipif(os.name != "posix", reason="permission bits are POSIX")
def test_new_files_get_the_umask_mode_not_a_private_one(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "shared.json", "{}")
        os.umask(0o077)
        atomic_write_text(tmp_path / "private.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "shared.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "private.json").stat().st_mode) == 0o600


@pytest.mark.skipif(os.name != "posix", reason="permission bits are POSIX")
def test_an_explicit_mode_wins_over_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        atomic_write(tmp_path / "sample.npz", lambda f: f.write(b"x"), mode=0o644)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "sample.npz").stat().st_mode) == 0o644
