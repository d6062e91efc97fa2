"""Tests for lab01_utils/tta.py: the ten views are the identity, the flip and the one-pixel
shifts (checked against the same views made with torch's own operations), and the averaged
logits of the NumPy and the torch model agree."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import EVERYTHING, PARITY_RTOL_F32, rel_error

from lab01_utils import tta
from lab01_utils.metrics import predict_logits
from lab01_utils.models import build_numpy_model, build_torch_model, numpy_state_to_torch

pytestmark = pytest.mark.needs(*EVERYTHING)


def torch_view(x: torch.Tensor, flip: bool, dx: int, dy: int) -> torch.Tensor:
    """The reference: flip with torch.flip, shift by zero-padding one side and cropping."""
    if flip:
        x = torch.flip(x, dims=[3])
    x = F.pad(x, (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0)))  # (left, right, top, bottom)
    h, w = x.shape[2] - abs(dy), x.shape[3] - abs(dx)
    top, left = max(-dy, 0), max(-dx, 0)
    return x[:, :, top : top + h, left : left + w]


def test_the_views_are_the_flip_and_the_one_pixel_shifts():
    assert len(set(tta.VIEWS)) == 10 and tta.VIEWS[0] == (False, 0, 0)
    assert {(dx, dy) for _, dx, dy in tta.VIEWS} == {(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)}
    x = np.random.default_rng(0).random((3, 1, 28, 28)).astype(np.float32)
    for (flip, dx, dy), got in zip(tta.VIEWS, tta.views(x), strict=True):
        want = torch_view(torch.from_numpy(x), flip, dx, dy).numpy()
        assert np.array_equal(got, want), (flip, dx, dy)


def test_the_averaged_logits_agree_between_the_two_models():
    widths = (8, 16, 16)
    numpy_model = build_numpy_model(widths=widths, seed=1)
    torch_model = build_torch_model(widths=widths)
    torch_model.load_state_dict(numpy_state_to_torch(numpy_model.state_dict()))
    x = np.random.default_rng(2).integers(0, 256, (6, 784), dtype=np.uint8)
    a, b = tta.tta_logits(numpy_model, x), tta.tta_logits(torch_model, x)
    assert a.shape == (6, 10) and rel_error(a, b) < PARITY_RTOL_F32
    views = tta.views((x.reshape(6, 1, 28, 28) / np.float32(255)).astype(np.float32))
    manual = np.mean([predict_logits(numpy_model, v) for v in views], axis=0)
    assert rel_error(a, manual) < PARITY_RTOL_F32
    one = tta.tta_logits(numpy_model, x, which=tta.VIEWS[:1])
    assert rel_error(one, predict_logits(numpy_model, x)) < PARITY_RTOL_F32
