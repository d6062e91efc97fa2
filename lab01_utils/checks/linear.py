"""Checks of Exercises 2.1 to 2.4: Linear forward and backward, softmax cross-entropy
forward and backward."""

from __future__ import annotations

import numpy as np

from .. import nn
from ..nn import loss as nn_loss
from .compare import compare, gradcheck, import_torch, unchanged, worst
from .core import NN, CheckResult, Stop, call, exercise, group

CASES = ((5, 3, True), (4, 2, False))  # (in_features, out_features, bias)
LAYOUT = "weight is (out_features, in_features), torch's layout: y = x @ weight.T + bias"


def _make_linear(res: CheckResult, linear_cls, n_in: int, n_out: int, bias: bool, seed: int):
    """A float64 `Linear(n_in, n_out, bias)` from the code under test, and copies of its
    weight and bias (None without one) for the torch reference."""
    layer = call(
        res,
        "Linear(...)",
        linear_cls,
        n_in,
        n_out,
        bias=bias,
        rng=np.random.default_rng(seed),
        dtype=np.float64,
    )
    return layer, layer.weight.data.copy(), layer.bias.data.copy() if bias else None


@exercise(
    "2.1",
    "Linear forward",
    where=NN + "linear.py, Linear.forward",
    points=2,
    hints={"layout": LAYOUT, "add_bias": "add the bias: y = x @ weight.T + bias"},
    linear_cls=lambda: nn.Linear,
)
def check_linear_forward(res: CheckResult, linear_cls) -> None:
    """Exercise 2.1: `Linear.forward` against `torch.nn.functional.linear`."""
    torch = import_torch()
    rng = np.random.default_rng(2)
    for n_in, n_out, bias in CASES:
        layer, w, b = _make_linear(res, linear_cls, n_in, n_out, bias, seed=3)
        x = rng.standard_normal((4, n_in))
        x0 = x.copy()
        y = call(res, "Linear.forward", layer.forward, x, hint="layout")
        unchanged(res, "Linear.forward", x0, x, "x")
        want = torch.nn.functional.linear(
            torch.from_numpy(x0), torch.from_numpy(w), None if b is None else torch.from_numpy(b)
        )
        context = f" for Linear({n_in}, {n_out}, bias={bias}) on x of shape {x.shape}"
        if not compare(res, "forward output", y, want, context=context):
            if bias:
                res.explain(y, [(x0 @ w.T, "add_bias")])
            if np.shape(y) != want.shape:
                res.hint("layout")
            raise Stop
    layer = call(res, "Linear(...)", linear_cls, 5, 3)
    y32 = call(res, "Linear.forward", layer.forward, rng.standard_normal((2, 5)).astype("f4"))
    if np.asarray(y32).dtype != np.float32:
        res.fail(f"a float32 Linear returned {np.asarray(y32).dtype} for a float32 input")
    if res.passed:
        res.ok(
            f"forward matches torch.nn.functional.linear, with and without bias "
            f"(relative error {worst(res, 'forward output'):.0e})"
        )


@exercise(
    "2.2",
    "Linear backward",
    where=NN + "linear.py, Linear.backward",
    points=3,
    depends=("2.1",),
    hints={
        "layout": LAYOUT,
        "weight_grad": "weight.grad must have weight's shape (out_features, in_features): "
        "which product of dy (N, out_features) and x (N, in_features) has it?",
        "bias_grad": "bias.grad sums dy over the batch (the loss's 1/N is already inside dy); "
        "don't average",
    },
    linear_cls=lambda: nn.Linear,
)
def check_linear_backward(res: CheckResult, linear_cls) -> None:
    """Exercise 2.2: `Linear.backward` (dx, weight.grad, bias.grad) against torch and
    central differences."""
    torch = import_torch()
    rng = np.random.default_rng(4)
    for n_in, n_out, bias in CASES:
        layer, w, b = _make_linear(res, linear_cls, n_in, n_out, bias, seed=5)
        x = rng.standard_normal((4, n_in))
        call(res, "Linear.forward", layer.forward, rng.standard_normal((4, n_in)))
        call(res, "Linear.forward", layer.forward, x)
        dy = rng.standard_normal((4, n_out))
        dy0 = dy.copy()
        dx = call(res, "Linear.backward", layer.backward, dy, hint="layout")
        unchanged(res, "Linear.backward", dy0, dy, "dy")
        xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        bt = None if b is None else torch.tensor(b, requires_grad=True)
        torch.nn.functional.linear(xt, wt, bt).backward(torch.from_numpy(dy0))
        context = f" for Linear({n_in}, {n_out}, bias={bias})"
        ok = compare(res, "dx", dx, xt.grad, context=context)
        gw = layer.weight.grad
        if not compare(res, "weight.grad", gw, wt.grad, context=context):
            ok = False
            if np.shape(gw) == w.T.shape:
                res.hint("weight_grad")
        if bias:
            gb = layer.bias.grad
            if not compare(res, "bias.grad", gb, bt.grad, context=context):
                ok = False
                res.explain(
                    gb,
                    [
                        (
                            dy0.mean(axis=0),
                            "bias_grad",
                        )
                    ],
                )
        if not ok:
            raise Stop
    res.ok(
        f"dx, weight.grad and bias.grad match torch autograd (relative error "
        f"{worst(res, 'dx', 'weight.grad', 'bias.grad'):.0e})"
    )
    layer = call(
        res, "Linear(...)", linear_cls, 4, 3, rng=np.random.default_rng(6), dtype=np.float64
    )
    gradcheck(res, layer, rng.standard_normal((3, 4)), "Linear", rng)


def check_linear(*, linear_cls=None, verbose: bool = True) -> CheckResult:
    """Exercises 2.1 and 2.2."""
    parts = [
        check_linear_forward(linear_cls=linear_cls, verbose=False),
        check_linear_backward(linear_cls=linear_cls, verbose=False),
    ]
    return group("Linear", parts, verbose)


# ----------------------------------------------------------------------------- 2.x loss
def _logits(rng) -> tuple[np.ndarray, np.ndarray]:
    logits = 3.0 * rng.standard_normal((5, 7))
    logits[0] += 1000.0  # exp(1000) overflows: only a stable log-softmax survives this row
    logits[1] -= 1000.0
    return logits, rng.integers(0, 7, size=5)


@exercise(
    "2.3",
    "softmax cross-entropy forward",
    where=NN + "loss.py, log_softmax and CrossEntropyLoss.forward",
    points=3,
    hints={
        "softmax_itself": "that is the softmax itself; log_softmax(z) = z - log(sum(exp(z)))",
        "normalise_rows": "normalise each row (axis=1, the classes), not each column",
        "exp_overflows": "exp(1000) overflows: subtract each row's maximum before exp "
        "(log_softmax does not change when a row is shifted)",
        "loss_mean": "the loss is the mean over the batch, not the sum: divide by N",
        "mind_sign": "mind the sign: the loss is -log p(correct class)",
    },
    loss_cls=lambda: nn_loss.CrossEntropyLoss,
    log_softmax_fn=lambda: nn_loss.log_softmax,
)
def check_cross_entropy_forward(res: CheckResult, loss_cls, log_softmax_fn) -> None:
    """Exercise 2.3: `log_softmax` and `CrossEntropyLoss.forward` against torch, with logits
    of +-1000 (a naive softmax overflows)."""
    torch = import_torch()
    rng = np.random.default_rng(7)
    logits, y = _logits(rng)
    logits0 = logits.copy()
    logp = call(res, "log_softmax", log_softmax_fn, logits)
    unchanged(res, "log_softmax", logits0, logits, "logits")
    lt = torch.from_numpy(logits0)
    want = torch.log_softmax(lt, dim=1)
    if not compare(res, "log_softmax", logp, want, context=" for logits of shape (5, 7)"):
        with np.errstate(all="ignore"):
            soft = torch.softmax(lt, dim=1).numpy()
            by_column = torch.log_softmax(lt, dim=0).numpy()
        if not res.explain(
            logp,
            [
                (soft, "softmax_itself"),
                (by_column, "normalise_rows"),
            ],
        ) and not np.all(np.isfinite(np.asarray(logp, dtype=float))):
            res.hint("exp_overflows")
        raise Stop
    loss_fn = call(res, "CrossEntropyLoss()", loss_cls)
    loss = call(res, "CrossEntropyLoss.forward", loss_fn, logits, y)
    unchanged(res, "CrossEntropyLoss.forward", logits0, logits, "logits")
    want_loss = torch.nn.functional.cross_entropy(lt, torch.from_numpy(y)).item()
    if np.ndim(loss) != 0:
        res.fail(
            f"forward returned an array of shape {np.shape(loss)}; expected one number, "
            "the mean loss over the batch"
        )
        raise Stop
    if not compare(res, "loss", float(loss), want_loss, context=" for 5 examples, 7 classes"):
        res.explain(
            float(loss),
            [
                (
                    want_loss * len(y),
                    "loss_mean",
                ),
                (-want_loss, "mind_sign"),
            ],
        )
        raise Stop
    res.ok(
        f"log_softmax and the loss match torch, logits up to 1000 (relative error "
        f"{worst(res, 'log_softmax', 'loss'):.0e})"
    )


@exercise(
    "2.4",
    "softmax cross-entropy backward",
    where=NN + "loss.py, CrossEntropyLoss.backward",
    points=2,
    depends=("2.3",),
    hints={
        "not_averaged": "gradient not averaged over the batch: the loss is the mean of N "
        "losses, so each example's gradient carries the mean's 1/N",
        "divided_twice": "divided by N twice",
        "onehot": "the target class's entry is missing a term: differentiate -log p_y with "
        "respect to z_y too, where the log of exp(z_y) contributes (notebook 02's derivation)",
        "mind_sign": "mind the sign: raising the target class's logit must lower the loss, "
        "so its entry of dlogits is negative",
        "second_backward": "a second backward gave another answer: backward changed what "
        "forward saved (e.g. an in-place exp on the cached log-probabilities); copy first",
        "multiply_dy": "multiply by dy: backward(dy) scales the gradient (dy = 1 for the loss "
        "itself)",
    },
    loss_cls=lambda: nn.CrossEntropyLoss,
)
def check_cross_entropy_backward(res: CheckResult, loss_cls) -> None:
    """Exercise 2.4: `CrossEntropyLoss.backward` against torch autograd."""
    torch = import_torch()
    rng = np.random.default_rng(8)
    logits, y = _logits(rng)
    n = len(y)
    loss_fn = call(res, "CrossEntropyLoss()", loss_cls)
    call(res, "CrossEntropyLoss.forward", loss_fn, logits, y)
    d1 = call(res, "CrossEntropyLoss.backward", loss_fn.backward)
    lt = torch.tensor(logits, requires_grad=True)
    torch.nn.functional.cross_entropy(lt, torch.from_numpy(y)).backward()
    want = lt.grad.numpy()
    soft = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
    if not compare(res, "dlogits", d1, want, context=f" for {n} examples (dy = 1)"):
        res.explain(
            d1,
            [
                (
                    want * n,
                    "not_averaged",
                ),
                (want / n, "divided_twice"),
                (soft / n, "onehot"),
                (-want, "mind_sign"),
            ],
        )
        raise Stop
    d2 = call(res, "CrossEntropyLoss.backward", loss_fn.backward)
    if not compare(res, "dlogits (second backward)", d2, want):
        res.hint("second_backward")
        raise Stop
    d_half = call(res, "CrossEntropyLoss.backward", loss_fn.backward, 0.5)
    if not compare(res, "dlogits (dy = 0.5)", d_half, 0.5 * want):
        res.explain(
            d_half,
            [
                (
                    want,
                    "multiply_dy",
                )
            ],
        )
        raise Stop
    res.ok(f"dlogits matches torch autograd (relative error {worst(res, 'dlogits'):.0e})")


def check_cross_entropy(*, loss_cls=None, log_softmax_fn=None, verbose: bool = True) -> CheckResult:
    """Exercises 2.3 and 2.4."""
    parts = [
        check_cross_entropy_forward(
            loss_cls=loss_cls, log_softmax_fn=log_softmax_fn, verbose=False
        ),
        check_cross_entropy_backward(loss_cls=loss_cls, verbose=False),
    ]
    return group("softmax cross-entropy", parts, verbose)
