"""bench_step.py, the benchmark the student release keeps, runs and prints its figures (tiny
sizes: this checks that it works, not how fast anything is; timings are never pass/fail tests)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = ("--steps", "2", "--batch-size", "4")  # the step-timing scripts at a toy size


def launch(script: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=None if env is None else {**os.environ, **env},
    )


def run(script: str, *args: str, env: dict | None = None) -> str:
    """The script's output; it must succeed."""
    proc = launch(script, *args, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.slow
def test_bench_step_prints_both_medians_and_the_ratio():
    out = run("bench_step.py", "--reps", "2", "--batch-size", "4", "--pause", "0")
    assert re.search(r"numpy step\s+median\s+[\d.]+ ms", out), out
    assert re.search(r"torch step\s+median\s+[\d.]+ ms", out), out
    assert re.search(r"ratio numpy / torch: [\d.]+x", out), out
    assert re.search(r"paired ratio \(median of step-by-step ratios\): [\d.]+x", out), out
    assert "layer1.0" in out  # the per-layer breakdown


def test_bench_step_runs_the_textbook_engine_when_asked():
    out = run(
        "bench_step.py",
        "--reps",
        "1",
        "--batch-size",
        "4",
        "--pause",
        "0",
        "--numpy-engine",
        "plain",
        "--no-breakdown",
    )
    assert "NumPy: the textbook layers (nn/)" in out, out
    assert re.search(r"ratio numpy / torch: [\d.]+x", out), out
