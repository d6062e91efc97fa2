"""The lab's network, twice: in NumPy (Task 1) and in PyTorch (Task 2), with the same names.

Architecture (the report's Figure 1, widths `(32, 64, 128)`):

    (N, 784) -> (N, 1, 28, 28)
    stem    Conv2d(1, 32, 3, padding=1, bias=False)            -> (N, 32, 28, 28)
    layer1  PreActBlock(32, 32, stride=2), PreActBlock(32, 32)  -> (N, 32, 14, 14)
    layer2  PreActBlock(32, 64, stride=2), PreActBlock(64, 64)  -> (N, 64, 7, 7)
    layer3  PreActBlock(64, 128, stride=2), PreActBlock(128, 128) -> (N, 128, 4, 4)
    bn, act BatchNorm2d(128), SiLU (pre-activation nets end with one more BN + activation)
    pool    global average pooling                              -> (N, 128)
    fc      Linear(128, 10)                                     -> (N, 10) logits

Both models have the same submodule names, so their `state_dict` keys and shapes are
identical and weights move both ways.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import nn
from .config import ENGINES, NUM_CLASSES, WIDTHS
from .images import as_image_batch


def fast_engine():
    """The `lab01_utils.fast` package, or None where this package has none (the student
    release, which holds only the textbook engine)."""
    if not (Path(__file__).parent / "fast" / "__init__.py").is_file():
        # Not this package's: an editable install of another copy (the instructor's sources)
        # would otherwise supply its `fast` to a student release put first on sys.path.
        return None
    try:
        from . import fast
    except ImportError as exc:
        if exc.name not in (f"{__package__}.fast", f"{__package__}.fast.fused"):
            raise
        return None
    return fast


def available_engines() -> tuple[str, ...]:
    """The NumPy engines this package has: ("plain", "fast"), or ("plain",) in the release."""
    return ENGINES if fast_engine() is not None else ENGINES[:1]


def resolve_engine(engine: str) -> str:
    """ "plain" or "fast" as asked; "auto": the fastest engine this package has. A clear
    ValueError for anything else, or for "fast" where the package has no fast engine."""
    if engine == "auto":
        return available_engines()[-1]
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of auto, {', '.join(ENGINES)}; got {engine!r}")
    if engine not in available_engines():
        raise ValueError(
            "engine 'fast' needs lab01_utils/fast/, which this package does not have (the "
            "student release runs the textbook engine, engine='plain')"
        )
    return engine


def _as_images(x, layer: str):
    """`(N, 784)` or `(N, 1, 28, 28)` -> `(N, 1, 28, 28)`, with a clear error otherwise."""
    if not np.issubdtype(np.asarray(x).dtype, np.floating):
        raise TypeError(
            f"{layer}: expected floating-point images in [0, 1], got dtype {np.asarray(x).dtype}; "
            "convert raw pixels with lab01_utils.data.to_images (x.astype(np.float32) / 255)"
        )
    return as_image_batch(x, layer)


class PreActResNet(nn.Module):
    """Task 1: the NumPy model. `forward(x)` -> logits `(N, num_classes)`; `backward(dlogits)`
    -> dx with the input's shape, filling every parameter's `.grad`."""

    def __init__(
        self,
        widths: Sequence[int] = WIDTHS,
        num_classes: int = NUM_CLASSES,
        seed: int = 0,
        dtype=np.float32,
    ):
        super().__init__()
        if len(widths) != 3 or any(int(w) < 1 for w in widths):
            raise ValueError(f"PreActResNet: widths must be three positive ints, got {widths!r}")
        rng = np.random.default_rng(seed)
        w1, w2, w3 = (int(w) for w in widths)
        self.widths, self.num_classes = (w1, w2, w3), num_classes
        self.stem = nn.Conv2d(1, w1, 3, padding=1, bias=False, rng=rng, dtype=dtype)
        stages, c_in = [], w1
        for w in (w1, w2, w3):
            stages.append(
                nn.Sequential(
                    nn.PreActBlock(c_in, w, stride=2, rng=rng, dtype=dtype),
                    nn.PreActBlock(w, w, stride=1, rng=rng, dtype=dtype),
                )
            )
            c_in = w
        self.layer1, self.layer2, self.layer3 = stages
        self.bn = nn.BatchNorm2d(w3, dtype=dtype)
        self.act = nn.SiLU()
        self.pool = nn.GlobalAvgPool2d()
        self.fc = nn.Linear(w3, num_classes, rng=rng, dtype=dtype)
        self._in_shape = None

    def extra_repr(self) -> str:
        return f"widths={self.widths}, num_classes={self.num_classes}"

    def body(self) -> list[tuple[str, nn.Module]]:
        """The top-level layers in order (used by forward/backward and the shape table)."""
        return [
            ("stem", self.stem),
            ("layer1", self.layer1),
            ("layer2", self.layer2),
            ("layer3", self.layer3),
            ("bn", self.bn),
            ("act", self.act),
            ("pool", self.pool),
            ("fc", self.fc),
        ]

    def forward(self, x: np.ndarray) -> np.ndarray:
        dtype = self.fc.weight.data.dtype
        h = _as_images(np.asarray(x), "PreActResNet").astype(dtype, copy=False)
        self._in_shape = x.shape
        for _, layer in self.body():
            h = layer(h)
        return h

    def backward(self, dy: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Fill every parameter's `.grad`; return dx (the input's shape), or None when
        `input_grad=False` (training needs no image gradient; the fast engine's stem then
        skips computing it, its most expensive step)."""
        self.stem.input_grad = input_grad
        for _, layer in reversed(self.body()):
            dy = layer.backward(dy)
        if dy is None or not input_grad:  # the textbook stem computes dx regardless
            return None
        return np.ascontiguousarray(dy).reshape(self._in_shape)


def residual_branch_ends(model) -> list[str]:
    """The `state_dict` keys of the last conv weight of every residual branch
    (`layerK.J.conv2.weight`): what `zero_init_residual` sets to zero."""
    return [k for k in model.state_dict() if k.endswith("conv2.weight")]


def build_numpy_model(
    widths: Sequence[int] = WIDTHS,
    num_classes: int = NUM_CLASSES,
    seed: int = 0,
    zero_init_residual: bool = False,
    engine: str = "plain",
) -> PreActResNet:
    """Task 1's model, float32, initialised like torch's defaults from `seed`.

    `zero_init_residual=True` then zeroes the last conv of every residual branch, so each
    block starts as its shortcut (Goyal et al., 2017; torchvision's option of that name).
    `engine`: "plain" (the textbook layers of `nn/`), "fast" (`lab01_utils.fast`: the same
    model and weights, its layers channels-last, threaded and fused) or "auto" (the fastest
    this package has)."""
    engine = resolve_engine(engine)
    model = PreActResNet(widths, num_classes, seed)
    if engine == "fast":
        fast_engine().accelerate(model)
    if zero_init_residual:
        params = dict(model.named_parameters())
        for key in residual_branch_ends(model):
            params[key].data[...] = 0
    return model


def build_torch_model(
    widths: Sequence[int] = WIDTHS,
    num_classes: int = NUM_CLASSES,
    seed: int = 0,
    zero_init_residual: bool = False,
):
    """Task 2's model (a `torch.nn.Module`), torch's default initialisation under `seed`
    (`zero_init_residual` as in `build_numpy_model`)."""
    import torch

    from .torch_model import TorchPreActResNet

    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = TorchPreActResNet(widths, num_classes)
    finally:
        torch.random.set_rng_state(gen_state)
    if zero_init_residual:
        params = dict(model.named_parameters())
        with torch.no_grad():
            for key in residual_branch_ends(model):
                params[key].zero_()
    return model


def numpy_state_to_torch(state: dict[str, np.ndarray]) -> dict:
    """A NumPy `state_dict` -> torch tensors (for `torch_model.load_state_dict`)."""
    import torch

    return {k: torch.from_numpy(np.array(v, copy=True)) for k, v in state.items()}


def torch_state_to_numpy(state) -> dict[str, np.ndarray]:
    """A torch `state_dict` -> NumPy arrays (for `numpy_model.load_state_dict` or `.npz`)."""
    return {k: v.detach().cpu().numpy().copy() for k, v in state.items()}
