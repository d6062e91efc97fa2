"""Checks of Exercises 7.1 to 7.3: SGD with momentum, the step learning-rate schedule, and
the augmentation."""

from __future__ import annotations

import numpy as np

from .. import augment, optim
from ..nn.module import Parameter
from .compare import compare, import_torch, matches, unchanged
from .core import CheckResult, Stop, call, exercise

# (label, SGD keyword arguments, steps, step at which lr changes to half, hint on failure)
SGD_SCENARIOS = (
    ("plain SGD", dict(lr=0.1), 2, None, "plain"),
    ("weight decay", dict(lr=0.1, weight_decay=0.1), 2, None, "weight_decay"),
    ("momentum", dict(lr=0.1, momentum=0.9), 3, None, "momentum"),
    (
        "momentum and weight decay",
        dict(lr=0.1, momentum=0.9, weight_decay=0.1),
        3,
        None,
        "decay_before_momentum",
    ),
    (
        "Nesterov momentum",
        dict(lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True),
        3,
        None,
        "nesterov",
    ),
    ("a learning rate that changes", dict(lr=0.1, momentum=0.9), 3, 2, "changing_lr"),
)


@exercise(
    "7.1",
    "SGD with momentum",
    where="lab01_utils/optim.py, SGD.step",
    points=3,
    hints={
        "plain": "p = p - lr * grad (in place: p.data -= ...)",
        "weight_decay": "weight decay adds weight_decay * p to the gradient: "
        "g = grad + weight_decay * p",
        "momentum": "buf = momentum * buf + g, then p -= lr * buf, with one buffer per "
        "parameter kept across steps (self.momentum_buffers); on the first step buf = g",
        "decay_before_momentum": "weight decay joins the gradient before the momentum buffer: "
        "g = grad + weight_decay * p, then buf = momentum * buf + g",
        "nesterov": "with nesterov=True the step uses g + momentum * buf instead of buf",
        "changing_lr": "the buffer holds gradients, not steps: multiply by the current lr when "
        "updating (p -= lr * buf), so a new lr from the scheduler takes effect at once",
        "skip_none": "skip parameters whose grad is None (torch does)",
        "grad_untouched": "don't modify p.grad: `g += weight_decay * p.data` or a buffer that "
        "shares the gradient's memory (`buf = g`, then `buf *= momentum`) changes it; copy the "
        "gradient into the buffer",
    },
    sgd_cls=lambda: optim.SGD,
)
def check_sgd(res: CheckResult, sgd_cls) -> None:
    """Exercise 7.1: `SGD.step` against `torch.optim.SGD`, scenario by scenario (plain, weight
    decay, momentum, both, Nesterov, a changing lr), so a failure names the feature."""
    torch = import_torch()
    shapes = ((3, 4), (5,), (2, 2, 3))
    for label, kwargs, steps, lr_change, hint in SGD_SCENARIOS:
        rng = np.random.default_rng(16)
        init = [rng.standard_normal(s) for s in shapes]
        params = [Parameter(a.copy()) for a in init]
        opt = call(res, "SGD(...)", sgd_cls, params, **kwargs)
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
            call(
                res,
                "SGD.step",
                opt.step,
                hint="skip_none" if t == 2 else None,
            )
            topt.step()
            for i, (p, g) in enumerate(zip(params, grads, strict=True)):
                if p.grad is not None and not np.array_equal(p.grad, g):
                    res.fail(f"SGD.step modified parameter {i}'s grad ({label}, step {t})")
                    res.hint("grad_untouched")
                    raise Stop
            for i, (p, tp) in enumerate(zip(params, tparams, strict=True)):
                context = f" for {label} ({kwargs}), step {t}"
                if not compare(res, f"parameter {i}", p.data, tp, context=context):
                    res.hint(hint)
                    raise Stop
    worst = max(res.errors.values(), default=0.0)
    res.ok(
        f"parameters match torch.optim.SGD in {len(SGD_SCENARIOS)} scenarios (momentum, "
        f"weight decay, Nesterov, a changing lr, a grad of None; relative error {worst:.0e})"
    )


def _torch_lrs(base_lr: float, milestones, gamma: float, epochs: int) -> list[float]:
    torch = import_torch()
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=base_lr)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, list(milestones), gamma)
    out = []
    for _ in range(epochs + 1):
        out.append(opt.param_groups[0]["lr"])
        opt.step()  # no gradient: changes nothing, but keeps the scheduler's order check quiet
        sched.step()
    return out


@exercise(
    "7.2",
    "the step learning-rate schedule",
    where="lab01_utils/optim.py, multistep_lr",
    points=1,
    hints={
        "drops_at_milestone": "the rate drops at epoch == milestone: count the milestones with "
        "m <= epoch, not m < epoch",
        "repeated_milestone": "a milestone listed twice counts twice (torch multiplies by gamma "
        "once per entry)",
        "rule": "the rate is base_lr * gamma ** (the number of milestones m <= epoch)",
    },
    lr_fn=lambda: optim.multistep_lr,
)
def check_lr_schedule(res: CheckResult, lr_fn) -> None:
    """Exercise 7.2: `multistep_lr(base_lr, epoch, milestones, gamma)` against torch's
    `MultiStepLR`, epoch by epoch."""
    cases = ((0.03, (15, 25), 0.1, 30), (1.0, (2, 5, 5, 9), 0.5, 12), (0.1, (), 0.1, 4))
    for base, milestones, gamma, epochs in cases:
        want = _torch_lrs(base, milestones, gamma, epochs)
        got = [
            call(res, "multistep_lr", lr_fn, base, e, milestones, gamma) for e in range(epochs + 1)
        ]
        for e, (g, w) in enumerate(zip(got, want, strict=True)):
            if not matches(g, w, rtol=1e-9):
                res.fail(
                    f"multistep_lr({base}, epoch={e}, milestones={milestones}, "
                    f"gamma={gamma}) = {g}; expected {w:.6g} (torch's MultiStepLR after "
                    f"{e} steps)"
                )
                late = [matches(a, b, rtol=1e-9) for a, b in zip(got[1:], want[:-1], strict=True)]
                if all(late):
                    res.hint("drops_at_milestone")
                elif len(set(milestones)) < len(milestones):
                    res.hint("repeated_milestone")
                else:
                    res.hint("rule")
                raise Stop
    res.ok("multistep_lr matches torch's MultiStepLR at every epoch of three schedules")


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


@exercise(
    "7.3",
    "the augmentation",
    where="lab01_utils/augment.py, apply_augmentation",
    points=2,
    hints={
        "positive_shift": "a positive shift_x moves the content right and a positive shift_y "
        "moves it down: out[..., i, j] = src[..., i - shift_y, j - shift_x]",
        "axes": "shift_x moves along W (columns), shift_y along H (rows)",
        "vacated_pixels": "vacated pixels are 0: nothing wraps around (np.roll wraps)",
        "flip_first": "flip first, then shift, so shift_x means 'to the right' either way",
        "per_image": "each image n has its own shift_x[n], shift_y[n], flip[n]",
        "shape_and_dtype": "return the input's shape and dtype (fill with "
        "np.zeros((), dtype=x.dtype))",
    },
    augment_fn=lambda: augment.apply_augmentation,
)
def check_augmentation(res: CheckResult, augment_fn) -> None:
    """Exercise 7.3: `apply_augmentation(x, shift_x, shift_y, flip)` against the documented
    rule, pixel by pixel."""
    rng = np.random.default_rng(17)
    x = rng.random((6, 2, 5, 7))
    sx = np.array([1, -2, 0, 3, 0, -1])
    sy = np.array([0, 1, -1, 0, 2, -2])
    fl = np.array([False, False, True, True, False, True])
    x0 = x.copy()
    out = call(res, "apply_augmentation", augment_fn, x, sx, sy, fl)
    unchanged(res, "apply_augmentation", x0, x, "x")
    want = _moved(x0, sx, sy, fl)
    context = (
        f" for x of shape {x.shape}, shift_x={sx.tolist()}, shift_y={sy.tolist()}, "
        f"flip={fl.astype(int).tolist()}"
    )
    if not compare(res, "augmented images", out, want, context=context):
        no = np.zeros_like(fl)
        flipped_after = _moved(x0, sx, sy, no)
        flipped_after[fl] = flipped_after[fl][..., ::-1]
        first = np.zeros_like(sx) + sx[0], np.zeros_like(sy) + sy[0], np.zeros_like(fl) | fl[0]
        res.explain(
            out,
            [
                (
                    _moved(x0, -sx, -sy, fl),
                    "positive_shift",
                ),
                (_moved(x0, sy, sx, fl), "axes"),
                (
                    _moved(x0, sx, sy, fl, wrap=True),
                    "vacated_pixels",
                ),
                (
                    flipped_after,
                    "flip_first",
                ),
                (_moved(x0, *first), "per_image"),
            ],
        )
        raise Stop
    for args, label in (
        ((2, 0, False), "scalars"),
        ((0, -1, True), "scalars with a flip"),
        ((7, 0, False), "a shift of the whole width"),
    ):
        out = call(res, "apply_augmentation", augment_fn, x0, *args)
        n = len(x0)
        want = _moved(x0, [args[0]] * n, [args[1]] * n, [args[2]] * n)
        if not compare(res, "augmented images", out, want, context=f" for {label} {args}"):
            raise Stop
    img = (rng.random((5, 7)) * 255).astype(np.uint8)
    out = call(res, "apply_augmentation", augment_fn, img, 1, 1, True)
    out = np.asarray(out)
    if out.shape != img.shape or out.dtype != img.dtype:
        res.fail(
            f"one (H, W) uint8 image came back with shape {out.shape} and dtype "
            f"{out.dtype}; expected {img.shape} and uint8"
        )
        res.hint("shape_and_dtype")
        raise Stop
    res.ok(
        "flips and shifts match the documented rule for per-image and scalar parameters, "
        "and a single uint8 image keeps its shape and dtype"
    )
