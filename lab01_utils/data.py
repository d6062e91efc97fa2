"""Fashion-MNIST: where it comes from, and loading it.

Where the data comes from (``load_fashion_mnist(split, root=None)``), first match wins:

1. ``root``, when given: it must hold the files, or ``DatasetError``.
2. ``$FASHION_MNIST_DIR``, when set (non-empty): it must hold the files, or ``DatasetError``;
   a wrong path is an error, never a silent fallback to other data.
3. The user cache, ``CACHE_DIR`` (``platformdirs.user_cache_dir("lab01")/fashion-mnist``).
4. ``DEBIAN_DIR`` (``/usr/share/datasets/fashion-mnist``, Debian's ``dataset-fashion-mnist``).
5. A download of the IDX ``.gz`` files from ``MIRROR_URL`` into ``CACHE_DIR`` with pooch,
   unless ``LAB01_NO_DOWNLOAD=1``. The decompressed bytes are checked against ``SHA256``
   (gzip bytes differ between mirrors; the content does not). A failed or mismatching
   download is not retried: loading falls through to step 6.
6. The embedded sample (``load_sample``): 200 train / 50 test real images per class.

``find_data_source`` answers "which one, and where" without loading anything;
``data_source_name`` gives the same answer as a short label for logs and plot titles.

A directory holds a split as IDX files (each optionally gzipped; preferred when both are
present) or as Kaggle's CSV (``formats.py`` reads both). CSV parsing is slow (about 2 s for
the 60,000 train rows), so the decoded arrays are cached in ``CACHE_DIR/decoded``. Every
problem with the files raises ``DatasetError`` naming the file. Mini-batches are
``loader.MiniBatchLoader``; image shapes, ``images.py``.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs

from .config import ENV_DATA_DIR as ENV_DIR
from .config import ENV_NO_DOWNLOAD, PROFILES, downloads_enabled, env, env_profile
from .files import atomic_write
from .formats import (
    CLASS_NAMES,
    IDX_PREFIX,
    NUM_CLASSES,
    SHA256,
    DatasetError,
    idx_sha256,
    read_bytes,
    read_csv,
    read_idx_images,
    read_idx_labels,
    split_files,
)
from .images import NUM_PIXELS, to_images

__all__ = [
    "CLASS_NAMES",
    "NUM_CLASSES",
    "DataSource",
    "DatasetError",
    "data_source_name",
    "default_profile",
    "find_data_source",
    "idx_sha256",
    "load_fashion_mnist",
    "load_sample",
    "load_with_source",
    "read_csv",
    "read_idx_images",
    "read_idx_labels",
    "split_size",
    "to_images",
]

SPLITS = ("train", "test")
SPLIT_SIZES = {"train": 60_000, "test": 10_000}
SAMPLE_PER_CLASS = {"train": 200, "test": 50}

# Looked up at call time, so tests (and odd machines) can monkeypatch them.
CACHE_DIR = Path(platformdirs.user_cache_dir("lab01")) / "fashion-mnist"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
MIRROR_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
DOWNLOAD_TIMEOUT_S = 10.0
SAMPLE_PATH = Path(__file__).parent / "sample" / "fashion_mnist_sample.npz"
_HOW_TO_GET = (
    "for the full set: apt-get install dataset-fashion-mnist, "
    f"or set {ENV_DIR} to a folder with the IDX or CSV files"
)


# ----------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class DataSource:
    """Where a split is (or would be) loaded from.

    Attributes:
        kind: ``"root"`` (explicit argument), ``"env"`` (``$FASHION_MNIST_DIR``), ``"cache"``,
            ``"debian"``, ``"download"`` or ``"sample"``.
        path: the directory holding the files (``CACHE_DIR`` for a download), or the
            sample's ``.npz``.
        files: the files that are read; empty for a download not yet made.
        fmt: ``"idx"``, ``"csv"`` or ``"npz"`` (the sample); empty for a download not yet made.
        note: why an earlier option was skipped (e.g. a failed download), else ``""``.
    """

    kind: str
    path: Path
    files: tuple[Path, ...] = ()
    fmt: str = ""
    note: str = ""

    @property
    def is_full(self) -> bool:
        """True unless this is the embedded sample."""
        return self.kind != "sample"

    def label(self) -> str:
        """A short one-line name for logs and plot titles."""
        if self.kind == "sample":
            return "sample (embedded subset: 200 train / 50 test images per class)"
        return f"{self.kind} ({self.path})"


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")


def _require_split(directory: Path, split: str, kind: str, what: str) -> DataSource:
    """A DataSource for a directory that must hold the split (explicit root or env var)."""
    if not directory.exists():
        raise DatasetError(f"{what}{directory}: directory not found")
    if not directory.is_dir():
        raise DatasetError(f"{what}{directory}: not a directory")
    found = split_files(directory, split)
    if found is None:
        prefix = IDX_PREFIX[split]
        present = [
            p.name
            for p in sorted(directory.iterdir())
            if p.name.startswith(f"{prefix}-") or p.name.startswith("fashion-mnist_")
        ]
        raise DatasetError(
            f"{what}{directory}: no Fashion-MNIST {split} files: expected "
            f"{prefix}-images-idx3-ubyte[.gz] and {prefix}-labels-idx1-ubyte[.gz] (IDX) "
            f"or fashion-mnist_{split}.csv (Kaggle CSV); found "
            + (", ".join(present) if present else "none of them")
        )
    fmt, files = found
    return DataSource(kind, directory, files, fmt)


def _one_line(e: BaseException, limit: int = 100) -> str:
    """``Type: message`` on one line, cut short: requests' messages run to several hundred
    characters and the notice must stay one readable line."""
    text = " ".join(str(e).split())
    if len(text) > limit:
        text = text[: limit - 3].rstrip() + "..."
    return f"{type(e).__name__}: {text}"


def _download(split: str) -> tuple[tuple[Path, ...] | None, str]:
    """Fetch the split's two IDX .gz files into CACHE_DIR; return ``(files, "")`` or
    ``(None, reason)``. One attempt each, no retries, a short timeout."""
    import pooch  # imported here: it pulls in requests, which plain loading never needs

    prefix = IDX_PREFIX[split]
    names = [f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"]
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")  # pooch logs several INFO lines per file; we print one line
    fetched: list[Path] = []
    try:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        for name in names:
            # known_hash=None: pooch would hash the gzip bytes, which differ between mirrors;
            # the decompressed content is checked below instead.
            path = pooch.retrieve(
                MIRROR_URL + name,
                known_hash=None,
                fname=name,
                path=CACHE_DIR,
                downloader=pooch.HTTPDownloader(timeout=DOWNLOAD_TIMEOUT_S, progressbar=False),
            )
            fetched.append(Path(path))
    except Exception as e:  # no network, DNS, HTTP error, timeout, full disk: all mean "no"
        return None, f"download from {MIRROR_URL} failed ({_one_line(e)})"
    finally:
        logger.setLevel(level)
    for path in fetched:
        stem = path.name.removesuffix(".gz")
        try:
            digest = hashlib.sha256(read_bytes(path)).hexdigest()
        except DatasetError as e:
            digest = str(e)
        if digest != SHA256[stem]:
            for p in fetched:
                p.unlink(missing_ok=True)
            return None, f"downloaded {path.name} failed its sha256 check and was deleted"
    return tuple(fetched), ""


def find_data_source(
    split: str = "train", root: str | os.PathLike | None = None, *, download: bool = False
) -> DataSource:
    """Where ``load_fashion_mnist(split, root)`` gets its data (see the module docstring).

    Args:
        split: ``"train"`` or ``"test"``.
        root: a directory that must hold the split; None to search.
        download: if True, make the download when it is the next option. If False (default)
            nothing is fetched and ``kind == "download"`` means "would try a download" (which
            falls back to the sample if it fails).

    Returns:
        A ``DataSource``; ``kind`` is one of ``"root"``, ``"env"``, ``"cache"``, ``"debian"``,
        ``"download"``, ``"sample"``.

    Raises:
        ValueError: bad ``split``.
        DatasetError: ``root`` or ``$FASHION_MNIST_DIR`` is given but lacks the files.
    """
    _check_split(split)
    if root is not None:
        return _require_split(Path(root), split, "root", "")
    env_dir = env(ENV_DIR)
    if env_dir:
        return _require_split(Path(env_dir), split, "env", f"{ENV_DIR}=")
    for kind, directory in (("cache", Path(CACHE_DIR)), ("debian", Path(DEBIAN_DIR))):
        found = split_files(directory, split) if directory.is_dir() else None
        if found:
            return DataSource(kind, directory, found[1], found[0])
    note = f"downloads off ({ENV_NO_DOWNLOAD}=1)"
    if downloads_enabled():
        if not download:
            return DataSource("download", Path(CACHE_DIR))
        files, note = _download(split)
        if files:
            return DataSource("download", Path(CACHE_DIR), files, "idx")
    return DataSource("sample", SAMPLE_PATH, (SAMPLE_PATH,), "npz", note)


def data_source_name(split: str = "train", root: str | os.PathLike | None = None) -> str:
    """A one-line label of the data ``load_fashion_mnist(split, root)`` would use.

    E.g. ``"debian (/usr/share/datasets/fashion-mnist)"`` or
    ``"sample (embedded subset: 200 train / 50 test images per class)"``. Downloads nothing:
    ``"download (...)"`` means a download would be tried.
    """
    return find_data_source(split, root).label()


# ----------------------------------------------------------------------------- loading


def _read_csv_cached(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``read_csv`` behind a decoded-array cache keyed by the file's path, mtime and size."""
    st = path.stat()
    path_key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    version_key = hashlib.sha256(f"{st.st_mtime_ns}:{st.st_size}".encode()).hexdigest()[:12]
    cache_dir = Path(CACHE_DIR) / "decoded"
    cached = cache_dir / f"{path.name}.{path_key}.{version_key}.npz"
    try:
        with np.load(cached, allow_pickle=False) as f:
            x, y = f["x"], f["y"]
        shape_ok = x.dtype == np.uint8 and x.ndim == 2 and x.shape[1] == NUM_PIXELS
        if shape_ok and len(y) == len(x) and (not len(y) or 0 <= y.min() <= y.max() < NUM_CLASSES):
            return x, y.astype(np.int64)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        pass  # not cached yet, or a damaged entry: decode again below
    x, y = read_csv(path)
    try:
        for stale in cache_dir.glob(f"{path.name}.{path_key}.*.npz"):
            stale.unlink(missing_ok=True)  # older versions of the same file
        atomic_write(cached, lambda f: np.savez(f, x=x, y=y))
    except OSError:
        pass  # a read-only cache only costs speed
    return x, y


def _read_source(source: DataSource) -> tuple[np.ndarray, np.ndarray]:
    if source.fmt == "csv":
        return _read_csv_cached(source.files[0])
    images, labels = source.files
    x, y = read_idx_images(images), read_idx_labels(labels)
    if len(x) != len(y):
        raise DatasetError(f"{images}: {len(x):,} images but {labels} holds {len(y):,} labels")
    return x, y


def split_size(profile: str, split: str = "train") -> int:
    """How many images `split` holds in `profile`: Fashion-MNIST's 60,000 / 10,000 ("full")
    or the embedded sample's 2,000 / 500 ("quick")."""
    _check_split(split)
    if profile not in ("full", "quick"):
        raise ValueError(f'profile must be "full" or "quick", not {profile!r}')
    return SPLIT_SIZES[split] if profile == "full" else SAMPLE_PER_CLASS[split] * NUM_CLASSES


def load_sample(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """The embedded sample: real Fashion-MNIST rows, 200 (train) or 50 (test) per class.

    Stored in ``lab01_utils/sample/fashion_mnist_sample.npz`` (built by
    ``scripts/make_sample.py``; ``idx_train``/``idx_test`` hold the rows' indices in the
    full split).

    Returns:
        ``(x, y)``: uint8 ``(2000, 784)`` and int64 ``(2000,)`` for ``"train"``,
        ``(500, 784)`` and ``(500,)`` for ``"test"``.
    """
    _check_split(split)
    try:
        with np.load(SAMPLE_PATH, allow_pickle=False) as f:
            x, y = f[f"x_{split}"], f[f"y_{split}"]
    except FileNotFoundError:
        raise DatasetError(
            f"{SAMPLE_PATH}: the embedded sample is missing; rebuild it with `make sample` "
            "(needs the full data set)"
        ) from None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
        raise DatasetError(f"{SAMPLE_PATH}: cannot read the embedded sample ({e})") from None
    if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != NUM_PIXELS or len(y) != len(x):
        raise DatasetError(
            f"{SAMPLE_PATH}: x_{split} {x.shape} {x.dtype} / y_{split} {y.shape} do not "
            "form a uint8 (N, 784) sample"
        )
    return x, y.astype(np.int64)


def load_with_source(
    split: str = "train",
    root: str | os.PathLike | None = None,
    *,
    verbose: bool = True,
    allow_sample: bool = True,
) -> tuple[np.ndarray, np.ndarray, DataSource]:
    """``load_fashion_mnist`` that also returns the ``DataSource`` actually used."""
    source = find_data_source(split, root, download=True)
    if source.kind == "sample":
        if not allow_sample:
            note = f" ({source.note})" if source.note else ""
            raise DatasetError(f"no full Fashion-MNIST {split} set found{note}; {_HOW_TO_GET}")
        x, y = load_sample(split)
        if verbose:
            why = f"; {source.note}" if source.note else ""
            print(
                f"lab01: full Fashion-MNIST not found{why}; using the embedded sample "
                f"({len(x):,} {split} images); {_HOW_TO_GET}"
            )
    else:
        x, y = _read_source(source)
        if verbose:
            print(
                f"lab01: Fashion-MNIST {split}: {len(x):,} images from {source.path} "
                f"({source.kind})"
            )
    return x, y, source


def load_fashion_mnist(
    split: str = "train",
    root: str | os.PathLike | None = None,
    *,
    verbose: bool = True,
    allow_sample: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Load a Fashion-MNIST split, searching as the module docstring describes.

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000 images).
        root: a directory that must hold the split (IDX, IDX ``.gz`` or Kaggle CSV); None to
            search ``$FASHION_MNIST_DIR``, the cache, Debian's directory, a download, and
            finally the embedded sample.
        verbose: print one line to stderr naming the source (and, for the sample, how to get
            the full set).
        allow_sample: if False, raise ``DatasetError`` instead of falling back to the sample.

    Returns:
        ``(x, y)``: uint8 ``(N, 784)`` pixels 0..255 and int64 ``(N,)`` labels 0..9.

    Raises:
        ValueError: ``split`` is neither ``"train"`` nor ``"test"``.
        DatasetError: a chosen file is missing, truncated, corrupt or malformed.
    """
    x, y, _ = load_with_source(split, root, verbose=verbose, allow_sample=allow_sample)
    return x, y


def default_profile() -> str:
    """`$LAB01_PROFILE` if set; otherwise `full` when the full data is on this machine,
    else `quick` (the embedded sample)."""
    profile = env_profile()
    if profile:
        return profile
    try:
        kind = find_data_source("train").kind
    except Exception:
        return PROFILES[0]
    return "full" if kind not in ("sample", "download") else "quick"
