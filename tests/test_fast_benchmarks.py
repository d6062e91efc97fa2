"""The fast engine's benchmark scripts (instructor-only) run and print their figures (tiny
sizes: this checks that they work, not how fast anything is; timings are never pass/fail)."""

from __future__ import annotations

import re

import pytest
from helpers import launch_benchmark as launch
from helpers import run_benchmark as run

TINY = ("--steps", "2", "--batch-size", "4")  # the step-timing scripts at a toy size


@pytest.mark.slow
def test_compare_layers_times_every_layer_type_of_the_model():
    out = run("compare_layers.py", "--reps", "2", "--batch-size", "4", "--pause", "0")
    used: dict[str, int] = {}
    for line in out.splitlines():
        m = re.match(r"^  (Conv2d|BatchNorm2d|SiLU)\b.* on \(.*\)\s+(\d+)\s+[\d.]+\s+[\d.]+", line)
        if m:
            used[m[1]] = used.get(m[1], 0) + int(m[2])
    # Every layer of the model is counted: 16 convolutions, 13 BatchNorms, 13 SiLUs.
    assert used == {"Conv2d": 16, "BatchNorm2d": 13, "SiLU": 13}, out
    assert re.search(r"all of them\s+[\d.]+\s+[\d.]+\s+[\d.]+x", out), out


@pytest.mark.slow
def test_profile_step_by_layer_sums_the_layer_types():
    out = run("profile_step.py", "--by-layer", *TINY)
    assert re.search(r"step [\d.]+ ms", out), out
    assert re.search(r"Conv2d [\d.]+ ms, ", out), out


@pytest.mark.slow
def test_ab_setting_alternates_the_values_and_prints_the_paired_ratio():
    setting = ("lab01_utils.fast.parallel", "MIN_ELEMENTS", "1 << 15", "1 << 18")
    out = run("ab_setting.py", *setting, *TINY)
    lines = [line for line in out.splitlines() if "median" in line]
    assert len(lines) == 2, out
    assert lines[0].endswith("against the first: 1.000x"), out
    assert re.search(r"1 << 18: median +[\d.]+ ms", lines[1]), out


def test_ab_setting_names_a_missing_attribute():
    proc = launch("ab_setting.py", "lab01_utils.fast.parallel", "NO_SUCH_KNOB", "1", "2")
    assert proc.returncode == 2
    assert "lab01_utils.fast.parallel has no attribute 'NO_SUCH_KNOB'" in proc.stderr


@pytest.mark.slow
def test_profile_step_handoffs_counts_the_split_calls():
    out = run("profile_step.py", "--handoffs", *TINY, env={"LAB01_NUM_THREADS": "2"})
    calls = re.search(r"split calls: (\d+) a step", out)
    assert calls and int(calls[1]) > 0, out  # even a batch of 4 splits its big layers
    assert re.search(r"paired difference -?[\d.]+ ms per step: -?\d+ us a hand-off", out), out


@pytest.mark.slow
def test_ab_revision_times_the_working_tree_against_a_git_revision():
    out = run("ab_revision.py", "HEAD", *TINY)
    assert re.search(r"working tree: median +[\d.]+ ms", out), out
    assert re.search(r"HEAD: median +[\d.]+ ms", out), out
    assert re.search(r"working tree / HEAD, step by step: [\d.]+x", out), out


def test_ab_revision_names_a_bad_revision():
    proc = launch("ab_revision.py", "no-such-revision")
    assert proc.returncode != 0
    assert "git archive no-such-revision failed" in proc.stderr
