"""Checks of Exercises 4.1 and 4.2: BatchNorm forward (with its running statistics) and
backward."""

from __future__ import annotations

import numpy as np

from .. import nn
from .compare import compare, gradcheck, import_torch, nchw_channels_last, unchanged, worst
from .core import NN, CheckResult, Stop, call, exercise, group

MOMENTUM = (
    "momentum=0.1 weighs the new batch, torch's convention: running = "
    "(1 - momentum) * running + momentum * batch statistic"
)
UNBIASED_RUNNING = (
    "running_var is updated with the unbiased batch variance (divide by "
    "M - 1, M = N * H * W values per channel), like torch; the normalisation "
    "itself uses the biased one (divide by M)"
)


def random_bn_state(state: dict[str, np.ndarray], rng) -> dict[str, np.ndarray]:
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


def to_torch_state(state: dict[str, np.ndarray]) -> dict:
    torch = import_torch()
    return {k: torch.from_numpy(np.array(v, copy=True)) for k, v in state.items()}


def _bn_input(rng, shape=(4, 3, 3, 3)) -> np.ndarray:
    x = rng.standard_normal(shape)
    c = shape[1]
    scale, shift = np.geomspace(0.2, 5.0, c), np.linspace(-1.0, 3.0, c)
    return x * scale[:, None, None] + shift[:, None, None]  # channels that differ in mean/std


def _make_bn(res: CheckResult, bn_cls, c: int, rng):
    torch = import_torch()
    layer = call(res, "BatchNorm2d(...)", bn_cls, c, dtype=np.float64)
    state = random_bn_state(call(res, "BatchNorm2d.state_dict", layer.state_dict), rng)
    call(res, "BatchNorm2d.load_state_dict", layer.load_state_dict, state)
    twin = torch.nn.BatchNorm2d(c, dtype=torch.float64)
    twin.load_state_dict(to_torch_state(state))
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
        (g * xc / np.sqrt(var * m / (m - 1) + eps) + b, "biased_norm"),
        (g * (x - mean0) / np.sqrt(var0 + eps) + b, "per_channel"),
        (b * xc / np.sqrt(var + eps) + g, "gamma_beta"),
        (g * xc / (np.sqrt(var) + eps) + b, "eps_inside"),
        (g * (x - rm) / np.sqrt(rv + eps) + b, "batch_statistics"),
    ]


@exercise(
    "4.1",
    "BatchNorm forward",
    where=NN + "norm.py, BatchNorm2d.forward",
    points=4,
    hints={
        "biased_norm": "normalise with the biased variance (divide by M = N * H * W), like "
        "torch; only running_var uses the unbiased one (M - 1)",
        "per_channel": "BatchNorm2d normalises each channel over (N, H, W): one mean and one "
        "variance per channel, not one per activation (averaging over N only)",
        "gamma_beta": "weight (gamma) scales and bias (beta) shifts: y = gamma * xhat + beta",
        "eps_inside": "eps goes inside the square root: xhat = (x - mean) / sqrt(var + eps)",
        "batch_statistics": "in training mode normalise with the batch's mean and variance, "
        "not the running ones",
        "momentum": MOMENTUM,
        "unbiased_running": UNBIASED_RUNNING,
        "momentum_and_unbiased": MOMENTUM + "; and " + UNBIASED_RUNNING,
        "update_running": "update running_mean and running_var in every training-mode forward",
        "count_batches": "add 1 to num_batches_tracked in every training-mode forward",
        "eval_mode": "in eval mode normalise with running_mean and running_var, not the batch "
        "statistics",
        "eval_mode_only": "eval mode only reads running_mean and running_var; update them (and "
        "num_batches_tracked) only when self.training is True",
        "keep_dtype": "keep the dtype: e.g. compute 1 / sqrt(var + eps) and cast it to x's dtype",
    },
    bn_cls=lambda: nn.BatchNorm2d,
)
def check_batchnorm_forward(res: CheckResult, bn_cls) -> None:
    """Exercise 4.1: `BatchNorm2d.forward` against `torch.nn.BatchNorm2d`: the output, the
    running statistics and num_batches_tracked over two training batches, then eval mode."""
    torch = import_torch()
    rng = np.random.default_rng(13)
    c = 3
    layer, twin, state = _make_bn(res, bn_cls, c, rng)
    eps, mom = twin.eps, twin.momentum
    for step in (1, 2):
        x = _bn_input(rng)
        if step == 1:
            x = nchw_channels_last(x)
        x0 = x.copy()
        before = {k: np.array(v) for k, v in layer.state_dict().items()}
        y = call(res, "BatchNorm2d.forward", layer.forward, x)
        unchanged(res, "BatchNorm2d.forward", x0, x, "x")
        with torch.no_grad():
            want = twin(torch.from_numpy(np.ascontiguousarray(x0)))
        context = f" (training mode, batch {step}, x of shape {x.shape})"
        if not compare(res, "forward output", y, want, context=context):
            res.explain(y, _bn_alternatives(x0, before, eps))
            raise Stop
        after = layer.state_dict()
        want_state = {k: v.numpy() for k, v in twin.state_dict().items()}
        bm = x0.mean(axis=(0, 2, 3))
        bv = x0.var(axis=(0, 2, 3))
        m = x0.size // c
        rm0, rv0 = before["running_mean"], before["running_var"]
        ok = True
        if not compare(
            res, "running_mean", after["running_mean"], want_state["running_mean"], context=context
        ):
            ok = False
            res.explain(
                after["running_mean"],
                [
                    (mom * rm0 + (1 - mom) * bm, "momentum"),
                    (rm0, "update_running"),
                ],
            )
        if not compare(
            res, "running_var", after["running_var"], want_state["running_var"], context=context
        ):
            ok = False
            res.explain(
                after["running_var"],
                [
                    ((1 - mom) * rv0 + mom * bv, "unbiased_running"),
                    (mom * rv0 + (1 - mom) * bv * m / (m - 1), "momentum"),
                    (mom * rv0 + (1 - mom) * bv, "momentum_and_unbiased"),
                    (rv0, "update_running"),
                ],
            )
        nbt = after.get("num_batches_tracked")
        if nbt is None or int(nbt) != int(want_state["num_batches_tracked"]):
            ok = False
            res.fail(
                f"num_batches_tracked is {nbt} after training batch {step}; expected "
                f"{int(want_state['num_batches_tracked'])}"
            )
            res.hint("count_batches")
        if not ok:
            raise Stop
    call(res, "BatchNorm2d.eval", layer.eval)
    twin.eval()
    x = _bn_input(rng, (2, 3, 2, 3))
    before = {k: np.array(v) for k, v in layer.state_dict().items()}
    y = call(res, "BatchNorm2d.forward", layer.forward, x)
    with torch.no_grad():
        want = twin(torch.from_numpy(x))
    if not compare(res, "forward output", y, want, context=" (eval mode)"):
        g, b = before["weight"][:, None, None], before["bias"][:, None, None]
        mean, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
        res.explain(
            y,
            [
                (
                    g * (x - mean) / np.sqrt(var + eps) + b,
                    "eval_mode",
                )
            ],
        )
        raise Stop
    after = layer.state_dict()
    if any(not np.array_equal(before[k], after[k]) for k in before):
        res.fail("an eval-mode forward changed the running statistics")
        res.hint("eval_mode_only")
        raise Stop
    layer32 = call(res, "BatchNorm2d(...)", bn_cls, 2)
    y32 = call(res, "BatchNorm2d.forward", layer32.forward, rng.random((2, 2, 2, 2), "f4"))
    if np.asarray(y32).dtype != np.float32:
        res.fail(f"a float32 BatchNorm2d returned {np.asarray(y32).dtype} for a float32 input")
        res.hint("keep_dtype")
        raise Stop
    res.ok(
        f"output, running_mean, running_var and num_batches_tracked match torch over two "
        f"training batches and in eval mode (relative error "
        f"{worst(res, 'forward output', 'running_mean', 'running_var'):.0e})"
    )


@exercise(
    "4.2",
    "BatchNorm backward",
    where=NN + "norm.py, BatchNorm2d.backward",
    points=5,
    depends=("4.1",),
    hints={
        "training_mode": "in training mode the batch mean and variance depend on every input, "
        "so dx has two more terms than dy * gamma / sqrt(var + eps): differentiate through the "
        "mean and the variance too",
        "eval_mode": "only eval mode is wrong: there the forward normalises with the running "
        "statistics, which do not depend on the batch; differentiate that forward, not the "
        "training-mode one",
        "weight_grad": "weight.grad (dgamma): gamma multiplies the normalised input in the "
        "forward, not the centred one, and it sums over (N, H, W)",
        "bias_grad": "bias.grad (dbeta) sums dy over (N, H, W); don't average",
    },
    bn_cls=lambda: nn.BatchNorm2d,
)
def check_batchnorm_backward(res: CheckResult, bn_cls) -> None:
    """Exercise 4.2: `BatchNorm2d.backward` in training and eval mode against torch autograd
    and central differences."""
    torch = import_torch()
    rng = np.random.default_rng(14)
    for training in (True, False):
        layer, twin, state = _make_bn(res, bn_cls, 3, rng)
        mode = "training" if training else "eval"
        call(res, "BatchNorm2d.train", layer.train, training)
        twin.train(training)
        x = _bn_input(rng)
        if training:
            x = nchw_channels_last(x)
        y = np.asarray(call(res, "BatchNorm2d.forward", layer.forward, x))
        dy = rng.standard_normal(y.shape)
        dy0 = dy.copy()
        dx = call(res, "BatchNorm2d.backward", layer.backward, dy)
        unchanged(res, "BatchNorm2d.backward", dy0, dy, "dy")
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
        if not compare(res, "dx", dx, xt.grad, context=context):
            ok = False
            if training:
                res.explain(
                    dx,
                    [
                        (
                            dy0 * (g * invstd)[:, None, None],
                            "training_mode",
                        )
                    ],
                )
            else:
                res.hint("eval_mode")
        gw, gb = layer.weight.grad, layer.bias.grad
        if not compare(res, "weight.grad", gw, twin.weight.grad, context=context):
            ok = False
            res.explain(
                gw,
                [
                    (
                        (dy0 * (xhat / invstd[:, None, None])).sum(axis=(0, 2, 3)),
                        "weight_grad",
                    )
                ],
            )
        if not compare(res, "bias.grad", gb, twin.bias.grad, context=context):
            ok = False
            res.explain(
                gb,
                [
                    (
                        dy0.mean(axis=(0, 2, 3)),
                        "bias_grad",
                    )
                ],
            )
        if not ok:
            raise Stop
    res.ok(
        f"dx, weight.grad and bias.grad match torch autograd in training and eval mode "
        f"(relative error {worst(res, 'dx', 'weight.grad', 'bias.grad'):.0e})"
    )
    layer, _, _ = _make_bn(res, bn_cls, 2, rng)
    gradcheck(res, layer, _bn_input(rng, (3, 2, 2, 2)), "BatchNorm2d", rng)


def check_batchnorm(*, bn_cls=None, verbose: bool = True) -> CheckResult:
    """Exercises 4.1 and 4.2."""
    parts = [
        check_batchnorm_forward(bn_cls=bn_cls, verbose=False),
        check_batchnorm_backward(bn_cls=bn_cls, verbose=False),
    ]
    return group("BatchNorm", parts, verbose)
