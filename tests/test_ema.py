"""Tests for lab01_utils/ema.py and the EMA and TTA options of a run: the NumPy average of the
weights and buffers equals torch's `AveragedModel` with the EMA rule (buffers included); both
engines report the same EMA and TTA figures, after the report's fields; `weights.npz` holds
the evaluated (averaged) model and `weights_raw.npz` the raw one; a run with EMA resumes bit
for bit."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import EVERYTHING, PARITY_RTOL_F32, rel_error
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from lab01_utils.config import TrainConfig
from lab01_utils.ema import EMA
from lab01_utils.models import build_numpy_model, build_torch_model, numpy_state_to_torch
from lab01_utils.runs import format_log_line, load_weights
from lab01_utils.train import train

pytestmark = pytest.mark.needs(*EVERYTHING)

WIDTHS = (8, 16, 16)


def test_the_average_equals_torchs_averaged_model_buffers_included():
    rng = np.random.default_rng(0)
    ours_model = build_numpy_model(widths=WIDTHS, seed=2)
    theirs_model = build_torch_model(widths=WIDTHS)
    ema = EMA(0.9)
    averaged = AveragedModel(theirs_model, multi_avg_fn=get_ema_multi_avg_fn(0.9), use_buffers=True)
    for _ in range(5):  # new weights and statistics each time, as training steps give
        state = {
            k: (v + rng.standard_normal(v.shape).astype(v.dtype) if v.dtype.kind == "f" else v + 1)
            for k, v in ours_model.state_dict().items()
        }
        ours_model.load_state_dict(state)
        theirs_model.load_state_dict(numpy_state_to_torch(state))
        ema.update(ours_model)
        averaged.update_parameters(theirs_model)
    want = {k: v.detach().numpy() for k, v in averaged.module.state_dict().items()}
    assert set(want) == set(ema.state)
    for k, v in want.items():
        if v.dtype.kind == "f":
            assert rel_error(ema.state[k], v) < PARITY_RTOL_F32, k
        else:
            assert np.array_equal(ema.state[k], v), k
    assert ema.n_averaged == int(averaged.n_averaged) == 5
    with pytest.raises(ValueError, match=r"decay must lie in \(0, 1\)"):
        EMA(1.0)


def small(task: str, **kw) -> TrainConfig:
    base = dict(widths=WIDTHS, train_limit=300, test_limit=100, epochs=2, milestones=(1,))
    return TrainConfig.for_profile("quick", task=task, **{**base, **kw})


def test_both_engines_report_the_same_ema_and_tta_after_the_reports_fields(tmp_path):
    kw = dict(ema_decay=0.9, tta=True)
    hist = {t: train(small(t, **kw), tmp_path / t, quiet=True) for t in ("numpy", "torch")}
    a, b = hist["numpy"], hist["torch"]
    assert [list(r)[:8] for r in a] == [
        ["epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "train_time",
         "epoch_time"]
    ] * 2  # fmt: skip
    assert "tta_val_acc" not in a[0] and "tta_val_acc" in a[1]
    for key in ("ema_val_loss", "ema_val_acc", "tta_val_acc"):
        assert a[-1][key] == pytest.approx(b[-1][key], rel=1e-3, abs=0.5), key
    line = format_log_line(a[-1])
    assert line.index("|Epoch time:") < line.index("|EMA Val Acc:") < line.index("|TTA Val Acc:")
    run = tmp_path / "numpy" / "task1_numpy"
    assert (run / "train.log").read_text().splitlines()[-1] == line
    evaluated, raw = load_weights(run / "weights.npz"), load_weights(run / "weights_raw.npz")
    assert any(not np.array_equal(evaluated[k], raw[k]) for k in raw)


def test_a_run_with_ema_resumes_bit_for_bit(tmp_path):
    kw = dict(ema_decay=0.9, epochs=3)
    train(small("numpy", **kw), tmp_path / "a", quiet=True)
    train(small("numpy", **{**kw, "epochs": 1}), tmp_path / "b", quiet=True)
    train(small("numpy", **kw), tmp_path / "b", resume=True, quiet=True)
    for name in ("weights.npz", "weights_raw.npz"):
        x = load_weights(tmp_path / "a" / "task1_numpy" / name)
        y = load_weights(tmp_path / "b" / "task1_numpy" / name)
        assert all(np.array_equal(x[k], y[k]) for k in x), name
    ha = json.loads((tmp_path / "a" / "task1_numpy" / "history.json").read_text())
    hb = json.loads((tmp_path / "b" / "task1_numpy" / "history.json").read_text())
    assert [r["ema_val_acc"] for r in ha] == [r["ema_val_acc"] for r in hb]


def test_a_torch_run_with_ema_resumes(tmp_path):
    kw = dict(ema_decay=0.9, epochs=2)
    train(small("torch", **{**kw, "epochs": 1}), tmp_path, quiet=True)
    hist = train(small("torch", **kw), tmp_path, resume=True, quiet=True)
    assert len(hist) == 2 and "ema_val_acc" in hist[-1]
    assert torch.load(tmp_path / "task2_torch" / "checkpoint.pt", weights_only=True)["ema"]
