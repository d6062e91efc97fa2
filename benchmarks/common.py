"""What the benchmark scripts share: one NumPy training step on a fixed batch."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def numpy_training_step(batch_size: int = 50, seed: int = 0) -> tuple[object, Callable[[], None]]:
    """The lab's NumPy model and a `step()` that runs forward, loss, backward (no image
    gradient, as in training) and SGD on one fixed random batch of `batch_size` images."""
    from lab01_utils import nn
    from lab01_utils.models import build_numpy_model
    from lab01_utils.optim import SGD

    rng = np.random.default_rng(seed)
    x = rng.random((batch_size, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, batch_size)
    model = build_numpy_model(seed=seed)
    opt = SGD(model.parameters(), lr=0.03, momentum=0.9, weight_decay=2e-4)
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        loss_fn(model(x), y)
        model.backward(loss_fn.backward(), input_grad=False)
        opt.step()

    return model, step
