"""Notebook 01's experiments: why a network needs an activation, and what ReLU, sigmoid and
SiLU do to the gradient in a deep stack of linear maps.

* `linear_collapse`: a stack of linear maps is one linear map (the product of the matrices);
  one ReLU between them and no single linear map fits the stack any more.
* `deep_stack`: `depth` random He-initialised linear maps with an activation after each, run
  forward and backward on random inputs; per layer, how many units pass back exactly no
  gradient, how many pass back none for the whole batch, and the gradient's size.

Both take plain NumPy matrices (no bias) and the activation layers of `lab01_utils.nn` (the
SiLU is the one you write in Exercises 1.1 and 1.2); ReLU and sigmoid, which are not
exercises, are given here as small layers with the same `forward`/`backward` interface.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from .. import nn

__all__ = [
    "CollapseResult",
    "DeepStackResult",
    "ReLU",
    "Sigmoid",
    "deep_stack",
    "he_matrices",
    "linear_collapse",
]


class ReLU(nn.Module):
    """`max(x, 0)` elementwise; its gradient is 1 where `x > 0` and exactly 0 elsewhere (torch
    takes 0 at `x = 0` too). Shape: any -> same."""

    def __init__(self) -> None:
        super().__init__()
        self.cache = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.cache = x > 0  # the gate: which units let the gradient through
        return np.where(self.cache, x, 0.0).astype(x.dtype, copy=False)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return np.where(self.cache, dy, 0.0).astype(dy.dtype, copy=False)


class Sigmoid(nn.Module):
    """`lab01_utils.nn.sigmoid` as a layer; its derivative `sigma (1 - sigma)` is at most 1/4
    (at `x = 0`). Shape: any -> same."""

    def __init__(self) -> None:
        super().__init__()
        self.cache = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.cache = nn.sigmoid(x)
        return self.cache

    def backward(self, dy: np.ndarray) -> np.ndarray:
        sig = self.cache
        return dy * sig * (1.0 - sig)


def he_matrices(depth: int, width: int, rng: np.random.Generator) -> list[np.ndarray]:
    """`depth` weight matrices `(width, width)` (torch's `(out, in)` layout), entries drawn
    from N(0, 2 / width): He et al. 2015's initialisation (arXiv:1502.01852), chosen so that a
    ReLU layer keeps the mean square of its input on average."""
    return [rng.standard_normal((width, width)) * np.sqrt(2.0 / width) for _ in range(depth)]


@dataclass(frozen=True)
class CollapseResult:
    """What `linear_collapse` measured.

    Attributes:
        product_error: max |stack(x) - x @ W.T| with `W = W_depth ... W_2 W_1`, relative to
            max |stack(x)|: zero up to round-off, the stack *is* one matrix.
        linear_residual: relative residual `||Y - X A|| / ||Y||` of the best affine fit `A`
            (least squares, with a bias column) to the linear stack's outputs `Y`.
        relu_residual: the same for the stack with a ReLU after every map but the last.
    """

    product_error: float
    linear_residual: float
    relu_residual: float


def _affine_residual(x: np.ndarray, y: np.ndarray) -> float:
    """`||y - [x, 1] A|| / ||y||` for the least-squares `A`: how far y is from any affine
    function of x. x: `(N, D_in)`, y: `(N, D_out)`."""
    design = np.concatenate([x, np.ones((len(x), 1))], axis=1)  # (N, D_in + 1)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(np.linalg.norm(y - design @ coef) / np.linalg.norm(y))


def linear_collapse(
    *, depth: int = 3, width: int = 16, batch: int = 512, seed: int = 0
) -> CollapseResult:
    """Run `depth` random linear maps `(width, width)` on `batch` random inputs
    `(batch, width)`, once as they are and once with a ReLU between consecutive maps, and
    measure how well one matrix (one affine map) reproduces each stack (`CollapseResult`)."""
    rng = np.random.default_rng(seed)
    weights = he_matrices(depth, width, rng)
    x = rng.standard_normal((batch, width))
    linear, relu = x, x
    for i, w in enumerate(weights):
        linear = linear @ w.T  # (batch, width)
        relu = relu @ w.T
        if i < depth - 1:
            relu = ReLU()(relu)
    product = np.eye(width)
    for w in weights:
        product = w @ product  # W_i ... W_1
    error = np.abs(linear - x @ product.T).max() / np.abs(linear).max()
    return CollapseResult(
        product_error=float(error),
        linear_residual=_affine_residual(x, linear),
        relu_residual=_affine_residual(x, relu),
    )


# The activations `deep_stack` compares by default, looked up when it runs, so that the SiLU
# is the one in `lab01_utils.nn` at that moment (in the student release: the student's).
DEFAULT_ACTIVATIONS: Mapping[str, Callable[[], nn.Module]] = {
    "ReLU": ReLU,
    "SiLU": lambda: nn.SiLU(),
    "sigmoid": Sigmoid,
}


@dataclass(frozen=True)
class DeepStackResult:
    """What `deep_stack` measured, one array `(depth,)` per activation name, layer 1 first.

    Attributes:
        layers: the layers' names, "1" .. str(depth) (layer 1 is next to the input).
        zero_grad_fraction: the fraction of the `batch * width` entries of dL/dz (z: the
            layer's pre-activation) that are exactly 0.
        silent_fraction: the fraction of the `width` units whose dL/dz is exactly 0 for every
            example of the batch: units that give their weights no gradient from this batch.
        grad_rms: the root mean square of dL/dh over the batch, `||dL/dh|| / sqrt(batch)`,
            where h is the layer's *input*; entry 0 is the gradient that reaches the network's
            input.
        output_rms: the root mean square of the layer's output.
    """

    layers: list[str]
    zero_grad_fraction: dict[str, np.ndarray]
    silent_fraction: dict[str, np.ndarray]
    grad_rms: dict[str, np.ndarray]
    output_rms: dict[str, np.ndarray]


def deep_stack(
    *,
    depth: int = 20,
    width: int = 256,
    batch: int = 128,
    seed: int = 0,
    activations: Mapping[str, Callable[[], nn.Module]] | None = None,
) -> DeepStackResult:
    """A deep stack `z_l = h_{l-1} @ W_l.T`, `h_l = act(z_l)` (l = 1 .. depth, He-initialised
    `W_l` of `(width, width)`, `h_0` standard normal `(batch, width)`), once per activation,
    with the same weights and input for each; backward from the loss `L = sum(h_depth * g)`
    with a fixed standard normal `g`, so dL/dh_depth = g.

    Args:
        activations: `{name: a function returning a new layer}`; default ReLU, the lab's SiLU
            and sigmoid.
    Returns: a `DeepStackResult` (float64 arrays of shape `(depth,)`). Takes ~0.1 s.
    """
    acts = DEFAULT_ACTIVATIONS if activations is None else activations
    rng = np.random.default_rng(seed)
    weights = he_matrices(depth, width, rng)
    x = rng.standard_normal((batch, width))
    g = rng.standard_normal((batch, width))
    zero, silent, grad, out = {}, {}, {}, {}
    for name, make in acts.items():
        layers = [make() for _ in range(depth)]
        h, rms = x, []
        for w, layer in zip(weights, layers, strict=True):
            h = layer(h @ w.T)  # (batch, width)
            rms.append(np.sqrt(np.mean(h * h)))
        dh, z_frac, s_frac, g_rms = g, [], [], []
        for w, layer in zip(weights[::-1], layers[::-1], strict=True):
            dz = layer.backward(dh)  # (batch, width): dL/dz of this layer
            z_frac.append(np.mean(dz == 0))
            s_frac.append(np.mean(np.all(dz == 0, axis=0)))
            dh = dz @ w  # (batch, width): dL/dh of the layer's input
            g_rms.append(np.linalg.norm(dh) / np.sqrt(batch))
        zero[name] = np.array(z_frac[::-1])
        silent[name] = np.array(s_frac[::-1])
        grad[name] = np.array(g_rms[::-1])
        out[name] = np.array(rms)
    return DeepStackResult(
        layers=[str(i + 1) for i in range(depth)],
        zero_grad_fraction=zero,
        silent_fraction=silent,
        grad_rms=grad,
        output_rms=out,
    )
