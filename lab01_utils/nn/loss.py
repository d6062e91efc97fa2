"""`CrossEntropyLoss` from logits with a stable log-softmax."""

from __future__ import annotations

import numpy as np

from .module import Module


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """The log of the softmax along axis 1 (the classes), computed so that `exp` never
    overflows, whatever the logits' size (notebook 02, section 4). Shape `(N, K)` -> `(N, K)`."""
    # Exercise 2.3: softmax cross-entropy forward (a stable log-softmax)
    ### BEGIN SOLUTION
    z = logits - logits.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    ### END SOLUTION


class CrossEntropyLoss(Module):
    """Mean cross-entropy of integer class targets, like `torch.nn.CrossEntropyLoss()`.

    `forward(logits, y)`: logits `(N, K)`, y int `(N,)` in `[0, K)` -> scalar mean loss
    `-(1/N) * sum_n log softmax(logits)[n, y[n]]`.
    `backward(dy=1.0)` -> dlogits `(N, K)`, the gradient of `dy * loss` (notebook 02 derives it).
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


class LabelSmoothingCrossEntropy(Module):
    """`torch.nn.CrossEntropyLoss(label_smoothing=eps)`, built on `CrossEntropyLoss`.

    The target of each image is `1 - eps` on its class plus `eps / K` spread over all `K`
    classes, so the loss is `(1 - eps) * CE(logits, y) + (eps / K) * sum_k CE(logits, k)`: the
    hard cross-entropy and, for each class `k`, the cross-entropy as if every image were of
    class `k`. Forward and backward are those `K + 1` losses' (given code around Exercises
    2.3-2.4). `forward(logits (N, K), y (N,))` -> scalar; `backward()` -> dlogits `(N, K)`.
    """

    def __init__(self, label_smoothing: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {label_smoothing}")
        self.label_smoothing = float(label_smoothing)
        self.hard = CrossEntropyLoss()
        self.spread: list[CrossEntropyLoss] = []

    def forward(self, logits: np.ndarray, y: np.ndarray) -> float:  # type: ignore[override]
        eps = self.label_smoothing
        n, k = logits.shape
        loss = (1.0 - eps) * self.hard(logits, y)
        self.spread = [CrossEntropyLoss() for _ in range(k)] if eps else []
        for c, ce in enumerate(self.spread):
            loss += eps / k * ce(logits, np.full(n, c, dtype=np.int64))
        return float(loss)

    def __call__(self, logits: np.ndarray, y: np.ndarray) -> float:  # type: ignore[override]
        return self.forward(logits, y)

    def backward(self, dy: float = 1.0) -> np.ndarray:  # type: ignore[override]
        eps = self.label_smoothing
        dlogits = (1.0 - eps) * self.hard.backward(dy)
        for ce in self.spread:
            dlogits = dlogits + eps / len(self.spread) * ce.backward(dy)
        return dlogits
