"""Choosing a recipe from a sweep (`lab01_utils/ablation.py`, `scripts/results_tables.py
ablation`): the rule of issue "95% with the report's network" on folders shaped like
`results/improve_val/`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from lab01_utils import ablation
from lab01_utils.cli import build_parser, config_from_args
from lab01_utils.config import FREE, IMPROVE_SWEEP, IMPROVE_VARIANTS, TrainConfig

ROOT = Path(__file__).resolve().parents[1]


def _run(
    folder: Path,
    name: str,
    finals: list[float],
    epochs: int = 3,
    val_split: int = 5000,
    ema: list[float] | None = None,
    tta: float | None = None,
) -> Path:
    """A finished (or, with fewer `finals` than `epochs`, unfinished) run's two files."""
    d = folder / name
    d.mkdir(parents=True)
    history = []
    for i, acc in enumerate(finals):
        rec = {
            "epoch": i + 1,
            "lr": 0.03,
            "train_loss": 0.5,
            "train_acc": 90.0 + i,
            "val_loss": 0.3,
            "val_acc": acc,
            "epoch_time": 1.0,
        }
        if ema is not None:
            rec |= {"ema_val_loss": 0.3, "ema_val_acc": ema[i]}
        if tta is not None and i == epochs - 1:
            rec["tta_val_acc"] = tta
        history.append(rec)
    (d / "history.json").write_text(json.dumps(history))
    (d / "config.json").write_text(json.dumps({"epochs": epochs, "val_split": val_split}))
    return d


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    f = tmp_path / "improve_val"
    _run(f, "lab_s0", [90.0, 92.0, 94.0], tta=94.3)
    _run(f, "lab_s1", [90.0, 92.0, 94.4], tta=94.5)
    # EMA runs: the figure is the EMA model's, not the raw weights'.
    _run(f, "ema_s0", [90.0, 92.0, 99.0], ema=[90.0, 92.0, 94.5])
    _run(f, "ema_s1", [90.0, 92.0, 99.0], ema=[90.0, 92.0, 94.1])
    _run(f, "smooth_s0", [90.0, 92.0, 96.0])  # seed 1 missing
    _run(f, "cosine_s0", [90.0, 92.0, 97.0])
    _run(f, "cosine_s1", [90.0, 92.0])  # unfinished
    return f


def test_summary_is_the_mean_and_spread_of_each_variants_final_epoch(sweep):
    s = {v.name: v for v in ablation.summarise(ablation.load_sweep(sweep))}
    assert s["lab"].figures == (94.0, 94.4)
    assert s["lab"].mean == pytest.approx(94.2)
    assert s["lab"].spread == pytest.approx(0.4)
    assert s["lab"].tta == (94.3, 94.5)
    assert s["ema"].figures == (94.5, 94.1)  # the evaluated (EMA) model, not val_acc 99
    assert s["ema"].raw == (99.0, 99.0)


def test_choose_passes_over_variants_missing_a_seed_or_an_epoch(sweep):
    summaries = ablation.summarise(ablation.load_sweep(sweep))
    s = {v.name: v for v in summaries}
    assert not s["smooth"].complete and s["smooth"].finished == (0,)
    assert not s["cosine"].complete and s["cosine"].finished == (0,)
    # The rule waits for every variant: smooth and cosine are not complete.
    assert ablation.choose(summaries) is None
    assert ablation.choose([s["lab"], s["ema"]]).name == "ema"  # the EMA model's 94.3 > 94.2
    # A fixed variant with no run yet is listed, and held up the choice too.
    waiting = ablation.summarise(ablation.load_sweep(sweep), variants=("lab", "ema", "all"))
    assert [v.name for v in waiting][:3] == ["lab", "ema", "all"]
    assert waiting[2].finished == () and ablation.choose(waiting[:3]) is None


def test_table_marks_the_chosen_variant_and_the_difference_from_the_lab_recipe(sweep):
    runs = ablation.load_sweep(sweep)
    table = ablation.markdown_table(ablation.summarise({v: runs[v] for v in ("lab", "ema")}))
    table += "\n" + ablation.markdown_table(ablation.summarise({"smooth": runs["smooth"]}))
    rows = {line.split("|")[1].strip(): line for line in table.splitlines()[2:]}
    assert rows["`ema` (chosen)"].split("|")[3].strip() == "94.30"
    assert rows["`ema` (chosen)"].split("|")[5].strip() == "+0.10"
    assert rows["`lab`"].split("|")[6].strip() == "94.40"  # TTA mean
    assert rows["`smooth`"].split("|")[2].strip() == "0 of 0, 1"
    assert rows["`smooth`"].split("|")[5].strip() == ""  # no difference for an incomplete one


def test_a_run_on_the_test_set_is_refused_by_name(tmp_path):
    f = tmp_path / "sweep"
    _run(f, "lab_s0", [94.0], epochs=1, val_split=0)
    with pytest.raises(
        ablation.SweepError,
        match=r"lab_s0/config.json: this run was evaluated "
        r"on the test set .*--val-split 5000",
    ):
        ablation.load_sweep(f)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda f: (f / "notes").mkdir(parents=True), r"notes: a sweep run's folder is named"),
        (lambda f: (f / "lab_s0").mkdir(parents=True), r"lab_s0/history.json: missing"),
        (lambda f: f.mkdir(), r"no runs in it yet"),
        (lambda f: None, r"no such folder"),
    ],
)
def test_folders_that_are_not_a_sweep_say_what_is_wrong(tmp_path, make, message):
    f = tmp_path / "sweep"
    make(f)
    with pytest.raises(ablation.SweepError, match=message):
        ablation.load_sweep(f)


def test_the_script_prints_the_table_the_choice_and_writes_the_figure(sweep, tmp_path):
    png = tmp_path / "fig" / "ablation.png"
    p = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "results_tables.py"),
            "ablation",
            str(sweep),
            "--plot",
            str(png),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    assert "chosen: none yet (the rule waits for every variant)" in p.stdout
    assert "not complete (seeds 0, 1): smooth, cosine, all" in p.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for v in ("cosine", "smooth"):
        shutil.rmtree(sweep / f"{v}_s0")
    shutil.rmtree(sweep / "cosine_s1")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "results_tables.py"), "ablation", str(sweep)]
        + ["--variants", "lab", "ema"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "chosen: ema (94.30%)" in done.stdout, done.stdout + done.stderr
    bad = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "results_tables.py"),
            "ablation",
            str(tmp_path / "nothing"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1
    want = f"error: {tmp_path / 'nothing'}: no such folder (a sweep's runs, one folder per run)"
    assert bad.stderr.strip() == want


def test_the_figure_draws_one_bar_and_one_dot_per_seed(sweep):
    from lab01_utils.plots import plot_ablation

    runs = ablation.load_sweep(sweep)
    done = {v: [r.history for r in rs if r.complete] for v, rs in runs.items()}
    fig = plot_ablation(done)
    curves, finals = fig.axes
    assert [line.get_label() for line in curves.lines] == list(done)
    heights = [round(b.get_height(), 6) for b in finals.patches]
    assert heights == [97.0, 94.3, 94.2, 96.0]  # cosine, ema (EMA figures), lab, smooth
    dots = [line.get_ydata().tolist() for line in finals.lines]
    assert dots[1] == [94.5, 94.1] and dots[2] == [94.0, 94.4]


@pytest.mark.parametrize("variant", list(IMPROVE_VARIANTS))
def test_the_sweeps_flags_train_exactly_the_fixed_variant(variant):
    """`variant_flags` (what scripts/sweep_improve.sh passes to the trainer) parses, through
    the trainer's own command line, to the fixed variant with the sweep's settings: the same
    configuration the committed sweep runs are checked against (tests/test_results.py)."""
    args = build_parser().parse_args(["--profile", "full", *ablation.variant_flags(variant)])
    assert args.task == "torch"
    got = asdict(config_from_args(args, args.task))
    want = asdict(
        TrainConfig.for_profile("full", "lab", **IMPROVE_VARIANTS[variant], **IMPROVE_SWEEP)
    )
    for key in FREE:
        got.pop(key, None)
        want.pop(key, None)
    assert got == want


def test_the_sweep_script_refuses_an_unknown_variant_before_it_writes_anything(tmp_path):
    out = tmp_path / "sweep"
    r = subprocess.run(
        ["bash", "scripts/sweep_improve.sh", str(out), "cpu", "lab", "cosin"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PY": sys.executable},
    )
    assert r.returncode == 2
    assert "no fixed variant named 'cosin'" in r.stderr and "lab, smooth, cosine" in r.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("old", "message"),
    [
        ("task2_torch", "must be a new folder name"),
        ("a/b", "must be a new folder name"),
        ("lab_old", "exists already"),
    ],
)
def test_the_final_runs_script_refuses_to_overwrite_before_it_trains(tmp_path, old, message):
    """scripts/final_runs.sh moves the replaced runs to results/OLD: a reserved, odd or taken
    name is refused up front, and nothing is trained or moved."""
    results = tmp_path / "results"
    (results / "lab_old").mkdir(parents=True)
    run_dir = tmp_path / "run"
    r = subprocess.run(
        ["bash", "scripts/final_runs.sh", "lab", old, str(run_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PY": sys.executable, "RESULTS": str(results), "PROFILE": "quick"},
    )
    assert r.returncode == 2, r.stderr
    assert message in r.stderr
    assert not run_dir.exists() and sorted(p.name for p in results.iterdir()) == ["lab_old"]
