"""The comparisons behind every check, shared with the test suite (`tests/helpers.py`):
relative error, comparing an output with its reference and saying where they first differ,
matching a wrong answer to a classic mistake, and gradients by central differences.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .core import CheckResult, call

__all__ = [
    "CHECK_RTOL",
    "GRAD_RTOL",
    "GRAD_STEP",
    "HINT_RTOL",
    "STEP_RTOL",
    "as_float_array",
    "compare",
    "gradcheck",
    "matches",
    "nchw_channels_last",
    "numeric_grad",
    "rel_error",
    "to_numpy",
    "import_torch",
    "unchanged",
    "worst",
]

# ----------------------------------------------------------------------------- tolerances
# float64 against torch float64: a right implementation is off by ~1e-15; the classic mistakes
# are off by 1e-5 (eps outside the square root) or far more.
CHECK_RTOL = 1e-7
# Central differences in float64 with step 1e-5: truncation and round-off are both ~1e-10.
GRAD_STEP = 1e-5
GRAD_RTOL = 1e-6
# A wrong answer "is" a classic mistake when it matches that mistake's output this closely.
HINT_RTOL = 1e-6
# The NumPy and the torch training step run in float32: ~1e-6 apart after a few steps.
STEP_RTOL = 1e-4
TINY = 1e-30

IN_PLACE_HINT = (
    "never write into an array the caller passed in (`dy[mask] = 0`, `dy *= s`, "
    "`x -= mean` change it for everyone who holds it): build a new array (`dy * s`, "
    "`x - mean`) or copy first"
)


def import_torch():
    import torch

    return torch


def to_numpy(t) -> np.ndarray:
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def as_float_array(a) -> np.ndarray | None:
    try:
        return np.asarray(to_numpy(a), dtype=np.float64)
    except (TypeError, ValueError):
        return None


def rel_error(got: np.ndarray, want: np.ndarray) -> float:
    if want.size == 0:
        return 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        err = float(np.max(np.abs(got - want)) / max(float(np.max(np.abs(want))), TINY))
    return err if np.isfinite(err) else float("inf")


def matches(got, want, rtol: float = HINT_RTOL) -> bool:
    g, w = as_float_array(got), as_float_array(want)
    return g is not None and w is not None and g.shape == w.shape and rel_error(g, w) <= rtol


def compare(
    res: CheckResult, name: str, got, want, *, rtol: float = CHECK_RTOL, context: str = ""
) -> bool:
    """Record `name`'s relative error; on failure say where `got` and `want` first differ."""
    want = np.asarray(to_numpy(want), dtype=np.float64)
    if got is None:
        res.fail(f"{name} is None{context}; expected an array of shape {want.shape}")
        return False
    g = as_float_array(got)
    if g is None:
        res.fail(f"{name} is a {type(got).__name__}{context}; expected an array")
        return False
    if g.shape != want.shape:
        res.fail(f"{name} has shape {g.shape}{context}; expected {want.shape}")
        return False
    err = rel_error(g, want)
    res.errors[name] = max(res.errors.get(name, 0.0), err)
    if err <= rtol:
        return True
    scale = max(float(np.max(np.abs(want))), TINY) if want.size else 1.0
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(g - want) <= rtol * scale)
    idx = tuple(int(i) for i in np.argwhere(bad)[0]) if g.ndim else ()
    where = f" at index {idx}" if idx else ""
    res.fail(
        f"{name}: relative error {err:.1e} (tolerance {rtol:.0e}){context}; first difference"
        f"{where}: got {g[idx]:.6g}, expected {want[idx]:.6g}"
    )
    if not np.all(np.isfinite(g)):
        res.hint(
            f"{name} holds NaN or inf: look for an overflow (exp of a large number) "
            "or a division by zero"
        )
    return False


def unchanged(
    res: CheckResult, what: str, before: np.ndarray, after: np.ndarray, name: str
) -> None:
    if not np.array_equal(before, after, equal_nan=True):
        res.fail(f"{what} modified its input {name} in place")
        res.hint(IN_PLACE_HINT)


def numeric_grad(f: Callable[[], float], x: np.ndarray, h: float = GRAD_STEP) -> np.ndarray:
    """Central differences of the scalar `f()` w.r.t. the float64 array `x` (perturbed in
    place and restored exactly)."""
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("numeric_grad perturbs x in place: pass a C-contiguous array")
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        f_plus = f()
        flat[i] = old - h
        f_minus = f()
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2 * h)
    return grad


def gradcheck(res: CheckResult, layer, x: np.ndarray, what: str, rng) -> None:
    """dx and every parameter gradient of `layer` against central differences."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.asarray(call(res, f"{what}.forward", layer.forward, x))
    dy = rng.standard_normal(y.shape)
    dx = call(res, f"{what}.backward", layer.backward, dy.copy())
    analytic = {name: p.grad for name, p in layer.named_parameters()}

    def loss() -> float:
        return float(np.sum(dy * np.asarray(layer.forward(x))))

    ok = compare(res, "dx vs numeric gradient", dx, numeric_grad(loss, x), rtol=GRAD_RTOL)
    for name, p in layer.named_parameters():
        if p.data.dtype == np.float64 and p.data.flags.c_contiguous:
            ok &= compare(
                res,
                f"{name}.grad vs numeric gradient",
                analytic[name],
                numeric_grad(loss, p.data),
                rtol=GRAD_RTOL,
            )
    if ok:
        worst = max(v for k, v in res.errors.items() if "numeric" in k)
        res.ok(f"gradients agree with central differences (relative error {worst:.0e})")


def worst(res: CheckResult, *names: str) -> float:
    return max((res.errors.get(n, 0.0) for n in names), default=0.0)


def nchw_channels_last(x: np.ndarray) -> np.ndarray:
    """The same NCHW values stored channels-last (a transposed view): a layer must give the
    same results whatever memory order NumPy hands it."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
