"""The two engines: how Task 1 (NumPy, by hand) and Task 2 (PyTorch) compute a step.

Both take a `TrainConfig` and the same initial weights and offer the same methods:
`train_step(xb, yb) -> (mean loss, number correct)`, `predict_logits(xb)`,
`batch_loss(logits, yb)`, `get_lr()`, `state_dict()`, `save_checkpoint(...)` and
`load_checkpoint(...)`; the loop (`train.py`) cannot tell them apart.
"""

from __future__ import annotations

import contextlib
import json
import zipfile
from pathlib import Path

import numpy as np

from . import nn
from .config import WARMUP_START, TrainConfig
from .digests import DIGEST_KEY, RunFileError, array_digest, read_npz, tree_digest, verify
from .ema import EMA
from .files import atomic_write
from .models import (
    build_numpy_model,
    build_torch_model,
    fast_engine,
    resolve_engine,
    torch_state_to_numpy,
)
from .optim import SGD, MultiStepLR, WarmupCosineLR


class NumpyEngine:
    """Task 1: forward, loss, backward and SGD, all by hand (`lab01_utils.nn`, `.optim`)."""

    name = "numpy"
    checkpoint_name = "checkpoint.npz"

    def __init__(
        self,
        cfg: TrainConfig,
        init_state: dict[str, np.ndarray] | None = None,
        steps_per_epoch: int | None = None,
    ):
        self.engine = resolve_engine(cfg.numpy_engine)
        if cfg.numpy_processes > 1 and self.engine != "fast":
            raise ValueError(
                f"numpy_processes={cfg.numpy_processes} needs the fast engine (its BatchNorm "
                f"shares statistics between processes); engine {self.engine!r} runs in one"
            )
        self.model = build_numpy_model(
            cfg.widths, cfg.num_classes, cfg.seed, cfg.zero_init_residual, engine=self.engine
        )
        if init_state is not None:
            self.model.load_state_dict(init_state)
        # The training loss (label smoothing when asked); evaluation is always the plain one.
        self.eval_loss = nn.CrossEntropyLoss()
        self.loss_fn = (
            nn.LabelSmoothingCrossEntropy(cfg.label_smoothing)
            if cfg.label_smoothing
            else self.eval_loss
        )
        self.optimizer = SGD(
            self.model.parameters(),
            lr=cfg.lr,
            momentum=cfg.momentum,
            weight_decay=cfg.weight_decay,
            nesterov=cfg.nesterov,
        )
        self.per_batch = cfg.schedule == "cosine"
        if self.per_batch:
            total, warmup = cfg.schedule_steps(steps_per_epoch)
            self.scheduler = WarmupCosineLR(self.optimizer, total, warmup)
        else:
            self.scheduler = MultiStepLR(self.optimizer, cfg.milestones, cfg.gamma)
        self.device = "cpu"
        self.cfg = cfg
        self.ema = EMA(cfg.ema_decay) if cfg.ema_decay else None
        self._ema_model = None
        # What runs the model: the model itself, or the model on several processes, each on
        # its share of every batch (same results to round-off; see fast/data_parallel.py).
        self.net = self.model
        if cfg.numpy_processes > 1:
            from .fast.data_parallel import DataParallel

            self.net = DataParallel(self.model, processes=cfg.numpy_processes)

    def describe(self) -> str:
        """The engine in words, for the run's first line."""
        if self.engine == "plain":
            only = "" if fast_engine() is not None else ", the only engine of this package"
            return f"the textbook layers (nn/){only}"
        if self.net is not self.model:
            return f"the fast engine on {self.net.world} processes"
        return "the fast engine"

    def get_lr(self) -> float:
        return self.optimizer.lr

    def after_step(self) -> None:
        """After each training step: a per-batch schedule moves on, the EMA takes the step."""
        if self.per_batch:
            self.scheduler.step()
        if self.ema is not None:
            self.ema.update(self.model)

    def evaluated_model(self):
        """The model a run is judged by: the EMA model when EMA is on, else the model."""
        if self.ema is None:
            return self.model
        if self._ema_model is None:
            c = self.cfg
            self._ema_model = build_numpy_model(
                c.widths, c.num_classes, c.seed, c.zero_init_residual, engine=self.engine
            )
        self._ema_model.load_state_dict(self.ema.state)
        self._ema_model.eval()
        return self._ema_model

    def after_epoch(self) -> None:
        """After each epoch: a per-epoch schedule moves on."""
        if not self.per_batch:
            self.scheduler.step()

    def train_step(self, xb: np.ndarray, yb: np.ndarray) -> tuple[float, int]:
        """One SGD step on a batch; returns (mean loss, number correct)."""
        # Exercise 8.1: one training epoch (its SGD step)
        ### BEGIN SOLUTION
        self.model.train()
        logits = self.net(xb)  # self.net: the model, or the model on several processes
        loss = self.loss_fn(logits, yb)
        self.net.backward(self.loss_fn.backward(), input_grad=False)
        self.optimizer.step()
        return loss, int((logits.argmax(axis=1) == yb).sum())
        ### END SOLUTION

    def predict_logits(self, xb: np.ndarray) -> np.ndarray:
        self.model.eval()
        return self.net(xb)

    def batch_loss(self, logits: np.ndarray, yb: np.ndarray) -> float:
        return self.eval_loss(logits, yb)

    def state_dict(self) -> dict[str, np.ndarray]:
        return self.model.state_dict()

    def save_checkpoint(self, path: Path, epoch: int, history: list[dict] = ()) -> None:
        arrays = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        arrays |= {f"optimizer.{k}": v for k, v in self.optimizer.state_dict().items()}
        arrays |= {f"scheduler.{k}": v for k, v in self.scheduler.state_dict().items()}
        arrays["epoch"] = np.array(epoch)
        arrays["history"] = np.array(json.dumps(list(history)))  # a str array: no pickle
        if self.ema is not None:
            arrays |= {f"ema.{k}": v for k, v in self.ema.state_dict().items()}
        arrays[DIGEST_KEY] = np.array(array_digest(arrays))
        atomic_write(path, lambda f: np.savez(f, **arrays))

    def load_checkpoint(self, path: Path) -> tuple[int, list[dict] | None]:
        """Raises `RunFileError` (one line naming the file) for a damaged, truncated, empty
        or foreign file, or one that does not fit this run's model."""
        arrays = read_npz(path, "Task 1 checkpoint", _REDO)
        if "epoch" not in arrays or not any(k.startswith("model.") for k in arrays):
            raise RunFileError(f"{path}: not a Task 1 checkpoint of this lab; {_REDO}")

        def part(prefix: str) -> dict[str, np.ndarray]:
            return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}

        with _fits(path):
            self.model.load_state_dict(part("model."))
            self.optimizer.load_state_dict(part("optimizer."))
            self.scheduler.load_state_dict(part("scheduler."))
            if self.ema is not None:
                self.ema.load_state_dict(part("ema."))
            history = json.loads(str(arrays["history"])) if "history" in arrays else None
            return int(arrays["epoch"]), history


class TorchEngine:
    """Task 2: the same network and recipe in PyTorch (autograd, `torch.optim`)."""

    name = "torch"
    checkpoint_name = "checkpoint.pt"

    def __init__(
        self,
        cfg: TrainConfig,
        init_state: dict[str, np.ndarray] | None = None,
        steps_per_epoch: int | None = None,
    ):
        import torch

        self.torch = torch
        if cfg.device == "auto":
            self.device = "cuda" if torch.cuda.is_available() else "cpu"
        elif cfg.device == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("--device cuda: no CUDA device is available here; use auto or cpu")
        else:
            self.device = cfg.device
        if cfg.torch_threads:
            torch.set_num_threads(cfg.torch_threads)
        if self.device == "cuda":
            # Full float32 arithmetic, as on the CPU and in Task 1 (no TF32 shortcuts).
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
        torch.manual_seed(cfg.seed)
        self.model = build_torch_model(
            cfg.widths, cfg.num_classes, cfg.seed, cfg.zero_init_residual
        )
        if init_state is not None:
            self.model.load_state_dict(
                {k: torch.from_numpy(v.copy()) for k, v in init_state.items()}
            )
        self.model.to(self.device)
        self.loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
        self.eval_loss = torch.nn.CrossEntropyLoss()
        self.optimizer = torch.optim.SGD(
            self.model.parameters(),
            lr=cfg.lr,
            momentum=cfg.momentum,
            weight_decay=cfg.weight_decay,
            nesterov=cfg.nesterov,
        )
        self.ema = None
        if cfg.ema_decay:
            from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

            self.ema = AveragedModel(
                self.model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True
            )
        sched = torch.optim.lr_scheduler
        self.per_batch = cfg.schedule == "cosine"
        if self.per_batch:
            total, warmup = cfg.schedule_steps(steps_per_epoch)
            cosine = sched.CosineAnnealingLR(self.optimizer, T_max=total - warmup, eta_min=0.0)
            if warmup:
                ramp = sched.LinearLR(self.optimizer, WARMUP_START, 1.0, total_iters=warmup)
                self.scheduler = sched.SequentialLR(self.optimizer, [ramp, cosine], [warmup])
            else:
                self.scheduler = cosine
        else:
            self.scheduler = sched.MultiStepLR(self.optimizer, list(cfg.milestones), cfg.gamma)

    def get_lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def after_step(self) -> None:
        if self.per_batch:
            self.scheduler.step()
        if self.ema is not None:
            self.ema.update_parameters(self.model)

    def after_epoch(self) -> None:
        if not self.per_batch:
            self.scheduler.step()

    def evaluated_model(self):
        """The EMA model (torch's AveragedModel's module) when EMA is on, else the model."""
        return self.model if self.ema is None else self.ema.module

    def _tensor(self, a: np.ndarray):
        return self.torch.from_numpy(a).to(self.device, non_blocking=True)

    def train_step(self, xb: np.ndarray, yb: np.ndarray) -> tuple[float, int]:
        self.model.train()
        x, y = self._tensor(xb), self._tensor(yb)
        self.optimizer.zero_grad(set_to_none=True)
        logits = self.model(x)
        loss = self.loss_fn(logits, y)
        loss.backward()
        self.optimizer.step()
        return float(loss.item()), int((logits.argmax(1) == y).sum().item())

    def predict_logits(self, xb: np.ndarray) -> np.ndarray:
        self.model.eval()
        with self.torch.no_grad():
            return self.model(self._tensor(xb)).float().cpu().numpy()

    def batch_loss(self, logits: np.ndarray, yb: np.ndarray) -> float:
        with self.torch.no_grad():
            return float(self.eval_loss(self.torch.from_numpy(logits), self.torch.from_numpy(yb)))

    def state_dict(self) -> dict[str, np.ndarray]:
        return torch_state_to_numpy(self.model.state_dict())

    def save_checkpoint(self, path: Path, epoch: int, history: list[dict] = ()) -> None:
        # Only tensors, numbers and plain containers, so `torch.load(weights_only=True)`
        # (which executes nothing) can read it back.
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "torch_rng": self.torch.get_rng_state(),
            "epoch": epoch,
            "history": json.dumps(list(history)),
        }
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        state["digest"] = tree_digest(state)
        atomic_write(path, lambda f: self.torch.save(state, f))

    def load_checkpoint(self, path: Path) -> tuple[int, list[dict] | None]:
        """Raises `RunFileError` (one line naming the file) for a damaged, truncated, empty
        or foreign file, or one that does not fit this run's model."""
        import pickle

        path = Path(path)
        if not path.is_file():
            raise RunFileError(f"{path}: no such file; {_REDO}")
        try:
            state = self.torch.load(path, map_location=self.device, weights_only=True)
        except pickle.UnpicklingError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise RunFileError(
                f"{path}: holds Python objects that are not loaded (only tensors and plain "
                f"values are: {first[:120]}); {_REDO}"
            ) from None
        except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as e:
            what = "empty" if path.stat().st_size == 0 else "truncated or not a torch file"
            raise RunFileError(f"{path}: {what} ({type(e).__name__}); {_REDO}") from None
        need = {"model", "optimizer", "scheduler", "torch_rng", "epoch"}
        if not isinstance(state, dict) or not need <= set(state):
            raise RunFileError(f"{path}: not a Task 2 checkpoint of this lab; {_REDO}")
        stored = state.pop("digest", None)
        verify(path, stored, tree_digest(state), _REDO)
        with _fits(path):
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.torch.set_rng_state(state["torch_rng"].cpu())
            if self.ema is not None:
                self.ema.load_state_dict(state["ema"])
            history = json.loads(state["history"]) if "history" in state else None
            return int(state["epoch"]), history


_REDO = "start the run anew with --overwrite (the old files are moved aside), or use another --out"


@contextlib.contextmanager
def _fits(path: Path):
    """A checkpoint whose arrays do not fit this run's model (another width, another task's
    file, an edited file) is one line naming it, not a `KeyError` listing 83 keys."""
    try:
        yield
    except (KeyError, ValueError, RuntimeError, TypeError) as e:
        text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise RunFileError(
            f"{path}: does not fit this run's model ({text[:160]}); {_REDO}"
        ) from None


def make_engine(
    cfg: TrainConfig,
    init_state: dict[str, np.ndarray] | None = None,
    steps_per_epoch: int | None = None,
):
    """The engine for `cfg.task`. Without `init_state`, both tasks start from the NumPy
    model's initialisation for `cfg.seed`, so the two tasks begin from identical weights.
    `steps_per_epoch` (batches per epoch) is needed by a per-batch schedule (`cosine`)."""
    if init_state is None:
        init_state = build_numpy_model(
            cfg.widths, cfg.num_classes, cfg.seed, cfg.zero_init_residual
        ).state_dict()  # the plain model's initialisation: the fast engine's is the same
    return (NumpyEngine if cfg.task == "numpy" else TorchEngine)(cfg, init_state, steps_per_epoch)


# --------------------------------------------------------------------------- files


__all__ = ["NumpyEngine", "TorchEngine", "make_engine"]
