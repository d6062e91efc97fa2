"""Shared test tolerances, the relative error, a central-difference gradient and torch twins.

Every tolerance a test asserts against lives here, named, with the error it was set from
(measured on this implementation against torch; the constants leave a little headroom).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from hypothesis import settings

from lab01_utils import nn
from lab01_utils.checks import compare

# ----------------------------------------------------------------------------- tolerances
# Relative error = max|a - b| / max(max|b|, TINY): a max-norm error, scaled by the reference
# (`lab01_utils.checks.compare.rel_error`, the one the self-checks report).

# NumPy vs torch on the same weights, same dtype, worst over every layer, the block and the
# whole model (train and eval; outputs, dx, parameter grads, running stats) and the property
# tests: float64 1.0e-13 (BatchNorm, 3 values per channel), float32 5.3e-6 (the whole model
# in training mode: a BN bias gradient; up to 6.5e-6 over 12 other seeds).
PARITY_RTOL_F64 = 1e-10
PARITY_RTOL_F32 = 1e-5

# Central differences in float64: truncation ~h^2 and round-off ~1e-16 / h, both ~1e-10 at
# h = 1e-5. Worst measured: 7.7e-10 (PreActBlock's bn1.weight in training mode, where the
# batch statistics couple every input).
GRADCHECK_STEP = 1e-5
GRADCHECK_RTOL = 1e-8

# Identities that hold up to round-off (im2col/col2im adjointness, naive vs GEMM conv),
# float64; measured 3.5e-16.
ROUNDOFF_RTOL_F64 = 1e-12

# The number of hypothesis examples per property: enough to cover strides/paddings, small
# enough that the whole suite stays well under a minute. Derandomised, so a failure
# reproduces on every run and machine instead of appearing once in CI.
PROPERTY_EXAMPLES = 25
PROPERTY_SETTINGS = settings(max_examples=PROPERTY_EXAMPLES, deadline=None, derandomize=True)


# ----------------------------------------------------------------------------- exercises
# What a test module needs (`pytestmark = pytest.mark.needs(*...)`): until these exercises pass
# their checks, its tests wait (tests/conftest.py) instead of failing.
SILU, LINEAR, LOSS = ("1.1", "1.2"), ("2.1", "2.2"), ("2.3", "2.4")
CONV, NORM, BLOCK = ("3.1", "3.2", "3.3"), ("4.1", "4.2"), ("5.1",)
LAYERS = SILU + LINEAR + LOSS + CONV + NORM + BLOCK
OPTIMIZER, SCHEDULE, AUGMENTATION, EPOCH = ("7.1",), ("7.2",), ("7.3",), ("8.1",)
EVERYTHING = LAYERS + OPTIMIZER + SCHEDULE + AUGMENTATION + EPOCH


def parity_rtol(dtype) -> float:
    """The parity tolerance for a NumPy dtype (float32 or float64)."""
    return PARITY_RTOL_F64 if np.dtype(dtype) == np.float64 else PARITY_RTOL_F32


TORCH_DTYPE = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


# ----------------------------------------------------------------------------- errors
def rel_error(a, b) -> float:
    """max|a - b| / max(max|b|, TINY), with `b` the reference; accepts arrays or tensors."""
    a, b = to_numpy(a).astype(np.float64), to_numpy(b).astype(np.float64)
    assert a.shape == b.shape, f"shape mismatch: {a.shape} vs {b.shape}"
    return compare.rel_error(a, b)


def assert_close(a, b, rtol: float, what: str = "") -> float:
    """Assert `rel_error(a, b) <= rtol` and return the error (so callers can aggregate it)."""
    err = rel_error(a, b)
    assert err <= rtol, f"{what}: relative error {err:.3e} > {rtol:.1e}"
    return err


def to_numpy(v) -> np.ndarray:
    if isinstance(v, torch.Tensor):
        return v.detach().cpu().numpy()
    return np.asarray(v)


# ----------------------------------------------------------------------------- gradients
def numeric_grad(f: Callable[[], float], x: np.ndarray, h: float = GRADCHECK_STEP) -> np.ndarray:
    """Central-difference gradient of the scalar `f()` w.r.t. the array `x`, perturbed in place.

    `x` must be float64 and must be the very array `f` reads (an input or a `Parameter.data`);
    every entry is restored exactly after its two evaluations.
    """
    assert x.dtype == np.float64, "gradient checks run in float64"
    return compare.numeric_grad(f, x, h)


def gradcheck_layer(
    layer: nn.Module, x: np.ndarray, rng: np.random.Generator, rtol: float = GRADCHECK_RTOL
) -> dict[str, float]:
    """Check `layer`'s dx and every parameter gradient against central differences.

    The scalar is `sum(dy * layer(x))` with a fixed random `dy`, so every output entry's
    gradient is exercised with a different weight. Returns the errors by name.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = layer(x)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy.copy())
    analytic = {name: p.grad.copy() for name, p in layer.named_parameters()}

    def loss() -> float:
        return float(np.sum(dy * layer(x)))

    errors = {"dx": assert_close(dx, numeric_grad(loss, x), rtol, "dx")}
    for name, p in layer.named_parameters():
        errors[name] = assert_close(analytic[name], numeric_grad(loss, p.data), rtol, name)
    return errors


# ----------------------------------------------------------------------------- torch twins
def randomize(
    module: nn.Module, rng: np.random.Generator, scale: float = 0.5, weights: bool = True
) -> nn.Module:
    """Fill every parameter (or, with `weights=False`, only BatchNorm's) and every BatchNorm
    buffer with random values, keeping each dtype.

    The default initialisation (BN gamma = 1, beta = 0, running stats 0/1) hides mistakes
    such as a swapped gamma/beta; random values do not. running_var stays positive. Deep
    models keep their fan-in-scaled conv weights (`weights=False`) so activations stay O(1).
    """
    for _, p in module.named_parameters() if weights else []:
        p.data = (scale * rng.standard_normal(p.data.shape)).astype(p.data.dtype)
    for _, m in module.named_modules():
        if isinstance(m, nn.BatchNorm2d):
            c, dt = m.num_features, m.running_mean.dtype
            m.weight.data = rng.uniform(0.5, 1.5, c).astype(dt) * rng.choice([-1, 1], c).astype(dt)
            m.bias.data = (scale * rng.standard_normal(c)).astype(dt)
            m.running_mean = rng.standard_normal(c).astype(dt)
            m.running_var = rng.uniform(0.5, 2.0, c).astype(dt)
            m.num_batches_tracked = np.array(3, dtype=np.int64)
    return module


def copy_to_torch(np_module: nn.Module, torch_module: torch.nn.Module, dtype) -> torch.nn.Module:
    """Load the NumPy module's state (cast to `dtype`) into its torch twin, by key."""
    state = {
        k: torch.from_numpy(
            v.astype(dtype) if np.issubdtype(v.dtype, np.floating) else np.array(v, copy=True)
        )
        for k, v in np_module.state_dict().items()
    }
    torch_module.to(TORCH_DTYPE[np.dtype(dtype)])
    torch_module.load_state_dict(state, strict=True)
    return torch_module


def compare_with_torch(
    np_module: nn.Module,
    torch_module: torch.nn.Module,
    x: np.ndarray,
    dtype,
    training: bool,
    rng: np.random.Generator,
    n_forwards: int = 1,
) -> dict[str, float]:
    """Run both twins on the same `x` (`n_forwards` times, backward after the last) and assert
    that outputs, dx, every parameter gradient and every buffer agree. Returns the errors.

    `np_module` is cast to `dtype` first, then copied into `torch_module`.
    """
    rtol = parity_rtol(dtype)
    np_module.to(dtype)
    copy_to_torch(np_module, torch_module, dtype)
    np_module.train(training)
    torch_module.train(training)
    x = np.asarray(x, dtype=dtype)
    for _ in range(n_forwards):
        y = np_module(x)
        xt = torch.tensor(x, requires_grad=True)
        yt = torch_module(xt)
    assert y.dtype == np.dtype(dtype), f"output dtype {y.dtype}, expected {np.dtype(dtype)}"
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = np_module.backward(dy)
    yt.backward(torch.from_numpy(dy.copy()))
    errors = {"y": assert_close(y, yt, rtol, "output"), "dx": assert_close(dx, xt.grad, rtol, "dx")}
    torch_params = dict(torch_module.named_parameters())
    np_params = dict(np_module.named_parameters())
    assert list(np_params) == list(torch_params), "parameter names differ from the torch twin"
    for name, p in np_params.items():
        assert p.grad is not None, f"{name}: no gradient after backward"
        assert p.grad.shape == p.data.shape, f"{name}: grad shape {p.grad.shape}"
        errors[name] = assert_close(p.grad, torch_params[name].grad, rtol, f"grad {name}")
    torch_buffers = dict(torch_module.named_buffers())
    np_buffers = dict(np_module.named_buffers())
    assert list(np_buffers) == list(torch_buffers), "buffer names differ from the torch twin"
    for name, b in np_buffers.items():
        if name.endswith("num_batches_tracked"):
            assert int(b) == int(torch_buffers[name]), f"{name}: {int(b)} vs {torch_buffers[name]}"
        else:
            errors[name] = assert_close(b, torch_buffers[name], rtol, f"buffer {name}")
    return errors


def assert_untouched(arrays: dict[str, np.ndarray], copies: dict[str, np.ndarray]) -> None:
    """Assert that every array still equals its copy, bit for bit."""
    for name, a in arrays.items():
        assert np.array_equal(a, copies[name]), f"the layer modified the caller's {name} in place"


def channels_last(x: np.ndarray) -> np.ndarray:
    """The same `(N, C, H, W)` values, stored channels-last (how the engine's outputs are)."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def is_channels_last(a: np.ndarray) -> bool:
    """`(N, C, H, W)` stored as a C-contiguous `(N, H, W, C)` buffer."""
    return a.ndim == 4 and a.transpose(0, 2, 3, 1).flags.c_contiguous


ROOT = Path(__file__).resolve().parents[1]


def launch_benchmark(script: str, *args: str, env: dict | None = None):
    """Run `benchmarks/<script>` with this Python; the finished process (output captured)."""
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=None if env is None else {**os.environ, **env},
    )


def run_benchmark(script: str, *args: str, env: dict | None = None) -> str:
    """The benchmark's output; it must succeed."""
    proc = launch_benchmark(script, *args, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout
