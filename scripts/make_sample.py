"""Rebuild the embedded Fashion-MNIST sample, ``lab01_utils/sample/fashion_mnist_sample.npz``.

The sample is what lab01 falls back to when the full set is absent (``load_sample``): real
rows of the full set, stratified by class, 200 per class from the train split (2,000 images)
and 50 per class from the test split (500 images).

How the rows are chosen (deterministic):
    for split ``s`` (train = 0, test = 1), ``rng = np.random.default_rng([SAMPLE_SEED, s])``;
    for each class ``c = 0..9`` in order, ``rng.choice(indices of class c, per_class,
    replace=False)``; the chosen indices are then sorted, so the sample keeps the full set's
    (already shuffled) order.

The file holds ``x_train`` uint8 (2000, 784), ``y_train`` int64 (2000,), ``x_test`` uint8
(500, 784), ``y_test`` int64 (500,), and ``idx_train``/``idx_test`` int64: each row's index in
its full split. It is the format ``np.savez_compressed`` writes (one deflated ``.npy`` per
array), written here with zip timestamps fixed at 1980-01-01 so that the same data always gives
a byte-identical file (``np.savez_compressed`` stamps the current time, which would make every
rebuild a spurious change).

The full set is found as ``load_fashion_mnist`` finds it (``--root``, ``$FASHION_MNIST_DIR``,
the cache, ``/usr/share/datasets/fashion-mnist``, a download) but never the sample itself, and
it must match the published sha256 digests, so the sample is always cut from canonical data.

Usage:
    make sample
    python scripts/make_sample.py [--root DIR] [--out PATH]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import zipfile
from pathlib import Path

import numpy as np

from lab01_utils.data import (
    SAMPLE_PATH,
    SAMPLE_PER_CLASS,
    SHA256,
    DatasetError,
    idx_sha256,
    load_with_source,
)
from lab01_utils.files import atomic_write

SAMPLE_SEED = 0
_SPLIT_SEED = {"train": 0, "test": 1}
_IDX_PREFIX = {"train": "train", "test": "t10k"}
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


def select_indices(y: np.ndarray, per_class: int, seed: tuple[int, int]) -> np.ndarray:
    """Sorted indices of ``per_class`` rows of each class of ``y`` (``(N,)`` labels 0..9)."""
    rng = np.random.default_rng(list(seed))
    chosen = [rng.choice(np.flatnonzero(y == c), size=per_class, replace=False) for c in range(10)]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def build_sample(root: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """The sample's arrays, cut from the verified full set (see the module docstring)."""
    arrays: dict[str, np.ndarray] = {}
    for split in ("train", "test"):
        x, y, source = load_with_source(split, root, allow_sample=False)
        prefix = _IDX_PREFIX[split]
        for name, a in ((f"{prefix}-images-idx3-ubyte", x), (f"{prefix}-labels-idx1-ubyte", y)):
            if idx_sha256(a) != SHA256[name]:
                raise DatasetError(
                    f"{source.path}: the {split} data does not match the published sha256 "
                    f"of {name}; the sample must be cut from the canonical Fashion-MNIST"
                )
        idx = select_indices(y, SAMPLE_PER_CLASS[split], (SAMPLE_SEED, _SPLIT_SEED[split]))
        arrays[f"x_{split}"] = x[idx]
        arrays[f"y_{split}"] = y[idx].astype(np.int64)
        arrays[f"idx_{split}"] = idx
    return arrays


def write_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as a compressed .npz, byte-for-byte reproducible and atomically."""

    def write(f) -> None:
        with zipfile.ZipFile(f, "w") as zf:
            for name in sorted(arrays):
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]))
                info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16  # a fixed mode, whatever the umask
                zf.writestr(info, buf.getvalue())

    atomic_write(path, write, mode=0o644)  # a package data file, readable by everyone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="directory with the full set (default: search)")
    parser.add_argument("--out", default=str(SAMPLE_PATH), help="output .npz")
    args = parser.parse_args(argv)
    try:
        arrays = build_sample(args.root)
    except DatasetError as e:
        print(f"make_sample: {e}", file=sys.stderr)
        return 1
    write_npz(args.out, arrays)
    print(
        f"make_sample: wrote {args.out} ({len(arrays['x_train'])} train, "
        f"{len(arrays['x_test'])} test images, {Path(args.out).stat().st_size:,} bytes)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
