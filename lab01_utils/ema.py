"""An exponential moving average of a NumPy model's weights and buffers, evaluated as a model
of its own: torch's `AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay),
use_buffers=True)`, by hand.

After each optimizer step, `update(model)`: the first call copies the model; each later call
moves every floating array a fraction `1 - decay` of the way to the model's,

    ema = ema + (1 - decay) * (model - ema)          (torch's lerp)

and an integer buffer (`num_batches_tracked`) to `int(ema * decay + model * (1 - decay))`,
as torch does. BatchNorm's running statistics are averaged like the weights (`use_buffers`),
so the averaged model is evaluated with averaged statistics, not recomputed ones.
"""

from __future__ import annotations

import numpy as np

__all__ = ["EMA"]


class EMA:
    """The averaged `state_dict` of a model (`nn.Module`), keyed like its `state_dict()`."""

    def __init__(self, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA: decay must lie in (0, 1), got {decay}")
        self.decay = float(decay)
        self.state: dict[str, np.ndarray] = {}
        self.n_averaged = 0

    def update(self, model) -> None:
        current = model.state_dict()
        if self.n_averaged == 0:
            self.state = {k: np.array(v, copy=True) for k, v in current.items()}
        else:
            for k, v in current.items():
                ema = self.state[k]
                if np.issubdtype(ema.dtype, np.floating):
                    ema += (1.0 - self.decay) * (v - ema)  # (N,) etc., in the model's dtype
                else:
                    self.state[k] = (ema * self.decay + v * (1.0 - self.decay)).astype(ema.dtype)
        self.n_averaged += 1

    def state_dict(self) -> dict[str, np.ndarray]:
        """The averaged arrays and the count, for a checkpoint (`ema.`-prefixed there)."""
        return {**self.state, "n_averaged": np.array(self.n_averaged)}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.n_averaged = int(state["n_averaged"])
        self.state = {k: np.array(v, copy=True) for k, v in state.items() if k != "n_averaged"}
