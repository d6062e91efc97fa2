"""Fashion-MNIST: find it, read it, check it, and cut it into seeded mini-batches.

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

A directory holds a split in either layout (IDX is preferred when both are present):

* IDX: ``train-images-idx3-ubyte`` + ``train-labels-idx1-ubyte`` (test: ``t10k-...``),
  each optionally gzipped (``.gz``); the uncompressed file wins when both exist.
* Kaggle CSV: ``fashion-mnist_train.csv`` / ``fashion-mnist_test.csv``, a header row, then
  ``label,pixel1,...,pixel784`` per image. CSV parsing is slow (about 2 s for the 60,000
  train rows), so the decoded arrays are cached in ``CACHE_DIR/decoded``; gzip decoding of the
  IDX files takes about 0.35 s and is not cached.

Every problem with the files raises ``DatasetError`` (a ``ValueError``) whose message starts
with the file's path and says what is wrong.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import sys
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs
from numpy.typing import ArrayLike, DTypeLike

from lab01_utils.augment import augment_batch, random_erase
from lab01_utils.files import atomic_write

__all__ = [
    "CLASS_NAMES",
    "DataSource",
    "DatasetError",
    "MiniBatchLoader",
    "data_source_name",
    "find_data_source",
    "idx_sha256",
    "load_fashion_mnist",
    "load_sample",
    "load_with_source",
    "read_csv",
    "read_idx_images",
    "read_idx_labels",
    "to_images",
]

CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
NUM_CLASSES = len(CLASS_NAMES)
IMAGE_SIZE = 28
NUM_PIXELS = IMAGE_SIZE * IMAGE_SIZE  # 784
SPLITS = ("train", "test")
SPLIT_SIZES = {"train": 60_000, "test": 10_000}
SAMPLE_PER_CLASS = {"train": 200, "test": 50}

# Looked up at call time, so tests (and odd machines) can monkeypatch them.
CACHE_DIR = Path(platformdirs.user_cache_dir("lab01")) / "fashion-mnist"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
MIRROR_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
DOWNLOAD_TIMEOUT_S = 10.0
SAMPLE_PATH = Path(__file__).parent / "sample" / "fashion_mnist_sample.npz"
ENV_DIR = "FASHION_MNIST_DIR"
ENV_NO_DOWNLOAD = "LAB01_NO_DOWNLOAD"

# sha256 of the decompressed IDX files, identical on every mirror and in Debian's package.
SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

_IDX_PREFIX = {"train": "train", "test": "t10k"}
_IDX_UBYTE = 0x08  # IDX type code for unsigned bytes
_HOW_TO_GET = (
    "for the full set: apt-get install dataset-fashion-mnist, "
    f"or set {ENV_DIR} to a folder with the IDX or CSV files"
)


class DatasetError(ValueError):
    """A data file is missing, truncated, corrupt or malformed; the message names the file."""


# ----------------------------------------------------------------------------- low level


def _read_bytes(path: str | os.PathLike) -> bytes:
    """The file's content, gunzipped if it is a gzip file, with every failure a DatasetError."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DatasetError(f"{path}: is a directory, not a file") from None
    except OSError as e:
        raise DatasetError(f"{path}: cannot read ({e.strerror or e})") from None
    if not raw:
        raise DatasetError(f"{path}: file is empty")
    # Sniff the content rather than trust the name, so an unzipped file called .gz still reads.
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except EOFError:
            raise DatasetError(
                f"{path}: truncated gzip stream (the file ends early; download it again)"
            ) from None
        except (OSError, zlib.error) as e:
            raise DatasetError(f"{path}: corrupt gzip data ({e})") from None
    if path.suffix == ".gz":
        raise DatasetError(f"{path}: not a gzip file (it does not start with the bytes 1f 8b)")
    return raw


def _parse_idx(path: Path, data: bytes, ndim: int, what: str) -> tuple[tuple[int, ...], int]:
    """Check an IDX header (unsigned bytes, ``ndim`` dims); return the dims and header length."""
    expected_magic = (_IDX_UBYTE << 8) | ndim  # 0x00000801 labels, 0x00000803 images
    if len(data) < 4:
        raise DatasetError(f"{path}: too short for an IDX header ({len(data)} bytes)")
    magic = int.from_bytes(data[:4], "big")
    if magic != expected_magic:
        raise DatasetError(
            f"{path}: wrong IDX magic number 0x{magic:08X}, expected 0x{expected_magic:08X} "
            f"(IDX {what}: unsigned bytes, {ndim} dimension{'s' if ndim > 1 else ''})"
        )
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DatasetError(f"{path}: truncated IDX header ({len(data)} of {header_len} bytes)")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return dims, header_len


def read_idx_images(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX image file (``*-images-idx3-ubyte``, optionally ``.gz``).

    Returns:
        ``x``: uint8 ``(N, 784)``, one flattened 28x28 image per row, values 0..255.

    Raises:
        DatasetError: missing/unreadable file, bad gzip, wrong magic number, images that are
            not 28x28, or fewer/more pixel bytes than the header announces.
    """
    path = Path(path)
    data = _read_bytes(path)
    (n, rows, cols), offset = _parse_idx(path, data, 3, "images")
    body = len(data) - offset
    if (rows, cols) != (IMAGE_SIZE, IMAGE_SIZE):
        raise DatasetError(f"{path}: images are {rows}x{cols}, expected 28x28")
    expected = n * NUM_PIXELS
    if body < expected:
        raise DatasetError(
            f"{path}: truncated: the header announces {n:,} images ({expected:,} bytes) "
            f"but the file holds {body:,} bytes of pixels"
        )
    if body > expected:
        raise DatasetError(
            f"{path}: {body - expected:,} unexpected bytes after the {n:,} images "
            "the header announces"
        )
    # frombuffer views the immutable bytes; copy so callers get an ordinary writable array.
    x = np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(n, NUM_PIXELS)
    return x.copy()  # (N, 784)


def read_idx_labels(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX label file (``*-labels-idx1-ubyte``, optionally ``.gz``).

    Returns:
        ``y``: int64 ``(N,)``, class indices 0..9 (see ``CLASS_NAMES``).

    Raises:
        DatasetError: missing/unreadable file, bad gzip, wrong magic number, fewer/more labels
            than the header announces, or a label outside 0..9.
    """
    path = Path(path)
    data = _read_bytes(path)
    (n,), offset = _parse_idx(path, data, 1, "labels")
    body = len(data) - offset
    if body < n:
        raise DatasetError(
            f"{path}: truncated: the header announces {n:,} labels but the file holds {body:,}"
        )
    if body > n:
        raise DatasetError(
            f"{path}: {body - n:,} unexpected bytes after the {n:,} labels the header announces"
        )
    y = np.frombuffer(data, dtype=np.uint8, offset=offset).astype(np.int64)  # (N,)
    bad = np.flatnonzero(y >= NUM_CLASSES)
    if bad.size:
        raise DatasetError(f"{path}: label {y[bad[0]]} at index {bad[0]} is outside 0..9")
    return y


def _csv_problem(path: Path, lines: list[str]) -> DatasetError | None:
    """Find the first bad line of a Kaggle CSV body (slow, used only once parsing failed)."""
    # Pass 1 (cheap): the value count of every line. Empty lines are skipped, as np.loadtxt does.
    for lineno, line in enumerate(lines[1:], start=2):
        if line and line.count(",") + 1 != 1 + NUM_PIXELS:
            return DatasetError(
                f"{path}: line {lineno}: expected 785 values (label, pixel1..pixel784), "
                f"found {line.count(',') + 1}"
            )
    # Pass 2 (slow): every value an integer in range.
    for lineno, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        for col, text in enumerate(line.split(","), start=1):
            try:
                value = int(text)
            except ValueError:
                return DatasetError(
                    f"{path}: line {lineno}, column {col}: {text.strip()!r} is not an integer"
                )
            if col == 1 and not 0 <= value < NUM_CLASSES:
                return DatasetError(f"{path}: line {lineno}: label {value} is outside 0..9")
            if col > 1 and not 0 <= value <= 255:
                return DatasetError(
                    f"{path}: line {lineno}, column {col}: pixel value {value} is outside 0..255"
                )
    return None


def read_csv(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a Kaggle-layout Fashion-MNIST CSV (``fashion-mnist_train.csv``, optionally ``.gz``).

    The file is a header row ``label,pixel1,...,pixel784`` and then one image per line.

    Returns:
        ``(x, y)``: uint8 ``(N, 784)`` pixels 0..255 and int64 ``(N,)`` labels 0..9.

    Raises:
        DatasetError: missing file, bad header, a row without 785 values, a non-integer value,
            a pixel outside 0..255 or a label outside 0..9; the message gives the 1-based
            line number (the header is line 1).
    """
    path = Path(path)
    raw = _read_bytes(path)
    header_bytes, _, rest = raw.partition(b"\n")
    header = header_bytes.decode("utf-8", errors="replace").strip()
    names = [name.strip().strip('"') for name in header.lstrip("\ufeff").split(",")]
    if len(names) != 1 + NUM_PIXELS or names[0].lower() != "label":
        raise DatasetError(
            f"{path}: line 1: expected the header 'label,pixel1,...,pixel784', "
            f"found {len(names)} columns starting {header[:30]!r}"
        )
    if not rest.strip():
        raise DatasetError(f"{path}: no data rows after the header")
    del rest  # a 130 MB copy for the full train set; loadtxt reads ``raw`` itself

    def problem() -> DatasetError | None:
        text = raw.decode("utf-8", errors="replace").replace("\r\n", "\n")
        return _csv_problem(path, text.split("\n"))

    # Fast path: numpy's C parser on the bytes (about 2 s for the 60,000 train rows; decoding
    # to str first costs another 0.6 s). int16 holds every valid value and makes 256 or -1
    # visible; any failure is located by the slow line-by-line scan.
    try:
        table = np.loadtxt(
            io.BytesIO(raw), delimiter=",", dtype=np.int16, ndmin=2, comments=None, skiprows=1
        )  # (N, 785)
    except ValueError as e:
        raise problem() or DatasetError(f"{path}: cannot parse the CSV ({e})") from None
    labels, pixels = table[:, 0], table[:, 1:]
    if (
        table.shape[1] != 1 + NUM_PIXELS
        or labels.min() < 0
        or labels.max() >= NUM_CLASSES
        or pixels.min() < 0
        or pixels.max() > 255
    ):
        raise problem() or DatasetError(f"{path}: values out of range")
    return pixels.astype(np.uint8), labels.astype(np.int64)


def idx_sha256(a: ArrayLike) -> str:
    """sha256 of ``a`` written as a (decompressed) IDX file, to compare with ``SHA256``.

    ``a`` is either images ``(N, 784)`` or labels ``(N,)``, values 0..255. Works whatever format
    the data was read from, so CSV and IDX copies of the canonical set give the same digest.
    """
    a = np.asarray(a)
    if a.ndim == 2 and a.shape[1] == NUM_PIXELS:
        header = [0x00000803, len(a), IMAGE_SIZE, IMAGE_SIZE]
    elif a.ndim == 1:
        header = [0x00000801, len(a)]
    else:
        raise ValueError(f"expected images (N, 784) or labels (N,), got shape {a.shape}")
    h = hashlib.sha256(b"".join(v.to_bytes(4, "big") for v in header))
    h.update(np.ascontiguousarray(a, dtype=np.uint8).tobytes())
    return h.hexdigest()


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


def _split_files(directory: Path, split: str) -> tuple[str, tuple[Path, ...]] | None:
    """The files holding ``split`` in ``directory`` as ``(fmt, files)``, or None."""
    prefix = _IDX_PREFIX[split]

    def first(stem: str) -> Path | None:
        for name in (stem, stem + ".gz"):
            if (directory / name).is_file():
                return directory / name
        return None

    images = first(f"{prefix}-images-idx3-ubyte")
    labels = first(f"{prefix}-labels-idx1-ubyte")
    if images and labels:
        return "idx", (images, labels)
    csv = directory / f"fashion-mnist_{split}.csv"
    if csv.is_file():
        return "csv", (csv,)
    return None


def _require_split(directory: Path, split: str, kind: str, what: str) -> DataSource:
    """A DataSource for a directory that must hold the split (explicit root or env var)."""
    if not directory.exists():
        raise DatasetError(f"{what}{directory}: directory not found")
    if not directory.is_dir():
        raise DatasetError(f"{what}{directory}: not a directory")
    found = _split_files(directory, split)
    if found is None:
        prefix = _IDX_PREFIX[split]
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


def _downloads_enabled() -> bool:
    return os.environ.get(ENV_NO_DOWNLOAD, "").strip() in ("", "0")


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

    prefix = _IDX_PREFIX[split]
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
            digest = hashlib.sha256(_read_bytes(path)).hexdigest()
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
    env = os.environ.get(ENV_DIR, "")
    if env:
        return _require_split(Path(env), split, "env", f"{ENV_DIR}=")
    for kind, directory in (("cache", Path(CACHE_DIR)), ("debian", Path(DEBIAN_DIR))):
        found = _split_files(directory, split) if directory.is_dir() else None
        if found:
            return DataSource(kind, directory, found[1], found[0])
    note = f"downloads off ({ENV_NO_DOWNLOAD}=1)"
    if _downloads_enabled():
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
        if x.dtype == np.uint8 and x.ndim == 2 and x.shape[1] == NUM_PIXELS and len(y) == len(x):
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
                f"({len(x):,} {split} images); {_HOW_TO_GET}",
                file=sys.stderr,
            )
    else:
        x, y = _read_source(source)
        if verbose:
            print(
                f"lab01: Fashion-MNIST {split}: {len(x):,} images from {source.path} "
                f"({source.kind})",
                file=sys.stderr,
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


# ----------------------------------------------------------------------------- batching


def to_images(x: ArrayLike, dtype: DTypeLike = np.float32) -> np.ndarray:
    """Pixels 0..255 to network input: ``(N, 784)`` or ``(N, 1, 28, 28)`` -> float
    ``(N, 1, 28, 28)`` in [0, 1] (``x / 255``). Returns a new array.

    Raises:
        ValueError: another shape, a non-float ``dtype``, or values outside 0..255.
    """
    x = np.asarray(x)
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise ValueError(f"dtype must be a float type, got {dtype}")
    if not (
        (x.ndim == 2 and x.shape[1] == NUM_PIXELS)
        or (x.ndim == 4 and x.shape[1:] == (1, IMAGE_SIZE, IMAGE_SIZE))
    ):
        raise ValueError(f"x must have shape (N, 784) or (N, 1, 28, 28), got {x.shape}")
    # uint8 is in range by construction; anything else (e.g. float pixels already scaled to
    # [0, 1]) would be silently divided twice, so check.
    if x.dtype != np.uint8 and x.size and (x.min() < 0 or x.max() > 255):
        raise ValueError(f"pixel values must lie in 0..255, got {x.min()}..{x.max()}")
    out = x.reshape(len(x), 1, IMAGE_SIZE, IMAGE_SIZE).astype(dtype)  # (N, 1, 28, 28), a copy
    out /= 255
    return out


class MiniBatchLoader:
    """Seeded mini-batches shared by the NumPy and the torch training loops.

    Epoch ``e`` draws everything (the permutation, then each batch's augmentation, in batch
    order) from ``np.random.default_rng([seed, e])`` and nothing else, so:
    a run resumed at epoch ``e`` sees the same batches as an uninterrupted run, and two
    loaders with the same data and arguments give identical batches.

    Args:
        x: pixels 0..255, ``(N, 784)`` or ``(N, 1, 28, 28)``; kept as given (uint8 stays
            uint8) and converted to float one batch at a time, which saves the 188 MB a
            float32 copy of the training set would take.
        y: integer labels ``(N,)``.
        batch_size: images per batch; the last batch keeps the remainder.
        shuffle: draw a fresh permutation every epoch (else the original order).
        augment: apply ``augment_batch`` (random shifts and flips) to every batch.
        seed: non-negative int, the run's seed.
        max_shift, flip_prob: passed to ``augment_batch``.
        erase_prob: with ``augment``, also blank a random rectangle in each image with this
            probability (``random_erase``); 0 (the report's recipe) draws nothing for it.
        dtype: float type of the image batches.

    Usage::

        loader = MiniBatchLoader(x, y, batch_size=50, augment=True, seed=0)
        for epoch in range(1, num_epochs + 1):  # train() counts epochs from 1
            for xb, yb in loader.epoch(epoch):  # (B, 1, 28, 28) float, (B,) int64
                ...
    """

    def __init__(
        self,
        x: ArrayLike,
        y: ArrayLike,
        batch_size: int = 50,
        shuffle: bool = True,
        augment: bool = False,
        seed: int = 0,
        max_shift: int = 2,
        flip_prob: float = 0.5,
        dtype: DTypeLike = np.float32,
        erase_prob: float = 0.0,
    ) -> None:
        x, y = np.asarray(x), np.asarray(y)
        if not (
            (x.ndim == 2 and x.shape[1] == NUM_PIXELS)
            or (x.ndim == 4 and x.shape[1:] == (1, IMAGE_SIZE, IMAGE_SIZE))
        ):
            raise ValueError(f"x must have shape (N, 784) or (N, 1, 28, 28), got {x.shape}")
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"y must be integer labels of shape (N,), got {y.dtype} {y.shape}")
        if len(x) != len(y):
            raise ValueError(f"x and y differ in length: {len(x)} images, {len(y)} labels")
        if len(x) == 0:
            raise ValueError("x and y are empty")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
            raise ValueError(f"batch_size must be an int, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        if max_shift < 0 or not 0.0 <= flip_prob <= 1.0:
            raise ValueError(
                f"need max_shift >= 0 and 0 <= flip_prob <= 1, got {max_shift}, {flip_prob}"
            )
        if not 0.0 <= erase_prob <= 1.0:
            raise ValueError(f"erase_prob must lie in [0, 1], got {erase_prob}")
        if not np.issubdtype(np.dtype(dtype), np.floating):
            raise ValueError(f"dtype must be a float type, got {np.dtype(dtype)}")
        self.x, self.y = x, y
        self.batch_size = int(batch_size)
        self.shuffle, self.augment = bool(shuffle), bool(augment)
        self.seed = int(seed)
        self.max_shift, self.flip_prob = max_shift, flip_prob
        self.erase_prob = float(erase_prob)
        self.dtype = np.dtype(dtype)

    @property
    def num_samples(self) -> int:
        """N, the number of images."""
        return len(self.y)

    def __len__(self) -> int:
        """Batches per epoch, ``ceil(N / batch_size)``."""
        return -(-self.num_samples // self.batch_size)

    def epoch(self, epoch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield the batches ``(xb, yb)`` of epoch number ``epoch`` (any int >= 0;
        ``lab01_utils.train`` counts epochs from 1, so use 1 for its first epoch).

        ``xb``: float ``(B, 1, 28, 28)`` in [0, 1]; ``yb``: int64 ``(B,)``;
        ``B = batch_size`` except possibly for the last batch.
        """
        if isinstance(epoch, bool) or not isinstance(epoch, int | np.integer) or epoch < 0:
            raise ValueError(f"epoch must be a non-negative int, got {epoch!r}")
        rng = np.random.default_rng([self.seed, int(epoch)])
        n = self.num_samples
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size]
            xb = to_images(self.x[idx], self.dtype)  # (B, 1, 28, 28)
            if self.augment:
                xb = augment_batch(xb, rng, self.max_shift, self.flip_prob)
                if self.erase_prob > 0:
                    xb = random_erase(xb, rng, self.erase_prob)
            yield xb, self.y[idx].astype(np.int64)
