"""Tests for lab01_utils/optim.py: SGD and MultiStepLR against torch.optim."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import OPTIMIZER, PARITY_RTOL_F64, SCHEDULE, assert_close, parity_rtol

from lab01_utils.config import lr_at
from lab01_utils.nn import Parameter
from lab01_utils.optim import SGD, MultiStepLR, multistep_lr

pytestmark = pytest.mark.needs(*OPTIMIZER + SCHEDULE)

SHAPES = [(3, 2, 3, 3), (4,), (5, 3)]
CONFIGS = {
    "plain": {},
    "momentum": {"momentum": 0.9},
    "weight_decay": {"weight_decay": 0.01},
    "nesterov": {"momentum": 0.9, "nesterov": True},
    "momentum_and_decay": {"momentum": 0.8, "weight_decay": 5e-3},
    "combined": {"momentum": 0.9, "weight_decay": 5e-4, "nesterov": True},
}


def twins(rng, dtype=np.float64):
    params = [Parameter(rng.standard_normal(s).astype(dtype)) for s in SHAPES]
    tensors = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    return params, tensors


def set_grads(rng, params, tensors, skip: int | None = None) -> None:
    for i, (p, t) in enumerate(zip(params, tensors, strict=True)):
        if i == skip:  # a parameter without a gradient this step is left alone by both
            p.grad, t.grad = None, None
            continue
        g = rng.standard_normal(p.data.shape).astype(p.data.dtype)
        p.grad, t.grad = g, torch.tensor(g.copy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("config", list(CONFIGS))
def test_sgd_matches_torch(rng, config, dtype):
    params, tensors = twins(rng, dtype)
    opt = SGD(params, lr=0.1, **CONFIGS[config])
    ref = torch.optim.SGD(tensors, lr=0.1, **CONFIGS[config])
    for step in range(5):
        if step == 3:  # the scheduler's job: change lr between steps
            opt.lr = 0.02
            for group in ref.param_groups:
                group["lr"] = 0.02
        set_grads(rng, params, tensors, skip=1 if step == 2 else None)
        opt.step()
        ref.step()
        for i, (p, t) in enumerate(zip(params, tensors, strict=True)):
            assert p.data.dtype == np.dtype(dtype)
            assert_close(p.data, t, parity_rtol(dtype), f"step {step}, param {i}")
    if "momentum" in CONFIGS[config]:
        for i, t in enumerate(tensors):
            buf = ref.state[t]["momentum_buffer"]
            assert_close(opt.momentum_buffers[i], buf, parity_rtol(dtype), f"buffer {i}")


def test_first_momentum_step_starts_the_buffer_at_the_gradient():
    p = Parameter(np.array([1.0]))
    opt = SGD([p], lr=0.5, momentum=0.9)
    p.grad = np.array([2.0])
    opt.step()
    assert p.data[0] == 0.0  # 1 - 0.5 * 2: buf = g, not (1 - mu) * g or mu * 0 + g
    p.grad = np.array([2.0])
    opt.step()
    assert p.data[0] == pytest.approx(-0.5 * (0.9 * 2.0 + 2.0))


def test_step_does_not_modify_the_gradient(rng):
    params, _ = twins(rng)
    opt = SGD(params, lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True)
    for p in params:
        p.grad = rng.standard_normal(p.data.shape)
    grads = [p.grad.copy() for p in params]
    opt.step()
    opt.step()
    for p, g in zip(params, grads, strict=True):
        np.testing.assert_array_equal(p.grad, g)


def test_zero_grad(rng):
    params, _ = twins(rng)
    for p in params:
        p.grad = np.ones_like(p.data)
    SGD(params, lr=0.1).zero_grad()
    assert all(p.grad is None for p in params)


def test_sgd_state_dict_round_trip(rng):
    """Save after 2 steps, load into a fresh optimizer, continue: identical to no interruption."""
    kwargs = {"momentum": 0.9, "weight_decay": 1e-3, "nesterov": True}
    params = [Parameter(rng.standard_normal(s)) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(5)]
    opt = SGD(params, lr=0.1, **kwargs)
    for step in range(5):
        if step == 2:
            opt.lr = 0.05
            state = opt.state_dict()
            saved = [p.data.copy() for p in params]
        for p, g in zip(params, grads[step], strict=True):
            p.grad = g
        opt.step()
    resumed = [Parameter(a.copy()) for a in saved]
    opt2 = SGD(resumed, lr=123.0, **kwargs)
    opt2.load_state_dict(state)
    assert opt2.lr == 0.05
    for step in range(2, 5):
        for p, g in zip(resumed, grads[step], strict=True):
            p.grad = g
        opt2.step()
    for p, q in zip(params, resumed, strict=True):
        np.testing.assert_array_equal(p.data, q.data)
    state["momentum_buffer.0"] += 1.0  # the state_dict holds copies
    assert not np.array_equal(opt.momentum_buffers[0], state["momentum_buffer.0"])


def test_sgd_load_state_dict_checks_buffer_shapes(rng):
    params = [Parameter(rng.standard_normal(s)) for s in SHAPES]
    opt = SGD(params, lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"momentum_buffer\.2"):
        opt.load_state_dict({"lr": np.array(0.1), "momentum_buffer.2": np.zeros((3, 5))})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lr": -0.1},
        {"lr": 0.1, "momentum": -0.5},
        {"lr": 0.1, "weight_decay": -1.0},
        {"lr": 0.1, "nesterov": True},
    ],
)
def test_sgd_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError, match="SGD"):
        SGD([Parameter(np.zeros(2))], **kwargs)
    with pytest.raises(ValueError, match="SGD"):
        SGD([], lr=0.1)


# ----------------------------------------------------------------------------- MultiStepLR
def lab_schedule(epoch: int) -> float:
    """The lab's schedule, written out: the lr used DURING epoch `epoch` (1-based)."""
    return 0.03 if epoch <= 15 else 0.003 if epoch <= 25 else 0.0003


def test_multistep_lr_matches_torch_and_the_lab_schedule():
    p = Parameter(np.zeros(1))
    opt = SGD([p], lr=0.03, momentum=0.9)
    sched = MultiStepLR(opt, milestones=[15, 25], gamma=0.1)
    t = torch.zeros(1, requires_grad=True)
    ref_opt = torch.optim.SGD([t], lr=0.03, momentum=0.9)
    ref = torch.optim.lr_scheduler.MultiStepLR(ref_opt, milestones=[15, 25], gamma=0.1)
    for epoch in range(1, 31):
        used, ref_used = opt.lr, ref_opt.param_groups[0]["lr"]
        assert used == pytest.approx(lab_schedule(epoch), rel=PARITY_RTOL_F64), epoch
        assert used == pytest.approx(ref_used, rel=PARITY_RTOL_F64), epoch
        assert used == pytest.approx(multistep_lr(0.03, epoch - 1, [15, 25]), rel=1e-15)
        assert used == pytest.approx(lr_at(0.03, epoch, [15, 25], 0.1), rel=1e-15)  # config's rule
        t.grad = torch.zeros(1)
        ref_opt.step()  # torch warns if the scheduler steps before the optimizer
        sched.step()
        ref.step()
        assert sched.get_last_lr()[0] == pytest.approx(ref.get_last_lr()[0], rel=PARITY_RTOL_F64)
    assert sched.last_epoch == ref.last_epoch == 30


def test_multistep_lr_pure_function():
    assert [multistep_lr(0.03, e, [15, 25]) for e in (0, 14, 15, 24, 25, 29)] == pytest.approx(
        [0.03, 0.03, 0.003, 0.003, 0.0003, 0.0003], rel=1e-12
    )
    assert multistep_lr(1.0, 10, [2, 2, 5], gamma=0.5) == 0.125  # repeated milestones compound
    # the config's rule (1-based epochs: the rate used during epoch e, after e - 1 steps)
    for base, milestones, gamma in (
        (0.03, [15, 25], 0.1),
        (1.0, [2, 2, 5], 0.5),
        (0.1, [0, 3], 0.1),
    ):
        for e in range(12):
            assert multistep_lr(base, e, milestones, gamma) == pytest.approx(
                lr_at(base, e + 1, milestones, gamma), rel=1e-15
            )


def test_multistep_lr_state_dict_resume():
    opt = SGD([Parameter(np.zeros(1))], lr=0.03)
    sched = MultiStepLR(opt, milestones=[15, 25])
    for _ in range(20):
        sched.step()
    state = sched.state_dict()
    opt2 = SGD([Parameter(np.zeros(1))], lr=0.03)
    sched2 = MultiStepLR(opt2, milestones=[15, 25])
    sched2.load_state_dict(state)
    assert sched2.last_epoch == 20 and opt2.lr == pytest.approx(0.003, rel=1e-12)
    for _ in range(10):
        sched.step()
        sched2.step()
        assert opt2.lr == opt.lr


def test_multistep_lr_rejects_unsorted_milestones():
    with pytest.raises(ValueError, match="MultiStepLR"):
        MultiStepLR(SGD([Parameter(np.zeros(1))], lr=0.1), milestones=[25, 15])


@pytest.mark.parametrize("milestones", [[0, 3], [0, 0, 2], [1]])
def test_multistep_lr_with_a_milestone_at_zero_decays_from_the_start_like_torch(milestones):
    opt = SGD([Parameter(np.zeros(1))], lr=0.1)
    sched = MultiStepLR(opt, milestones=milestones, gamma=0.5)
    ref_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    ref = torch.optim.lr_scheduler.MultiStepLR(ref_opt, milestones=milestones, gamma=0.5)
    for epoch in range(5):
        assert opt.lr == pytest.approx(ref_opt.param_groups[0]["lr"], rel=1e-12), epoch
        ref_opt.step()
        sched.step()
        ref.step()


def test_a_learning_rate_set_by_hand_is_overwritten_at_the_next_scheduler_step():
    """The schedule, a pure function of the epoch, owns the rate (documented in MultiStepLR);
    torch's chainable MultiStepLR instead keeps a hand-set rate until the next milestone."""
    opt = SGD([Parameter(np.zeros(1))], lr=0.1)
    sched = MultiStepLR(opt, milestones=[2])
    opt.lr = 5.0  # by hand
    assert opt.lr == 5.0
    sched.step()
    assert opt.lr == pytest.approx(0.1)
    ref_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    ref = torch.optim.lr_scheduler.MultiStepLR(ref_opt, milestones=[2])
    ref_opt.param_groups[0]["lr"] = 5.0
    ref_opt.step()
    ref.step()
    assert ref_opt.param_groups[0]["lr"] == pytest.approx(5.0)  # torch differs here


@pytest.mark.parametrize("total, warmup", [(40, 8), (25, 0), (12, 11)])
def test_the_cosine_schedule_equals_torchs_stepped_per_batch(total, warmup):
    from lab01_utils.config import WARMUP_START, lr_at_step
    from lab01_utils.nn.module import Parameter
    from lab01_utils.optim import WarmupCosineLR

    base = 0.1
    opt = SGD([Parameter(np.zeros(1))], lr=base)
    ours = WarmupCosineLR(opt, total, warmup)
    p = torch.nn.Parameter(torch.zeros(1))
    topt = torch.optim.SGD([p], lr=base)
    sched = torch.optim.lr_scheduler
    cosine = sched.CosineAnnealingLR(topt, T_max=total - warmup)
    theirs = (
        sched.SequentialLR(
            topt, [sched.LinearLR(topt, WARMUP_START, 1.0, total_iters=warmup), cosine], [warmup]
        )
        if warmup
        else cosine
    )
    for step in range(total + 1):
        want = topt.param_groups[0]["lr"]
        assert opt.lr == pytest.approx(want, rel=1e-9, abs=1e-12), step
        assert lr_at_step(base, step, total, warmup) == opt.lr
        ours.step()
        topt.step()
        theirs.step()
    assert lr_at_step(base, total, total, warmup) == pytest.approx(0.0, abs=1e-15)
    if warmup:
        assert lr_at_step(base, 0, total, warmup) == pytest.approx(base * WARMUP_START)
        assert lr_at_step(base, warmup, total, warmup) == pytest.approx(base)
    state = ours.state_dict()
    again = WarmupCosineLR(SGD([Parameter(np.zeros(1))], lr=base), total, warmup)
    again.load_state_dict(state)
    assert again.optimizer.lr == opt.lr and again.last_step == ours.last_step


def test_a_cosine_runs_steps_come_from_its_config_and_need_the_epochs_length():
    """Both engines and the log's rates take (total, warm-up) steps from one method."""
    from lab01_utils.config import WARMUP_START, TrainConfig

    cfg = TrainConfig(schedule="cosine", epochs=30, warmup_epochs=1)
    assert cfg.schedule_steps(1_100) == (33_000, 1_100)
    assert (cfg.batches_per_epoch(55_000), cfg.batches_per_epoch(55_001)) == (1_100, 1_101)
    lrs = cfg.epoch_lrs(55_000)  # 1,100 batches of 50 an epoch
    assert lrs[0] == pytest.approx(cfg.lr * WARMUP_START)
    assert lrs[1] == pytest.approx(cfg.lr)  # the warm-up ends after the first epoch
    for missing in (None, 0):
        with pytest.raises(ValueError, match="runs per batch: give steps_per_epoch"):
            cfg.schedule_steps(missing)
