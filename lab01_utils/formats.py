"""The Fashion-MNIST file formats: IDX (optionally gzipped) and Kaggle's CSV, read with every
problem a `DatasetError` that starts with the file's path and says what is wrong; and the
sha256 of the canonical files' content, whatever format a copy came in.

* IDX: ``train-images-idx3-ubyte`` + ``train-labels-idx1-ubyte`` (test: ``t10k-...``), a
  big-endian header, then unsigned bytes.
* Kaggle CSV: ``fashion-mnist_train.csv`` / ``fashion-mnist_test.csv``, a header row, then
  ``label,pixel1,...,pixel784`` per image.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import zlib
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from .images import IMAGE_SIZE, NUM_PIXELS

__all__ = [
    "CLASS_NAMES",
    "DatasetError",
    "IDX_PREFIX",
    "NUM_CLASSES",
    "SHA256",
    "idx_sha256",
    "read_bytes",
    "read_csv",
    "read_idx_images",
    "read_idx_labels",
    "split_files",
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


# sha256 of the decompressed IDX files, identical on every mirror and in Debian's package.
SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

IDX_PREFIX = {"train": "train", "test": "t10k"}  # file names: train-..., t10k-...
_IDX_UBYTE = 0x08  # IDX type code for unsigned bytes


class DatasetError(ValueError):
    """A data file is missing, truncated, corrupt or malformed; the message names the file."""


def read_bytes(path: str | os.PathLike) -> bytes:
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
    data = read_bytes(path)
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
    data = read_bytes(path)
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


_CSV_CHARS = b"0123456789,-+ \t\r\n"  # what an all-integer CSV body is made of


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
    raw = read_bytes(path)
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

    # Only digits, commas, signs, blanks and newlines may follow the header: checked here, not
    # left to np.loadtxt, which truncates "0.5" to 0 with a warning in some numpy versions and
    # refuses it in others. (What translate leaves of the whole file must be the header's.)
    if raw.translate(None, _CSV_CHARS) != header_bytes.translate(None, _CSV_CHARS):
        raise problem() or DatasetError(f"{path}: a value is not a whole number")
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


def split_files(directory: Path, split: str) -> tuple[str, tuple[Path, ...]] | None:
    """The files holding ``split`` in ``directory`` as ``(fmt, files)``, or None: IDX (each file
    optionally gzipped; the uncompressed one wins when both exist), else the Kaggle CSV."""
    prefix = IDX_PREFIX[split]

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
