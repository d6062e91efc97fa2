"""The committed results are what the docs say they are.

`results/task*/` are the final runs of the recipe the accuracy sweep chose (`improved`),
`results/lab_recipe/` those of the lab's default recipe they replaced and
`results/report_recipe/` those of the report's; each log is its history, and each run's final
weights, evaluated again on the 10,000 test images, give the accuracy its log ends with (the
EMA model's, in `weights.npz`, and the trained weights', in `weights_raw.npz`, where the run
has an EMA; and the 10-view TTA figure where the run logged one).
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
from lab01_utils.models import build_torch_model, numpy_state_to_torch
from lab01_utils.runs import format_log_line, kept_val_acc, kept_val_loss, load_weights
from lab01_utils.train import load_data
from lab01_utils.tta import tta_logits

pytestmark = pytest.mark.needs(*EVERYTHING)

REPO = Path(__file__).resolve().parents[1]
# (folder, recipe, task); the final runs of `improved` were also measured with TTA (`--tta`).
FOLDERS = {"results": "improved", "results/lab_recipe": "lab", "results/report_recipe": "report"}
EVAL_OPTIONS = {"improved": {"tta": True}}
RUNS = [(folder, recipe, task) for folder, recipe in FOLDERS.items() for task in ("numpy", "torch")]
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
    cfg = TrainConfig.for_profile("full", recipe, task=task, **EVAL_OPTIONS.get(recipe, {}))
    expected = json.loads(json.dumps(asdict(cfg)))
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
    logit differently): `weights.npz` that of the model the run keeps (the EMA model where
    there is one), `weights_raw.npz` that of the trained weights."""
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    d = run_dir(folder, task)
    last = json.loads((d / "history.json").read_text())[-1]
    cfg = TrainConfig.for_profile("full", recipe, task=task, device="cpu")
    x_train, _, x_test, y_test, _ = load_data(cfg, verbose=False)
    steps = cfg.batches_per_epoch(len(x_train))
    files = {"weights.npz": (kept_val_acc(last), kept_val_loss(last))}
    if "ema_val_acc" in last:
        assert (d / "weights_raw.npz").is_file(), f"{d}: an EMA run keeps its raw weights too"
        files["weights_raw.npz"] = (last["val_acc"], last["val_loss"])
    for name, (logged_acc, logged_loss) in files.items():
        engine = make_engine(cfg, init_state=load_weights(d / name), steps_per_epoch=steps)
        loss, acc = evaluate(engine, x_test, y_test)
        assert acc == pytest.approx(logged_acc, abs=0.05), name
        assert loss == pytest.approx(logged_loss, abs=1e-3), name


TTA_RUNS = [run for run in RUNS if EVAL_OPTIONS.get(run[1], {}).get("tta")]


@pytest.mark.slow
@pytest.mark.skipif(not DEBIAN_DIR.is_dir(), reason="full Fashion-MNIST not installed")
@pytest.mark.parametrize(
    ("folder", "recipe", "task"), TTA_RUNS, ids=[f"{f}/{t}" for f, _, t in TTA_RUNS]
)
def test_committed_weights_give_the_logged_tta_accuracy(folder, recipe, task, monkeypatch):
    """The 10-view TTA accuracy a final run logged is what its `weights.npz` gives (in the
    torch network: the same figures as the NumPy one, `lab01_utils.tta`, and faster)."""
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    d = run_dir(folder, task)
    last = json.loads((d / "history.json").read_text())[-1]
    cfg = TrainConfig.for_profile("full", recipe, task=task, device="cpu")
    _, _, x_test, y_test, _ = load_data(cfg, verbose=False)
    model = build_torch_model(cfg.widths, cfg.num_classes)
    model.load_state_dict(numpy_state_to_torch(load_weights(d / "weights.npz")))
    acc = 100 * float((tta_logits(model, x_test).argmax(1) == y_test).mean())
    assert acc == pytest.approx(last["tta_val_acc"], abs=0.05)


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
