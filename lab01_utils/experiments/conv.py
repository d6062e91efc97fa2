"""Notebook 03's experiments: why a convolution, and what it costs.

* `shift_equivariance`: shift an image by a few pixels and convolve both versions. At stride 1
  (with padding) the feature maps shift by the same amount, exactly, away from the border; at
  stride 2 they shift only when the image's shift is a multiple of 2, otherwise no whole-pixel
  shift of the output matches.
* `parameter_counts`: every convolution of the lab's network against a dense (fully
  connected) layer between the same input and output tensors.
* `flipped_kernel_error`: `Conv2d.backward`'s dx (written with col2im) against the full
  convolution of dy with the flipped kernel, at stride 1.

The convolutions here are `nn.conv2d_naive` (given: the definition as loops), so the first two
run before any exercise is written; the third calls your `Conv2d` (Exercises 3.2 and 3.3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import nn
from ..data import load_sample
from ..models import PreActResNet
from ..nn.functional import conv_output_size

__all__ = [
    "FILTER_NAMES",
    "ParameterCounts",
    "ShiftResult",
    "conv_layers",
    "demo_filters",
    "flipped_kernel_error",
    "parameter_counts",
    "shift_equivariance",
    "shift_image",
]

FILTER_NAMES = ("vertical edges", "horizontal edges", "blur", "random")


def demo_filters(seed: int = 0) -> np.ndarray:
    """Four 3x3 filters as a conv weight `(4, 1, 3, 3)`: Sobel's vertical and horizontal edge
    detectors, a binomial blur and one standard normal random filter (`FILTER_NAMES`)."""
    sobel = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
    blur = np.outer([1.0, 2.0, 1.0], [1.0, 2.0, 1.0]) / 16
    random = np.random.default_rng(seed).standard_normal((3, 3))
    return np.stack([sobel, sobel.T, blur, random])[:, None]  # (4, 1, 3, 3)


def shift_image(image: np.ndarray, shift: int) -> np.ndarray:
    """`image` `(H, W)` moved `shift` pixels down and `shift` right; the vacated rows and
    columns are 0 and what leaves the frame is lost (as in the lab's augmentation)."""
    out = np.zeros_like(image)
    h, w = image.shape
    out[shift:, shift:] = image[: h - shift, : w - shift]
    return out


def _interior_error(y: np.ndarray, y_shifted: np.ndarray, d: int, margin: int) -> float:
    """max |y_shifted[i + d, j + d] - y[i, j]| over the output positions at least `margin`
    from every border of both maps, relative to max |y| there. y: `(C, H_out, W_out)`."""
    h, w = y.shape[1:]
    moved = y_shifted[:, d + margin : h - margin, d + margin : w - margin]
    ref = y[:, margin : h - margin - d, margin : w - margin - d]
    return float(np.abs(moved - ref).max() / np.abs(ref).max())


@dataclass(frozen=True)
class ShiftResult:
    """What `shift_equivariance` measured.

    Attributes:
        image, shifted: the input `(28, 28)` in [0, 1] and its copy moved by `shift` pixels.
        shift: the input's shift, in pixels, down and to the right.
        weight: the filters `(C, 1, 3, 3)` (`demo_filters`).
        maps, shifted_maps: `{stride: (C, H_out, W_out)}`, the feature maps of `image` and of
            `shifted` (3x3, padding 1).
        errors: `{stride: (shift + 1,)}`; entry d is the largest difference between the
            shifted image's maps moved back by d output pixels and the original's, over the
            interior (one output pixel from every border), relative to the largest value
            there. Equivariance at that stride means one d with an error of zero.
    """

    image: np.ndarray
    shifted: np.ndarray
    shift: int
    weight: np.ndarray
    maps: dict[int, np.ndarray]
    shifted_maps: dict[int, np.ndarray]
    errors: dict[int, np.ndarray]

    def best_shift(self, stride: int) -> int:
        """The output shift d with the smallest error at `stride`."""
        return int(np.argmin(self.errors[stride]))


def shift_equivariance(
    *, shift: int = 3, strides: tuple[int, ...] = (1, 2), index: int = 0, seed: int = 0
) -> ShiftResult:
    """Convolve sample image `index` (the training split) and its copy shifted by `shift`
    pixels with `demo_filters(seed)`, 3x3 with padding 1, at each stride, and compare the maps
    under every output shift d = 0 .. shift (`ShiftResult`). Takes ~0.01 s."""
    x, _ = load_sample("train")
    image = x[index].reshape(28, 28).astype(np.float64) / 255
    shifted = shift_image(image, shift)
    weight = demo_filters(seed)
    maps, shifted_maps, errors = {}, {}, {}
    for s in strides:
        y = nn.conv2d_naive(image[None, None], weight, None, stride=s, padding=1)[0]
        ys = nn.conv2d_naive(shifted[None, None], weight, None, stride=s, padding=1)[0]
        maps[s], shifted_maps[s] = y, ys  # (C, H_out, W_out)
        errors[s] = np.array([_interior_error(y, ys, d, margin=1) for d in range(shift + 1)])
    return ShiftResult(image, shifted, shift, weight, maps, shifted_maps, errors)


def conv_layers(model: PreActResNet, size: int = 28) -> list[tuple[str, nn.Conv2d, int, int]]:
    """The model's convolutions in network order, each as `(name, layer, H_in, H_out)` for
    square `size x size` input images: stem, then per block conv1, conv2 and the shortcut."""

    def out(h: int, c: nn.Conv2d) -> int:
        return conv_output_size(h, c.kernel_size, c.stride, c.padding)

    found = [("stem", model.stem, size, out(size, model.stem))]
    h = found[0][3]
    for stage in ("layer1", "layer2", "layer3"):
        for j, block in enumerate(getattr(model, stage)):
            h1 = out(h, block.conv1)
            found.append((f"{stage}.{j}.conv1", block.conv1, h, h1))
            found.append((f"{stage}.{j}.conv2", block.conv2, h1, out(h1, block.conv2)))
            if block.has_projection:
                found.append((f"{stage}.{j}.shortcut", block.shortcut, h, out(h, block.shortcut)))
            h = h1
    return found


@dataclass(frozen=True)
class ParameterCounts:
    """What `parameter_counts` counted, one entry per convolution of the network.

    Attributes:
        layers: the convolutions' names (`stem`, `layer1.0.conv1`, ...).
        conv: the convolution's weights, `C_out * C_in * k * k` (the lab's convs have no bias).
        dense: the weights of a dense layer from the same input `(C_in, H, W)` to the same
            output `(C_out, H_out, W_out)`: `C_in * H * W * C_out * H_out * W_out`.
    """

    layers: list[str]
    conv: np.ndarray
    dense: np.ndarray


def parameter_counts(widths: tuple[int, int, int] = (32, 64, 128)) -> ParameterCounts:
    """Count the weights of every convolution of `PreActResNet(widths)` on 28x28 images, and
    those of a dense layer in its place (`ParameterCounts`, int64 arrays). Builds the model
    (its constructors are given), runs nothing."""
    layers, conv, dense = [], [], []
    for name, layer, h_in, h_out in conv_layers(PreActResNet(widths=widths)):
        c_out, c_in, k, _ = layer.weight.shape
        layers.append(name)
        conv.append(c_out * c_in * k * k)
        dense.append(c_in * h_in * h_in * c_out * h_out * h_out)
    return ParameterCounts(layers, np.array(conv, np.int64), np.array(dense, np.int64))


def flipped_kernel_error(
    *, in_channels: int = 3, out_channels: int = 4, size: int = 7, seed: int = 0
) -> dict[int, float]:
    """For kernel sizes 1, 3 and 5 (padding 0, 1 and 2, stride 1), the relative max-norm
    difference between your `Conv2d.backward(dy)` and `conv2d_naive` of dy with the kernel
    flipped in both spatial axes, its channel axes swapped, and padding `k - 1 - p`:
    `{kernel_size: error}`, float64 inputs `(2, in_channels, size, size)`."""
    rng = np.random.default_rng(seed)
    errors = {}
    for k, p in ((1, 0), (3, 1), (5, 2)):
        conv = nn.Conv2d(in_channels, out_channels, k, padding=p, rng=rng, dtype=np.float64)
        x = rng.standard_normal((2, in_channels, size, size))
        dy = rng.standard_normal(conv(x).shape)
        dx = conv.backward(dy)
        flipped = conv.weight.data[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (C_in, C_out, k, k)
        full = nn.conv2d_naive(dy, flipped, None, padding=k - 1 - p)  # (N, C_in, H, W)
        errors[k] = float(np.abs(dx - full).max() / np.abs(full).max())
    return errors
