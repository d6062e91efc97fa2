"""The one collective operation the fused BatchNorm needs: every process's values.

`data_parallel.py` runs a model on several processes; while one of its commands runs, it
registers its process group here (`set_group`), and `fused.py` exchanges BatchNorm's
statistics through `all_gather`. Outside such a command (one process) `all_gather` returns
just this process's values, so the fused layers need not know whether they run alone.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Group(Protocol):
    running: bool

    def all_gather(self, values: np.ndarray) -> list[np.ndarray]: ...


_group: Group | None = None  # set in each process while a DataParallel command runs


def set_group(group: Group | None) -> None:
    """Register (or, with None, forget) the process group of the running command."""
    global _group
    _group = group


def active() -> bool:
    """True while this process runs its share of a `DataParallel` forward or backward."""
    return _group is not None and _group.running


def all_gather(values: np.ndarray) -> list[np.ndarray]:
    """Every process's `values` (a float vector, the same length everywhere), in rank order.
    Just `[values]` outside a `DataParallel` command."""
    if not active():
        return [values]
    return _group.all_gather(values)
