"""`PreActBlock`: the pre-activation residual block (He et al. 2016, "Identity Mappings")."""

from __future__ import annotations

import numpy as np

from .activation import SiLU
from .conv import Conv2d
from .functional import check_input
from .module import Module
from .norm import BatchNorm2d


class PreActBlock(Module):
    """BN -> SiLU -> conv3x3(stride) -> BN -> SiLU -> conv3x3, plus a shortcut.

    Args:
        in_channels, out_channels: C_in, C_out.
        stride: 2 for the lab's Block1 (downsampling), 1 for Block2.
        rng: a `numpy.random.Generator` for the convolutions' initialisation (default: fresh).
        dtype: parameter dtype (float32 by default).

    Shape: `(N, C_in, H, W)` -> `(N, C_out, H_out, W_out)`, `H_out = (H - 1) // stride + 1`
    (28 -> 14 -> 7 -> 4 for stride 2).

    The shortcut is the identity when `stride == 1 and in_channels == out_channels` (Block2),
    otherwise a 1x1 convolution with the block's stride (Block1's projection). As in the
    original pre-activation ResNet, the projection reads the *pre-activated* input
    `silu(bn1(x))`, while the identity shortcut carries the raw `x`: that keeps a clean,
    un-normalised path from the output all the way back to the stem.

    Submodules (torch's state_dict keys): `bn1, conv1, bn2, conv2` and, for a projection,
    `shortcut`. The convolutions have no bias: a BN follows each of them downstream.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        rng: np.random.Generator | None = None,
        dtype=np.float32,
    ):
        super().__init__()
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride
        self.bn1 = BatchNorm2d(in_channels, dtype=dtype)
        self.act1 = SiLU()
        self.conv1 = Conv2d(
            in_channels, out_channels, 3, stride=stride, padding=1, bias=False, rng=rng, dtype=dtype
        )
        self.bn2 = BatchNorm2d(out_channels, dtype=dtype)
        self.act2 = SiLU()
        self.conv2 = Conv2d(
            out_channels, out_channels, 3, stride=1, padding=1, bias=False, rng=rng, dtype=dtype
        )
        self.has_projection = stride != 1 or in_channels != out_channels
        if self.has_projection:
            self.shortcut = Conv2d(
                in_channels, out_channels, 1, stride=stride, bias=False, rng=rng, dtype=dtype
            )

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input("PreActBlock", x, 4, self.in_channels)
        # Exercise 5.1: pre-activation block forward
        ### BEGIN SOLUTION
        a = self.act1(self.bn1(x))  # pre-activation, (N, C_in, H, W)
        short = self.shortcut(a) if self.has_projection else x
        out = self.conv2(self.act2(self.bn2(self.conv1(a))))
        return out + short
        ### END SOLUTION

    def backward(self, dy: np.ndarray) -> np.ndarray:
        # Exercise 5.1: pre-activation block backward
        ### BEGIN SOLUTION
        # The sum sends dy down both paths; where they meet again, at `a` (projection) or at
        # `x` (identity), their gradients add.
        da = self.conv1.backward(self.bn2.backward(self.act2.backward(self.conv2.backward(dy))))
        if self.has_projection:
            da = da + self.shortcut.backward(dy)
            return self.bn1.backward(self.act1.backward(da))
        return self.bn1.backward(self.act1.backward(da)) + dy
        ### END SOLUTION
