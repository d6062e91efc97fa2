"""Self-checks for the lab's exercises: what is wrong, where, and what usually causes it.

Call one from a notebook cell after writing an exercise::

    from lab01_utils import checks

    checks.check_conv2d_forward()              # prints a short report
    assert checks.check_conv2d_forward(verbose=False).passed

Each check runs the implementation imported *now* (in the student release: yours; restart the
kernel or use `%autoreload` after editing a `.py` file) on small inputs, in float64, against
its torch twin and, for backward passes, against central-difference gradients. A failure says
which output is wrong (forward, dx, weight.grad, running_var, ...), its relative error
`max|got - want| / max|want|`, the first index where they differ, and a hint when the error
matches a classic mistake (biased vs unbiased variance, a flipped kernel, padding not cropped,
a gradient not averaged over the batch, an input modified in place, ...). A stub reports
"Exercise N.M not implemented yet"; no exception escapes a check.

Every check takes the implementation under test as an optional keyword argument (default: the
package's), e.g. `check_batchnorm_forward(bn_cls=MyBatchNorm)`, and returns a `CheckResult`
(`.passed`, `.messages`, `.errors`). `check(exercise_id)` and `check_all()` run them by number.
"""

from __future__ import annotations

import copy
import re
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

__all__ = [
    "EXERCISES",
    "CheckResult",
    "Exercise",
    "check",
    "check_all",
    "check_augmentation",
    "check_batchnorm",
    "check_batchnorm_backward",
    "check_batchnorm_forward",
    "check_block",
    "check_conv2d",
    "check_conv2d_backward",
    "check_conv2d_forward",
    "check_cross_entropy",
    "check_cross_entropy_backward",
    "check_cross_entropy_forward",
    "check_im2col",
    "check_linear",
    "check_linear_backward",
    "check_linear_forward",
    "check_lr_schedule",
    "check_sgd",
    "check_silu",
    "check_silu_backward",
    "check_silu_forward",
    "check_train_epoch",
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


# ----------------------------------------------------------------------------- exercises
@dataclass(frozen=True)
class Exercise:
    """One exercise: its number, title, where its stub lives, and its check function."""

    id: str
    title: str
    where: str
    check: str
    depends: tuple[str, ...] = ()


_LAYERS = ("1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "3.1", "3.2", "3.3", "4.1", "4.2")
_NN = "lab01_utils/nn/"
EXERCISES: dict[str, Exercise] = {e.id: e for e in (
    Exercise("1.1", "SiLU forward", _NN + "activation.py, SiLU.forward", "check_silu_forward"),
    Exercise("1.2", "SiLU backward", _NN + "activation.py, SiLU.backward", "check_silu_backward",
             ("1.1",)),
    Exercise("2.1", "Linear forward", _NN + "linear.py, Linear.forward", "check_linear_forward"),
    Exercise("2.2", "Linear backward", _NN + "linear.py, Linear.backward",
             "check_linear_backward", ("2.1",)),
    Exercise("2.3", "softmax cross-entropy forward",
             _NN + "loss.py, log_softmax and CrossEntropyLoss.forward",
             "check_cross_entropy_forward"),
    Exercise("2.4", "softmax cross-entropy backward", _NN + "loss.py, CrossEntropyLoss.backward",
             "check_cross_entropy_backward", ("2.3",)),
    Exercise("3.1", "im2col", _NN + "functional.py, im2col", "check_im2col"),
    Exercise("3.2", "im2col convolution forward", _NN + "conv.py, Conv2d.forward",
             "check_conv2d_forward", ("3.1",)),
    Exercise("3.3", "convolution backward",
             _NN + "functional.py, col2im, and " + _NN + "conv.py, Conv2d.backward",
             "check_conv2d_backward", ("3.1", "3.2")),
    Exercise("4.1", "BatchNorm forward", _NN + "norm.py, BatchNorm2d.forward",
             "check_batchnorm_forward"),
    Exercise("4.2", "BatchNorm backward", _NN + "norm.py, BatchNorm2d.backward",
             "check_batchnorm_backward", ("4.1",)),
    Exercise("5.1", "pre-activation block", _NN + "blocks.py, PreActBlock.forward and .backward",
             "check_block", ("1.1", "1.2", "3.1", "3.2", "3.3", "4.1", "4.2")),
    Exercise("7.1", "SGD with momentum", "lab01_utils/optim.py, SGD.step", "check_sgd"),
    Exercise("7.2", "the step learning-rate schedule", "lab01_utils/optim.py, multistep_lr",
             "check_lr_schedule"),
    Exercise("7.3", "the augmentation", "lab01_utils/augment.py, apply_augmentation",
             "check_augmentation"),
    Exercise("8.1", "one training epoch",
             "lab01_utils/train.py, NumpyEngine.train_step and train_one_epoch",
             "check_train_epoch", (*_LAYERS, "5.1", "7.1")),
)}  # fmt: skip


# ----------------------------------------------------------------------------- results
@dataclass
class CheckResult:
    """What a check found.

    Attributes:
        exercise, title: e.g. "3.2", "im2col convolution forward" ("1.1, 1.2" for a group).
        passed: every comparison agreed.
        implemented: False when the check met a stub (`missing` says whose).
        messages: one line per finding: failures, `hint: ...`, `note: ...`, `ok: ...`.
        errors: the largest relative error per compared output (e.g. "dx", "weight.grad").
    """

    exercise: str
    title: str
    passed: bool = True
    implemented: bool = True
    missing: str | None = None
    messages: list[str] = field(default_factory=list)
    errors: dict[str, float] = field(default_factory=dict)
    parts: list[CheckResult] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.passed = False
        self.messages.append(message)

    def hint(self, message: str) -> None:
        line = f"hint: {message}"
        if line not in self.messages:
            self.messages.append(line)

    def note(self, message: str) -> None:
        line = f"note: {message}"
        if line not in self.messages:
            self.messages.append(line)

    def ok(self, message: str) -> None:
        self.messages.append(f"ok: {message}")

    @property
    def status(self) -> str:
        if self.passed:
            return "passed"
        if self.missing is not None and self.missing != self.exercise:
            return f"needs Exercise {self.missing} first (not implemented yet)"
        if not self.implemented:
            return "not implemented yet"
        return "FAILED"

    def report(self) -> str:
        """The printed report: a status line, then one indented line per message."""
        if self.parts:
            return "\n".join(p.report() for p in self.parts)
        lines = [f"Exercise {self.exercise} ({self.title}): {self.status}"]
        lines += [f"    {m}" for m in self.messages]
        return "\n".join(lines)

    __str__ = report

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"CheckResult(exercise={self.exercise!r}, passed={self.passed})"


class _Stop(Exception):
    """End the current check; the reason is already recorded in the result."""


def _exercise_in(message: str) -> str | None:
    m = re.search(r"Exercise (\d+\.\d+)", message)
    return m[1] if m else None


def _where(exc: BaseException) -> str:
    """`lab01_utils/nn/conv.py:97 in forward` for the innermost frame of `exc`."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    f = frames[-1]
    parts = Path(f.filename).parts
    short = "/".join(parts[parts.index("lab01_utils") :]) if "lab01_utils" in parts else parts[-1]
    return f"{short}:{f.lineno} in {f.name}"


def _not_implemented(res: CheckResult, exc: NotImplementedError, what: str) -> None:
    res.passed, res.implemented = False, False
    ex_id = _exercise_in(str(exc))
    res.missing = ex_id
    if ex_id == res.exercise:
        where = EXERCISES[ex_id].where
        res.messages.append(
            f"Exercise {ex_id} not implemented yet: replace the "
            f"`raise NotImplementedError(...)` in {where} with your code."
        )
    elif ex_id is not None:
        title = EXERCISES[ex_id].title if ex_id in EXERCISES else str(exc)
        res.messages.append(
            f"Exercise {res.exercise} needs Exercise {ex_id} ({title}), which is not "
            "implemented yet: do that one first."
        )
    else:
        res.messages.append(
            f"{what} raised NotImplementedError({str(exc)!r}): not implemented yet ({_where(exc)})"
        )


def _call(res: CheckResult, what: str, fn: Callable, *args, hint: str | None = None, **kwargs):
    """Call student code: a stub, an exception or a RuntimeWarning becomes a message."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = fn(*args, **kwargs)
    except _Stop:
        raise
    except NotImplementedError as e:
        _not_implemented(res, e, what)
        raise _Stop from None
    except Exception as e:
        res.fail(f"{what} raised {type(e).__name__}: {e} (at {_where(e)})")
        if hint:
            res.hint(hint)
        raise _Stop from None
    for w in caught:
        if issubclass(w.category, RuntimeWarning):
            res.note(f"{what} warned: {w.message} ({Path(w.filename).name}:{w.lineno})")
    return out


def _run(ex_id: str, body: Callable, verbose: bool, **kwargs) -> CheckResult:
    res = CheckResult(ex_id, EXERCISES[ex_id].title)
    try:
        body(res, **kwargs)
    except _Stop:
        pass
    except NotImplementedError as e:
        _not_implemented(res, e, "the code under test")
    except Exception as e:  # a bug the wrappers missed: still a report, never a traceback
        res.fail(f"unexpected {type(e).__name__}: {e} (at {_where(e)})")
    if not res.passed and res.implemented:
        _blame_dependencies(res)
    if res.passed and not any(m.startswith("ok:") for m in res.messages):
        res.ok("everything matches")
    if verbose:
        print(res.report())
    return res


def _blame_dependencies(res: CheckResult) -> None:
    """When a check fails, name the exercises it builds on that fail their own checks."""
    for dep in EXERCISES[res.exercise].depends:
        sub = globals()[EXERCISES[dep].check](verbose=False)
        if not sub.passed:
            res.hint(
                f"this exercise builds on Exercise {dep} ({EXERCISES[dep].title}), which "
                f"{'is not implemented yet' if not sub.implemented else 'fails its own check'}"
                f" (checks.{EXERCISES[dep].check}()): fix that first"
            )


def _group(title: str, results: list[CheckResult], verbose: bool) -> CheckResult:
    res = CheckResult(
        ", ".join(r.exercise for r in results),
        title,
        passed=all(r.passed for r in results),
        implemented=all(r.implemented for r in results),
        messages=[f"[{r.exercise}] {m}" for r in results for m in r.messages],
        errors={f"{r.exercise} {k}": v for r in results for k, v in r.errors.items()},
        parts=results,
    )
    if verbose:
        print(res.report())
    return res


# ----------------------------------------------------------------------------- comparisons
def _torch():
    import torch

    return torch


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def _as_float_array(a) -> np.ndarray | None:
    try:
        return np.asarray(_np(a), dtype=np.float64)
    except (TypeError, ValueError):
        return None


def _rel_error(got: np.ndarray, want: np.ndarray) -> float:
    if want.size == 0:
        return 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        err = float(np.max(np.abs(got - want)) / max(float(np.max(np.abs(want))), TINY))
    return err if np.isfinite(err) else float("inf")


def _matches(got, want, rtol: float = HINT_RTOL) -> bool:
    g, w = _as_float_array(got), _as_float_array(want)
    return g is not None and w is not None and g.shape == w.shape and _rel_error(g, w) <= rtol


def _compare(
    res: CheckResult, name: str, got, want, *, rtol: float = CHECK_RTOL, context: str = ""
) -> bool:
    """Record `name`'s relative error; on failure say where `got` and `want` first differ."""
    want = np.asarray(_np(want), dtype=np.float64)
    if got is None:
        res.fail(f"{name} is None{context}; expected an array of shape {want.shape}")
        return False
    g = _as_float_array(got)
    if g is None:
        res.fail(f"{name} is a {type(got).__name__}{context}; expected an array")
        return False
    if g.shape != want.shape:
        res.fail(f"{name} has shape {g.shape}{context}; expected {want.shape}")
        return False
    err = _rel_error(g, want)
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


def _explain(res: CheckResult, got, alternatives) -> bool:
    """Add the hint of the first `(wrong_answer, hint)` that `got` matches."""
    for alt, hint in alternatives:
        if _matches(got, alt):
            res.hint(hint)
            return True
    return False


def _unchanged(
    res: CheckResult, what: str, before: np.ndarray, after: np.ndarray, name: str
) -> None:
    if not np.array_equal(before, after, equal_nan=True):
        res.fail(f"{what} modified its input {name} in place")
        res.hint(IN_PLACE_HINT)


def _numeric_grad(f: Callable[[], float], x: np.ndarray, h: float = GRAD_STEP) -> np.ndarray:
    """Central differences of the scalar `f()` w.r.t. the float64 array `x` (perturbed in
    place and restored exactly)."""
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        f_plus = f()
        flat[i] = old - h
        f_minus = f()
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2 * h)
    return grad


def _gradcheck(res: CheckResult, layer, x: np.ndarray, what: str, rng) -> None:
    """dx and every parameter gradient of `layer` against central differences."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.asarray(_call(res, f"{what}.forward", layer.forward, x))
    dy = rng.standard_normal(y.shape)
    dx = _call(res, f"{what}.backward", layer.backward, dy.copy())
    analytic = {name: p.grad for name, p in layer.named_parameters()}

    def loss() -> float:
        return float(np.sum(dy * np.asarray(layer.forward(x))))

    ok = _compare(res, "dx vs numeric gradient", dx, _numeric_grad(loss, x), rtol=GRAD_RTOL)
    for name, p in layer.named_parameters():
        if p.data.dtype == np.float64 and p.data.flags.c_contiguous:
            ok &= _compare(
                res,
                f"{name}.grad vs numeric gradient",
                analytic[name],
                _numeric_grad(loss, p.data),
                rtol=GRAD_RTOL,
            )
    if ok:
        worst = max(v for k, v in res.errors.items() if "numeric" in k)
        res.ok(f"gradients agree with central differences (relative error {worst:.0e})")


def _worst(res: CheckResult, *names: str) -> float:
    return max((res.errors.get(n, 0.0) for n in names), default=0.0)


def _nchw_channels_last(x: np.ndarray) -> np.ndarray:
    """The same NCHW values stored channels-last (a transposed view): a layer must give the
    same results whatever memory order NumPy hands it."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


# ----------------------------------------------------------------------------- 1.x SiLU
def _silu_input(rng) -> np.ndarray:
    x = 3.0 * rng.standard_normal((2, 3, 4, 5))
    x.flat[:4] = (-60.0, 60.0, -800.0, 800.0)  # exp(800) overflows unless it is avoided
    return x


def _check_silu_forward(res: CheckResult, silu_cls) -> None:
    torch = _torch()
    rng = np.random.default_rng(0)
    x = _silu_input(rng)
    x0 = x.copy()
    layer = _call(res, "SiLU()", silu_cls)
    y = _call(res, "SiLU.forward", layer.forward, x)
    _unchanged(res, "SiLU.forward", x0, x, "x")
    want = torch.nn.functional.silu(torch.from_numpy(x0))
    s = torch.sigmoid(torch.from_numpy(x0)).numpy()
    if not _compare(res, "forward output", y, want, context=f" for x of shape {x.shape}"):
        _explain(
            res,
            y,
            [
                (s, "that is sigmoid(x); SiLU multiplies it by x: silu(x) = x * sigmoid(x)"),
                (
                    x0 * (1 - s),
                    "that is x * sigmoid(-x): sigmoid(x) = 1 / (1 + exp(-x)), mind the sign",
                ),
            ],
        )
        raise _Stop
    y32 = _call(res, "SiLU.forward", silu_cls().forward, x0[:1].astype(np.float32))
    if np.asarray(y32).dtype != np.float32:
        res.fail(f"forward output has dtype {np.asarray(y32).dtype} for a float32 input")
        res.hint(
            "keep the input's dtype: a float64 constant array (np.array([...]), "
            "np.float64(...)) turns float32 into float64; Python floats do not"
        )
    if res.passed:
        res.ok(
            f"forward matches torch.nn.functional.silu, |x| up to 800 (relative error "
            f"{_worst(res, 'forward output'):.0e})"
        )


def _check_silu_backward(res: CheckResult, silu_cls) -> None:
    torch = _torch()
    rng = np.random.default_rng(1)
    x = _silu_input(rng)
    dy = rng.standard_normal(x.shape)
    dy0 = dy.copy()
    layer = _call(res, "SiLU()", silu_cls)
    _call(res, "SiLU.forward", layer.forward, rng.standard_normal(x.shape))  # a stale batch
    _call(res, "SiLU.forward", layer.forward, x)
    dx = _call(res, "SiLU.backward", layer.backward, dy)
    _unchanged(res, "SiLU.backward", dy0, dy, "dy")
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.silu(xt).backward(torch.from_numpy(dy0))
    s = torch.sigmoid(torch.from_numpy(x)).numpy()
    if not _compare(res, "dx", dx, xt.grad, context=f" for x of shape {x.shape}"):
        _explain(
            res,
            dx,
            [
                (
                    dy0 * s,
                    "x * sigmoid(x) needs the product rule: d/dx = s + x * s * (1 - s), "
                    "with s = sigmoid(x)",
                ),
                (s * (1 + x * (1 - s)), "chain rule: multiply the local derivative by dy"),
                (
                    dy0 * s * (1 - s),
                    "that is sigmoid's derivative; SiLU's is s * (1 + x * (1 - s))",
                ),
            ],
        )
        raise _Stop
    if res.passed:
        res.ok(f"dx matches torch autograd (relative error {_worst(res, 'dx'):.0e})")
        _gradcheck(res, silu_cls(), rng.standard_normal((3, 4)), "SiLU", rng)


def check_silu_forward(*, silu_cls=None, verbose: bool = True) -> CheckResult:
    """Exercise 1.1: `SiLU.forward` against `torch.nn.functional.silu` (large |x| included)."""
    from .nn import SiLU

    return _run("1.1", _check_silu_forward, verbose, silu_cls=silu_cls or SiLU)


def check_silu_backward(*, silu_cls=None, verbose: bool = True) -> CheckResult:
    """Exercise 1.2: `SiLU.backward` against torch autograd and central differences."""
    from .nn import SiLU

    return _run("1.2", _check_silu_backward, verbose, silu_cls=silu_cls or SiLU)


def check_silu(*, silu_cls=None, verbose: bool = True) -> CheckResult:
    """Exercises 1.1 and 1.2."""
    parts = [
        check_silu_forward(silu_cls=silu_cls, verbose=False),
        check_silu_backward(silu_cls=silu_cls, verbose=False),
    ]
    return _group("SiLU", parts, verbose)


# ----------------------------------------------------------------------------- 2.x Linear
_LINEAR_LAYOUT = "weight is (out_features, in_features), torch's layout: y = x @ weight.T + bias"


def _check_linear_forward(res: CheckResult, linear_cls) -> None:
    torch = _torch()
    rng = np.random.default_rng(2)
    for n_in, n_out, bias in ((5, 3, True), (4, 2, False)):
        layer = _call(
            res,
            "Linear(...)",
            linear_cls,
            n_in,
            n_out,
            bias=bias,
            rng=np.random.default_rng(3),
            dtype=np.float64,
        )
        w = layer.weight.data.copy()
        b = layer.bias.data.copy() if bias else None
        x = rng.standard_normal((4, n_in))
        x0 = x.copy()
        y = _call(res, "Linear.forward", layer.forward, x, hint=_LINEAR_LAYOUT)
        _unchanged(res, "Linear.forward", x0, x, "x")
        want = torch.nn.functional.linear(
            torch.from_numpy(x0), torch.from_numpy(w), None if b is None else torch.from_numpy(b)
        )
        context = f" for Linear({n_in}, {n_out}, bias={bias}) on x of shape {x.shape}"
        if not _compare(res, "forward output", y, want, context=context):
            if bias:
                _explain(res, y, [(x0 @ w.T, "add the bias: y = x @ weight.T + bias")])
            if np.shape(y) != want.shape:
                res.hint(_LINEAR_LAYOUT)
            raise _Stop
    layer = _call(res, "Linear(...)", linear_cls, 5, 3)
    y32 = _call(res, "Linear.forward", layer.forward, rng.standard_normal((2, 5)).astype("f4"))
    if np.asarray(y32).dtype != np.float32:
        res.fail(f"a float32 Linear returned {np.asarray(y32).dtype} for a float32 input")
    if res.passed:
        res.ok(
            f"forward matches torch.nn.functional.linear, with and without bias "
            f"(relative error {_worst(res, 'forward output'):.0e})"
        )


def _check_linear_backward(res: CheckResult, linear_cls) -> None:
    torch = _torch()
    rng = np.random.default_rng(4)
    for n_in, n_out, bias in ((5, 3, True), (4, 2, False)):
        layer = _call(
            res,
            "Linear(...)",
            linear_cls,
            n_in,
            n_out,
            bias=bias,
            rng=np.random.default_rng(5),
            dtype=np.float64,
        )
        w = layer.weight.data.copy()
        b = layer.bias.data.copy() if bias else None
        x = rng.standard_normal((4, n_in))
        _call(res, "Linear.forward", layer.forward, rng.standard_normal((4, n_in)))
        _call(res, "Linear.forward", layer.forward, x)
        dy = rng.standard_normal((4, n_out))
        dy0 = dy.copy()
        dx = _call(res, "Linear.backward", layer.backward, dy, hint=_LINEAR_LAYOUT)
        _unchanged(res, "Linear.backward", dy0, dy, "dy")
        xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        bt = None if b is None else torch.tensor(b, requires_grad=True)
        torch.nn.functional.linear(xt, wt, bt).backward(torch.from_numpy(dy0))
        context = f" for Linear({n_in}, {n_out}, bias={bias})"
        ok = _compare(res, "dx", dx, xt.grad, context=context)
        gw = layer.weight.grad
        if not _compare(res, "weight.grad", gw, wt.grad, context=context):
            ok = False
            if np.shape(gw) == w.T.shape:
                res.hint(
                    "weight.grad must have weight's shape (out_features, in_features): dy.T @ x"
                )
        if bias:
            gb = layer.bias.grad
            if not _compare(res, "bias.grad", gb, bt.grad, context=context):
                ok = False
                _explain(
                    res,
                    gb,
                    [
                        (
                            dy0.mean(axis=0),
                            "bias.grad sums dy over the batch (the "
                            "loss's 1/N is already inside dy); don't average",
                        )
                    ],
                )
        if not ok:
            raise _Stop
    res.ok(
        f"dx, weight.grad and bias.grad match torch autograd (relative error "
        f"{_worst(res, 'dx', 'weight.grad', 'bias.grad'):.0e})"
    )
    layer = _call(
        res, "Linear(...)", linear_cls, 4, 3, rng=np.random.default_rng(6), dtype=np.float64
    )
    _gradcheck(res, layer, rng.standard_normal((3, 4)), "Linear", rng)


def check_linear_forward(*, linear_cls=None, verbose: bool = True) -> CheckResult:
    """Exercise 2.1: `Linear.forward` against `torch.nn.functional.linear`."""
    from .nn import Linear

    return _run("2.1", _check_linear_forward, verbose, linear_cls=linear_cls or Linear)


def check_linear_backward(*, linear_cls=None, verbose: bool = True) -> CheckResult:
    """Exercise 2.2: `Linear.backward` (dx, weight.grad, bias.grad) against torch and
    central differences."""
    from .nn import Linear

    return _run("2.2", _check_linear_backward, verbose, linear_cls=linear_cls or Linear)


def check_linear(*, linear_cls=None, verbose: bool = True) -> CheckResult:
    """Exercises 2.1 and 2.2."""
    parts = [
        check_linear_forward(linear_cls=linear_cls, verbose=False),
        check_linear_backward(linear_cls=linear_cls, verbose=False),
    ]
    return _group("Linear", parts, verbose)


# ----------------------------------------------------------------------------- 2.x loss
def _logits(rng) -> tuple[np.ndarray, np.ndarray]:
    logits = 3.0 * rng.standard_normal((5, 7))
    logits[0] += 1000.0  # exp(1000) overflows: only a stable log-softmax survives this row
    logits[1] -= 1000.0
    return logits, rng.integers(0, 7, size=5)


def _check_cross_entropy_forward(res: CheckResult, loss_cls, log_softmax_fn) -> None:
    torch = _torch()
    rng = np.random.default_rng(7)
    logits, y = _logits(rng)
    logits0 = logits.copy()
    logp = _call(res, "log_softmax", log_softmax_fn, logits)
    _unchanged(res, "log_softmax", logits0, logits, "logits")
    lt = torch.from_numpy(logits0)
    want = torch.log_softmax(lt, dim=1)
    if not _compare(res, "log_softmax", logp, want, context=" for logits of shape (5, 7)"):
        with np.errstate(all="ignore"):
            soft = torch.softmax(lt, dim=1).numpy()
            by_column = torch.log_softmax(lt, dim=0).numpy()
        if not _explain(
            res,
            logp,
            [
                (soft, "that is the softmax itself; log_softmax(z) = z - log(sum(exp(z)))"),
                (by_column, "normalise each row (axis=1, the classes), not each column"),
            ],
        ) and not np.all(np.isfinite(np.asarray(logp, dtype=float))):
            res.hint(
                "exp(1000) overflows: subtract each row's maximum before exp "
                "(log_softmax does not change when a row is shifted)"
            )
        raise _Stop
    loss_fn = _call(res, "CrossEntropyLoss()", loss_cls)
    loss = _call(res, "CrossEntropyLoss.forward", loss_fn, logits, y)
    _unchanged(res, "CrossEntropyLoss.forward", logits0, logits, "logits")
    want_loss = torch.nn.functional.cross_entropy(lt, torch.from_numpy(y)).item()
    if np.ndim(loss) != 0:
        res.fail(
            f"forward returned an array of shape {np.shape(loss)}; expected one number, "
            "the mean loss over the batch"
        )
        raise _Stop
    if not _compare(res, "loss", float(loss), want_loss, context=" for 5 examples, 7 classes"):
        _explain(
            res,
            float(loss),
            [
                (
                    want_loss * len(y),
                    "the loss is the mean over the batch, not the sum: divide by N",
                ),
                (-want_loss, "mind the sign: the loss is -log p(correct class)"),
            ],
        )
        raise _Stop
    res.ok(
        f"log_softmax and the loss match torch, logits up to 1000 (relative error "
        f"{_worst(res, 'log_softmax', 'loss'):.0e})"
    )


def _check_cross_entropy_backward(res: CheckResult, loss_cls) -> None:
    torch = _torch()
    rng = np.random.default_rng(8)
    logits, y = _logits(rng)
    n = len(y)
    loss_fn = _call(res, "CrossEntropyLoss()", loss_cls)
    _call(res, "CrossEntropyLoss.forward", loss_fn, logits, y)
    d1 = _call(res, "CrossEntropyLoss.backward", loss_fn.backward)
    lt = torch.tensor(logits, requires_grad=True)
    torch.nn.functional.cross_entropy(lt, torch.from_numpy(y)).backward()
    want = lt.grad.numpy()
    soft = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
    if not _compare(res, "dlogits", d1, want, context=f" for {n} examples (dy = 1)"):
        _explain(
            res,
            d1,
            [
                (
                    want * n,
                    "gradient not averaged over the batch: the loss is the mean of N "
                    "losses, so dlogits = (softmax - onehot(y)) / N",
                ),
                (want / n, "divided by N twice"),
                (soft / n, "subtract 1 at each example's target class: (softmax - onehot(y)) / N"),
                (-want, "mind the sign: dlogits = (softmax - onehot(y)) / N"),
            ],
        )
        raise _Stop
    d2 = _call(res, "CrossEntropyLoss.backward", loss_fn.backward)
    if not _compare(res, "dlogits (second backward)", d2, want):
        res.hint(
            "a second backward gave another answer: backward changed what forward "
            "saved (e.g. an in-place exp on the cached log-probabilities); copy first"
        )
        raise _Stop
    d_half = _call(res, "CrossEntropyLoss.backward", loss_fn.backward, 0.5)
    if not _compare(res, "dlogits (dy = 0.5)", d_half, 0.5 * want):
        _explain(
            res,
            d_half,
            [
                (
                    want,
                    "multiply by dy: backward(dy) scales the gradient (dy = 1 for the loss itself)",
                )
            ],
        )
        raise _Stop
    res.ok(f"dlogits matches torch autograd (relative error {_worst(res, 'dlogits'):.0e})")


def check_cross_entropy_forward(
    *, loss_cls=None, log_softmax_fn=None, verbose: bool = True
) -> CheckResult:
    """Exercise 2.3: `log_softmax` and `CrossEntropyLoss.forward` against torch, with logits
    of +-1000 (a naive softmax overflows)."""
    from .nn import loss

    return _run(
        "2.3",
        _check_cross_entropy_forward,
        verbose,
        loss_cls=loss_cls or loss.CrossEntropyLoss,
        log_softmax_fn=log_softmax_fn or loss.log_softmax,
    )


def check_cross_entropy_backward(*, loss_cls=None, verbose: bool = True) -> CheckResult:
    """Exercise 2.4: `CrossEntropyLoss.backward` against torch autograd."""
    from .nn import CrossEntropyLoss

    return _run(
        "2.4", _check_cross_entropy_backward, verbose, loss_cls=loss_cls or CrossEntropyLoss
    )


def check_cross_entropy(*, loss_cls=None, log_softmax_fn=None, verbose: bool = True) -> CheckResult:
    """Exercises 2.3 and 2.4."""
    parts = [
        check_cross_entropy_forward(
            loss_cls=loss_cls, log_softmax_fn=log_softmax_fn, verbose=False
        ),
        check_cross_entropy_backward(loss_cls=loss_cls, verbose=False),
    ]
    return _group("softmax cross-entropy", parts, verbose)


# ----------------------------------------------------------------------------- 3.x conv
# (N, H, W, C, k, stride, padding): windows that do not overlap first, then overlapping ones.
_UNFOLD_CASES = (
    (1, 4, 4, 2, 2, 2, 0),
    (1, 5, 5, 2, 1, 1, 0),
    (2, 5, 5, 3, 3, 1, 1),
    (2, 6, 5, 2, 3, 2, 1),
    (2, 5, 6, 3, 3, 1, 0),
)
# (C_in, C_out, k, stride, padding, bias, H, W): the lab uses 3x3 stride 1 and 2 with padding
# 1, and 1x1 stride 2 projections.
_CONV_CASES = (
    (3, 4, 3, 1, 1, True, 6, 6),
    (3, 4, 3, 2, 1, False, 7, 7),
    (2, 3, 1, 2, 0, False, 6, 6),
    (2, 3, 3, 1, 0, True, 5, 6),
    (2, 2, 2, 2, 0, True, 6, 6),
)
_NO_FLIP = (
    "don't flip the kernel: torch's Conv2d (and this lab's) is a cross-correlation, "
    "y[n, o, i, j] = sum over c, u, v of weight[o, c, u, v] * x_padded[n, c, "
    "i * stride + u, j * stride + v]"
)
_OUT_SIZE = "H_out = (H + 2 * padding - kernel_size) // stride + 1, and the same for W"


def _unfold_ref(x: np.ndarray, k: int, s: int, p: int, order: str = "ckk") -> np.ndarray:
    """im2col via torch.nn.functional.unfold: rows (n, h_out, w_out), columns (c, u, v)
    (or, with `order="kkc"`, the channels-fastest order (u, v, c), a classic mix-up)."""
    torch = _torch()
    n, c = x.shape[:2]
    u = torch.nn.functional.unfold(
        torch.from_numpy(np.ascontiguousarray(x)), k, padding=p, stride=s
    )  # (N, C*k*k, L), columns (c, u, v)
    length = u.shape[-1]
    if order == "ckk":
        return u.permute(0, 2, 1).reshape(n * length, c * k * k).numpy()
    return u.reshape(n, c, k, k, length).permute(0, 4, 2, 3, 1).reshape(n * length, -1).numpy()


def _check_im2col(res: CheckResult, im2col_fn) -> None:
    from .nn.functional import conv_output_size

    rng = np.random.default_rng(9)
    for n, h, w, c, k, s, p in _UNFOLD_CASES:
        x = rng.standard_normal((n, c, h, w))
        x0 = x.copy()
        cols = _call(res, "im2col", im2col_fn, x, k, s, p)
        _unchanged(res, "im2col", x0, x, "x")
        want = _unfold_ref(x0, k, s, p)
        context = (
            f" for x of shape (N, C, H, W) = {x.shape}, kernel_size={k}, stride={s}, padding={p}"
        )
        if not _compare(res, "cols", cols, want, context=context):
            shape = np.shape(cols)
            rows_nopad = n * conv_output_size(h, k, s, 0) * conv_output_size(w, k, s, 0)
            rows_stride1 = n * conv_output_size(h, k, 1, p) * conv_output_size(w, k, 1, p)
            if not _explain(
                res,
                cols,
                [
                    (
                        _unfold_ref(x0, k, s, p, "kkc"),
                        "each row must be ordered (c, u, v), the channel slowest, to match "
                        "weight.reshape(C_out, C * k * k); yours is ordered (u, v, c)",
                    )
                ],
            ):
                if p and len(shape) == 2 and shape[0] == rows_nopad:
                    res.hint(
                        "pad H and W by `padding` zeros on each side first (np.pad), "
                        f"then unfold: {_OUT_SIZE}"
                    )
                elif s > 1 and len(shape) == 2 and shape[0] == rows_stride1:
                    res.hint("window (i, j) starts at pixel (i * stride, j * stride)")
                elif len(shape) == 2 and shape == want.shape:
                    res.hint(
                        "rows are ordered (n, h_out, w_out): all windows of image 0 "
                        "first, row by row"
                    )
            raise _Stop
    res.ok(
        f"cols match torch.nn.functional.unfold for {len(_UNFOLD_CASES)} shapes, strides "
        f"and paddings (relative error {_worst(res, 'cols'):.0e})"
    )


def _conv_context(c_in, c_out, k, s, p, bias, shape) -> str:
    return (
        f" for Conv2d({c_in}, {c_out}, kernel_size={k}, stride={s}, padding={p}, "
        f"bias={bias}) on x of shape {shape}"
    )


def _make_conv(res, conv_cls, i, c_in, c_out, k, s, p, bias, dtype=np.float64):
    return _call(
        res,
        "Conv2d(...)",
        conv_cls,
        c_in,
        c_out,
        k,
        stride=s,
        padding=p,
        bias=bias,
        rng=np.random.default_rng(100 + i),
        dtype=dtype,
    )


def _check_conv2d_forward(res: CheckResult, conv_cls) -> None:
    torch = _torch()
    rng = np.random.default_rng(10)
    conv2d = torch.nn.functional.conv2d
    for i, (c_in, c_out, k, s, p, bias, h, w) in enumerate(_CONV_CASES):
        layer = _make_conv(res, conv_cls, i, c_in, c_out, k, s, p, bias)
        wt = torch.from_numpy(layer.weight.data.copy())
        bt = torch.from_numpy(layer.bias.data.copy()) if bias else None
        x = rng.standard_normal((2, c_in, h, w))
        if i % 2:
            x = _nchw_channels_last(x)  # any memory order must work
        x0 = x.copy()
        y = _call(res, "Conv2d.forward", layer.forward, x)
        _unchanged(res, "Conv2d.forward", x0, x, "x")
        xt = torch.from_numpy(x0)
        want = conv2d(xt, wt, bt, stride=s, padding=p)
        context = _conv_context(c_in, c_out, k, s, p, bias, x.shape)
        if not _compare(res, "forward output", y, want, context=context):
            alternatives = [(conv2d(xt, wt.flip(2, 3), bt, stride=s, padding=p), _NO_FLIP)]
            if bias:
                alternatives.append(
                    (
                        conv2d(xt, wt, None, stride=s, padding=p),
                        "add the bias, one per output channel",
                    )
                )
            if not _explain(res, y, alternatives) and np.shape(y) != tuple(want.shape):
                res.hint(f"the output is (N, C_out, H_out, W_out) with {_OUT_SIZE}")
            raise _Stop
    layer = _make_conv(res, conv_cls, 0, 2, 3, 3, 1, 1, True, dtype=np.float32)
    y32 = _call(res, "Conv2d.forward", layer.forward, rng.random((1, 2, 4, 4), dtype=np.float32))
    if np.asarray(y32).dtype != np.float32:
        res.fail(f"a float32 Conv2d returned {np.asarray(y32).dtype} for a float32 input")
    if res.passed:
        res.ok(
            f"forward matches torch.nn.functional.conv2d for {len(_CONV_CASES)} kernel "
            f"sizes, strides, paddings (relative error {_worst(res, 'forward output'):.0e})"
        )


def _fold_ref(dcols: np.ndarray, x_shape, k: int, s: int, p: int) -> np.ndarray:
    """col2im via torch.nn.functional.fold; `dcols` has im2col's layout, returns NCHW."""
    torch = _torch()
    n, c, h, w = x_shape
    length = dcols.shape[0] // n
    t = torch.from_numpy(dcols).reshape(n, length, c * k * k).permute(0, 2, 1)  # fold's layout
    return torch.nn.functional.fold(t, (h, w), k, padding=p, stride=s).numpy()  # (N, C, H, W)


def _crop_hint(res: CheckResult, got, want, p: int, axes: str) -> bool:
    """If `got` is `want` with the padding border still on, say so."""
    g = _as_float_array(got)
    if g is None or p == 0 or g.ndim != 4:
        return False
    hw = (2, 3) if axes == "nchw" else (1, 2)
    expected_padded = list(want.shape)
    for a in hw:
        expected_padded[a] += 2 * p
    if list(g.shape) != expected_padded:
        return False
    crop = [slice(None)] * 4
    for a in hw:
        crop[a] = slice(p, g.shape[a] - p)
    right = _matches(g[tuple(crop)], want)
    res.hint(
        "padding not cropped: the gradient of the padded input has the padding border "
        f"({p} pixel{'s' if p > 1 else ''} on each side); crop it off to get dx of the "
        "input's shape" + (" (inside the border your values are right)" if right else "")
    )
    return True


def _check_col2im(res: CheckResult, col2im_fn) -> None:
    from .nn.functional import conv_output_size

    rng = np.random.default_rng(11)
    for n, h, w, c, k, s, p in _UNFOLD_CASES:
        rows = n * conv_output_size(h, k, s, p) * conv_output_size(w, k, s, p)
        dcols = rng.standard_normal((rows, c * k * k))
        d0 = dcols.copy()
        dx = _call(res, "col2im", col2im_fn, dcols, (n, c, h, w), k, s, p)
        _unchanged(res, "col2im", d0, dcols, "dcols")
        want = _fold_ref(d0, (n, c, h, w), k, s, p)
        context = (
            f" for x_shape (N, C, H, W) = {(n, c, h, w)}, kernel_size={k}, stride={s}, padding={p}"
        )
        if not _compare(res, "col2im output", dx, want, context=context):
            if not _crop_hint(res, dx, want, p, "nchw") and k > s:
                res.hint(
                    "windows overlap when stride < kernel_size: add (+=) each window's "
                    "gradient into dx, don't overwrite it"
                )
            raise _Stop


def _check_conv2d_backward(res: CheckResult, conv_cls, col2im_fn) -> None:
    torch = _torch()
    _check_col2im(res, col2im_fn)
    res.ok(
        f"col2im matches torch.nn.functional.fold for {len(_UNFOLD_CASES)} shapes "
        f"(relative error {_worst(res, 'col2im output'):.0e})"
    )
    rng = np.random.default_rng(12)
    for i, (c_in, c_out, k, s, p, bias, h, w) in enumerate(_CONV_CASES):
        layer = _make_conv(res, conv_cls, i, c_in, c_out, k, s, p, bias)
        wv = layer.weight.data.copy()
        x = rng.standard_normal((2, c_in, h, w))
        if i % 2:
            x = _nchw_channels_last(x)
        y = np.asarray(_call(res, "Conv2d.forward", layer.forward, x))
        dy = rng.standard_normal(y.shape)
        if i % 2 == 0:
            dy = _nchw_channels_last(dy)
        dy0 = dy.copy()
        dx = _call(res, "Conv2d.backward", layer.backward, dy)
        _unchanged(res, "Conv2d.backward", dy0, dy, "dy")
        xt = torch.tensor(np.ascontiguousarray(x), requires_grad=True)
        wt = torch.tensor(wv, requires_grad=True)
        bt = torch.tensor(layer.bias.data.copy(), requires_grad=True) if bias else None
        torch.nn.functional.conv2d(xt, wt, bt, stride=s, padding=p).backward(
            torch.from_numpy(np.ascontiguousarray(dy0))
        )
        context = _conv_context(c_in, c_out, k, s, p, bias, x.shape)
        ok = True
        if not _compare(res, "dx", dx, xt.grad, context=context):
            ok = False
            _crop_hint(res, dx, xt.grad.numpy(), p, "nchw")
        gw = layer.weight.grad
        if not _compare(res, "weight.grad", gw, wt.grad, context=context):
            ok = False
            if np.shape(gw) == (c_in, c_out, k, k) and c_in != c_out:
                res.hint("weight.grad must have weight's shape (C_out, C_in, kH, kW)")
            _explain(res, gw, [(wt.grad.flip(2, 3), "weight.grad comes out flipped: " + _NO_FLIP)])
        if bias:
            dys = dy0.sum(axis=(0, 2, 3))
            if not _compare(res, "bias.grad", layer.bias.grad, bt.grad, context=context):
                ok = False
                _explain(
                    res,
                    layer.bias.grad,
                    [
                        (
                            dys / (dy0.size / c_out),
                            "bias.grad sums dy over N, H_out and W_out; don't average",
                        )
                    ],
                )
        if not ok:
            raise _Stop
    res.ok(
        f"dx, weight.grad and bias.grad match torch autograd for {len(_CONV_CASES)} cases "
        f"(relative error {_worst(res, 'dx', 'weight.grad', 'bias.grad'):.0e})"
    )
    layer = _make_conv(res, conv_cls, 9, 2, 2, 3, 2, 1, True)
    _gradcheck(res, layer, rng.standard_normal((1, 2, 4, 4)), "Conv2d", rng)


def check_im2col(*, im2col_fn=None, verbose: bool = True) -> CheckResult:
    """Exercise 3.1: `im2col` against `torch.nn.functional.unfold` (as `(N*L, C*k*k)` rows)
    for several shapes, strides and paddings."""
    from .nn import functional

    return _run("3.1", _check_im2col, verbose, im2col_fn=im2col_fn or functional.im2col)


def check_conv2d_forward(*, conv_cls=None, verbose: bool = True) -> CheckResult:
    """Exercise 3.2: `Conv2d.forward` against `torch.nn.functional.conv2d`."""
    from .nn import Conv2d

    return _run("3.2", _check_conv2d_forward, verbose, conv_cls=conv_cls or Conv2d)


def check_conv2d_backward(*, conv_cls=None, col2im_fn=None, verbose: bool = True) -> CheckResult:
    """Exercise 3.3: `col2im` against `torch.nn.functional.fold`, then `Conv2d.backward`
    (dx, weight.grad, bias.grad) against torch autograd and central differences."""
    from .nn import Conv2d, functional

    return _run(
        "3.3",
        _check_conv2d_backward,
        verbose,
        conv_cls=conv_cls or Conv2d,
        col2im_fn=col2im_fn or functional.col2im,
    )


def check_conv2d(
    *, conv_cls=None, im2col_fn=None, col2im_fn=None, verbose: bool = True
) -> CheckResult:
    """Exercises 3.1, 3.2 and 3.3."""
    parts = [
        check_im2col(im2col_fn=im2col_fn, verbose=False),
        check_conv2d_forward(conv_cls=conv_cls, verbose=False),
        check_conv2d_backward(conv_cls=conv_cls, col2im_fn=col2im_fn, verbose=False),
    ]
    return _group("convolution", parts, verbose)


# ----------------------------------------------------------------------------- 4.x BatchNorm
_MOMENTUM_HINT = (
    "momentum=0.1 weighs the new batch, torch's convention: running = "
    "(1 - momentum) * running + momentum * batch statistic"
)
_UNBIASED_RUNNING = (
    "running_var is updated with the unbiased batch variance (divide by "
    "M - 1, M = N * H * W values per channel), like torch; the normalisation "
    "itself uses the biased one (divide by M)"
)
_BIASED_NORM = (
    "normalise with the biased variance (divide by M = N * H * W), like torch; "
    "only running_var uses the unbiased one (M - 1)"
)


def _random_bn_state(state: dict[str, np.ndarray], rng) -> dict[str, np.ndarray]:
    """Random gamma (either sign), beta and running statistics for every BatchNorm in a
    state_dict; the defaults (1, 0, 0, 1) would hide a swapped gamma and beta."""
    out = dict(state)
    for key, v in state.items():
        owner, _, name = key.rpartition(".")
        if f"{owner}.running_var".lstrip(".") not in state:
            continue  # not a BatchNorm's entry
        c = v.shape[0] if v.ndim else 0
        if name == "weight":
            out[key] = rng.uniform(0.5, 1.5, c) * rng.choice([-1.0, 1.0], c)
        elif name == "bias":
            out[key] = 0.5 * rng.standard_normal(c)
        elif name == "running_mean":
            out[key] = rng.standard_normal(c)
        elif name == "running_var":
            out[key] = rng.uniform(0.5, 2.0, c)
        elif name == "num_batches_tracked":
            out[key] = np.array(3, dtype=np.int64)
    return out


def _to_torch_state(state: dict[str, np.ndarray]) -> dict:
    torch = _torch()
    return {k: torch.from_numpy(np.array(v, copy=True)) for k, v in state.items()}


def _bn_input(rng, shape=(4, 3, 3, 3)) -> np.ndarray:
    x = rng.standard_normal(shape)
    c = shape[1]
    scale, shift = np.geomspace(0.2, 5.0, c), np.linspace(-1.0, 3.0, c)
    return x * scale[:, None, None] + shift[:, None, None]  # channels that differ in mean/std


def _make_bn(res: CheckResult, bn_cls, c: int, rng):
    torch = _torch()
    layer = _call(res, "BatchNorm2d(...)", bn_cls, c, dtype=np.float64)
    state = _random_bn_state(_call(res, "BatchNorm2d.state_dict", layer.state_dict), rng)
    _call(res, "BatchNorm2d.load_state_dict", layer.load_state_dict, state)
    twin = torch.nn.BatchNorm2d(c, dtype=torch.float64)
    twin.load_state_dict(_to_torch_state(state))
    return layer, twin, state


def _bn_alternatives(x: np.ndarray, state, eps: float):
    """The outputs of the classic BatchNorm forward mistakes, in training mode."""
    g, b = state["weight"][:, None, None], state["bias"][:, None, None]
    m = x.shape[0] * x.shape[2] * x.shape[3]
    mean, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
    xc = x - mean
    mean0, var0 = x.mean(axis=0, keepdims=True), x.var(axis=0, keepdims=True)
    rm, rv = state["running_mean"][:, None, None], state["running_var"][:, None, None]
    return [
        (g * xc / np.sqrt(var * m / (m - 1) + eps) + b, _BIASED_NORM),
        (
            g * (x - mean0) / np.sqrt(var0 + eps) + b,
            "BatchNorm2d normalises each channel over (N, H, W): one mean and one variance per "
            "channel, not one per activation (averaging over N only)",
        ),
        (
            b * xc / np.sqrt(var + eps) + g,
            "weight (gamma) scales and bias (beta) shifts: y = gamma * xhat + beta",
        ),
        (
            g * xc / (np.sqrt(var) + eps) + b,
            "eps goes inside the square root: xhat = (x - mean) / sqrt(var + eps)",
        ),
        (
            g * (x - rm) / np.sqrt(rv + eps) + b,
            "in training mode normalise with the batch's mean and variance, not the running ones",
        ),
    ]


def _check_batchnorm_forward(res: CheckResult, bn_cls) -> None:
    torch = _torch()
    rng = np.random.default_rng(13)
    c = 3
    layer, twin, state = _make_bn(res, bn_cls, c, rng)
    eps, mom = twin.eps, twin.momentum
    for step in (1, 2):
        x = _bn_input(rng)
        if step == 1:
            x = _nchw_channels_last(x)
        x0 = x.copy()
        before = {k: np.array(v) for k, v in layer.state_dict().items()}
        y = _call(res, "BatchNorm2d.forward", layer.forward, x)
        _unchanged(res, "BatchNorm2d.forward", x0, x, "x")
        with torch.no_grad():
            want = twin(torch.from_numpy(np.ascontiguousarray(x0)))
        context = f" (training mode, batch {step}, x of shape {x.shape})"
        if not _compare(res, "forward output", y, want, context=context):
            _explain(res, y, _bn_alternatives(x0, before, eps))
            raise _Stop
        after = layer.state_dict()
        want_state = {k: v.numpy() for k, v in twin.state_dict().items()}
        bm = x0.mean(axis=(0, 2, 3))
        bv = x0.var(axis=(0, 2, 3))
        m = x0.size // c
        rm0, rv0 = before["running_mean"], before["running_var"]
        ok = True
        if not _compare(
            res, "running_mean", after["running_mean"], want_state["running_mean"], context=context
        ):
            ok = False
            _explain(
                res,
                after["running_mean"],
                [
                    (mom * rm0 + (1 - mom) * bm, _MOMENTUM_HINT),
                    (rm0, "update running_mean and running_var in every training-mode forward"),
                ],
            )
        if not _compare(
            res, "running_var", after["running_var"], want_state["running_var"], context=context
        ):
            ok = False
            _explain(
                res,
                after["running_var"],
                [
                    ((1 - mom) * rv0 + mom * bv, _UNBIASED_RUNNING),
                    (mom * rv0 + (1 - mom) * bv * m / (m - 1), _MOMENTUM_HINT),
                    (mom * rv0 + (1 - mom) * bv, _MOMENTUM_HINT + "; and " + _UNBIASED_RUNNING),
                    (rv0, "update running_mean and running_var in every training-mode forward"),
                ],
            )
        nbt = after.get("num_batches_tracked")
        if nbt is None or int(nbt) != int(want_state["num_batches_tracked"]):
            ok = False
            res.fail(
                f"num_batches_tracked is {nbt} after training batch {step}; expected "
                f"{int(want_state['num_batches_tracked'])}"
            )
            res.hint("add 1 to num_batches_tracked in every training-mode forward")
        if not ok:
            raise _Stop
    _call(res, "BatchNorm2d.eval", layer.eval)
    twin.eval()
    x = _bn_input(rng, (2, 3, 2, 3))
    before = {k: np.array(v) for k, v in layer.state_dict().items()}
    y = _call(res, "BatchNorm2d.forward", layer.forward, x)
    with torch.no_grad():
        want = twin(torch.from_numpy(x))
    if not _compare(res, "forward output", y, want, context=" (eval mode)"):
        g, b = before["weight"][:, None, None], before["bias"][:, None, None]
        mean, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
        _explain(
            res,
            y,
            [
                (
                    g * (x - mean) / np.sqrt(var + eps) + b,
                    "in eval mode normalise with running_mean and running_var, not the "
                    "batch statistics",
                )
            ],
        )
        raise _Stop
    after = layer.state_dict()
    if any(not np.array_equal(before[k], after[k]) for k in before):
        res.fail("an eval-mode forward changed the running statistics")
        res.hint(
            "eval mode only reads running_mean and running_var; update them (and "
            "num_batches_tracked) only when self.training is True"
        )
        raise _Stop
    layer32 = _call(res, "BatchNorm2d(...)", bn_cls, 2)
    y32 = _call(res, "BatchNorm2d.forward", layer32.forward, rng.random((2, 2, 2, 2), "f4"))
    if np.asarray(y32).dtype != np.float32:
        res.fail(f"a float32 BatchNorm2d returned {np.asarray(y32).dtype} for a float32 input")
        res.hint("keep the dtype: e.g. compute 1 / sqrt(var + eps) and cast it to x's dtype")
        raise _Stop
    res.ok(
        f"output, running_mean, running_var and num_batches_tracked match torch over two "
        f"training batches and in eval mode (relative error "
        f"{_worst(res, 'forward output', 'running_mean', 'running_var'):.0e})"
    )


def _check_batchnorm_backward(res: CheckResult, bn_cls) -> None:
    torch = _torch()
    rng = np.random.default_rng(14)
    for training in (True, False):
        layer, twin, state = _make_bn(res, bn_cls, 3, rng)
        mode = "training" if training else "eval"
        _call(res, "BatchNorm2d.train", layer.train, training)
        twin.train(training)
        x = _bn_input(rng)
        if training:
            x = _nchw_channels_last(x)
        y = np.asarray(_call(res, "BatchNorm2d.forward", layer.forward, x))
        dy = rng.standard_normal(y.shape)
        dy0 = dy.copy()
        dx = _call(res, "BatchNorm2d.backward", layer.backward, dy)
        _unchanged(res, "BatchNorm2d.backward", dy0, dy, "dy")
        xt = torch.tensor(np.ascontiguousarray(x), requires_grad=True)
        twin(xt).backward(torch.from_numpy(dy0))
        context = f" ({mode} mode, x of shape {x.shape})"
        g = state["weight"]
        mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
        invstd = 1 / np.sqrt((var if training else state["running_var"]) + twin.eps)
        xhat = (x - (mean if training else state["running_mean"])[:, None, None]) * invstd[
            :, None, None
        ]
        ok = True
        if not _compare(res, "dx", dx, xt.grad, context=context):
            ok = False
            if training:
                _explain(
                    res,
                    dx,
                    [
                        (
                            dy0 * (g * invstd)[:, None, None],
                            "in training mode the batch mean and variance depend on every input, "
                            "so dx has two more terms than dy * gamma / sqrt(var + eps): "
                            "differentiate through the mean and the variance too",
                        )
                    ],
                )
            else:
                res.hint(
                    "in eval mode the statistics are constants: dx = dy * gamma / "
                    "sqrt(running_var + eps)"
                )
        gw, gb = layer.weight.grad, layer.bias.grad
        if not _compare(res, "weight.grad", gw, twin.weight.grad, context=context):
            ok = False
            _explain(
                res,
                gw,
                [
                    (
                        (dy0 * (xhat / invstd[:, None, None])).sum(axis=(0, 2, 3)),
                        "weight.grad (dgamma) is sum(dy * xhat) over (N, H, W), with xhat the "
                        "normalised input, not the centred one",
                    )
                ],
            )
        if not _compare(res, "bias.grad", gb, twin.bias.grad, context=context):
            ok = False
            _explain(
                res,
                gb,
                [
                    (
                        dy0.mean(axis=(0, 2, 3)),
                        "bias.grad (dbeta) sums dy over (N, H, W); don't average",
                    )
                ],
            )
        if not ok:
            raise _Stop
    res.ok(
        f"dx, weight.grad and bias.grad match torch autograd in training and eval mode "
        f"(relative error {_worst(res, 'dx', 'weight.grad', 'bias.grad'):.0e})"
    )
    layer, _, _ = _make_bn(res, bn_cls, 2, rng)
    _gradcheck(res, layer, _bn_input(rng, (3, 2, 2, 2)), "BatchNorm2d", rng)


def check_batchnorm_forward(*, bn_cls=None, verbose: bool = True) -> CheckResult:
    """Exercise 4.1: `BatchNorm2d.forward` against `torch.nn.BatchNorm2d`: the output, the
    running statistics and num_batches_tracked over two training batches, then eval mode."""
    from .nn import BatchNorm2d

    return _run("4.1", _check_batchnorm_forward, verbose, bn_cls=bn_cls or BatchNorm2d)


def check_batchnorm_backward(*, bn_cls=None, verbose: bool = True) -> CheckResult:
    """Exercise 4.2: `BatchNorm2d.backward` in training and eval mode against torch autograd
    and central differences."""
    from .nn import BatchNorm2d

    return _run("4.2", _check_batchnorm_backward, verbose, bn_cls=bn_cls or BatchNorm2d)


def check_batchnorm(*, bn_cls=None, verbose: bool = True) -> CheckResult:
    """Exercises 4.1 and 4.2."""
    parts = [
        check_batchnorm_forward(bn_cls=bn_cls, verbose=False),
        check_batchnorm_backward(bn_cls=bn_cls, verbose=False),
    ]
    return _group("BatchNorm", parts, verbose)


# ----------------------------------------------------------------------------- 5.1 block
def _twin_paths(twin, xt):
    """The pre-activation `a` and the main path of a torch block (no shortcut)."""
    a = twin.act1(twin.bn1(xt))
    return a, twin.conv2(twin.act2(twin.bn2(twin.conv1(a))))


def _check_block(res: CheckResult, block_cls) -> None:
    torch = _torch()
    from .torch_model import PreActBlock as TorchBlock

    rng = np.random.default_rng(15)
    for i, (c_in, c_out, stride) in enumerate(((4, 4, 1), (3, 5, 2))):
        kind = "identity" if c_in == c_out and stride == 1 else "projection"
        block = _call(
            res,
            "PreActBlock(...)",
            block_cls,
            c_in,
            c_out,
            stride=stride,
            rng=np.random.default_rng(200 + i),
            dtype=np.float64,
        )
        state = _random_bn_state(block.state_dict(), rng)
        _call(res, "PreActBlock.load_state_dict", block.load_state_dict, state)
        twin = TorchBlock(c_in, c_out, stride).double()
        twin.load_state_dict(_to_torch_state(state))
        pristine = copy.deepcopy(twin)
        x = _nchw_channels_last(rng.standard_normal((2, c_in, 6, 6)))
        x0 = x.copy()
        y = np.asarray(_call(res, "PreActBlock.forward", block.forward, x))
        _unchanged(res, "PreActBlock.forward", x0, x, "x")
        xt = torch.tensor(np.ascontiguousarray(x0), requires_grad=True)
        yt = twin(xt)
        context = f" for PreActBlock({c_in}, {c_out}, stride={stride}) ({kind} shortcut)"
        if not _compare(res, "forward output", y, yt, context=context):
            with torch.no_grad():
                x_t = torch.from_numpy(np.ascontiguousarray(x0))
                a, main = _twin_paths(copy.deepcopy(pristine), x_t)
                alternatives = [(main, "add the shortcut: out = main path + shortcut")]
                if kind == "projection":
                    alternatives.append(
                        (
                            main + pristine.shortcut(x_t),
                            "the projection shortcut reads the pre-activated "
                            "a = silu(bn1(x)), not x",
                        )
                    )
                else:
                    alternatives.append(
                        (
                            main + a,
                            "the identity shortcut carries the raw x, "
                            "not the pre-activated silu(bn1(x))",
                        )
                    )
            _explain(res, y, alternatives)
            raise _Stop
        dy = rng.standard_normal(y.shape)
        dy0 = dy.copy()
        dx = _call(res, "PreActBlock.backward", block.backward, dy)
        _unchanged(res, "PreActBlock.backward", dy0, dy, "dy")
        yt.backward(torch.from_numpy(dy0))
        ok = True
        if not _compare(res, "dx", dx, xt.grad, context=context):
            ok = False
            res.hint(
                "dy flows back along both paths: add the shortcut's gradient to the "
                "main path's, at a for the projection, at x for the identity"
            )
        twin_params = dict(twin.named_parameters())
        for name, p in block.named_parameters():
            if name not in twin_params:
                res.fail(f"parameter {name} has no counterpart in the torch twin")
                ok = False
                continue
            ok &= _compare(res, f"{name}.grad", p.grad, twin_params[name].grad, context=context)
        twin_state = twin.state_dict()
        for name, v in block.state_dict().items():
            if "running" in name:
                ok &= _compare(res, name, v, twin_state[name], context=context)
        if not ok:
            raise _Stop
        _call(res, "PreActBlock.eval", block.eval)
        twin.eval()
        x = rng.standard_normal((2, c_in, 6, 6))
        y = _call(res, "PreActBlock.forward", block.forward, x)
        with torch.no_grad():
            want = twin(torch.from_numpy(x))
        if not _compare(res, "forward output", y, want, context=context + " in eval mode"):
            raise _Stop
    worst = max(res.errors.values(), default=0.0)
    res.ok(
        f"output, dx, every parameter gradient and the running statistics match the torch "
        f"twin for the identity and the projection block (relative error {worst:.0e})"
    )


def check_block(*, block_cls=None, verbose: bool = True) -> CheckResult:
    """Exercise 5.1: `PreActBlock` forward and backward against its torch twin
    (`torch_model.PreActBlock`), with an identity and a projection shortcut."""
    from .nn import PreActBlock

    return _run("5.1", _check_block, verbose, block_cls=block_cls or PreActBlock)


# ----------------------------------------------------------------------------- 7.x training
# (label, SGD keyword arguments, steps, step at which lr changes to half, hint on failure)
_SGD_SCENARIOS = (
    ("plain SGD", dict(lr=0.1), 2, None, "p = p - lr * grad (in place: p.data -= ...)"),
    (
        "weight decay",
        dict(lr=0.1, weight_decay=0.1),
        2,
        None,
        "weight decay adds weight_decay * p to the gradient: g = grad + weight_decay * p",
    ),
    (
        "momentum",
        dict(lr=0.1, momentum=0.9),
        3,
        None,
        "buf = momentum * buf + g, then p -= lr * buf, with one buffer per parameter kept "
        "across steps (self.momentum_buffers); on the first step buf = g",
    ),
    (
        "momentum and weight decay",
        dict(lr=0.1, momentum=0.9, weight_decay=0.1),
        3,
        None,
        "weight decay joins the gradient before the momentum buffer: g = grad + "
        "weight_decay * p, then buf = momentum * buf + g",
    ),
    (
        "Nesterov momentum",
        dict(lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True),
        3,
        None,
        "with nesterov=True the step uses g + momentum * buf instead of buf",
    ),
    (
        "a learning rate that changes",
        dict(lr=0.1, momentum=0.9),
        3,
        2,
        "the buffer holds gradients, not steps: multiply by the current lr when updating "
        "(p -= lr * buf), so a new lr from the scheduler takes effect at once",
    ),
)


def _check_sgd(res: CheckResult, sgd_cls) -> None:
    torch = _torch()
    from .nn.module import Parameter

    shapes = ((3, 4), (5,), (2, 2, 3))
    for label, kwargs, steps, lr_change, hint in _SGD_SCENARIOS:
        rng = np.random.default_rng(16)
        init = [rng.standard_normal(s) for s in shapes]
        params = [Parameter(a.copy()) for a in init]
        opt = _call(res, "SGD(...)", sgd_cls, params, **kwargs)
        tparams = [torch.tensor(a, requires_grad=True) for a in init]
        topt = torch.optim.SGD(tparams, **kwargs)
        for t in range(1, steps + 1):
            if t == lr_change:
                opt.lr = kwargs["lr"] / 2
                topt.param_groups[0]["lr"] = kwargs["lr"] / 2
            grads = [rng.standard_normal(s) for s in shapes]
            for p, tp, g in zip(params, tparams, grads, strict=True):
                p.grad, tp.grad = g.copy(), torch.from_numpy(g.copy())
            if t == 2:  # a parameter without a gradient this step is left alone
                params[1].grad = tparams[1].grad = None
            _call(
                res,
                "SGD.step",
                opt.step,
                hint="skip parameters whose grad is None (torch does)" if t == 2 else None,
            )
            topt.step()
            for i, (p, g) in enumerate(zip(params, grads, strict=True)):
                if p.grad is not None and not np.array_equal(p.grad, g):
                    res.fail(f"SGD.step modified parameter {i}'s grad ({label}, step {t})")
                    res.hint(
                        "don't modify p.grad: `g += weight_decay * p.data` or a buffer "
                        "that shares the gradient's memory (`buf = g`, then "
                        "`buf *= momentum`) changes it; copy the gradient into the buffer"
                    )
                    raise _Stop
            for i, (p, tp) in enumerate(zip(params, tparams, strict=True)):
                context = f" for {label} ({kwargs}), step {t}"
                if not _compare(res, f"parameter {i}", p.data, tp, context=context):
                    res.hint(hint)
                    raise _Stop
    worst = max(res.errors.values(), default=0.0)
    res.ok(
        f"parameters match torch.optim.SGD in {len(_SGD_SCENARIOS)} scenarios (momentum, "
        f"weight decay, Nesterov, a changing lr, a grad of None; relative error {worst:.0e})"
    )


def check_sgd(*, sgd_cls=None, verbose: bool = True) -> CheckResult:
    """Exercise 7.1: `SGD.step` against `torch.optim.SGD`, scenario by scenario (plain, weight
    decay, momentum, both, Nesterov, a changing lr), so a failure names the feature."""
    from .optim import SGD

    return _run("7.1", _check_sgd, verbose, sgd_cls=sgd_cls or SGD)


def _torch_lrs(base_lr: float, milestones, gamma: float, epochs: int) -> list[float]:
    torch = _torch()
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=base_lr)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, list(milestones), gamma)
    out = []
    for _ in range(epochs + 1):
        out.append(opt.param_groups[0]["lr"])
        opt.step()  # no gradient: changes nothing, but keeps the scheduler's order check quiet
        sched.step()
    return out


def _check_lr_schedule(res: CheckResult, lr_fn) -> None:
    cases = ((0.03, (15, 25), 0.1, 30), (1.0, (2, 5, 5, 9), 0.5, 12), (0.1, (), 0.1, 4))
    for base, milestones, gamma, epochs in cases:
        want = _torch_lrs(base, milestones, gamma, epochs)
        got = [
            _call(res, "multistep_lr", lr_fn, base, e, milestones, gamma) for e in range(epochs + 1)
        ]
        for e, (g, w) in enumerate(zip(got, want, strict=True)):
            if not _matches(g, w, rtol=1e-9):
                res.fail(
                    f"multistep_lr({base}, epoch={e}, milestones={milestones}, "
                    f"gamma={gamma}) = {g}; expected {w:.6g} (torch's MultiStepLR after "
                    f"{e} steps)"
                )
                late = [_matches(a, b, rtol=1e-9) for a, b in zip(got[1:], want[:-1], strict=True)]
                if all(late):
                    res.hint(
                        "the rate drops at epoch == milestone: count the milestones with "
                        "m <= epoch, not m < epoch"
                    )
                elif len(set(milestones)) < len(milestones):
                    res.hint(
                        "a milestone listed twice counts twice (torch multiplies by "
                        "gamma once per entry)"
                    )
                else:
                    res.hint("the rate is base_lr * gamma ** (the number of milestones m <= epoch)")
                raise _Stop
    res.ok("multistep_lr matches torch's MultiStepLR at every epoch of three schedules")


def check_lr_schedule(*, lr_fn=None, verbose: bool = True) -> CheckResult:
    """Exercise 7.2: `multistep_lr(base_lr, epoch, milestones, gamma)` against torch's
    `MultiStepLR`, epoch by epoch."""
    from .optim import multistep_lr

    return _run("7.2", _check_lr_schedule, verbose, lr_fn=lr_fn or multistep_lr)


def _moved(x: np.ndarray, sx, sy, flip, *, wrap: bool = False) -> np.ndarray:
    """Where the documented rule sends each pixel (a slow reference, one pixel at a time):
    the pixel at (i, j) of the image, mirrored first if `flip`, lands at (i + sy, j + sx)."""
    n, _, h, w = x.shape
    out = np.zeros_like(x)
    for k in range(n):
        for i in range(h):
            for j in range(w):
                jj = w - 1 - j if flip[k] else j
                di, dj = i + sy[k], jj + sx[k]
                if wrap:
                    di, dj = di % h, dj % w
                if 0 <= di < h and 0 <= dj < w:
                    out[k, :, di, dj] = x[k, :, i, j]
    return out


def _check_augmentation(res: CheckResult, augment_fn) -> None:
    rng = np.random.default_rng(17)
    x = rng.random((6, 2, 5, 7))
    sx = np.array([1, -2, 0, 3, 0, -1])
    sy = np.array([0, 1, -1, 0, 2, -2])
    fl = np.array([False, False, True, True, False, True])
    x0 = x.copy()
    out = _call(res, "apply_augmentation", augment_fn, x, sx, sy, fl)
    _unchanged(res, "apply_augmentation", x0, x, "x")
    want = _moved(x0, sx, sy, fl)
    context = (
        f" for x of shape {x.shape}, shift_x={sx.tolist()}, shift_y={sy.tolist()}, "
        f"flip={fl.astype(int).tolist()}"
    )
    if not _compare(res, "augmented images", out, want, context=context):
        no = np.zeros_like(fl)
        flipped_after = _moved(x0, sx, sy, no)
        flipped_after[fl] = flipped_after[fl][..., ::-1]
        first = np.zeros_like(sx) + sx[0], np.zeros_like(sy) + sy[0], np.zeros_like(fl) | fl[0]
        _explain(
            res,
            out,
            [
                (
                    _moved(x0, -sx, -sy, fl),
                    "a positive shift_x moves the content right and a positive shift_y "
                    "moves it down: out[..., i, j] = src[..., i - shift_y, j - shift_x]",
                ),
                (_moved(x0, sy, sx, fl), "shift_x moves along W (columns), shift_y along H (rows)"),
                (
                    _moved(x0, sx, sy, fl, wrap=True),
                    "vacated pixels are 0: nothing wraps around (np.roll wraps)",
                ),
                (
                    flipped_after,
                    "flip first, then shift, so shift_x means 'to the right' either way",
                ),
                (_moved(x0, *first), "each image n has its own shift_x[n], shift_y[n], flip[n]"),
            ],
        )
        raise _Stop
    for args, label in (
        ((2, 0, False), "scalars"),
        ((0, -1, True), "scalars with a flip"),
        ((7, 0, False), "a shift of the whole width"),
    ):
        out = _call(res, "apply_augmentation", augment_fn, x0, *args)
        n = len(x0)
        want = _moved(x0, [args[0]] * n, [args[1]] * n, [args[2]] * n)
        if not _compare(res, "augmented images", out, want, context=f" for {label} {args}"):
            raise _Stop
    img = (rng.random((5, 7)) * 255).astype(np.uint8)
    out = _call(res, "apply_augmentation", augment_fn, img, 1, 1, True)
    out = np.asarray(out)
    if out.shape != img.shape or out.dtype != img.dtype:
        res.fail(
            f"one (H, W) uint8 image came back with shape {out.shape} and dtype "
            f"{out.dtype}; expected {img.shape} and uint8"
        )
        res.hint("return the input's shape and dtype (fill with np.zeros((), dtype=x.dtype))")
        raise _Stop
    res.ok(
        "flips and shifts match the documented rule for per-image and scalar parameters, "
        "and a single uint8 image keeps its shape and dtype"
    )


def check_augmentation(*, augment_fn=None, verbose: bool = True) -> CheckResult:
    """Exercise 7.3: `apply_augmentation(x, shift_x, shift_y, flip)` against the documented
    rule, pixel by pixel."""
    from .augment import apply_augmentation

    return _run("7.3", _check_augmentation, verbose, augment_fn=augment_fn or apply_augmentation)


# ----------------------------------------------------------------------------- 8.1 epoch
class _FakeLoader:
    """Three batches of 4, 4 and 2 images (a smaller last batch, as in a real epoch)."""

    sizes = (4, 4, 2)

    def __len__(self) -> int:
        return len(self.sizes)

    def epoch(self, epoch: int):
        for k in self.sizes:
            yield np.zeros((k, 1, 28, 28), np.float32), np.zeros(k, np.int64)


class _FakeEngine:
    """Returns known (loss, correct) pairs, so the epoch's averages are known exactly."""

    name = "check"
    steps = ((1.0, 1), (2.0, 2), (4.0, 2))

    def __init__(self) -> None:
        self.calls = 0

    def train_step(self, xb, yb):
        loss, ok = self.steps[self.calls % len(self.steps)]
        self.calls += 1
        return loss, ok


def _check_epoch_averages(res: CheckResult, train_one_epoch_fn) -> None:
    engine = _FakeEngine()
    out = _call(res, "train_one_epoch", train_one_epoch_fn, engine, _FakeLoader(), 1)
    if engine.calls != 3:
        res.fail(f"train_one_epoch called engine.train_step {engine.calls} times for 3 batches")
        res.hint("call engine.train_step(xb, yb) once per mini-batch of loader.epoch(epoch)")
        raise _Stop
    if not isinstance(out, tuple) or len(out) != 2:
        res.fail(f"train_one_epoch returned {out!r}; expected (train_loss, train_acc)")
        raise _Stop
    loss, acc = out
    context = " for batches of 4, 4, 2 images with mean losses 1, 2, 4 and 1, 2, 2 correct"
    ok = _compare(res, "train_loss", loss, 2.0, context=context)
    if not ok:
        _explain(
            res,
            loss,
            [
                (
                    7 / 3,
                    "weigh each batch's mean loss by its size: "
                    "sum(loss_b * N_b) / sum(N_b); a plain mean over batches over-weights a "
                    "smaller last batch",
                )
            ],
        )
    if not _compare(res, "train_acc", acc, 50.0, context=context):
        ok = False
        _explain(res, acc, [(0.5, "train_acc is in percent: 100 * correct / seen")])
    if not ok:
        raise _Stop


_NO_STEP = (
    "the weights did not move: after the backward pass "
    "(self.model.backward(self.loss_fn.backward(), ...)) call self.optimizer.step()"
)


def _check_train_step(res: CheckResult, engine_cls) -> None:
    torch = _torch()
    from .models import build_numpy_model
    from .train import TorchEngine, TrainConfig

    cfg = TrainConfig(
        task="numpy", widths=(4, 4, 8), batch_size=8, lr=0.05, milestones=(), seed=3, device="cpu"
    )
    init = build_numpy_model(cfg.widths, cfg.num_classes, cfg.seed).state_dict()
    engine = _call(res, "NumpyEngine(...)", engine_cls, cfg, init)
    twin = TorchEngine(replace(cfg, task="torch"), init)
    eval_twin = copy.deepcopy(twin.model).eval()
    engine.model.eval()  # as `evaluate` leaves it after an epoch
    rng = np.random.default_rng(18)
    for step in range(1, 4):
        xb = rng.random((8, 1, 28, 28), dtype=np.float32)
        yb = rng.integers(0, 10, size=8).astype(np.int64)
        out = _call(res, "NumpyEngine.train_step", engine.train_step, xb, yb)
        want_loss, want_ok = twin.train_step(xb, yb)
        if not isinstance(out, tuple) or len(out) != 2:
            res.fail(f"train_step returned {out!r}; expected (loss, number correct)")
            raise _Stop
        loss, ok = out
        context = f" at step {step} (a float32 model, widths {cfg.widths}, batch 8)"
        if not _compare(res, "loss", loss, want_loss, rtol=STEP_RTOL, context=context):
            params = dict(engine.model.named_parameters())
            if step > 1 and all(np.array_equal(p.data, init[k]) for k, p in params.items()):
                res.hint(_NO_STEP)
            elif step == 1:
                with torch.no_grad():
                    logits = eval_twin(torch.from_numpy(xb))
                    eval_loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(yb))
                _explain(
                    res,
                    loss,
                    [
                        (
                            eval_loss.item(),
                            "call self.model.train() first: "
                            "`evaluate` leaves the model in eval mode",
                        )
                    ],
                )
            raise _Stop
        if int(ok) != want_ok:
            res.fail(
                f"train_step counted {ok} correct predictions{context}; torch counts {want_ok}"
            )
            res.hint("count argmax(logits, axis=1) == y over the batch")
            raise _Stop
    got, want = engine.state_dict(), twin.state_dict()
    for key in want:
        if not _compare(res, key, got[key], want[key], rtol=STEP_RTOL, context=" after 3 steps"):
            if np.array_equal(got[key], init[key]):
                res.hint(_NO_STEP)
            raise _Stop


def _check_train_epoch(res: CheckResult, train_one_epoch_fn, engine_cls) -> None:
    _check_epoch_averages(res, train_one_epoch_fn)
    res.ok("train_one_epoch averages the loss per image and the accuracy in percent")
    _check_train_step(res, engine_cls)
    res.ok(
        "three NumpyEngine.train_step calls match TorchEngine's: losses, correct counts "
        f"and every weight afterwards (relative error {_worst(res, 'loss'):.0e} on the loss)"
    )


def check_train_epoch(
    *, train_one_epoch_fn=None, engine_cls=None, verbose: bool = True
) -> CheckResult:
    """Exercise 8.1: `train_one_epoch`'s averages with a scripted engine, then three
    `NumpyEngine.train_step` calls against `TorchEngine`'s from the same weights."""
    from . import train

    return _run(
        "8.1",
        _check_train_epoch,
        verbose,
        train_one_epoch_fn=train_one_epoch_fn or train.train_one_epoch,
        engine_cls=engine_cls or train.NumpyEngine,
    )


# ----------------------------------------------------------------------------- by number
def check(exercise: str, *, verbose: bool = True) -> CheckResult:
    """Run one exercise's check by number, e.g. `check("3.2")`."""
    if exercise not in EXERCISES:
        raise KeyError(f"no exercise {exercise!r}; the exercises are {', '.join(EXERCISES)}")
    return globals()[EXERCISES[exercise].check](verbose=verbose)


def check_all(*, verbose: bool = True) -> dict[str, CheckResult]:
    """Run every exercise's check; print one status line each (and the failures' reports)."""
    results = {ex: check(ex, verbose=False) for ex in EXERCISES}
    if verbose:
        for ex, r in results.items():
            print(f"Exercise {ex:>4} {EXERCISES[ex].title:<34} {r.status}")
        for r in results.values():
            if not r.passed and r.implemented:
                print()
                print(r.report())
    return results
