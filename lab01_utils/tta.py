"""Test-time augmentation: a model's logits averaged over several views of each image.

The views (`VIEWS`) are the identity and the horizontal flip, each also shifted by one pixel
left, right, up and down with zero fill: ten in all, the same small shifts and the flip the
training augmentation draws (`augment.apply_augmentation`, Exercise 7.3, makes them), so the
network has seen images like every view. Averaging the logits (not the probabilities) keeps
one number per class per image.

    python -m lab01_utils.tta results/task1_numpy        # plain and TTA accuracy of a run

works for either task's weights (`--model numpy|torch`: which network evaluates them).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .augment import apply_augmentation
from .images import network_input
from .metrics import predict_logits

__all__ = ["VIEWS", "main", "tta_logits", "views"]

# (flip, shift_x, shift_y): the identity first.
VIEWS: tuple[tuple[bool, int, int], ...] = tuple(
    (flip, dx, dy)
    for flip in (False, True)
    for dx, dy in ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))
)


def views(x: np.ndarray, which=VIEWS) -> list[np.ndarray]:
    """Each view of the batch `x` `(N, 1, 28, 28)`, in the order of `which`."""
    return [apply_augmentation(x, dx, dy, flip) for flip, dx, dy in which]


def tta_logits(model, x: np.ndarray, batch_size: int = 200, which=VIEWS) -> np.ndarray:
    """`(N, num_classes)`: the mean of `metrics.predict_logits(model, view)` over the views.

    `model`: a NumPy or a torch model (evaluated in eval mode); `x`: uint8 pixels `(N, 784)`
    or images, as `predict_logits` takes them."""
    x = network_input(x)  # (N, 1, 28, 28) float32 in [0, 1]
    total = None
    for view in views(x, which):
        logits = predict_logits(model, view, batch_size).astype(np.float64)
        total = logits if total is None else total + logits
    return (total / len(which)).astype(np.float32)


def main(argv: Sequence[str] | None = None) -> int:
    from .data import load_with_source
    from .models import build_numpy_model, build_torch_model, numpy_state_to_torch
    from .runs import load_weights

    p = argparse.ArgumentParser(prog="python -m lab01_utils.tta", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("run", help="a run folder holding weights.npz")
    p.add_argument(
        "--model",
        choices=("numpy", "torch"),
        default="torch",
        help="which network evaluates the weights (the same numbers either way)",
    )
    p.add_argument("--limit", type=int, default=None, help="only the first N test images")
    args = p.parse_args(argv)
    try:
        state = load_weights(Path(args.run) / "weights.npz")
        x, y, source = load_with_source("test", verbose=False)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    x, y = x[: args.limit], y[: args.limit]
    if args.model == "numpy":
        model = build_numpy_model()
        model.load_state_dict(state)
    else:
        model = build_torch_model()
        model.load_state_dict(numpy_state_to_torch(state))
    plain = 100 * float((predict_logits(model, x).argmax(1) == y).mean())
    tta = 100 * float((tta_logits(model, x).argmax(1) == y).mean())
    print(f"{args.run}: {len(y):,} test images ({source.label()}), {args.model} model")
    gain = tta - plain
    print(f"plain (one view): {plain:.2f}%  TTA ({len(VIEWS)} views): {tta:.2f}%  ({gain:+.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
