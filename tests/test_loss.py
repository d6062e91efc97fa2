"""Tests for lab01_utils/nn/loss.py: CrossEntropyLoss and log_softmax."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from helpers import (
    GRADCHECK_RTOL,
    LOSS,
    PARITY_RTOL_F64,
    assert_close,
    assert_untouched,
    numeric_grad,
    parity_rtol,
)

from lab01_utils.nn import CrossEntropyLoss, log_softmax

pytestmark = pytest.mark.needs(*LOSS)


def torch_loss_and_grad(logits: np.ndarray, y: np.ndarray):
    lt = torch.tensor(logits, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(lt, torch.from_numpy(y))
    loss.backward()
    return loss.item(), lt.grad


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("training", [True, False])
def test_parity_with_torch(rng, dtype, training):
    logits = (3.0 * rng.standard_normal((6, 10))).astype(dtype)
    y = rng.integers(0, 10, size=6)
    loss_fn = CrossEntropyLoss().train(training)
    loss = loss_fn(logits, y)
    dlogits = loss_fn.backward()
    ref_loss, ref_grad = torch_loss_and_grad(logits, y)
    assert isinstance(loss, float)
    assert_close(loss, ref_loss, parity_rtol(dtype), "loss")
    assert dlogits.dtype == np.dtype(dtype)
    assert_close(dlogits, ref_grad, parity_rtol(dtype), "dlogits")


def test_log_softmax_matches_torch(rng):
    logits = 5.0 * rng.standard_normal((4, 7))
    ref = torch.log_softmax(torch.from_numpy(logits), dim=1)
    assert_close(log_softmax(logits), ref, PARITY_RTOL_F64, "log_softmax")


def test_gradcheck(rng):
    logits = 2.0 * rng.standard_normal((4, 5))
    y = rng.integers(0, 5, size=4)
    loss_fn = CrossEntropyLoss()
    loss_fn(logits, y)
    dlogits = loss_fn.backward()
    numeric = numeric_grad(lambda: CrossEntropyLoss()(logits, y), logits)
    assert_close(dlogits, numeric, GRADCHECK_RTOL, "dlogits")


def test_gradcheck_with_upstream_scale(rng):
    """`backward(dy)` scales the gradient: the loss may be one term of a larger scalar."""
    logits, y = rng.standard_normal((3, 4)), rng.integers(0, 4, size=3)
    loss_fn = CrossEntropyLoss()
    loss_fn(logits, y)
    dlogits = loss_fn.backward(2.5)
    numeric = numeric_grad(lambda: 2.5 * CrossEntropyLoss()(logits, y), logits)
    assert_close(dlogits, numeric, GRADCHECK_RTOL, "dlogits")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_huge_logits_are_stable(rng, dtype, scale):
    logits = (scale * rng.standard_normal((5, 10))).astype(dtype)
    logits[0] = [scale, -scale] + [0.0] * 8  # one row with an exact, enormous margin
    y = rng.integers(0, 10, size=5)
    loss_fn = CrossEntropyLoss()
    # exp of a huge negative number underflows to exactly 0, which is the right answer;
    # overflow, 0 * inf, inf - inf or log(0) would not be.
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        loss = loss_fn(logits, y)
        dlogits = loss_fn.backward()
    assert np.isfinite(loss) and np.all(np.isfinite(dlogits))
    ref_loss, ref_grad = torch_loss_and_grad(logits, y)
    assert_close(loss, ref_loss, parity_rtol(dtype), "loss")
    assert_close(dlogits, ref_grad, parity_rtol(dtype), "dlogits")


def test_perfect_and_uniform_predictions():
    loss_fn = CrossEntropyLoss()
    assert loss_fn(np.array([[1e4, 0.0, 0.0]]), np.array([0])) == 0.0
    assert abs(loss_fn(np.zeros((2, 10)), np.array([3, 7])) - np.log(10)) < 1e-15


def test_gradient_rows_sum_to_zero(rng):
    loss_fn = CrossEntropyLoss()
    loss_fn(rng.standard_normal((4, 6)), rng.integers(0, 6, size=4))
    np.testing.assert_allclose(loss_fn.backward().sum(axis=1), 0.0, atol=1e-16)


def test_caller_arrays_untouched(rng):
    logits = rng.standard_normal((4, 3)).astype(np.float32)
    y = rng.integers(0, 3, size=4)
    copies = {"logits": logits.copy(), "y": y.copy()}
    loss_fn = CrossEntropyLoss()
    loss_fn(logits, y)
    loss_fn.backward()
    loss_fn.backward()
    assert_untouched({"logits": logits, "y": y}, copies)


def test_backward_is_repeatable(rng):
    loss_fn = CrossEntropyLoss()
    logits, y = rng.standard_normal((3, 4)), rng.integers(0, 4, size=3)
    loss_fn(logits, y)
    first = loss_fn.backward()
    loss_fn(logits, y)
    np.testing.assert_array_equal(loss_fn.backward(), first)


@pytest.mark.parametrize(
    "y",
    [
        np.array([0, 1, 3]),  # out of range (K = 3)
        np.array([0, -1, 2]),  # negative
        np.array([0, 1]),  # too short
        np.array([[0], [1], [2]]),  # (N, 1) instead of (N,)
        np.array([0.0, 1.0, 2.0]),  # float targets
        np.array([True, False, True]),  # bool targets
    ],
)
def test_bad_targets_raise(y):
    with pytest.raises(ValueError, match="CrossEntropyLoss.*targets"):
        CrossEntropyLoss()(np.zeros((3, 3)), y)


def test_bad_logits_raise():
    with pytest.raises(ValueError, match=r"CrossEntropyLoss.*\(N, num_classes\).*\(3,\)"):
        CrossEntropyLoss()(np.zeros(3), np.array([0, 1, 2]))
    with pytest.raises(RuntimeError, match="before forward"):
        CrossEntropyLoss().backward()


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_label_smoothing_matches_torch_forward_and_gradient(rng, eps):
    from lab01_utils.nn import LabelSmoothingCrossEntropy

    logits = rng.standard_normal((7, 10)) * 3
    y = rng.integers(0, 10, 7)
    lt = torch.tensor(logits, requires_grad=True)
    want = torch.nn.CrossEntropyLoss(label_smoothing=eps)(lt, torch.from_numpy(y))
    want.backward()
    loss_fn = LabelSmoothingCrossEntropy(eps)
    got = loss_fn(logits, y)
    assert abs(got - want.item()) < PARITY_RTOL_F64 * abs(want.item())
    assert_close(loss_fn.backward(), lt.grad.numpy(), PARITY_RTOL_F64, "dlogits")


def test_label_smoothing_refuses_a_bad_value():
    from lab01_utils.nn import LabelSmoothingCrossEntropy

    for bad in (-0.1, 1.0, float("nan")):
        with pytest.raises(ValueError, match="label_smoothing must lie in"):
            LabelSmoothingCrossEntropy(bad)
