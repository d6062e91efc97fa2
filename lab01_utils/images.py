"""The shape of an image, in one place: Fashion-MNIST's 28x28 grey pixels, as the files hold
them, as the network takes them, and as a figure shows them.

- `to_images`: pixels 0..255 `(N, 784)` or `(N, 1, 28, 28)` -> float `(N, 1, 28, 28)` in [0, 1];
- `as_image_batch`: `(N, 784)` or `(N, 1, 28, 28)` -> `(N, 1, 28, 28)` (arrays and tensors);
- `network_input`: whatever a notebook hands a figure (one image or many, pixels or floats);
- `as_image`: one image as `(H, W)`, for drawing.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

IMAGE_SIZE = 28
NUM_PIXELS = IMAGE_SIZE * IMAGE_SIZE  # 784
IMAGE_SHAPE = (1, IMAGE_SIZE, IMAGE_SIZE)  # (C, H, W) of one image


def as_image_batch(x, where: str, image_shape: tuple[int, int, int] = IMAGE_SHAPE):
    """`x` of shape `(N, C*H*W)` or `(N, C, H, W)` as `(N, C, H, W)` (a reshape, no copy):
    a NumPy array or a torch tensor. A ValueError naming `where` for any other shape."""
    shape = tuple(x.shape)
    size = int(np.prod(image_shape))
    if len(shape) == 2 and shape[1] == size:
        return x.reshape(shape[0], *image_shape)
    if len(shape) == 4 and shape[1:] == tuple(image_shape):
        return x
    c, h, w = image_shape
    raise ValueError(
        f"{where}: expected images of shape (N, {c}, {h}, {w}) or (N, {size}), got shape {shape}"
    )


def to_images(x: ArrayLike, dtype: DTypeLike = np.float32) -> np.ndarray:
    """Pixels 0..255 to network input: ``(N, 784)`` or ``(N, 1, 28, 28)`` -> float
    ``(N, 1, 28, 28)`` in [0, 1] (``x / 255``). Returns a new array.

    Raises:
        ValueError: another shape, a non-float ``dtype``, or values outside 0..255.
    """
    x = np.asarray(x)
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise ValueError(f"dtype must be a float type, got {dtype}")
    if not (
        (x.ndim == 2 and x.shape[1] == NUM_PIXELS) or (x.ndim == 4 and x.shape[1:] == IMAGE_SHAPE)
    ):
        raise ValueError(f"x must have shape (N, 784) or (N, 1, 28, 28), got {x.shape}")
    # uint8 is in range by construction; anything else (e.g. float pixels already scaled to
    # [0, 1]) would be silently divided twice, so check.
    if x.dtype != np.uint8 and x.size and (x.min() < 0 or x.max() > 255):
        raise ValueError(f"pixel values must lie in 0..255, got {x.min()}..{x.max()}")
    out = x.reshape(len(x), *IMAGE_SHAPE).astype(dtype)  # (N, 1, 28, 28), a copy
    out /= 255
    return out


def network_input(x: ArrayLike) -> np.ndarray:
    """Images as the network takes them: float `(N, 1, 28, 28)` in [0, 1].

    Accepts uint8 pixels 0..255 (`(N, 784)`, `(N, 1, 28, 28)`, or one image `(784,)`,
    `(28, 28)`), which are divided by 255, or float images already in [0, 1].
    """
    x = np.asarray(x)
    if x.shape in ((NUM_PIXELS,), (IMAGE_SIZE, IMAGE_SIZE), IMAGE_SHAPE):
        x = x.reshape(1, NUM_PIXELS)
    if x.dtype == np.uint8:
        return to_images(x)
    return as_image_batch(x, "images").astype(np.float32)


def as_image(img: ArrayLike) -> np.ndarray:
    """One image as `(H, W)`: from `(784,)`, `(H, W)`, `(1, H, W)` or `(1, 1, H, W)`."""
    img = np.asarray(img)
    if img.shape == (NUM_PIXELS,):
        return img.reshape(IMAGE_SIZE, IMAGE_SIZE)
    img = img.squeeze()
    if img.ndim != 2:
        raise ValueError(f"expected one image, got shape {np.shape(img)}")
    return img
