"""Task 1 on the fast engine (instructor-only, like lab01_utils/fast/): one process and two
train alike, and the plain and the fast engine train alike."""

from __future__ import annotations

import numpy as np
from test_train import AGREEMENT_RTOL, losses_side_by_side

from lab01_utils.cli import main
from lab01_utils.config import TrainConfig
from lab01_utils.data import load_sample
from lab01_utils.engines import make_engine
from lab01_utils.images import to_images


def test_task1_on_two_processes_follows_the_one_process_run(tmp_path):
    """`--processes 2`: the same losses over 20 steps (float32 round-off only) and a run
    whose log and weights look like the one-process run's."""
    engines = [make_engine(TrainConfig.for_profile("quick", numpy_processes=k)) for k in (1, 2)]
    a, b = losses_side_by_side(engines)
    x, _ = load_sample("train")
    assert np.max(np.abs(a - b) / np.abs(a)) < AGREEMENT_RTOL
    logits = [e.predict_logits(to_images(x[:100])) for e in engines]
    assert np.max(np.abs(logits[0] - logits[1])) < AGREEMENT_RTOL * np.abs(logits[0]).max()
    args = "--task numpy --profile quick --epochs 1 --processes 2 --widths 8 16 16"
    args += " --train-limit 300 --quiet"
    assert main([*args.split(), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "task1_numpy/weights.npz").is_file()


def test_the_plain_and_the_fast_engine_train_alike():
    """20 steps from the same weights and batches: the same losses to float32 round-off."""
    engines = [
        make_engine(TrainConfig.for_profile("quick", numpy_engine=e)) for e in ("plain", "fast")
    ]
    assert [e.engine for e in engines] == ["plain", "fast"]
    a, b = losses_side_by_side(engines)
    assert np.max(np.abs(a - b) / np.abs(a)) < AGREEMENT_RTOL
