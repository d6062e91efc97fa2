"""The Task 1 engine: `torch.nn`'s layers written by hand in NumPy, forward and backward.

Every layer has torch's name, constructor arguments, parameter names and layouts, so a
NumPy model and its torch twin exchange weights through `state_dict`.
"""

import importlib

from .activation import SiLU, sigmoid
from .blocks import PreActBlock
from .conv import Conv2d
from .functional import col2im, conv2d_naive, conv_output_size, im2col
from .linear import Linear
from .loss import CrossEntropyLoss, log_softmax
from .module import Module, Parameter, Sequential
from .norm import BatchNorm2d
from .pooling import GlobalAvgPool2d

__all__ = [
    "BatchNorm2d",
    "Conv2d",
    "CrossEntropyLoss",
    "GlobalAvgPool2d",
    "Linear",
    "Module",
    "Parameter",
    "PreActBlock",
    "Sequential",
    "SiLU",
    "col2im",
    "conv2d_naive",
    "conv_output_size",
    "im2col",
    "instructor_module",
    "log_softmax",
    "sigmoid",
]


def instructor_module(name: str):
    """`lab01_utils.nn.<name>` for the instructor-only fast paths (`"fused"`,
    `"data_parallel"`), or None where the package has no such module: the student release
    leaves them out (`release.INSTRUCTOR_ONLY`), as they hold exercise answers."""
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
        return None
