"""Checks of Exercises 1.1 and 1.2: SiLU forward and backward."""

from __future__ import annotations

import numpy as np

from .. import nn
from .compare import compare, gradcheck, import_torch, unchanged, worst
from .core import NN, CheckResult, Stop, call, exercise, group

OVERFLOW = (
    "exp(-x) overflowed for x = -800: the output is still right here (1 / (1 + inf) = 0), but "
    "an inf that meets another gives nan; lab01_utils.nn.sigmoid (or exp(-|x|)) cannot "
    "overflow (notebook 01, 'A sigmoid that cannot overflow')"
)


def _silu_input(rng) -> np.ndarray:
    x = 3.0 * rng.standard_normal((2, 3, 4, 5))
    x.flat[:4] = (-60.0, 60.0, -800.0, 800.0)  # exp(800) overflows unless it is avoided
    return x


@exercise(
    "1.1",
    "SiLU forward",
    where=NN + "activation.py, SiLU.forward",
    points=2,
    hints={
        "sigmoid": "that is sigmoid(x); SiLU multiplies it by x: silu(x) = x * sigmoid(x)",
        "sign": "that is x * sigmoid(-x): sigmoid(x) = 1 / (1 + exp(-x)), mind the sign",
        "dtype": "keep the input's dtype: a float64 constant array (np.array([...]), "
        "np.float64(...)) turns float32 into float64; Python floats do not",
    },
    silu_cls=lambda: nn.SiLU,
)
def check_silu_forward(res: CheckResult, silu_cls) -> None:
    """Exercise 1.1: `SiLU.forward` against `torch.nn.functional.silu` (large |x| included)."""
    torch = import_torch()
    rng = np.random.default_rng(0)
    x = _silu_input(rng)
    x0 = x.copy()
    layer = call(res, "SiLU()", silu_cls)
    y = call(res, "SiLU.forward", layer.forward, x)
    unchanged(res, "SiLU.forward", x0, x, "x")
    want = torch.nn.functional.silu(torch.from_numpy(x0))
    s = torch.sigmoid(torch.from_numpy(x0)).numpy()
    if not compare(res, "forward output", y, want, context=f" for x of shape {x.shape}"):
        res.explain(
            y,
            [
                (s, "sigmoid"),
                (
                    x0 * (1 - s),
                    "sign",
                ),
            ],
        )
        raise Stop
    y32 = call(res, "SiLU.forward", silu_cls().forward, x0[:1].astype(np.float32))
    if np.asarray(y32).dtype != np.float32:
        res.fail(f"forward output has dtype {np.asarray(y32).dtype} for a float32 input")
        res.hint("dtype")
    if res.passed and any("overflow" in m for m in res.messages):
        res.note(OVERFLOW)
    if res.passed:
        res.ok(
            f"forward matches torch.nn.functional.silu, |x| up to 800 (relative error "
            f"{worst(res, 'forward output'):.0e})"
        )


@exercise(
    "1.2",
    "SiLU backward",
    where=NN + "activation.py, SiLU.backward",
    points=3,
    depends=("1.1",),
    hints={
        "product_rule": "x * sigmoid(x) needs the product rule: both factors depend on x, so "
        "the derivative has two terms (notebook 01's derivation, Steps 2 and 3)",
        "chain_rule": "chain rule: multiply the local derivative by dy",
        "sigmoid_derivative": "that is sigmoid's derivative alone; SiLU = x * sigmoid(x) has a "
        "second term, from the factor x (the product rule, notebook 01's derivation)",
    },
    silu_cls=lambda: nn.SiLU,
)
def check_silu_backward(res: CheckResult, silu_cls) -> None:
    """Exercise 1.2: `SiLU.backward` against torch autograd and central differences."""
    torch = import_torch()
    rng = np.random.default_rng(1)
    x = _silu_input(rng)
    dy = rng.standard_normal(x.shape)
    dy0 = dy.copy()
    layer = call(res, "SiLU()", silu_cls)
    call(res, "SiLU.forward", layer.forward, rng.standard_normal(x.shape))  # a stale batch
    call(res, "SiLU.forward", layer.forward, x)
    dx = call(res, "SiLU.backward", layer.backward, dy)
    unchanged(res, "SiLU.backward", dy0, dy, "dy")
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.silu(xt).backward(torch.from_numpy(dy0))
    s = torch.sigmoid(torch.from_numpy(x)).numpy()
    if not compare(res, "dx", dx, xt.grad, context=f" for x of shape {x.shape}"):
        res.explain(
            dx,
            [
                (
                    dy0 * s,
                    "product_rule",
                ),
                (s * (1 + x * (1 - s)), "chain_rule"),
                (
                    dy0 * s * (1 - s),
                    "sigmoid_derivative",
                ),
            ],
        )
        raise Stop
    if res.passed:
        res.ok(f"dx matches torch autograd (relative error {worst(res, 'dx'):.0e})")
        gradcheck(res, silu_cls(), rng.standard_normal((3, 4)), "SiLU", rng)


def check_silu(*, silu_cls=None, verbose: bool = True) -> CheckResult:
    """Exercises 1.1 and 1.2."""
    parts = [
        check_silu_forward(silu_cls=silu_cls, verbose=False),
        check_silu_backward(silu_cls=silu_cls, verbose=False),
    ]
    return group("SiLU", parts, verbose)
