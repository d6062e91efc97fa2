"""Notebook 06's experiments on the whole network at initialisation: the activations' scale
block by block when every convolution's weights are scaled, why BatchNorm makes that scale
irrelevant in training mode, the receptive field of an output, and the classic sanity check
that the model can overfit a tiny batch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .. import nn
from ..data import load_sample
from ..images import to_images
from ..models import PreActResNet, build_numpy_model

__all__ = [
    "ActivationStats",
    "ReceptiveField",
    "activation_stats",
    "bn_scale_invariance",
    "computed_receptive_fields",
    "overfit_batch",
    "receptive_field",
    "scale_conv_weights",
]


def scale_conv_weights(model: nn.Module, scale: float) -> nn.Module:
    """Multiply the weights of every convolution of `model` (stem, conv1, conv2, shortcut) by
    `scale`, in place; returns `model`."""
    for _, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            m.weight.data = m.weight.data * np.asarray(scale, m.weight.data.dtype)
    return model


def _sample_batch(batch_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`batch_size` images of the embedded training sample, drawn with `seed`:
    `(N, 1, 28, 28)` float32 in [0, 1] and labels `(N,)`."""
    x, y = load_sample("train")
    idx = np.random.default_rng(seed).choice(len(x), batch_size, replace=False)
    return to_images(x[idx]), y[idx]


def _outputs(model: PreActResNet, x: np.ndarray) -> tuple[list[str], list[np.ndarray]]:
    """Every block's and top-level layer's output for `x`, in the model's current mode:
    names `stem, layer1.0, layer1.1, ..., layer3.1, bn, act, pool, fc`."""
    names, outs, h = [], [], x
    for name, layer in model.body():
        if isinstance(layer, nn.Sequential):
            parts = [(f"{name}.{i}", block) for i, block in enumerate(layer)]
        else:
            parts = [(name, layer)]
        for sub, m in parts:
            h = m(h)
            names.append(sub)
            outs.append(h)
    return names, outs


@dataclass(frozen=True)
class ActivationStats:
    """What `activation_stats` measured.

    Attributes:
        layers: the layers' names in network order (`stem`, `layer1.0`, ..., `fc`).
        std: `{scale: the std of each layer's output}` (one value per layer).
        logits: `{scale: the logits (N, 10)}`.
    """

    layers: list[str]
    std: dict[float, list[float]]
    logits: dict[float, np.ndarray]

    def logit_change(self, scale: float, reference: float = 1.0) -> float:
        """max |logits(scale) - logits(reference)| / max |logits(reference)|."""
        ref = self.logits[reference]
        return float(np.abs(self.logits[scale] - ref).max() / np.abs(ref).max())


def activation_stats(
    scales: Sequence[float] = (0.1, 1.0, 10.0), batch_size: int = 32, seed: int = 0
) -> ActivationStats:
    """The std of every layer's output at initialisation, training mode, on one batch of the
    sample, with every conv weight multiplied by each of `scales` (the same model otherwise:
    `build_numpy_model(seed)`). Float32; about 0.5 s for three scales."""
    xb, _ = _sample_batch(batch_size, seed)
    std, logits, layers = {}, {}, []
    for s in scales:
        model = scale_conv_weights(build_numpy_model(seed=seed), s)
        layers, outs = _outputs(model, xb)
        std[s] = [float(o.std()) for o in outs]
        logits[s] = outs[-1]
    return ActivationStats(layers, std, logits)


def bn_scale_invariance(
    scales: Sequence[float] = (0.1, 10.0), batch_size: int = 8, seed: int = 0
) -> dict[float, dict[str, float]]:
    """A conv followed by a BatchNorm (training mode, float64), with the conv's weights `W`
    and `scale * W`: per scale, relative max differences (to the unscaled run) of

    * `"output"`: the BN's output, default `eps = 1e-5` (differs only through `eps`);
    * `"output_eps"`: the same, the scaled run's BN given `eps * scale**2` (equal to round-off:
      `BN_eps(s z) = BN_{eps/s^2}(z)`, so scaling W is the same as shrinking eps);
    * `"grad"`, `"grad_eps"`: `scale * dW(scale * W)` against `dW(W)`, with the default and
      the shrunk eps (the weight gradient scales as `1 / scale`: exactly with the shrunk eps).

    Input `(batch_size, 8, 10, 10)`, 16 output channels, a random `dy`.
    """
    rng = np.random.default_rng(seed)
    conv = nn.Conv2d(8, 16, 3, padding=1, bias=False, rng=rng, dtype=np.float64)
    w = conv.weight.data.copy()
    x = rng.standard_normal((batch_size, 8, 10, 10))  # (N, C_in, H, W)
    dy = rng.standard_normal((batch_size, 16, 10, 10))  # (N, C_out, H, W)

    def run(scale: float, eps: float) -> tuple[np.ndarray, np.ndarray]:
        conv.weight.data = w * scale
        bn = nn.BatchNorm2d(16, eps=eps, dtype=np.float64)
        y = bn(conv(x))
        conv.backward(bn.backward(dy))
        return y, conv.weight.grad.copy()

    def rel(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs(a - b).max() / np.abs(b).max())

    eps = 1e-5
    y1, g1 = run(1.0, eps)
    out = {}
    for s in scales:
        y_s, g_s = run(s, eps)
        y_id, g_id = run(s, eps * s**2)
        out[s] = {
            "output": rel(y_s, y1),
            "output_eps": rel(y_id, y1),
            "grad": rel(s * g_s, g1),
            "grad_eps": rel(s * g_id, g1),
        }
    conv.weight.data = w
    return out


def computed_receptive_fields(model: PreActResNet) -> dict[str, int]:
    """The receptive field (side, in input pixels) of one output position of the stem and of
    every block, from the kernel sizes and strides: `r += (k - 1) * j; j *= s` per conv along
    the longest path (the main path: conv1 then conv2; the shortcut's 1x1 sees less)."""
    r, j = 1, 1
    out = {}

    def through(conv: nn.Conv2d) -> None:
        nonlocal r, j
        r += (conv.kernel_size - 1) * j
        j *= conv.stride

    through(model.stem)
    out["stem"] = r
    for stage in ("layer1", "layer2", "layer3"):
        for i, block in enumerate(getattr(model, stage)):
            through(block.conv1)
            through(block.conv2)
            out[f"{stage}.{i}"] = r
    return out


@dataclass(frozen=True)
class ReceptiveField:
    """What `receptive_field` measured.

    Attributes:
        computed: `computed_receptive_fields` of the model (name -> side in pixels).
        measured: the side of the box where the input gradient is not zero.
        box: `(top, left, bottom, right)`, inclusive, in the input.
        gradient: `(size, size)`, the input gradient of one output position.
    """

    computed: dict[str, int]
    measured: int
    box: tuple[int, int, int, int]
    gradient: np.ndarray

    def mass_within(self, side: int) -> float:
        """The share of `sum |gradient|` inside the `side x side` square at the box's centre
        (how much of the field the output effectively uses, Luo et al. 2016)."""
        g = np.abs(self.gradient)
        top, left, bottom, right = self.box
        cy, cx, half = (top + bottom) // 2, (left + right) // 2, side // 2
        inner = g[cy - half : cy - half + side, cx - half : cx - half + side]
        return float(inner.sum() / g.sum())


def receptive_field(layer: str = "layer3", size: int = 128, seed: int = 0) -> ReceptiveField:
    """Measure which input pixels one output position of `layer` depends on.

    The network up to `layer` is fully convolutional, so it runs on one `(1, 1, size, size)`
    random input; the gradient of the centre position (summed over channels) is sent back to
    the input. Eval mode, float64: in training mode BatchNorm's batch mean would tie every
    pixel to every other. About 0.5 s for `size=128`.
    """
    model = build_numpy_model(seed=seed).to(np.float64)
    model.eval()
    names = ["stem", "layer1", "layer2", "layer3"]
    if layer not in names:
        raise ValueError(f"receptive_field: layer must be one of {names}, got {layer!r}")
    chain = [getattr(model, n) for n in names[: names.index(layer) + 1]]
    x = np.random.default_rng(seed).random((1, 1, size, size))
    h = x
    for m in chain:
        h = m(h)
    dy = np.zeros_like(h)  # (1, C, H_out, W_out)
    dy[0, :, h.shape[2] // 2, h.shape[3] // 2] = 1.0
    g = dy
    for m in reversed(chain):
        g = m.backward(g)
    grad = g[0, 0]  # (size, size)
    rows, cols = np.nonzero(grad)
    box = (int(rows.min()), int(cols.min()), int(rows.max()), int(cols.max()))
    return ReceptiveField(computed_receptive_fields(model), box[2] - box[0] + 1, box, grad)


def overfit_batch(n: int = 10, steps: int = 25, lr: float = 0.1, seed: int = 0) -> list[float]:
    """The training loss on one fixed batch of `n` sample images over `steps` steps of plain
    gradient descent (`w <- w - lr * dL/dw`, no momentum, no weight decay), from
    `build_numpy_model(seed)`, training mode. A model that is wired right drives it towards 0.
    About 1.5 s for the defaults."""
    model = build_numpy_model(seed=seed)
    xb, yb = _sample_batch(n, seed)
    ce = nn.CrossEntropyLoss()
    losses = []
    for _ in range(steps):
        losses.append(float(ce(model(xb), yb)))
        model.backward(ce.backward(), input_grad=False)
        for p in model.parameters():
            p.data = p.data - np.asarray(lr, p.data.dtype) * p.grad
    return losses
