"""What the figures show, computed: predictions, accuracy per class, the confusion matrix,
feature maps and the layer table. Plain NumPy; `plots.py` only draws what these return.

Every function takes either the Task 1 model (`models.PreActResNet`) or the Task 2 model
(`torch_model.TorchPreActResNet`, converted to NumPy by its `state_dict` where a NumPy model
is needed). There is one prediction path, `predict_batches`: the notebooks' figures and the
training loop's evaluation (`epoch.evaluate`) both go through it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

import numpy as np

from .images import network_input
from .models import build_numpy_model, torch_state_to_numpy
from .nn import Sequential

__all__ = [
    "LayerRow",
    "confusion_matrix",
    "feature_map_layers",
    "feature_maps",
    "format_layer_table",
    "layer_table",
    "numpy_model",
    "per_class_accuracy",
    "predict",
    "predict_batches",
    "predict_logits",
]


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """`cm[i, j]` = how many images of true class `i` were predicted as class `j`.

    Args:
        y_true, y_pred: integer labels `(N,)` in `[0, num_classes)`.
    Returns:
        int64 `(num_classes, num_classes)`; rows sum to the class counts, the trace is the
        number of correct predictions.
    """
    y_true, y_pred = np.asarray(y_true).astype(np.int64), np.asarray(y_pred).astype(np.int64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true and y_pred must be (N,) each, got {y_true.shape}, {y_pred.shape}")
    for name, v in (("y_true", y_true), ("y_pred", y_pred)):
        if v.size and (v.min() < 0 or v.max() >= num_classes):
            raise ValueError(f"{name} must lie in [0, {num_classes}), got {v.min()}..{v.max()}")
    flat = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def per_class_accuracy(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Accuracy in percent for each true class, `(num_classes,)`; NaN for an absent class."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    counts = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, 100.0 * np.diag(cm) / counts, np.nan)


# --------------------------------------------------------------------------- models


def numpy_model(model):
    """The Task 1 (NumPy) model itself, or a NumPy copy of a Task 2 (torch) model."""
    if hasattr(model, "body"):
        return model
    if hasattr(model, "state_dict") and hasattr(model, "widths"):
        out = build_numpy_model(model.widths, model.num_classes)
        out.load_state_dict(torch_state_to_numpy(model.state_dict()))
        return out
    raise TypeError(f"expected a PreActResNet (NumPy or torch), got {type(model).__name__}")


def predict_batches(
    forward: Callable[[np.ndarray], np.ndarray], x: np.ndarray, batch_size: int
) -> Iterator[tuple[slice, np.ndarray]]:
    """`(rows, logits)` for consecutive batches of `x`: `forward(x[rows])` as a NumPy array.
    The one loop over batches behind every prediction of the package."""
    for start in range(0, len(x), batch_size):
        rows = slice(start, start + batch_size)
        yield rows, np.asarray(forward(x[rows]))


def predict_logits(model, x: np.ndarray, batch_size: int = 200) -> np.ndarray:
    """Logits `(N, num_classes)` of a NumPy or torch model in eval mode (mode restored after).

    `x`: uint8 pixels `(N, 784)` / `(N, 1, 28, 28)`, or float images in [0, 1].
    """
    x = network_input(x)
    if hasattr(model, "body"):  # Task 1
        forward = model
    else:  # Task 2
        import torch

        device = next(model.parameters()).device

        def forward(xb: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return model(torch.from_numpy(xb).to(device)).float().cpu().numpy()

    was_training = model.training
    model.eval()
    try:
        return np.concatenate([logits for _, logits in predict_batches(forward, x, batch_size)])
    finally:
        model.train(was_training)


def predict(model, x: np.ndarray, batch_size: int = 200) -> np.ndarray:
    """Predicted classes `(N,)` (int64): the argmax of `predict_logits`."""
    return predict_logits(model, x, batch_size).argmax(axis=1)


def _trace(model, x: np.ndarray) -> list[tuple[str, object, np.ndarray]]:
    """Run a NumPy model in eval mode; `(name, layer, output)` for every top-level layer and
    every block of the stages (`stem`, `layer1.0`, `layer1.1`, `layer1`, ..., `fc`)."""
    was_training = model.training
    model.eval()
    rows = []
    try:
        h = np.asarray(x).astype(model.fc.weight.data.dtype)
        for name, layer in model.body():
            if isinstance(layer, Sequential):
                for i, block in enumerate(layer):
                    h = block(h)
                    rows.append((f"{name}.{i}", block, h))
                rows.append((name, layer, h))
            else:
                h = layer(h)
                rows.append((name, layer, h))
    finally:
        model.train(was_training)
    return rows


def feature_map_layers(model) -> list[str]:
    """The names `feature_maps` accepts in order, e.g. `stem, layer1.0, ..., layer3.1, bn, act`
    (every layer whose output is still an image `(C, H, W)`; a stage name such as `layer1`
    works too and means its last block)."""
    model = numpy_model(model)
    rows = _trace(model, np.zeros((1, 1, 28, 28), np.float32))
    return [
        name for name, layer, out in rows if out.ndim == 4 and not isinstance(layer, Sequential)
    ]


def feature_maps(model, x: np.ndarray, layer_name: str) -> np.ndarray:
    """The output `(C, H, W)` of one layer or block for one image, model in eval mode.

    Args:
        model: the NumPy model (a torch model is converted).
        x: one image: `(1, 784)`, `(1, 1, 28, 28)`, `(784,)` or `(28, 28)`; uint8 pixels are
            divided by 255, float images are taken as they are.
        layer_name: `"stem"`, `"layer1.0"`, `"layer1.1"`, ..., `"layer3.1"`, `"bn"`, `"act"`
            (see `feature_map_layers`), or a stage `"layer1"`..`"layer3"`.

    The forward pass replaces the layers' saved activations: do not call this between a
    training step's forward and backward.
    """
    model = numpy_model(model)
    x = network_input(x)
    if len(x) != 1:
        raise ValueError(f"feature_maps takes one image, got a batch of {len(x)}")
    rows = _trace(model, x)
    for name, _, out in rows:
        if name == layer_name:
            if out.ndim != 4:
                raise ValueError(f"layer {layer_name!r} outputs {out.shape}, not feature maps")
            return np.ascontiguousarray(out[0])  # (C, H, W)
    valid = [n for n, _, out in rows if out.ndim == 4]
    raise ValueError(f"unknown layer {layer_name!r}; choose one of {valid}")


class LayerRow(NamedTuple):
    """One row of `layer_table`: a layer's name, its output shape and its parameter count."""

    name: str
    shape: tuple[int, ...]
    params: int


def layer_table(model) -> list[LayerRow]:
    """The network layer by layer for a batch of one: `input (1, 784)`, `reshape (1, 1, 28, 28)`,
    then `stem`, each block `layer1.0` ... `layer3.1`, `bn`, `act`, `pool` and `fc (1, 10)`.

    `params` counts trainable parameters only (BatchNorm's running statistics are buffers),
    so `sum(row.params)` equals the model's parameter count.
    """
    model = numpy_model(model)
    rows = [LayerRow("input", (1, 784), 0), LayerRow("reshape", (1, 1, 28, 28), 0)]
    for name, layer, out in _trace(model, np.zeros((1, 1, 28, 28), np.float32)):
        if isinstance(layer, Sequential):
            continue  # its blocks have their own rows
        n_params = sum(int(p.data.size) for p in layer.parameters())
        rows.append(LayerRow(name, tuple(out.shape), n_params))
    return rows


def format_layer_table(rows: Sequence[LayerRow]) -> str:
    """`layer_table` as aligned text, with the total on the last line."""
    lines = [f"{'layer':<10} {'output shape':<20} {'params':>8}"]
    lines += [f"{r.name:<10} {str(r.shape):<20} {r.params:>8,}" for r in rows]
    lines.append(f"{'total':<10} {'':<20} {sum(r.params for r in rows):>8,}")
    return "\n".join(lines)
