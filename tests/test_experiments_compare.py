"""Tests for lab01_utils/experiments/compare.py (notebook 10): where each task's run comes
from, and the two engines trained side by side."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import EVERYTHING

from lab01_utils.experiments import compare as ex
from lab01_utils.runs import save_weights

pytestmark = pytest.mark.needs(*EVERYTHING)
QUICK = dict(train_limit=200, test_limit=100, batch_size=20, torch_threads=1, epochs=1)


def test_without_finished_runs_each_task_is_trained_quickly_and_alike(monkeypatch):
    monkeypatch.setattr(ex, "find_run", lambda task: None)
    runs = ex.task_runs(QUICK)
    assert list(runs) == ["Task 1 (NumPy)", "Task 2 (PyTorch)"]
    a, b = (r.history[-1] for r in runs.values())
    assert not any(r.finished for r in runs.values())
    assert all("quick run" in r.source for r in runs.values())
    assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-3)
    assert set(runs["Task 1 (NumPy)"].weights) == set(runs["Task 2 (PyTorch)"].weights)


def test_a_finished_run_is_loaded_not_trained(tmp_path, monkeypatch):
    history = [{"epoch": 1, "val_acc": 91.5, "train_loss": 0.3, "epoch_time": 1.0}]
    (tmp_path / "history.json").write_text(json.dumps(history))
    save_weights(tmp_path / "weights.npz", {"fc.weight": np.ones((2, 2), np.float32)})
    monkeypatch.setattr(ex, "find_run", lambda task: tmp_path)
    monkeypatch.setattr(ex, "train", lambda *a, **k: pytest.fail("trained a finished run"))
    runs = ex.task_runs()
    assert all(r.finished and r.history == history for r in runs.values())
    assert runs["Task 2 (PyTorch)"].source == f"finished run in {tmp_path}"


def test_same_start_same_batches_same_losses():
    result = ex.same_training(steps=5)
    assert [len(v) for v in result.losses.values()] == [5, 5]
    assert result.loss_difference < 1e-4 and result.weight_difference < 1e-3
    assert abs(result.losses["NumPy"][0] - np.log(10)) < 0.3  # a fresh network: ~ln 10
