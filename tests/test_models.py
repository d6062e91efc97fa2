"""Tests for lab01_utils/models.py and torch_model.py: the whole network, NumPy vs torch."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from helpers import (
    LAYERS,
    PARITY_RTOL_F64,
    TORCH_DTYPE,
    assert_close,
    assert_untouched,
    compare_with_torch,
    parity_rtol,
    randomize,
)

from lab01_utils.models import (
    available_engines,
    build_numpy_model,
    build_torch_model,
    numpy_state_to_torch,
    torch_state_to_numpy,
)
from lab01_utils.nn import CrossEntropyLoss
from lab01_utils.optim import SGD

pytestmark = pytest.mark.needs(*LAYERS)

SMALL = (4, 8, 8)  # widths for the tests that need a model but not the lab's size
# The NumPy engines this package has: the textbook one (nn/), and the fast one where it is
# here (not in the student release). Each parity test runs on each.
ENGINES = available_engines()


def images(rng, n: int, dtype=np.float32) -> np.ndarray:
    return rng.random((n, 784)).astype(dtype)  # (N, 784) in [0, 1), like the data loader


# ----------------------------------------------------------------------------- torch parity
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("engine", ENGINES)
def test_whole_model_parity_with_torch(rng, dtype, training, engine):
    """Logits, dx, every parameter gradient and every running statistic, lab-sized model."""
    model = randomize(build_numpy_model(seed=1, engine=engine), rng, weights=False)
    compare_with_torch(model, build_torch_model(seed=2), images(rng, 4), dtype, training, rng)


@pytest.mark.parametrize("engine", ENGINES)
def test_whole_model_parity_after_several_training_forwards(rng, engine):
    model = randomize(build_numpy_model(SMALL, seed=1, engine=engine), rng, weights=False)
    compare_with_torch(
        model, build_torch_model(SMALL), images(rng, 4), np.float64, True, rng, n_forwards=3
    )


def test_image_shaped_input_gives_the_same_logits(rng):
    model = build_numpy_model(SMALL).to(np.float64).eval()
    x = images(rng, 3, np.float64)
    logits = model(x).copy()
    assert_close(model(x.reshape(3, 1, 28, 28)), logits, PARITY_RTOL_F64, "logits")
    assert model.backward(np.ones((3, 10))).shape == (3, 1, 28, 28)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("engine", ENGINES)
def test_input_grad_false_returns_none_with_the_same_parameter_grads(rng, training, engine):
    model = build_numpy_model(SMALL, engine=engine).to(np.float64).train(training)
    x = images(rng, 3, np.float64)
    dlogits = rng.standard_normal((3, 10))
    model(x)
    assert model.backward(dlogits).shape == x.shape
    grads = {n: p.grad.copy() for n, p in model.named_parameters()}
    model(x)
    assert model.backward(dlogits, input_grad=False) is None
    for n, p in model.named_parameters():
        assert_close(p.grad, grads[n], PARITY_RTOL_F64, n)
    model(x)  # and dx comes back when asked for again
    assert model.backward(dlogits).shape == x.shape


@pytest.mark.parametrize("engine", ENGINES)
def test_training_steps_match_torch(rng, engine):
    """Forward, cross-entropy, backward and SGD (momentum, nesterov, weight decay), 3 steps."""
    model = randomize(build_numpy_model(SMALL, seed=3, engine=engine), rng, weights=False).to(
        np.float64
    )
    twin = build_torch_model(SMALL).double()
    twin.load_state_dict(numpy_state_to_torch(model.state_dict()))
    kwargs = {"lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4, "nesterov": True}
    opt, twin_opt = SGD(model.parameters(), **kwargs), torch.optim.SGD(twin.parameters(), **kwargs)
    loss_fn = CrossEntropyLoss()
    for _ in range(3):
        x, y = images(rng, 4, np.float64), rng.integers(0, 10, size=4)
        loss = loss_fn(model(x), y)
        model.backward(loss_fn.backward(), input_grad=False)
        opt.step()
        twin_opt.zero_grad()
        twin_loss = torch.nn.functional.cross_entropy(
            twin(torch.from_numpy(x)), torch.from_numpy(y)
        )
        twin_loss.backward()
        twin_opt.step()
        assert_close(loss, twin_loss.item(), PARITY_RTOL_F64, "loss")
    twin_state = twin.state_dict()
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked"):
            assert int(v) == int(twin_state[k]), k
        else:
            assert_close(v, twin_state[k], PARITY_RTOL_F64, k)


# ----------------------------------------------------------------------------- weights
def test_state_dict_keys_and_shapes_identical():
    state = build_numpy_model().state_dict()
    twin = build_torch_model().state_dict()
    assert list(state) == list(twin)
    for k, v in twin.items():
        assert state[k].shape == tuple(v.shape), k
        assert state[k].dtype == (np.int64 if k.endswith("num_batches_tracked") else np.float32), k
    assert [n for n, _ in build_numpy_model().named_parameters()] == [
        n for n, _ in build_torch_model().named_parameters()
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weights_move_numpy_to_torch(rng, dtype):
    model = randomize(build_numpy_model(SMALL, seed=5), rng, weights=False).to(dtype).eval()
    twin = build_torch_model(SMALL).to(TORCH_DTYPE[np.dtype(dtype)]).eval()
    twin.load_state_dict(numpy_state_to_torch(model.state_dict()))
    x = images(rng, 3, dtype)
    with torch.no_grad():
        assert_close(model(x), twin(torch.from_numpy(x)), parity_rtol(dtype), "logits")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weights_move_torch_to_numpy(rng, dtype):
    twin = build_torch_model(SMALL, seed=7).to(TORCH_DTYPE[np.dtype(dtype)])
    with torch.no_grad():  # non-trivial running statistics
        for _ in range(2):
            twin(torch.from_numpy(images(rng, 4, dtype) * 3 + 1))
    twin.eval()
    model = build_numpy_model(SMALL).eval()
    model.load_state_dict(torch_state_to_numpy(twin.state_dict()))
    assert all(p.data.dtype == np.dtype(dtype) for p in model.parameters())
    x = images(rng, 3, dtype)
    with torch.no_grad():
        assert_close(model(x), twin(torch.from_numpy(x)), parity_rtol(dtype), "logits")


def test_float64_arrays_make_a_float64_model(rng):
    model = build_numpy_model(SMALL)
    state = model.state_dict()
    model.load_state_dict(
        {k: v.astype(np.float64) if v.dtype == np.float32 else v for k, v in state.items()}
    )
    for k, v in model.state_dict().items():
        assert v.dtype == (np.int64 if k.endswith("num_batches_tracked") else np.float64), k
    logits = model(images(rng, 2))  # a float32 input is promoted to the model's dtype
    assert logits.dtype == np.float64
    assert model.backward(np.ones((2, 10))).dtype == np.float64
    assert all(p.grad.dtype == np.float64 for p in model.parameters())


def test_state_converters_copy():
    state = build_numpy_model(SMALL).state_dict()
    tensors = numpy_state_to_torch(state)
    tensors["fc.bias"] += 1.0
    assert not np.array_equal(state["fc.bias"], tensors["fc.bias"].numpy())
    back = torch_state_to_numpy(tensors)
    back["fc.bias"] += 1.0
    assert not np.array_equal(back["fc.bias"], tensors["fc.bias"].numpy())


def test_builders_are_seeded_and_leave_torch_rng_alone():
    a, b, c = (build_numpy_model(SMALL, seed=s).state_dict() for s in (0, 0, 1))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["stem.weight"], c["stem.weight"])
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    t0, t1 = build_torch_model(SMALL, seed=0), build_torch_model(SMALL, seed=0)
    assert torch.equal(torch.rand(3), expected)
    assert all(torch.equal(v, t1.state_dict()[k]) for k, v in t0.state_dict().items())


# ----------------------------------------------------------------------------- behaviour
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("engine", ENGINES)
def test_caller_arrays_untouched(rng, training, engine):
    model = build_numpy_model(SMALL, engine=engine).train(training)
    x = images(rng, 3)
    dlogits = rng.standard_normal((3, 10)).astype(np.float32)
    copies = {"x": x.copy(), "dlogits": dlogits.copy()}
    model(x)
    model.backward(dlogits)
    assert_untouched({"x": x, "dlogits": dlogits}, copies)


@pytest.mark.parametrize("engine", ENGINES)
def test_backward_overwrites_grads(rng, engine):
    model = build_numpy_model(SMALL, engine=engine).to(np.float64)
    x, dlogits = images(rng, 3, np.float64), rng.standard_normal((3, 10))
    model(x)
    model.backward(dlogits)
    first = {n: p.grad.copy() for n, p in model.named_parameters()}
    model(x)
    model.backward(dlogits)
    for n, p in model.named_parameters():
        assert_close(p.grad, first[n], PARITY_RTOL_F64, f"{n} accumulated")


@pytest.mark.parametrize("shape", [(2, 783), (2, 1, 28), (2, 2, 28, 28), (784,)])
def test_bad_input_shape_raises(shape):
    with pytest.raises(ValueError, match="PreActResNet") as info:
        build_numpy_model(SMALL)(np.zeros(shape, dtype=np.float32))
    msg = str(info.value)
    assert "(N, 784)" in msg and str(shape) in msg
    with pytest.raises(ValueError, match="TorchPreActResNet"):
        build_torch_model(SMALL)(torch.zeros(shape))


def test_load_state_dict_missing_key_names_it():
    model = build_numpy_model(SMALL)
    state = model.state_dict()
    del state["layer2.0.bn1.running_var"]
    with pytest.raises(KeyError, match=re.escape("layer2.0.bn1.running_var")):
        model.load_state_dict(state)


def test_load_state_dict_unexpected_key_names_it():
    model = build_numpy_model(SMALL)
    state = model.state_dict() | {"layer1.1.shortcut.weight": np.zeros((4, 4, 1, 1))}
    with pytest.raises(KeyError, match=re.escape("layer1.1.shortcut.weight")):
        model.load_state_dict(state)


def test_load_state_dict_misshapen_key_names_it():
    model = build_numpy_model(SMALL)
    state = model.state_dict()
    state["layer3.0.bn2.weight"] = np.ones(9, dtype=np.float32)
    with pytest.raises(ValueError, match=re.escape("layer3.0.bn2.weight")) as info:
        model.load_state_dict(state)
    assert "(9,)" in str(info.value) and "(8,)" in str(info.value)


def test_load_state_dict_rejects_a_model_of_another_width():
    """The torch twin of another width neither loads into the NumPy model nor vice versa."""
    with pytest.raises(ValueError, match=r"stem\.weight"):
        build_numpy_model(SMALL).load_state_dict(build_torch_model((8, 8, 8)).state_dict())
    with pytest.raises(RuntimeError, match=r"stem\.weight"):
        build_torch_model((8, 8, 8)).load_state_dict(
            numpy_state_to_torch(build_numpy_model(SMALL).state_dict())
        )


def test_zero_init_residual_zeroes_each_branch_end_in_both_models():
    import torch

    from lab01_utils.models import numpy_state_to_torch

    a = build_numpy_model((8, 16, 16), seed=3, zero_init_residual=True)
    t = build_torch_model((8, 16, 16), seed=3, zero_init_residual=True)
    keys = [k for k in a.state_dict() if k.endswith("conv2.weight")]
    assert len(keys) == 6  # two blocks in each of three stages
    for k in keys:
        assert not a.state_dict()[k].any() and not t.state_dict()[k].any(), k
    # everything else is the default initialisation
    plain = build_numpy_model((8, 16, 16), seed=3).state_dict()
    for k, v in a.state_dict().items():
        if k not in keys:
            assert np.array_equal(v, plain[k]), k
    # each block starts as its shortcut: the same logits from both engines
    t.load_state_dict(numpy_state_to_torch(a.state_dict()))
    x = np.random.default_rng(0).random((4, 784)).astype(np.float32)
    with torch.no_grad():
        expected = t(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(a(x), expected, rtol=1e-4, atol=1e-5)


def test_integer_pixels_are_refused_naming_the_dtype():
    """Raw uint8 pixels would train at 10% accuracy; torch refuses integer input too."""
    pixels = np.zeros((2, 784), dtype=np.uint8)
    with pytest.raises(TypeError, match=r"PreActResNet.*uint8.*to_images"):
        build_numpy_model(SMALL)(pixels)
    with pytest.raises(RuntimeError):
        build_torch_model(SMALL)(torch.from_numpy(pixels))


def test_the_fast_engine_is_refused_where_the_package_has_none(monkeypatch):
    from lab01_utils import models

    monkeypatch.setattr(models, "fast_engine", lambda: None)
    assert models.available_engines() == ("plain",)
    assert models.resolve_engine("auto") == "plain"
    with pytest.raises(ValueError, match="engine 'fast' needs lab01_utils/fast/"):
        build_numpy_model(SMALL, engine="fast")
    with pytest.raises(ValueError, match="engine must be one of auto, plain, fast; got 'turbo'"):
        build_numpy_model(SMALL, engine="turbo")
