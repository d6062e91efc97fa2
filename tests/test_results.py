"""The committed results are what the docs say they are.

`results/task*/` are full runs of the project's default recipe and `results/report_recipe/`
of the report's; each log is its history, and each run's final weights, evaluated again on
the 10,000 test images, give the accuracy its log ends with.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from helpers import EVERYTHING

from lab01_utils.config import FREE, IMPROVE_SWEEP, IMPROVE_VARIANTS, TASK_DIRS, TrainConfig
from lab01_utils.data import DEBIAN_DIR
from lab01_utils.engines import make_engine
from lab01_utils.epoch import evaluate
from lab01_utils.runs import format_log_line, load_weights
from lab01_utils.train import load_data

pytestmark = pytest.mark.needs(*EVERYTHING)

REPO = Path(__file__).resolve().parents[1]
RUNS = [  # (folder, recipe, task)
    (folder, recipe, task)
    for folder, recipe in (("results", "lab"), ("results/report_recipe", "report"))
    for task in ("numpy", "torch")
]
IDS = [f"{folder}/{TASK_DIRS[task]}" for folder, _, task in RUNS]
ADDED_LATER = (
    "erase_prob",
    "zero_init_residual",
    "label_smoothing",
    "schedule",
    "warmup_epochs",
    "ema_decay",
    "tta",
    "val_split",
)


def run_dir(folder: str, task: str) -> Path:
    d = REPO / folder / TASK_DIRS[task]
    if not d.is_dir():
        pytest.fail(f"{d} is missing: the committed runs are part of the project")
    return d


@pytest.mark.parametrize(("folder", "recipe", "task"), RUNS, ids=IDS)
def test_committed_run_used_its_recipe(folder, recipe, task):
    saved = json.loads((run_dir(folder, task) / "config.json").read_text())
    expected = json.loads(json.dumps(asdict(TrainConfig.for_profile("full", recipe, task=task))))
    for key in FREE:  # where and how long it ran may differ
        saved.pop(key, None)
        expected.pop(key, None)
    # Options added after a run was made are absent from its config.json; it ran without
    # them (what `--resume` assumes too).
    for key in ADDED_LATER:
        saved.setdefault(key, expected[key])
    assert saved == expected


@pytest.mark.parametrize(("folder", "recipe", "task"), RUNS, ids=IDS)
def test_committed_log_is_its_history(folder, recipe, task):
    d = run_dir(folder, task)
    history = json.loads((d / "history.json").read_text())
    lines = (d / "train.log").read_text().splitlines()
    assert len(history) == 30 and [h["epoch"] for h in history] == list(range(1, 31))
    assert lines == [format_log_line(h) for h in history]


@pytest.mark.slow
@pytest.mark.skipif(not DEBIAN_DIR.is_dir(), reason="full Fashion-MNIST not installed")
@pytest.mark.parametrize(("folder", "recipe", "task"), RUNS, ids=IDS)
def test_committed_weights_give_the_logged_accuracy(folder, recipe, task, monkeypatch):
    """Each run's final weights, loaded into the engine that trained them, reproduce the last
    logged test accuracy (to 0.05 points: a different thread count may round a borderline
    logit differently)."""
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    d = run_dir(folder, task)
    last = json.loads((d / "history.json").read_text())[-1]
    cfg = TrainConfig.for_profile("full", recipe, task=task, device="cpu")
    _, _, x_test, y_test, _ = load_data(cfg, verbose=False)
    engine = make_engine(cfg, init_state=load_weights(d / "weights.npz"))
    loss, acc = evaluate(engine, x_test, y_test)
    assert acc == pytest.approx(last["val_acc"], abs=0.05)
    assert loss == pytest.approx(last["val_loss"], abs=1e-3)


IMPROVE_VAL = REPO / "results" / "improve_val"
SWEEP_RUNS = sorted(p.name for p in IMPROVE_VAL.iterdir()) if IMPROVE_VAL.is_dir() else []


@pytest.mark.parametrize("name", SWEEP_RUNS)
def test_committed_sweep_run_is_its_fixed_variant_on_the_validation_split(name):
    """Each run of the accuracy sweep is one of the fixed variants (config.IMPROVE_VARIANTS)
    at its seed, evaluated on the held-out validation split, never the test set, for all 30
    epochs; its log is its history."""
    variant, _, seed = name.rpartition("_s")
    assert variant in IMPROVE_VARIANTS, f"{name}: not one of the fixed variants"
    d = IMPROVE_VAL / name
    saved = json.loads((d / "config.json").read_text())
    expected = asdict(
        TrainConfig.for_profile(
            "full", "lab", **IMPROVE_VARIANTS[variant], **IMPROVE_SWEEP, seed=int(seed)
        )
    )
    expected = json.loads(json.dumps(expected))
    for key in FREE:
        saved.pop(key, None)
        expected.pop(key, None)
    assert saved == expected
    assert saved["val_split"] == 5000
    history = json.loads((d / "history.json").read_text())
    assert [h["epoch"] for h in history] == list(range(1, 31))
    assert "tta_val_acc" in history[-1]
    assert ("ema_val_acc" in history[-1]) == (saved["ema_decay"] > 0)
    lines = (d / "train.log").read_text().splitlines()
    assert lines == [format_log_line(h) for h in history]
