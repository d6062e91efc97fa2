"""Tests for lab01_utils/digests.py and the faults of a run's files: every checkpoint and
weights file carries a digest checked on load; a damaged, truncated, empty or foreign file, a
missing or corrupt config.json or history.json, an unusable --out, a full disk or a file-size
limit each give one line naming the file and exit 2, never a traceback."""

from __future__ import annotations

import errno
import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import EVERYTHING

from lab01_utils import files
from lab01_utils.cli import main
from lab01_utils.compare import main as compare_main
from lab01_utils.digests import DIGEST_KEY, RunFileError, array_digest
from lab01_utils.runs import load_weights, save_weights

pytestmark = pytest.mark.needs(*EVERYTHING)

SMALL = ["--profile", "quick", "--widths", "8", "16", "16", "--train-limit", "200", "--quiet"]
DIR = {"numpy": "task1_numpy", "torch": "task2_torch"}
CKPT = {"numpy": "checkpoint.npz", "torch": "checkpoint.pt"}


def cli(task: str, out: Path, *extra: str) -> list[str]:
    return ["--task", task, "--epochs", "1", *SMALL, "--out", str(out), *extra]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """One finished 1-epoch run of each task (copied by each test before it is damaged)."""
    out = tmp_path_factory.mktemp("runs")
    for task in DIR:
        assert main(cli(task, out)) == 0
    return out


def copy_run(finished: Path, tmp_path: Path) -> Path:
    out = tmp_path / "runs"
    shutil.copytree(finished, out, ignore=shutil.ignore_patterns(".*.lock"))
    return out


def resume_error(task: str, out: Path, capsys) -> str:
    capsys.readouterr()
    code = main(cli(task, out, "--resume", "--epochs", "2"))
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert "Traceback" not in captured.err
    lines = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, captured.err
    return lines[0]


def flip_a_byte(path: Path, where: float = 0.6) -> None:
    data = bytearray(path.read_bytes())
    i = int(len(data) * where)
    data[i] ^= 0x40
    path.write_bytes(bytes(data))


def test_the_files_carry_a_digest_of_their_arrays(finished):
    run = finished / DIR["numpy"]
    for name in ("checkpoint.npz", "weights.npz"):
        with np.load(run / name, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        assert str(arrays[DIGEST_KEY]) == array_digest(arrays), name
    assert DIGEST_KEY not in load_weights(run / "weights.npz")  # not a state_dict key
    import torch

    state = torch.load(finished / DIR["torch"] / "checkpoint.pt", weights_only=True)
    assert len(state["digest"]) == 64


@pytest.mark.parametrize("task", ["numpy", "torch"])
def test_a_flipped_byte_in_a_checkpoint_is_refused(task, finished, tmp_path, capsys):
    out = copy_run(finished, tmp_path)
    ckpt = out / DIR[task] / CKPT[task]
    flip_a_byte(ckpt)
    line = resume_error(task, out, capsys)
    assert str(ckpt) in line and ("damaged" in line or "truncated" in line), line
    assert "--overwrite" in line


@pytest.mark.parametrize("task", ["numpy", "torch"])
@pytest.mark.parametrize("how", ["truncated", "empty"])
def test_a_truncated_or_empty_checkpoint_is_refused(task, how, finished, tmp_path, capsys):
    out = copy_run(finished, tmp_path)
    ckpt = out / DIR[task] / CKPT[task]
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 2] if how == "truncated" else b"")
    line = resume_error(task, out, capsys)
    assert str(ckpt) in line, line
    assert ("empty" in line) if how == "empty" else ("truncated" in line), line


def test_a_checkpoint_of_another_model_is_refused(finished, tmp_path, capsys):
    out = copy_run(finished, tmp_path)
    other = tmp_path / "other"
    args = cli("numpy", other)
    args[args.index("--widths") + 1 : args.index("--widths") + 4] = ["4", "8", "8"]
    assert main(args) == 0
    ckpt = out / DIR["numpy"] / CKPT["numpy"]
    shutil.copyfile(other / DIR["numpy"] / CKPT["numpy"], ckpt)
    line = resume_error("numpy", out, capsys)
    assert f"{ckpt}: does not fit this run's model" in line, line
    # The torch checkpoint where the NumPy one should be.
    shutil.copyfile(out / DIR["torch"] / CKPT["torch"], ckpt)
    line = resume_error("numpy", out, capsys)
    assert f"{ckpt}: not a Task 1 checkpoint written by this lab" in line, line


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_missing_or_corrupt_config_json_is_named(damage, finished, tmp_path, capsys):
    out = copy_run(finished, tmp_path)
    config = out / DIR["numpy"] / "config.json"
    if damage == "missing":
        config.unlink()
    else:
        config.write_text('{"lr": 0.03, ')
    line = resume_error("numpy", out, capsys)
    assert str(config) in line and ("missing" in line if damage == "missing" else "damaged" in line)


def test_a_corrupt_history_json_is_named_by_compare(finished, tmp_path, capsys):
    out = copy_run(finished, tmp_path)
    history = out / DIR["torch"] / "history.json"
    history.write_bytes(history.read_bytes()[:40])
    assert compare_main([str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{history}: the run's history is damaged" in err and "Traceback" not in err


def test_a_file_written_before_digests_loads_with_a_notice(finished, tmp_path, capsys):
    out = copy_run(finished, tmp_path)
    run = out / DIR["numpy"]
    for name in ("checkpoint.npz", "weights.npz"):
        with np.load(run / name, allow_pickle=False) as z:
            old = {k: z[k] for k in z.files if k != DIGEST_KEY}
        np.savez(run / name, **old)
    capsys.readouterr()
    assert main(cli("numpy", out, "--resume", "--epochs", "2")) == 0
    assert "was written before files carried a digest" in capsys.readouterr().err
    state = load_weights(run / "weights.npz")  # rewritten by the resumed run, with a digest
    assert DIGEST_KEY not in state
    with np.load(run / "weights.npz", allow_pickle=False) as z:
        assert DIGEST_KEY in z.files


def test_a_damaged_weights_file_is_named(tmp_path):
    path = tmp_path / "weights.npz"
    save_weights(path, {"fc.weight": np.arange(40, dtype=np.float32).reshape(4, 10)})
    flip_a_byte(path, 0.9)
    with pytest.raises(RunFileError, match=r"weights\.npz: damaged|weights\.npz: not a readable"):
        load_weights(path)


def test_an_out_that_is_a_file_is_one_line(tmp_path, capsys):
    out = tmp_path / "a_file"
    out.write_text("not a folder")
    assert main(cli("numpy", out)) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith(f"error: cannot write the run under --out {out}") and "Traceback" not in err
    )
    assert out.read_text() == "not a folder"


def test_a_full_disk_is_one_line_and_leaves_no_temp_file(tmp_path, capsys, monkeypatch):
    def full(fd, *args, **kwargs):  # every file write fails as on a full disk
        os.close(fd)
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x.tmp"))

    monkeypatch.setattr(files.os, "fdopen", full)
    assert main(cli("numpy", tmp_path)) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err
    assert err.count("\n") == 1, err
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="no file-size limit here")
def test_a_file_size_limit_is_one_line(tmp_path):
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))  # `ulimit -f` ~ 195 KiB

    proc = subprocess.run(
        [sys.executable, "-m", "lab01_utils.train", *cli("numpy", tmp_path)],
        preexec_fn=limit,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "File too large" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    run = tmp_path / DIR["numpy"]
    assert not list(run.glob(".*.tmp"))
    assert json.loads((run / "config.json").read_text())["task"] == "numpy"


class Payload:
    """A class a checkpoint.pt must not bring in: torch.load(weights_only=True) refuses it."""


def test_a_checkpoint_holding_a_pickled_class_is_refused_in_one_line(finished, tmp_path, capsys):
    import torch

    out = copy_run(finished, tmp_path)
    ckpt = out / DIR["torch"] / CKPT["torch"]
    state = torch.load(ckpt, weights_only=True)
    state["extra"] = Payload()
    torch.save(state, ckpt)
    line = resume_error("torch", out, capsys)
    assert f"{ckpt}: holds Python objects that are not loaded" in line, line
