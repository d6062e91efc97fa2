"""Check of Exercise 5.1: the pre-activation residual block, forward and backward."""

from __future__ import annotations

import copy

import numpy as np

from .. import nn
from .compare import compare, import_torch, nchw_channels_last, unchanged
from .core import NN, CheckResult, Stop, call, exercise
from .norm import random_bn_state, to_torch_state


def _twin_paths(twin, xt):
    """The pre-activation `a` and the main path of a torch block (no shortcut)."""
    a = twin.act1(twin.bn1(xt))
    return a, twin.conv2(twin.act2(twin.bn2(twin.conv1(a))))


@exercise(
    "5.1",
    "pre-activation block",
    where=NN + "blocks.py, PreActBlock.forward and .backward",
    points=5,
    depends=("1.1", "1.2", "3.1", "3.2", "3.3", "4.1", "4.2"),
    hints={
        "add_shortcut": "add the shortcut: out = main path + shortcut",
        "projection_shortcut": "the projection shortcut reads the pre-activated "
        "a = silu(bn1(x)), not x",
        "identity_shortcut": "the identity shortcut carries the raw x, not the pre-activated "
        "silu(bn1(x))",
        "both_paths": "dy flows back along both paths: add the shortcut's gradient to the main "
        "path's, at a for the projection, at x for the identity",
    },
    block_cls=lambda: nn.PreActBlock,
)
def check_block(res: CheckResult, block_cls) -> None:
    """Exercise 5.1: `PreActBlock` forward and backward against its torch twin
    (`torch_model.PreActBlock`), with an identity and a projection shortcut."""
    torch = import_torch()
    from ..torch_model import PreActBlock as TorchBlock

    rng = np.random.default_rng(15)
    for i, (c_in, c_out, stride) in enumerate(((4, 4, 1), (3, 5, 2))):
        kind = "identity" if c_in == c_out and stride == 1 else "projection"
        block = call(
            res,
            "PreActBlock(...)",
            block_cls,
            c_in,
            c_out,
            stride=stride,
            rng=np.random.default_rng(200 + i),
            dtype=np.float64,
        )
        state = random_bn_state(block.state_dict(), rng)
        call(res, "PreActBlock.load_state_dict", block.load_state_dict, state)
        twin = TorchBlock(c_in, c_out, stride).double()
        twin.load_state_dict(to_torch_state(state))
        pristine = copy.deepcopy(twin)
        x = nchw_channels_last(rng.standard_normal((2, c_in, 6, 6)))
        x0 = x.copy()
        y = np.asarray(call(res, "PreActBlock.forward", block.forward, x))
        unchanged(res, "PreActBlock.forward", x0, x, "x")
        xt = torch.tensor(np.ascontiguousarray(x0), requires_grad=True)
        yt = twin(xt)
        context = f" for PreActBlock({c_in}, {c_out}, stride={stride}) ({kind} shortcut)"
        if not compare(res, "forward output", y, yt, context=context):
            with torch.no_grad():
                x_t = torch.from_numpy(np.ascontiguousarray(x0))
                a, main = _twin_paths(copy.deepcopy(pristine), x_t)
                alternatives = [(main, "add_shortcut")]
                if kind == "projection":
                    alternatives.append(
                        (
                            main + pristine.shortcut(x_t),
                            "projection_shortcut",
                        )
                    )
                else:
                    alternatives.append(
                        (
                            main + a,
                            "identity_shortcut",
                        )
                    )
            res.explain(y, alternatives)
            raise Stop
        dy = rng.standard_normal(y.shape)
        dy0 = dy.copy()
        dx = call(res, "PreActBlock.backward", block.backward, dy)
        unchanged(res, "PreActBlock.backward", dy0, dy, "dy")
        yt.backward(torch.from_numpy(dy0))
        ok = True
        if not compare(res, "dx", dx, xt.grad, context=context):
            ok = False
            res.hint("both_paths")
        twin_params = dict(twin.named_parameters())
        for name, p in block.named_parameters():
            if name not in twin_params:
                res.fail(f"parameter {name} has no counterpart in the torch twin")
                ok = False
                continue
            ok &= compare(res, f"{name}.grad", p.grad, twin_params[name].grad, context=context)
        twin_state = twin.state_dict()
        for name, v in block.state_dict().items():
            if "running" in name:
                ok &= compare(res, name, v, twin_state[name], context=context)
        if not ok:
            raise Stop
        call(res, "PreActBlock.eval", block.eval)
        twin.eval()
        x = rng.standard_normal((2, c_in, 6, 6))
        y = call(res, "PreActBlock.forward", block.forward, x)
        with torch.no_grad():
            want = twin(torch.from_numpy(x))
        if not compare(res, "forward output", y, want, context=context + " in eval mode"):
            raise Stop
    worst = max(res.errors.values(), default=0.0)
    res.ok(
        f"output, dx, every parameter gradient and the running statistics match the torch "
        f"twin for the identity and the projection block (relative error {worst:.0e})"
    )
