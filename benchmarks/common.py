"""What the benchmark scripts share: one NumPy training step on a fixed batch."""

from __future__ import annotations

import importlib
from collections.abc import Callable

import numpy as np


def numpy_training_step(
    batch_size: int = 50, seed: int = 0, package: str = "lab01_utils"
) -> tuple[object, Callable[[], None]]:
    """The lab's NumPy model and a `step()` that runs forward, loss, backward (no image
    gradient, as in training) and SGD on one fixed random batch of `batch_size` images.

    `package`: where the engine comes from (`ab_revision.py` imports an older copy of
    `lab01_utils` under another name)."""
    nn = importlib.import_module(f"{package}.nn")
    models = importlib.import_module(f"{package}.models")
    optim = importlib.import_module(f"{package}.optim")

    rng = np.random.default_rng(seed)
    x = rng.random((batch_size, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, batch_size)
    model = models.build_numpy_model(seed=seed)
    opt = optim.SGD(model.parameters(), lr=0.03, momentum=0.9, weight_decay=2e-4)
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        loss_fn(model(x), y)
        model.backward(loss_fn.backward(), input_grad=False)
        opt.step()

    return model, step
