"""The fast NumPy engine: the textbook layers of `lab01_utils.nn`, made fast.

`nn/` is what a student writes and reads: plain NCHW layers. This package computes the same
values faster, and builds on `nn/` (never the other way round):

* `layout.py`: channels-last memory, `(N, C, H, W)` arrays stored as `(N, H, W, C)`, and the
  channels-last im2col / col2im;
* `parallel.py`: each layer's work split along the batch between threads;
* `layers.py`: `Conv2d`, `SiLU`, `GlobalAvgPool2d` on that memory and those threads;
* `fused.py`: BatchNorm2d + SiLU as one step (the pre-activation blocks' pairs);
* `collective.py`, `data_parallel.py`: one process per core, each on its share of the batch.

Each fast class subclasses its `nn` twin with the same constructor, parameters and
`state_dict`, so `accelerate(model)` turns a built plain model into a fast one in place: the
same weights, the same results to float round-off (tests/test_fast_*.py prove each layer
equal to its twin and to torch). Instructor-only: the student release has only `nn/`.

    from lab01_utils.models import build_numpy_model
    model = build_numpy_model(engine="fast")   # = accelerate(build_numpy_model())
"""

from __future__ import annotations

import os
import sys

from .. import nn
from . import layers
from .fused import FusedBatchNorm2d, FusedPreActBlock

# Each plain class and its fast twin. Linear and the loss have none: they are one matrix
# product and a few small (N, 10) arrays, already as fast as NumPy makes them.
FAST_TWINS: dict[type, type] = {
    nn.Conv2d: layers.Conv2d,
    nn.SiLU: layers.SiLU,
    nn.GlobalAvgPool2d: layers.GlobalAvgPool2d,
    nn.BatchNorm2d: FusedBatchNorm2d,
    nn.PreActBlock: FusedPreActBlock,
}


def accelerate(model: nn.Module) -> nn.Module:
    """Give every layer of `model` whose class has a fast twin that twin's class, in place;
    returns `model`. Parameters, buffers and submodules stay as they are (a twin adds no
    state of its own), so a model built and initialised plainly keeps its weights exactly."""
    for _, module in model.named_modules():
        fast = FAST_TWINS.get(type(module))
        if fast is not None:
            module.__class__ = fast
            module.cache = None
    return model


def fork_is_safe() -> bool:
    """Whether worker processes may be forked here: on Linux, outside a Jupyter kernel (a
    kernel's threads and sockets do not survive a fork into its children)."""
    return sys.platform.startswith("linux") and "ipykernel" not in sys.modules


def default_processes() -> int:
    """Processes for Task 1 on the fast engine: one per core this process may use where
    `fork_is_safe()`, else 1 (the layers then split their work between threads)."""
    if not fork_is_safe():
        return 1
    return max(1, len(os.sched_getaffinity(0)))


__all__ = ["FAST_TWINS", "accelerate", "default_processes", "fork_is_safe"]
