"""The Task 1 layers: `torch.nn`'s layers written by hand in NumPy, forward and backward.

Textbook NCHW code, the exercises of the lab and their reference solutions. Every layer has
torch's name, constructor arguments, parameter names and layouts, so a NumPy model and its
torch twin exchange weights through `state_dict`. Each layer keeps what its backward needs in
one attribute, `cache`, set by `forward`. The fast engine (`lab01_utils.fast`, not in the
student release) builds on these classes and computes the same values.
"""

from .activation import SiLU, sigmoid
from .blocks import PreActBlock
from .conv import Conv2d
from .functional import col2im, conv2d_naive, conv_output_size, im2col
from .linear import Linear
from .loss import CrossEntropyLoss, LabelSmoothingCrossEntropy, log_softmax
from .module import Module, Parameter, Sequential
from .norm import BatchNorm2d
from .pooling import GlobalAvgPool2d

__all__ = [
    "BatchNorm2d",
    "Conv2d",
    "CrossEntropyLoss",
    "LabelSmoothingCrossEntropy",
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
    "log_softmax",
    "sigmoid",
]
