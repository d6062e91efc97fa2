"""bench_step.py, the benchmark the student release keeps, runs and prints its figures (tiny
sizes: this checks that it works, not how fast anything is; timings are never pass/fail tests)."""

from __future__ import annotations

import re

import pytest
from helpers import LAYERS, OPTIMIZER
from helpers import run_benchmark as run

pytestmark = pytest.mark.needs(*LAYERS + OPTIMIZER)

TINY = ("--steps", "2", "--batch-size", "4")  # the step-timing scripts at a toy size


@pytest.mark.slow
def test_bench_step_prints_both_medians_and_the_ratio():
    out = run("bench_step.py", "--reps", "2", "--batch-size", "4", "--pause", "0")
    assert re.search(r"numpy step\s+median\s+[\d.]+ ms", out), out
    assert re.search(r"torch step\s+median\s+[\d.]+ ms", out), out
    assert re.search(r"ratio numpy / torch: [\d.]+x", out), out
    assert re.search(r"paired ratio \(median of step-by-step ratios\): [\d.]+x", out), out
    assert "layer1.0" in out  # the per-layer breakdown
    assert re.search(r"BLAS: \w+ [\d.]+ \(\w+ kernel, threads: \d+\)", out), out


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
