"""`Parameter`, `Module` and `Sequential`: the skeleton every layer hangs on.

A module mirrors `torch.nn.Module` closely enough that weights move between the NumPy and
the torch model by `state_dict` key:

* `forward(x) -> y` computes the output and saves whatever `backward` needs *on the module*
  (one place, replaced by the next forward);
* `backward(dy) -> dx` returns the gradient with respect to the input and **overwrites**
  (does not accumulate into) each parameter's `.grad`. Because a network here is a tree
  (each parameter used once per forward), overwriting is both correct and cheaper than
  accumulating; call `backward` once per `forward`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np


class Parameter:
    """A trainable array and its gradient.

    Attributes:
        data: the value, any shape (torch layout, e.g. conv `(C_out, C_in, kH, kW)`).
        grad: the gradient of the loss w.r.t. `data`, same shape, or None before backward.
    """

    __slots__ = ("data", "grad")

    def __init__(self, data: np.ndarray):
        self.data = np.asarray(data)
        self.grad: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class: a layer with `forward`, `backward`, parameters, buffers and submodules.

    Subclasses assign `Parameter`s, buffers (`self.register_buffer(name, array)`) and child
    `Module`s as attributes; the registration order is the `state_dict` order, as in torch.
    """

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name: str, value) -> None:
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif name in self._buffers:
            self._buffers[name] = value
            return
        object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        # Only called when normal lookup fails: buffers live in `_buffers`.
        buffers = self.__dict__.get("_buffers", {})
        if name in buffers:
            return buffers[name]
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    def register_buffer(self, name: str, value: np.ndarray) -> None:
        """Register a non-trainable array that belongs in the `state_dict` (e.g. running_mean)."""
        self._buffers[name] = value

    # ------------------------------------------------------------------ computation
    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    # ------------------------------------------------------------------ modes
    def train(self, mode: bool = True) -> Module:
        """Training mode (BatchNorm uses batch statistics); returns self like torch."""
        object.__setattr__(self, "training", mode)
        for m in self._modules.values():
            m.train(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode (BatchNorm uses running statistics)."""
        return self.train(False)

    # ------------------------------------------------------------------ traversal
    def named_modules(
        self, prefix: str = "", _seen: set[int] | None = None
    ) -> Iterator[tuple[str, Module]]:
        """Yield `(name, module)` for this module and every submodule, each once (a module
        registered under two names is listed under the first, as in torch)."""
        seen = set() if _seen is None else _seen
        if id(self) in seen:
            return
        seen.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name, seen)

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Yield `(name, Parameter)` with torch's dotted names, e.g. `layer1.0.conv1.weight`.
        A parameter shared by two layers is listed once (so SGD steps it once), as in torch."""
        seen: set[int] = set()
        for mod_name, m in self.named_modules(prefix):
            for name, p in m._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        for mod_name, m in self.named_modules(prefix):
            for name, b in m._buffers.items():
                yield (f"{mod_name}.{name}" if mod_name else name), b

    def zero_grad(self) -> None:
        """Reset every parameter's `.grad` to None (backward overwrites it anyway)."""
        for p in self.parameters():
            p.grad = None

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameters and buffers by torch key, in torch's order (copies, safe to keep)."""
        out: dict[str, np.ndarray] = {}
        for mod_name, m in self.named_modules():
            pre = f"{mod_name}." if mod_name else ""
            for name, p in m._parameters.items():
                out[pre + name] = p.data.copy()
            for name, b in m._buffers.items():
                out[pre + name] = np.array(b, copy=True)
        return out

    def load_state_dict(self, state_dict: Mapping[str, np.ndarray]) -> None:
        """Load parameters and buffers by key, checking the key set and every shape.

        Arrays are copied. Floating arrays set the model's dtype: loading float64 arrays makes
        a float64 model (what the gradient checks use). Accepts torch tensors too (anything
        `np.asarray` understands). Raises KeyError / ValueError naming the offending key.
        """
        own = self.state_dict()
        given = {k: np.asarray(_to_numpy(v)) for k, v in state_dict.items()}
        missing = [k for k in own if k not in given]
        unexpected = [k for k in given if k not in own]
        if missing or unexpected:
            raise KeyError(
                f"{type(self).__name__}.load_state_dict: missing keys {missing}, "
                f"unexpected keys {unexpected}"
            )
        for k, v in given.items():
            if np.issubdtype(own[k].dtype, np.floating) and not np.issubdtype(v.dtype, np.floating):
                raise TypeError(
                    f"{type(self).__name__}.load_state_dict: key {k!r} holds {v.dtype} values, "
                    f"the model expects floating point ({own[k].dtype})"
                )
            if own[k].shape != v.shape:
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: key {k!r} has shape "
                    f"{tuple(v.shape)}, the model expects {tuple(own[k].shape)}"
                )
        for mod_name, m in self.named_modules():
            pre = f"{mod_name}." if mod_name else ""
            for name, p in m._parameters.items():
                p.data = np.array(given[pre + name], copy=True)
                p.grad = None
            for name, own_b in list(m._buffers.items()):
                b = np.array(given[pre + name], copy=True)
                # Counters (num_batches_tracked) stay integers whatever dtype they come in.
                if np.issubdtype(np.asarray(own_b).dtype, np.integer):
                    b = b.astype(np.asarray(own_b).dtype)
                m._buffers[name] = b

    def to(self, dtype) -> Module:
        """Cast every floating parameter and buffer to `dtype` (e.g. `np.float64`)."""
        for _, m in self.named_modules():
            for p in m._parameters.values():
                p.data = p.data.astype(dtype)
                p.grad = None
            for name, b in m._buffers.items():
                if np.issubdtype(np.asarray(b).dtype, np.floating):
                    m._buffers[name] = np.asarray(b).astype(dtype)
        return self

    # ------------------------------------------------------------------ display
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        if len(lines) == 1:
            return lines[0] + ")"
        return "\n".join(lines) + "\n)"


def _to_numpy(v):
    # torch tensors (possibly on CUDA or requiring grad) -> numpy, without importing torch.
    if hasattr(v, "detach") and hasattr(v, "cpu"):
        return v.detach().cpu().numpy()
    return v


class Sequential(Module):
    """Apply children in order; backward runs them in reverse. Keys `0`, `1`, ... as in torch."""

    def __init__(self, *modules: Module):
        super().__init__()
        for i, m in enumerate(modules):
            setattr(self, str(i), m)

    def __len__(self) -> int:
        return len(self._modules)

    def __getitem__(self, i: int | slice) -> Module:
        """The i-th module, or for a slice a `Sequential` of those modules (as in torch)."""
        modules = list(self._modules.values())
        if isinstance(i, slice):
            return Sequential(*modules[i])
        return modules[i]

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def forward(self, x: np.ndarray) -> np.ndarray:
        for m in self._modules.values():
            x = m(x)
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        for m in reversed(self._modules.values()):
            dy = m.backward(dy)
        return dy
