"""Tests for lab01_utils/nn/module.py: Parameter, Module (registration, modes, state_dict,
load_state_dict, to) and Sequential."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from helpers import CONV, LINEAR, NORM, SILU, compare_with_torch, randomize

from lab01_utils.nn import BatchNorm2d, Conv2d, Linear, Module, Parameter, Sequential, SiLU

pytestmark = pytest.mark.needs(*SILU + LINEAR + CONV + NORM)


# Pre-activation order: a conv bias right before a training-mode BN would have an exactly
# zero gradient, which makes a relative error meaningless.
def small_net(rng=None) -> Sequential:
    return Sequential(BatchNorm2d(2), SiLU(), Conv2d(2, 3, 3, padding=1, rng=rng))


def torch_small_net() -> torch.nn.Sequential:
    return torch.nn.Sequential(
        torch.nn.BatchNorm2d(2), torch.nn.SiLU(), torch.nn.Conv2d(2, 3, 3, padding=1)
    )


# ----------------------------------------------------------------------------- Parameter
def test_parameter_holds_data_and_grad():
    p = Parameter(np.zeros((2, 3), dtype=np.float32))
    assert p.shape == (2, 3) and p.grad is None
    assert "(2, 3)" in repr(p) and "float32" in repr(p)


# ----------------------------------------------------------------------------- Sequential
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("training", [True, False])
def test_sequential_parity_with_torch(rng, dtype, training):
    net = randomize(small_net(rng), rng)
    compare_with_torch(
        net, torch_small_net(), rng.standard_normal((2, 2, 4, 5)), dtype, training, rng
    )


def test_sequential_container():
    net = small_net()
    assert len(net) == 3 and isinstance(net[2], Conv2d)
    assert [type(m) for m in net] == [BatchNorm2d, SiLU, Conv2d]
    assert [name for name, _ in net.named_modules()] == ["", "0", "1", "2"]


# ----------------------------------------------------------------------------- registration
def test_names_and_order_like_torch():
    net, twin = small_net(), torch_small_net()
    assert [n for n, _ in net.named_parameters()] == [n for n, _ in twin.named_parameters()]
    assert [n for n, _ in net.named_buffers()] == [n for n, _ in twin.named_buffers()]
    assert list(net.state_dict()) == list(twin.state_dict())
    assert [p.shape for p in net.parameters()] == [tuple(p.shape) for p in twin.parameters()]


def test_nested_modules_get_dotted_names():
    class Net(Module):
        def __init__(self):
            super().__init__()
            self.body = Sequential(Linear(2, 3), SiLU())
            self.head = Linear(3, 1, bias=False)

    names = [n for n, _ in Net().named_parameters()]
    assert names == ["body.0.weight", "body.0.bias", "head.weight"]


def test_train_eval_recurse():
    net = small_net()
    assert net.training and all(m.training for _, m in net.named_modules())
    assert net.eval() is net
    assert not any(m.training for _, m in net.named_modules())
    assert net.train() is net and all(m.training for _, m in net.named_modules())


def test_zero_grad(rng):
    net = small_net(rng)
    x = rng.standard_normal((2, 2, 3, 3)).astype(np.float32)
    net.backward(np.ones_like(net(x)))
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_buffer_assignment_goes_to_the_state_dict():
    bn = BatchNorm2d(2)
    bn.running_mean = np.array([1.0, 2.0], dtype=np.float32)
    np.testing.assert_array_equal(bn.state_dict()["running_mean"], [1.0, 2.0])
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = bn.no_such_thing


# ----------------------------------------------------------------------------- state_dict
def test_state_dict_is_a_copy(rng):
    net = small_net(rng)
    state = net.state_dict()
    state["2.weight"] += 1.0
    state["0.running_var"] += 1.0
    assert not np.array_equal(net.state_dict()["2.weight"], state["2.weight"])
    assert not np.array_equal(net.state_dict()["0.running_var"], state["0.running_var"])


def test_load_state_dict_round_trip_copies_and_resets_grads(rng):
    src, dst = randomize(small_net(rng), rng), small_net(rng)
    dst.backward(np.ones_like(dst(np.ones((2, 2, 3, 3), dtype=np.float32))))
    state = src.state_dict()
    dst.load_state_dict(state)
    for k, v in dst.state_dict().items():
        np.testing.assert_array_equal(v, state[k], err_msg=k)
    assert all(p.grad is None for p in dst.parameters())
    state["2.weight"] += 1.0  # the model holds its own copy
    assert not np.array_equal(dst.state_dict()["2.weight"], state["2.weight"])


def test_load_state_dict_accepts_torch_tensors(rng):
    net, twin = small_net(rng), torch_small_net()
    net.load_state_dict(twin.state_dict())
    for k, v in twin.state_dict().items():
        np.testing.assert_array_equal(net.state_dict()[k], v.numpy(), err_msg=k)


def test_float64_arrays_make_a_float64_module(rng):
    net = small_net(rng)
    net.load_state_dict({k: v.astype(np.float64) for k, v in net.state_dict().items()})
    assert all(p.data.dtype == np.float64 for p in net.parameters())
    x = rng.standard_normal((2, 2, 3, 3))
    assert net(x).dtype == np.float64
    assert net.backward(np.ones((2, 3, 3, 3))).dtype == np.float64
    assert all(p.grad.dtype == np.float64 for p in net.parameters())


def test_to_casts_floating_parameters_and_buffers_only(rng):
    net = small_net(rng).to(np.float64)
    state = net.state_dict()
    assert state["0.num_batches_tracked"].dtype == np.int64
    assert all(v.dtype == np.float64 for k, v in state.items() if "num_batches" not in k)
    assert net(rng.standard_normal((2, 2, 3, 3)).astype(np.float32)).dtype == np.float64
    assert net.to(np.float32)(np.ones((2, 2, 3, 3), dtype=np.float32)).dtype == np.float32


def test_load_state_dict_missing_key_names_it(rng):
    net = small_net(rng)
    state = net.state_dict()
    del state["0.running_var"]
    with pytest.raises(KeyError, match=re.escape("0.running_var")):
        net.load_state_dict(state)


def test_load_state_dict_unexpected_key_names_it(rng):
    net = small_net(rng)
    state = net.state_dict() | {"3.weight": np.zeros(3, dtype=np.float32)}
    with pytest.raises(KeyError, match=re.escape("3.weight")):
        net.load_state_dict(state)


def test_load_state_dict_misshapen_key_names_it_and_both_shapes(rng):
    net = small_net(rng)
    state = net.state_dict()
    state["2.weight"] = np.zeros((3, 2, 1, 1), dtype=np.float32)
    with pytest.raises(ValueError, match=re.escape("2.weight")) as info:
        net.load_state_dict(state)
    assert "(3, 2, 1, 1)" in str(info.value) and "(3, 2, 3, 3)" in str(info.value)


def test_failed_load_leaves_the_module_unchanged(rng):
    net = small_net(rng)
    before = net.state_dict()
    bad = {k: v + 1 for k, v in before.items()}
    bad["0.bias"] = np.zeros(4, dtype=np.float32)
    with pytest.raises(ValueError):
        net.load_state_dict(bad)
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)


def test_repr_shows_the_tree():
    text = repr(small_net())
    assert text.startswith("Sequential(") and "(2): Conv2d(2, 3, kernel_size=3" in text
    assert "(0): BatchNorm2d(2, eps=1e-05, momentum=0.1)" in text


def test_a_shared_parameter_or_module_is_listed_once_like_torch(rng):
    shared = Linear(3, 3, rng=rng)
    net = Sequential(shared, SiLU(), shared)
    twin_layer = torch.nn.Linear(3, 3)
    twin = torch.nn.Sequential(twin_layer, torch.nn.SiLU(), twin_layer)
    assert [n for n, _ in net.named_parameters()] == [n for n, _ in twin.named_parameters()]
    assert len(net.parameters()) == len(list(twin.parameters())) == 2
    assert [n for n, _ in net.named_modules()] == [n for n, _ in twin.named_modules()]
    tied = Module()
    tied.a = Linear(2, 2, rng=rng)
    tied.b = Linear(2, 2, rng=rng)
    tied.b.weight = tied.a.weight  # one Parameter in two layers: SGD must step it once
    assert len(tied.parameters()) == 3


def test_slicing_a_sequential_gives_a_sequential_like_torch(rng):
    layers = [Linear(2, 2, rng=rng), SiLU(), Linear(2, 2, rng=rng)]
    net = Sequential(*layers)
    tail = net[1:]
    assert isinstance(tail, Sequential) and list(tail) == layers[1:]
    assert list(tail.state_dict()) == list(
        torch.nn.Sequential(*[torch.nn.SiLU(), torch.nn.Linear(2, 2)])[0:].state_dict()
    )
    assert net[-1] is layers[-1]


@pytest.mark.parametrize("dtype", [np.int32, np.bool_])
def test_load_state_dict_refuses_non_float_arrays_naming_the_key(rng, dtype):
    net = Sequential(Linear(2, 2, rng=rng), BatchNorm2d(2))
    state = net.state_dict()
    state["0.weight"] = state["0.weight"].astype(dtype)
    with pytest.raises(TypeError, match=r"key '0\.weight' holds (int32|bool) values"):
        net.load_state_dict(state)
    good = net.state_dict()
    good["1.num_batches_tracked"] = np.array(3.0)  # a counter may come as a float
    net.load_state_dict(good)
    assert net.state_dict()["1.num_batches_tracked"].dtype == np.int64
