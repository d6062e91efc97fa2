"""Shared fixtures for the layer tests (tolerances and helpers live in `helpers.py`)."""

from __future__ import annotations

import os

# The tests run thousands of tiny GEMMs and convolutions. On a small, shared machine, BLAS
# and torch thread pools only add synchronisation (measured on 2 loaded cores: a batch-4
# forward + backward of the lab model took ~2 s in torch and ~0.5 s in NumPy with 2 threads,
# under 0.1 s each with 1). OpenBLAS and torch read these when they load, hence before the
# imports; an explicit setting in the environment wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, fixed-seed generator per test, so every test is reproducible on its own."""
    return np.random.default_rng(1234)
