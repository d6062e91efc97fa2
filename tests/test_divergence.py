"""Tests for lab01_utils/divergence.py: a diverging run stops with a clear message and a
non-zero exit, whatever form the divergence takes, and what it keeps is finite and named
truthfully."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import EVERYTHING

from lab01_utils.cli import main
from lab01_utils.config import TrainConfig, TrainingDiverged
from lab01_utils.divergence import DIVERGE_LOSS, DIVERGE_WINDOW, Guard, non_finite
from lab01_utils.train import train

pytestmark = pytest.mark.needs(*EVERYTHING)

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(widths=(8, 16, 16), train_limit=300, test_limit=100, epochs=3, milestones=(1,))


def small_cfg(task: str, **kw) -> TrainConfig:
    return TrainConfig.for_profile("quick", task=task, **{**SMALL, **kw})


def every_array_is_finite(run: Path) -> bool:
    for path in run.glob("*.npz"):
        with np.load(path, allow_pickle=False) as z:
            if any(z[k].dtype.kind == "f" and not np.isfinite(z[k]).all() for k in z.files):
                return False
    return True


def test_the_rule_fires_on_a_sustained_huge_loss_and_not_on_a_spike():
    guard = Guard("numpy", 4)
    for _ in range(DIVERGE_WINDOW - 1):
        guard.step(2.3)
    guard.step(40.0)  # one bad step in a window of chance-level losses: mean 3.1
    with pytest.raises(TrainingDiverged, match=r"numpy: at epoch 4, step 61 .*averaged"):
        for _ in range(20):
            guard.step(3 * DIVERGE_LOSS)
    with pytest.raises(TrainingDiverged, match=r"at epoch 1, step 2 the loss is inf"):
        g = Guard("torch", 1)
        g.step(1.0)
        g.step(float("inf"))
    short = Guard("numpy", 2)
    for _ in range(6):
        short.step(100.0)
    with pytest.raises(TrainingDiverged, match="over the epoch's 6 steps"):
        short.end_of_epoch()
    calm = Guard("numpy", 2)
    calm.step(2.0)
    calm.end_of_epoch()  # nothing to say


def test_the_rule_fires_on_none_of_the_committed_runs():
    histories = sorted(ROOT.glob("results/**/history.json"))
    assert len(histories) >= 10
    worst = max(r["train_loss"] for h in histories for r in json.loads(h.read_text()))
    assert worst < DIVERGE_LOSS / 5, worst


def test_non_finite_names_the_arrays():
    state = {
        "conv.weight": np.ones(3),
        "bn.running_var": np.array([1.0, np.inf]),
        "bn.num_batches_tracked": np.array(3),
        "fc.bias": np.array([np.nan], dtype=np.float32),
    }
    assert non_finite(state) == ["bn.running_var", "fc.bias"]


@pytest.mark.parametrize("task", ["numpy", "torch"])
def test_a_constant_lr_of_100_stops_with_an_error_and_keeps_nothing_bad(task, tmp_path, capsys):
    code = main(
        ["--task", task, "--profile", "quick", "--lr", "100", "--milestones", "--epochs", "3"]
        + ["--widths", "8", "16", "16", "--train-limit", "300"]
        + ["--out", str(tmp_path), "--quiet"]
    )
    err = capsys.readouterr().err
    assert code == 2, err
    assert "the run is diverging; stopped" in err or "the loss is nan" in err, err
    run = tmp_path / ("task1_numpy" if task == "numpy" else "task2_torch")
    assert not (run / "weights.npz").exists()
    if (run / "history.json").exists():  # stopped after a finished epoch: it is named
        done = len(json.loads((run / "history.json").read_text()))
        assert f"The checkpoint of epoch {done} is kept" in err, err
    else:
        assert "No epoch had finished, so no checkpoint was written" in err, err
    assert every_array_is_finite(run)


def test_an_infinite_running_var_is_not_checkpointed(tmp_path, monkeypatch):
    from lab01_utils import engines

    real = engines.NumpyEngine.state_dict
    calls = {"n": 0}

    def state_dict(self):
        calls["n"] += 1
        state = real(self)
        if calls["n"] >= 2:  # from epoch 2 on, one statistic has blown up
            key = next(k for k in state if k.endswith("running_var"))
            state[key] = np.full_like(state[key], np.inf)
        return state

    monkeypatch.setattr(engines.NumpyEngine, "state_dict", state_dict)
    with pytest.raises(TrainingDiverged) as e:
        train(small_cfg("numpy"), tmp_path, quiet=True)
    message = str(e.value)
    assert "after epoch 2, 1 arrays hold NaN or inf" in message and "running_var" in message
    assert "The checkpoint of epoch 1 is kept" in message
    run = tmp_path / "task1_numpy"
    with np.load(run / "checkpoint.npz", allow_pickle=False) as z:
        assert int(z["epoch"]) == 1
    assert every_array_is_finite(run)


def test_a_nan_loss_names_the_checkpoint_of_the_last_finished_epoch(tmp_path, monkeypatch):
    from lab01_utils import engines

    real_step = engines.NumpyEngine.train_step
    calls = {"n": 0}

    def step(self, xb, yb):
        calls["n"] += 1
        loss, ok = real_step(self, xb, yb)
        return (float("nan") if calls["n"] > 8 else loss), ok  # 6 steps per epoch here

    monkeypatch.setattr(engines.NumpyEngine, "train_step", step)
    with pytest.raises(TrainingDiverged, match=r"epoch 2, step 3 the loss is nan.*epoch 1 is"):
        train(small_cfg("numpy"), tmp_path, quiet=True)
    run = tmp_path / "task1_numpy"
    with np.load(run / "checkpoint.npz", allow_pickle=False) as z:
        assert int(z["epoch"]) == 1
    assert len(json.loads((run / "history.json").read_text())) == 1
    assert not (run / "weights.npz").exists()
