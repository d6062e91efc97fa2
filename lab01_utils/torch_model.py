"""Task 2: the same network in PyTorch, with the NumPy model's submodule names."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .config import NUM_CLASSES, WIDTHS
from .images import as_image_batch


class PreActBlock(nn.Module):
    """torch twin of `lab01_utils.nn.PreActBlock` (same names: bn1, conv1, bn2, conv2, shortcut)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.act1 = nn.SiLU()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.act2 = nn.SiLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.has_projection = stride != 1 or in_channels != out_channels
        if self.has_projection:
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.act1(self.bn1(x))
        short = self.shortcut(a) if self.has_projection else x
        return self.conv2(self.act2(self.bn2(self.conv1(a)))) + short


class GlobalAvgPool2d(nn.Module):
    """`(N, C, H, W)` -> `(N, C)`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


class TorchPreActResNet(nn.Module):
    """Task 2's model; see `lab01_utils.models` for the architecture."""

    def __init__(self, widths: Sequence[int] = WIDTHS, num_classes: int = NUM_CLASSES):
        super().__init__()
        if len(widths) != 3 or any(int(w) < 1 for w in widths):
            raise ValueError(
                f"TorchPreActResNet: widths must be three positive ints, got {widths!r}"
            )
        w1, w2, w3 = (int(w) for w in widths)
        self.widths, self.num_classes = (w1, w2, w3), num_classes
        self.stem = nn.Conv2d(1, w1, 3, padding=1, bias=False)
        stages, c_in = [], w1
        for w in (w1, w2, w3):
            stages.append(nn.Sequential(PreActBlock(c_in, w, stride=2), PreActBlock(w, w)))
            c_in = w
        self.layer1, self.layer2, self.layer3 = stages
        self.bn = nn.BatchNorm2d(w3)
        self.act = nn.SiLU()
        self.pool = GlobalAvgPool2d()
        self.fc = nn.Linear(w3, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = as_image_batch(x, "TorchPreActResNet")
        x = self.stem(x)
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.pool(self.act(self.bn(x))))
