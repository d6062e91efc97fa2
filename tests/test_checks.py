"""Tests for lab01_utils/checks/: each classic mistake, planted in a copy of the solution, is
caught with its hint; each exercise's stub alone reads "not implemented yet"; nothing raises.

Instructor-only (it holds copies of the solutions): `make student` leaves it out.
"""

from __future__ import annotations

import inspect
import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from lab01_utils import checks, engines, release
from lab01_utils.augment import _per_image
from lab01_utils.nn import BatchNorm2d, Conv2d, CrossEntropyLoss, Linear, PreActBlock, SiLU
from lab01_utils.nn.activation import sigmoid
from lab01_utils.nn.functional import check_input, conv_output_size
from lab01_utils.optim import SGD

PACKAGE = Path(checks.__file__).resolve().parents[1]  # lab01_utils/


def assert_caught(result: checks.CheckResult, *needles: str) -> None:
    """The check failed (as a finished check, not a stub) and its report says each needle."""
    report = result.report()
    assert not result.passed, report
    assert result.implemented, report
    for needle in needles:
        assert needle in report, f"{needle!r} missing from:\n{report}"


# ----------------------------------------------------------------------------- the classic mistakes
def _batchnorm_train_forward(bn, x, normalise_var, running_var):
    """The solution's training forward with the variance used to normalise and the one fed
    to running_var chosen by the caller (`(var_biased, m) -> var`)."""
    axes, b = (0, 2, 3), (None, slice(None), None, None)
    m = x.size // x.shape[1]
    mean = x.mean(axis=axes)
    var = ((x - mean[b]) ** 2).mean(axis=axes)
    mom = bn.momentum
    bn.running_mean = (1 - mom) * bn.running_mean + mom * mean
    bn.running_var = (1 - mom) * bn.running_var + mom * running_var(var, m)
    bn.num_batches_tracked = bn.num_batches_tracked + 1
    var_n = normalise_var(var, m)
    invstd = 1.0 / np.sqrt(var_n + bn.eps)
    xhat = (x - mean[b]) * invstd[b]
    bn.cache = (xhat, invstd, True)
    return bn.weight.data[b] * xhat + bn.bias.data[b]


class BatchNormBiasedRunningVar(BatchNorm2d):
    """The solution's training forward, but running_var takes the biased variance."""

    def forward(self, x):
        return _batchnorm_train_forward(
            self,
            x,
            lambda v, m: v,
            lambda v, m: v,  # planted: running_var biased
        )


class BatchNormUnbiasedNormalisation(BatchNorm2d):
    """Normalises with the unbiased variance (and feeds that one to running_var)."""

    def forward(self, x):
        unbiased = lambda v, m: v * m / (m - 1)  # noqa: E731
        return _batchnorm_train_forward(self, x, unbiased, unbiased)  # planted: M - 1


class BatchNormKerasMomentum(BatchNorm2d):
    """Keras's momentum convention: 0.1 weighs the *old* running statistics."""

    def forward(self, x):
        if not self.training:
            return super().forward(x)
        old_mean, old_var = self.running_mean.copy(), self.running_var.copy()
        y = super().forward(x)
        mom = self.momentum
        new_mean = (self.running_mean - (1 - mom) * old_mean) / mom  # the batch mean
        new_var = (self.running_var - (1 - mom) * old_var) / mom
        self.running_mean = mom * old_mean + (1 - mom) * new_mean  # planted
        self.running_var = mom * old_var + (1 - mom) * new_var
        return y


class ConvFlippedKernel(Conv2d):
    """The solution's forward with the kernel flipped in space (a true convolution)."""

    def forward(self, x):
        weight = self.weight.data
        self.weight.data = weight[:, :, ::-1, ::-1].copy()  # planted
        try:
            return super().forward(x)
        finally:
            self.weight.data = weight


class ConvWithoutBias(Conv2d):
    def forward(self, x):
        y = super().forward(x)
        return y - self.bias.data[None, :, None, None] if self.bias is not None else y


def col2im_uncropped(dcols, x_shape, kernel_size, stride, padding):
    """The solution's col2im without the final crop of the padding border."""
    n, c, h, w = x_shape
    k, s, p = kernel_size, stride, padding
    h_out, w_out = conv_output_size(h, k, s, p), conv_output_size(w, k, s, p)
    d = dcols.reshape(n, h_out, w_out, c, k, k)
    dxp = np.zeros((n, c, h + 2 * p, w + 2 * p), dtype=dcols.dtype)
    for u in range(k):
        for v in range(k):
            dxp[:, :, u : u + s * h_out : s, v : v + s * w_out : s] += d[..., u, v].transpose(
                0, 3, 1, 2
            )
    return dxp  # planted: the padding border is still on


class ConvBackwardUncropped(Conv2d):
    """Backward through col2im that forgets to crop the padding."""

    def backward(self, dy):
        x_shape, cols = self.cache
        dy2 = dy.transpose(0, 2, 3, 1).reshape(-1, self.out_channels)
        w_mat = self.weight.data.reshape(self.out_channels, -1)
        self.weight.grad = (dy2.T @ cols).reshape(self.weight.data.shape)
        if self.bias is not None:
            self.bias.grad = dy2.sum(axis=0)
        return col2im_uncropped(dy2 @ w_mat, x_shape, self.kernel_size, self.stride, self.padding)


class CrossEntropyNotAveraged(CrossEntropyLoss):
    """The solution's backward without the 1/N of the mean."""

    def backward(self, dy=1.0):
        logp, y = self.cache
        n = logp.shape[0]
        d = np.exp(logp)
        d[np.arange(n), y] -= 1.0
        d *= dy  # planted: not divided by n
        return d


class SiLUInPlaceBackward(SiLU):
    """The right dx, computed into the caller's dy."""

    def backward(self, dy):
        x, s = self.cache
        dy *= s * (1.0 + x * (1.0 - s))  # planted: dy is the caller's array
        return dy


class SiLUInPlaceForward(SiLU):
    """The right output, computed into the caller's x."""

    def forward(self, x):
        s = sigmoid(x)
        self.cache = (x.copy(), s)
        x *= s  # planted
        return x


class SiLUNoProductRule(SiLU):
    def backward(self, dy):
        x, s = self.cache
        return dy * s  # planted: d(x * s)/dx is not s


class LinearMeanBiasGrad(Linear):
    def backward(self, dy):
        dx = super().backward(dy)
        self.bias.grad = dy.mean(axis=0)  # planted
        return dx


class SGDDecayAfterMomentum(SGD):
    """Weight decay added to the step instead of to the gradient."""

    def step(self):
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad
            if self.momentum:
                buf = self.momentum_buffers[i]
                if buf is None:
                    buf = self.momentum_buffers[i] = np.array(g, copy=True)
                else:
                    buf *= self.momentum
                    buf += g
                g = buf
            p.data -= self.lr * (g + self.weight_decay * p.data)  # planted


class SGDDecayIntoGrad(SGD):
    """The solution's step, but weight decay is added into p.grad itself."""

    def step(self):
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad
            if self.weight_decay:
                g += self.weight_decay * p.data  # planted: g is p.grad
            if self.momentum:
                buf = self.momentum_buffers[i]
                if buf is None:
                    buf = self.momentum_buffers[i] = np.array(g, copy=True)
                else:
                    buf *= self.momentum
                    buf += g
                g = g + self.momentum * buf if self.nesterov else buf
            p.data -= self.lr * g


def multistep_lr_early(base_lr, epoch, milestones, gamma=0.1):
    return base_lr * gamma ** sum(1 for m in milestones if m < epoch)  # planted: < for <=


def augmentation_backwards(x, shift_x=0, shift_y=0, flip=False):
    """The solution's gather with the shifts' signs reversed."""
    x = np.asarray(x)
    x4 = x.reshape((1,) * (4 - x.ndim) + x.shape)
    n, c, h, w = x4.shape
    sx = _per_image(shift_x, n, "shift_x", integer=True)
    sy = _per_image(shift_y, n, "shift_y", integer=True)
    fl = _per_image(flip, n, "flip", integer=False)
    rows = np.arange(h)[None, :] + sy[:, None]  # planted: + for -
    cols = np.arange(w)[None, :] + sx[:, None]
    cols = np.where(fl[:, None], w - 1 - cols, cols)
    row_ok = (rows >= 0) & (rows < h)
    col_ok = (cols >= 0) & (cols < w)
    out = x4[
        np.arange(n)[:, None, None, None],
        np.arange(c)[None, :, None, None],
        np.clip(rows, 0, h - 1)[:, None, :, None],
        np.clip(cols, 0, w - 1)[:, None, None, :],
    ]
    inside = row_ok[:, None, :, None] & col_ok[:, None, None, :]
    return np.where(inside, out, np.zeros((), dtype=x.dtype)).reshape(x.shape)


class BlockProjectionFromX(PreActBlock):
    """The projection shortcut reads x instead of the pre-activated a."""

    def forward(self, x):
        check_input("PreActBlock", x, 4, self.in_channels)
        a = self.act1(self.bn1(x))
        short = self.shortcut(x) if self.has_projection else x  # planted
        out = self.conv2(self.act2(self.bn2(self.conv1(a))))
        return out + short


class BlockNoShortcutGradient(PreActBlock):
    def backward(self, dy):
        da = self.conv1.backward(self.bn2.backward(self.act2.backward(self.conv2.backward(dy))))
        if self.has_projection:
            self.shortcut.backward(dy)
        return self.bn1.backward(self.act1.backward(da))  # planted: the shortcut's dx is lost


def train_one_epoch_unweighted(engine, loader, epoch, **kwargs):
    """The mean of the batch means: a smaller last batch counts as much as a full one."""
    losses, correct, seen = [], 0, 0
    for xb, yb in loader.epoch(epoch):
        loss, ok = engine.train_step(xb, yb)
        losses.append(loss)  # planted
        correct += ok
        seen += len(yb)
    return float(np.mean(losses)), 100.0 * correct / seen


class EngineWithoutTrainMode(engines.NumpyEngine):
    def train_step(self, xb, yb):
        logits = self.model(xb)  # planted: no self.model.train()
        loss = self.loss_fn(logits, yb)
        self.model.backward(self.loss_fn.backward(), input_grad=False)
        self.optimizer.step()
        return loss, int((logits.argmax(axis=1) == yb).sum())


class EngineWithoutStep(engines.NumpyEngine):
    def train_step(self, xb, yb):
        self.model.train()
        logits = self.model(xb)
        loss = self.loss_fn(logits, yb)
        self.model.backward(self.loss_fn.backward(), input_grad=False)
        return loss, int((logits.argmax(axis=1) == yb).sum())  # planted: no optimizer.step()


PLANTED = {
    "running_var from the biased variance": (
        lambda: checks.check_batchnorm_forward(bn_cls=BatchNormBiasedRunningVar, verbose=False),
        ("running_var", "unbiased", "M - 1"),
    ),
    "normalising with the unbiased variance": (
        lambda: checks.check_batchnorm_forward(
            bn_cls=BatchNormUnbiasedNormalisation, verbose=False
        ),
        ("forward output", "biased variance"),
    ),
    "Keras's momentum": (
        lambda: checks.check_batchnorm_forward(bn_cls=BatchNormKerasMomentum, verbose=False),
        ("running_mean", "momentum=0.1 weighs the new batch"),
    ),
    "kernel flipped": (
        lambda: checks.check_conv2d_forward(conv_cls=ConvFlippedKernel, verbose=False),
        ("forward output", "don't flip the kernel", "first difference at index"),
    ),
    "conv bias forgotten": (
        lambda: checks.check_conv2d_forward(conv_cls=ConvWithoutBias, verbose=False),
        ("add the bias",),
    ),
    "col2im padding not cropped": (
        lambda: checks.check_conv2d_backward(col2im_fn=col2im_uncropped, verbose=False),
        ("col2im output has shape", "padding not cropped", "your values are right"),
    ),
    "conv backward padding not cropped": (
        lambda: checks.check_conv2d_backward(conv_cls=ConvBackwardUncropped, verbose=False),
        ("dx has shape", "padding not cropped"),
    ),
    "cross-entropy gradient not averaged over the batch": (
        lambda: checks.check_cross_entropy_backward(
            loss_cls=CrossEntropyNotAveraged, verbose=False
        ),
        ("dlogits", "not averaged over the batch", "the mean's 1/N"),
    ),
    "dy modified in place": (
        lambda: checks.check_silu_backward(silu_cls=SiLUInPlaceBackward, verbose=False),
        ("SiLU.backward modified its input dy in place", "never write into an array"),
    ),
    "x modified in place": (
        lambda: checks.check_silu_forward(silu_cls=SiLUInPlaceForward, verbose=False),
        ("SiLU.forward modified its input x in place",),
    ),
    "SiLU derivative without the product rule": (
        lambda: checks.check_silu_backward(silu_cls=SiLUNoProductRule, verbose=False),
        ("dx: relative error", "product rule"),
    ),
    "Linear bias gradient averaged": (
        lambda: checks.check_linear_backward(linear_cls=LinearMeanBiasGrad, verbose=False),
        ("bias.grad", "don't average"),
    ),
    "weight decay after the momentum": (
        lambda: checks.check_sgd(sgd_cls=SGDDecayAfterMomentum, verbose=False),
        ("momentum and weight decay", "before the momentum buffer"),
    ),
    "weight decay added into p.grad": (
        lambda: checks.check_sgd(sgd_cls=SGDDecayIntoGrad, verbose=False),
        ("SGD.step modified parameter 0's grad", "don't modify p.grad"),
    ),
    "schedule one epoch early": (
        lambda: checks.check_lr_schedule(lr_fn=multistep_lr_early, verbose=False),
        ("epoch=15", "m <= epoch"),
    ),
    "augmentation shifted the wrong way": (
        lambda: checks.check_augmentation(augment_fn=augmentation_backwards, verbose=False),
        ("augmented images", "a positive shift_x moves the content right"),
    ),
    "projection shortcut reading x": (
        lambda: checks.check_block(block_cls=BlockProjectionFromX, verbose=False),
        ("projection shortcut", "pre-activated"),
    ),
    "shortcut gradient dropped": (
        lambda: checks.check_block(block_cls=BlockNoShortcutGradient, verbose=False),
        ("dx: relative error", "add the shortcut's gradient"),
    ),
    "epoch loss as a plain mean of batch means": (
        lambda: checks.check_train_epoch(
            train_one_epoch_fn=train_one_epoch_unweighted, verbose=False
        ),
        ("train_loss", "weigh each batch's mean loss by its size"),
    ),
    "train_step without model.train()": (
        lambda: checks.check_train_epoch(engine_cls=EngineWithoutTrainMode, verbose=False),
        ("loss: relative error", "self.model.train()"),
    ),
    "train_step without optimizer.step()": (
        lambda: checks.check_train_epoch(engine_cls=EngineWithoutStep, verbose=False),
        ("loss: relative error", "the weights did not move", "self.optimizer.step()"),
    ),
}


@pytest.mark.parametrize("mistake", list(PLANTED))
def test_a_planted_mistake_is_caught_with_its_hint(mistake):
    run, needles = PLANTED[mistake]
    assert_caught(run(), *needles)


# ----------------------------------------------------------------------------- stubs
def stubbed(monkeypatch, relpath: str, exercise: str) -> types.ModuleType:
    """`lab01_utils/<relpath>` executed with only `exercise`'s regions stubbed, as the student
    release has it (the module's own imports still resolve to the real package)."""
    path = PACKAGE / relpath
    text, regions = release.strip_solutions(path.read_text(), relpath, only={exercise})
    assert any(r.exercise == exercise for r in regions), f"{relpath} has no {exercise} region"
    package = ".".join(("lab01_utils", *Path(relpath).parent.parts))
    name = f"{package}._stub_{Path(relpath).stem}"
    module = types.ModuleType(name)
    module.__package__, module.__file__ = package, str(path)
    monkeypatch.setitem(sys.modules, name, module)  # dataclasses look their module up
    exec(compile(text, str(path), "exec"), module.__dict__)
    return module


def _stub_check(monkeypatch, exercise: str) -> checks.CheckResult:
    def mod(relpath):
        return stubbed(monkeypatch, relpath, exercise)

    q = {"verbose": False}
    match exercise:
        case "1.1":
            return checks.check_silu_forward(silu_cls=mod("nn/activation.py").SiLU, **q)
        case "1.2":
            return checks.check_silu_backward(silu_cls=mod("nn/activation.py").SiLU, **q)
        case "2.1":
            return checks.check_linear_forward(linear_cls=mod("nn/linear.py").Linear, **q)
        case "2.2":
            return checks.check_linear_backward(linear_cls=mod("nn/linear.py").Linear, **q)
        case "2.3":
            m = mod("nn/loss.py")
            return checks.check_cross_entropy_forward(
                loss_cls=m.CrossEntropyLoss, log_softmax_fn=m.log_softmax, **q
            )
        case "2.4":
            return checks.check_cross_entropy_backward(
                loss_cls=mod("nn/loss.py").CrossEntropyLoss, **q
            )
        case "3.1":
            return checks.check_im2col(im2col_fn=mod("nn/functional.py").im2col, **q)
        case "3.2":
            return checks.check_conv2d_forward(conv_cls=mod("nn/conv.py").Conv2d, **q)
        case "3.3":
            return checks.check_conv2d_backward(
                conv_cls=mod("nn/conv.py").Conv2d, col2im_fn=mod("nn/functional.py").col2im, **q
            )
        case "4.1":
            return checks.check_batchnorm_forward(bn_cls=mod("nn/norm.py").BatchNorm2d, **q)
        case "4.2":
            return checks.check_batchnorm_backward(bn_cls=mod("nn/norm.py").BatchNorm2d, **q)
        case "5.1":
            return checks.check_block(block_cls=mod("nn/blocks.py").PreActBlock, **q)
        case "7.1":
            return checks.check_sgd(sgd_cls=mod("optim.py").SGD, **q)
        case "7.2":
            return checks.check_lr_schedule(lr_fn=mod("optim.py").multistep_lr, **q)
        case "7.3":
            return checks.check_augmentation(augment_fn=mod("augment.py").apply_augmentation, **q)
        case "8.1":
            return checks.check_train_epoch(
                train_one_epoch_fn=mod("epoch.py").train_one_epoch,
                engine_cls=mod("engines.py").NumpyEngine,
                **q,
            )
    raise AssertionError(f"no stub case for exercise {exercise}: add one")


@pytest.mark.parametrize("exercise", list(checks.EXERCISES))
def test_the_exercise_alone_stubbed_reads_not_implemented(monkeypatch, exercise):
    result = _stub_check(monkeypatch, exercise)
    report = result.report()
    assert not result.passed and not result.implemented, report
    assert result.missing == exercise, report
    assert f"Exercise {exercise} not implemented yet" in report, report
    assert checks.EXERCISES[exercise].where in report, report


# ----------------------------------------------------------------------------- robustness
class SiLUThatRaises(SiLU):
    def forward(self, x):
        return {}["oops"]


class SiLUReturningNone(SiLU):
    def forward(self, x):
        return None


def test_an_exception_becomes_a_report_with_its_location(capsys):
    result = checks.check_silu_forward(silu_cls=SiLUThatRaises)
    assert not result.passed and result.implemented
    assert "SiLU.forward raised KeyError" in result.report()
    assert "test_checks.py:" in result.report()  # where it happened
    assert "FAILED" in capsys.readouterr().out  # verbose prints the report


def test_a_missing_output_is_reported_not_raised():
    result = checks.check_silu_forward(silu_cls=SiLUReturningNone, verbose=False)
    assert not result.passed
    assert "forward output is None" in result.report()


def test_a_dependency_stub_names_the_missing_exercise():
    class ForwardStub(SiLU):
        def forward(self, x):
            raise NotImplementedError("Exercise 1.1: SiLU forward")

    result = checks.check_silu_backward(silu_cls=ForwardStub, verbose=False)
    assert not result.implemented and result.missing == "1.1"
    assert "Exercise 1.2 needs Exercise 1.1 (SiLU forward)" in result.report()
    assert "needs Exercise 1.1 first" in result.status


def test_groups_by_number_and_the_result_object():
    result = checks.check_silu(verbose=False)
    assert result.passed and bool(result)
    assert [p.exercise for p in result.parts] == ["1.1", "1.2"]
    assert repr(checks.check("7.2", verbose=False)) == "CheckResult(exercise='7.2', passed=True)"
    with pytest.raises(ValueError, match=r"check\('6.1'\): no such exercise; give its number"):
        checks.check("6.1")
    # What a student types instead of the string: the number, or the exercise's name.
    assert checks.check(7.2, verbose=False).exercise == "7.2"
    assert checks.check("Exercise 7.2", verbose=False).exercise == "7.2"


# ----------------------------------------------------------------------------- the registry
@pytest.mark.parametrize("exercise", list(checks.EXERCISES))
def test_each_hint_is_declared_and_used(exercise):
    """Hints are data beside the check: the keys a check module hints with are declared by its
    exercises, and every declared key is used somewhere in that module."""
    ex = checks.EXERCISES[exercise]
    path = Path(sys.modules[ex.check.__module__].__file__)
    source = path.read_text()
    declared = {
        k
        for e in checks.EXERCISES.values()
        if e.check.__module__ == ex.check.__module__
        for k in e.hints
    }
    # `res.hint("key")` names a declared hint (a key in a `(wrong answer, "key")` pair that
    # is not declared raises KeyError when reached, which the planted mistakes above reach).
    used = set(re.findall(r'res\.hint\(\s*"([a-z0-9_]+)"', source))
    assert used <= declared, (path.name, used - declared)
    for key in ex.hints:
        assert source.count(f'"{key}"') >= 2, f"Exercise {exercise}'s hint {key!r} is never used"
    assert ex.points > 0 and ex.where.startswith("lab01_utils/")


def test_points_add_up_and_are_reported(capsys):
    results = checks.check_all(verbose=True)
    earned, available = checks.total_points(results)
    assert available == sum(e.points for e in checks.EXERCISES.values()) == 50
    assert earned == available  # every solution passes
    assert (
        f"{len(results)} of {len(results)} exercises pass: 50 of 50 points"
        in capsys.readouterr().out
    )


def test_a_check_refuses_an_unknown_implementation_name():
    with pytest.raises(TypeError, match=r"check_silu_forward\(\) got unexpected keyword"):
        checks.check_silu_forward(silu=SiLU)
    assert "silu_cls=None" in str(inspect.signature(checks.check_silu_forward))
