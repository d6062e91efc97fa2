"""`CrossEntropyLoss` from logits with a stable log-softmax."""

from __future__ import annotations

import numpy as np

from .module import Module


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """`logits - logsumexp(logits)` along axis 1 (the classes); subtracting the row maximum first
    keeps `exp` from overflowing. Shape `(N, K)` -> `(N, K)`."""
    # Exercise 2.3: softmax cross-entropy forward (a stable log-softmax)
    ### BEGIN SOLUTION
    z = logits - logits.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    ### END SOLUTION


class CrossEntropyLoss(Module):
    """Mean cross-entropy of integer class targets, like `torch.nn.CrossEntropyLoss()`.

    `forward(logits, y)`: logits `(N, K)`, y int `(N,)` in `[0, K)` -> scalar mean loss
    `-(1/N) * sum_n log softmax(logits)[n, y[n]]`.
    `backward()` -> dlogits `(N, K)` = `(softmax(logits) - onehot(y)) / N`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.cache = None

    def forward(self, logits: np.ndarray, y: np.ndarray) -> float:  # type: ignore[override]
        if not isinstance(logits, np.ndarray) or logits.ndim != 2:
            raise ValueError(
                f"CrossEntropyLoss: logits must have shape (N, num_classes), got "
                f"{getattr(logits, 'shape', type(logits).__name__)}"
            )
        y = np.asarray(y)
        n, k = logits.shape
        if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(
                f"CrossEntropyLoss: targets must be integers of shape ({n},), got {y.dtype} "
                f"{y.shape}"
            )
        if n and (y.min() < 0 or y.max() >= k):
            raise ValueError(
                f"CrossEntropyLoss: targets must lie in [0, {k}), got {y.min()}..{y.max()}"
            )
        # Exercise 2.3: softmax cross-entropy forward
        ### BEGIN SOLUTION
        logp = log_softmax(logits)
        self.cache = (logp, y)
        return float(-logp[np.arange(n), y].mean())
        ### END SOLUTION

    def __call__(self, logits: np.ndarray, y: np.ndarray) -> float:  # type: ignore[override]
        return self.forward(logits, y)

    def backward(self, dy: float = 1.0) -> np.ndarray:  # type: ignore[override]
        if self.cache is None:
            raise RuntimeError("CrossEntropyLoss.backward called before forward")
        # Exercise 2.4: softmax cross-entropy backward
        ### BEGIN SOLUTION
        logp, y = self.cache
        n = logp.shape[0]
        d = np.exp(logp)  # softmax
        d[np.arange(n), y] -= 1.0
        d *= dy / n
        return d
        ### END SOLUTION
