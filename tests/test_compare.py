"""The Task 1 vs Task 2 comparison: table, figure, files."""

from __future__ import annotations

import json

import pytest

from lab01_utils.compare import comparison_table, summarize, write_comparison


def _hist(accs, times):
    return [
        dict(
            epoch=i + 1,
            lr=0.03,
            train_loss=1.0 / (i + 1),
            train_acc=a - 1,
            val_loss=0.5 / (i + 1),
            val_acc=a,
            train_time=t - 1,
            epoch_time=t,
        )
        for i, (a, t) in enumerate(zip(accs, times, strict=True))
    ]


def test_summary_and_table():
    h_np, h_t = _hist([80, 90, 89], [30, 30, 30]), _hist([81, 88, 90], [20, 20, 20])
    s = summarize(h_np)
    assert (s["final_val_acc"], s["best_val_acc"], s["epochs"]) == (89, 90, 3)
    assert s["mean_epoch_time"] == pytest.approx(30)
    table = comparison_table({"numpy": h_np, "torch": h_t})
    assert "| Final val accuracy (%) | 89.00 | 90.00 |" in table
    assert "| Best val accuracy (%) | 90.00 | 90.00 |" in table
    assert "**1.50x**" in table and "-1.00 points" in table


def test_the_table_adds_the_ema_and_tta_figures_where_a_run_measured_them():
    h_np, h_t = _hist([80, 90], [3, 3]), _hist([81, 91], [2, 2])
    h_np[-1] |= {"ema_val_acc": 90.5, "tta_val_acc": 91.25}
    h_t[-1] |= {"ema_val_acc": 90.75}
    lines = comparison_table({"numpy": h_np, "torch": h_t}).splitlines()
    i = lines.index("| Final val accuracy (%) | 90.00 | 91.00 |")
    assert lines[i + 1] == "| Final val accuracy, EMA model (%) | 90.50 | 90.75 |"
    assert lines[i + 2] == "| Final val accuracy, TTA (%) | 91.25 | - |"
    assert lines[i + 3].startswith("| Best val accuracy")
    plain = comparison_table({"numpy": _hist([80], [1]), "torch": _hist([81], [1])})
    assert "EMA" not in plain and "TTA" not in plain


def test_write_comparison(tmp_path):
    for sub, accs in (("task1_numpy", [70, 75]), ("task2_torch", [71, 74])):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "history.json").write_text(json.dumps(_hist(accs, [2, 2])))
    md, png = write_comparison(tmp_path)
    assert "Task 1 (NumPy)" in md.read_text() and "Task 2 (PyTorch)" in md.read_text()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_runs_are_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no finished task"):
        write_comparison(tmp_path)
    with pytest.raises(ValueError, match="empty history"):
        summarize([])
