"""Tests for lab01_utils/data.py: file formats, bad input, the search order, the sample,
to_images and MiniBatchLoader.

Nothing here depends on the machine: every test runs with downloads off and with the cache
and Debian directories pointed into ``tmp_path``; the tests of the real data set skip when
``/usr/share/datasets/fashion-mnist`` is absent.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

from lab01_utils import data
from lab01_utils.augment import augment_batch
from lab01_utils.data import (
    CLASS_NAMES,
    DatasetError,
    data_source_name,
    find_data_source,
    idx_sha256,
    load_fashion_mnist,
    load_sample,
    load_with_source,
    read_csv,
    read_idx_images,
    read_idx_labels,
    to_images,
)
from lab01_utils.loader import MiniBatchLoader

REAL_DIR = Path("/usr/share/datasets/fashion-mnist")
HAVE_REAL = all(
    (REAL_DIR / f"{name}.gz").is_file()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
    + ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
)
needs_real = pytest.mark.skipif(not HAVE_REAL, reason=f"full Fashion-MNIST not in {REAL_DIR}")
MAKE_SAMPLE = Path(__file__).resolve().parents[1] / "scripts" / "make_sample.py"

N_TINY = 12


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No downloads, no $FASHION_MNIST_DIR, and cache/Debian directories under tmp_path."""
    monkeypatch.setenv("LAB01_NO_DOWNLOAD", "1")
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    monkeypatch.setattr(data, "CACHE_DIR", tmp_path / "cache" / "fashion-mnist")
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "debian")


def idx_bytes(a: np.ndarray, magic: int | None = None, dims: tuple[int, ...] | None = None):
    """``a`` (uint8) as IDX bytes; ``magic``/``dims`` override the header to make bad files."""
    dims = a.shape if dims is None else dims
    magic = (0x08 << 8 | len(dims)) if magic is None else magic
    header = b"".join(v.to_bytes(4, "big") for v in (magic, *dims))
    return header + a.astype(np.uint8).tobytes()


@pytest.fixture
def tiny():
    """12 random images (12, 784) and labels (12,) with every class present."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(N_TINY, 784), dtype=np.uint8)
    y = (np.arange(N_TINY) % 10).astype(np.int64)
    return x, y


def write_idx_dir(directory: Path, x, y, split="train", gz=False) -> Path:
    prefix = {"train": "train", "test": "t10k"}[split]
    directory.mkdir(parents=True, exist_ok=True)
    for name, a in (
        (f"{prefix}-images-idx3-ubyte", idx_bytes(x.reshape(-1, 28, 28))),
        (f"{prefix}-labels-idx1-ubyte", idx_bytes(y)),
    ):
        if gz:
            (directory / f"{name}.gz").write_bytes(gzip.compress(a))
        else:
            (directory / name).write_bytes(a)
    return directory


def csv_text(x, y) -> str:
    header = "label," + ",".join(f"pixel{i}" for i in range(1, 785))
    rows = [
        ",".join(map(str, [int(label), *row.tolist()])) for row, label in zip(x, y, strict=True)
    ]
    return header + "\n" + "\n".join(rows) + "\n"


def write_csv_dir(directory: Path, x, y, split="train") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"fashion-mnist_{split}.csv").write_text(csv_text(x, y))
    return directory


def raises_naming(path: Path, problem: str):
    """pytest.raises(DatasetError) whose message names the file and the problem."""
    return pytest.raises(DatasetError, match=rf"(?s){re.escape(path.name)}.*{problem}")


# ----------------------------------------------------------------------------- formats


def test_class_names():
    assert len(CLASS_NAMES) == 10
    assert CLASS_NAMES[0] == "T-shirt/top" and CLASS_NAMES[9] == "Ankle boot"
    assert issubclass(DatasetError, ValueError)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip(tmp_path, tiny, gz):
    x, y = tiny
    d = write_idx_dir(tmp_path / "d", x, y, gz=gz)
    suffix = ".gz" if gz else ""
    xr = read_idx_images(d / f"train-images-idx3-ubyte{suffix}")
    yr = read_idx_labels(d / f"train-labels-idx1-ubyte{suffix}")
    assert xr.dtype == np.uint8 and xr.shape == (N_TINY, 784) and np.array_equal(xr, x)
    assert yr.dtype == np.int64 and yr.shape == (N_TINY,) and np.array_equal(yr, y)
    assert xr.flags.writeable
    assert idx_sha256(x) == hashlib.sha256(idx_bytes(x.reshape(-1, 28, 28))).hexdigest()


def test_read_csv_round_trip(tmp_path, tiny):
    x, y = tiny
    path = write_csv_dir(tmp_path, x, y) / "fashion-mnist_train.csv"
    xr, yr = read_csv(path)
    assert xr.dtype == np.uint8 and np.array_equal(xr, x)
    assert yr.dtype == np.int64 and np.array_equal(yr, y)


def test_read_csv_tolerates_crlf_blank_lines_and_gzip(tmp_path, tiny):
    x, y = tiny
    text = csv_text(x, y).replace("\n", "\r\n") + "\r\n"
    path = tmp_path / "fashion-mnist_train.csv.gz"
    path.write_bytes(gzip.compress(text.encode()))
    xr, yr = read_csv(path)
    assert np.array_equal(xr, x) and np.array_equal(yr, y)


@pytest.mark.parametrize("fmt", ["idx", "idx.gz", "csv"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_load_from_root_every_layout(tmp_path, tiny, fmt, split):
    x, y = tiny
    if fmt == "csv":
        root = write_csv_dir(tmp_path / "root", x, y, split)
    else:
        root = write_idx_dir(tmp_path / "root", x, y, split, gz=fmt == "idx.gz")
    xr, yr, source = load_with_source(split, root, verbose=False)
    assert np.array_equal(xr, x) and np.array_equal(yr, y)
    assert source.kind == "root" and source.path == root and source.fmt == fmt.split(".")[0]


def test_csv_decoded_cache(tmp_path, tiny):
    x, y = tiny
    root = write_csv_dir(tmp_path / "root", x, y)
    load_fashion_mnist(root=root, verbose=False)
    cached = list((data.CACHE_DIR / "decoded").glob("fashion-mnist_train.csv.*.npz"))
    assert len(cached) == 1
    xr, yr = load_fashion_mnist(root=root, verbose=False)  # from the cache
    assert np.array_equal(xr, x) and np.array_equal(yr, y) and yr.dtype == np.int64
    # A changed file (new size and mtime) is decoded again and replaces the old entry.
    write_csv_dir(root, x[:5], y[:5])
    xr, _ = load_fashion_mnist(root=root, verbose=False)
    assert np.array_equal(xr, x[:5])
    assert len(list((data.CACHE_DIR / "decoded").glob("*.npz"))) == 1


def test_a_cached_file_with_labels_out_of_range_is_decoded_again(tmp_path, tiny):
    x, y = tiny
    root = write_csv_dir(tmp_path / "root", x, y)
    load_fashion_mnist(root=root, verbose=False)
    (cached,) = (data.CACHE_DIR / "decoded").glob("fashion-mnist_train.csv.*.npz")
    np.savez(cached, x=x, y=np.full_like(y, 11))  # a damaged cache entry: label 11
    _, yr = load_fashion_mnist(root=root, verbose=False)
    assert np.array_equal(yr, y)  # from the CSV, not the damaged cache


# ----------------------------------------------------------------------------- bad input


def test_missing_file(tmp_path):
    with raises_naming(tmp_path / "nope-idx3-ubyte", "not found"):
        read_idx_images(tmp_path / "nope-idx3-ubyte")
    with raises_naming(tmp_path / "nope.csv", "not found"):
        read_csv(tmp_path / "nope.csv")


def test_empty_file(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(b"")
    with raises_naming(path, "empty"):
        read_idx_labels(path)


def test_truncated_gzip(tmp_path, tiny):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    blob = gzip.compress(idx_bytes(tiny[0].reshape(-1, 28, 28)))
    path.write_bytes(blob[: len(blob) // 2])
    with raises_naming(path, "truncated gzip"):
        read_idx_images(path)


def test_corrupt_gzip(tmp_path, tiny):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    blob = bytearray(gzip.compress(idx_bytes(tiny[0].reshape(-1, 28, 28))))
    blob[-8] ^= 0xFF  # break the CRC in the trailer
    path.write_bytes(bytes(blob))
    with raises_naming(path, "corrupt gzip"):
        read_idx_images(path)
    path.write_bytes(b"\x1f\x8b" + b"garbage" * 10)
    with raises_naming(path, "gzip"):
        read_idx_images(path)


def test_gz_name_without_gzip_content(tmp_path, tiny):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(b"this is not gzip")
    with raises_naming(path, "not a gzip file"):
        read_idx_labels(path)


def test_wrong_magic(tmp_path, tiny):
    x, y = tiny
    labels = tmp_path / "train-labels-idx1-ubyte"
    labels.write_bytes(idx_bytes(y))
    with raises_naming(labels, "wrong IDX magic number 0x00000801"):
        read_idx_images(labels)  # a label file where images are expected
    images = tmp_path / "train-images-idx3-ubyte"
    images.write_bytes(idx_bytes(x.reshape(-1, 28, 28), magic=0x0D03))  # float32 type code
    with raises_naming(images, "wrong IDX magic"):
        read_idx_images(images)


def test_wrong_image_size(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(idx_bytes(np.zeros((2, 28, 27), dtype=np.uint8)))
    with raises_naming(path, "28x27, expected 28x28"):
        read_idx_images(path)


def test_truncated_header(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(idx_bytes(np.zeros((1, 28, 28), dtype=np.uint8))[:10])
    with raises_naming(path, "truncated IDX header"):
        read_idx_images(path)


def test_fewer_images_than_header_says(tmp_path, tiny):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(idx_bytes(tiny[0].reshape(-1, 28, 28))[:-100])
    with raises_naming(path, "truncated: the header announces 12 images"):
        read_idx_images(path)


def test_extra_bytes_after_images(tmp_path, tiny):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(idx_bytes(tiny[0].reshape(-1, 28, 28)) + b"\0" * 5)
    with raises_naming(path, "5 unexpected bytes"):
        read_idx_images(path)


def test_fewer_labels_than_header_says(tmp_path, tiny):
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(idx_bytes(tiny[1], dims=(20,)))
    with raises_naming(path, "announces 20 labels but the file holds 12"):
        read_idx_labels(path)


def test_label_out_of_range(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(idx_bytes(np.array([1, 2, 10])))
    with raises_naming(path, "label 10 at index 2 is outside 0..9"):
        read_idx_labels(path)


def test_image_label_count_mismatch(tmp_path, tiny):
    x, y = tiny
    root = write_idx_dir(tmp_path / "root", x, y[:-1])
    with raises_naming(root / "train-images-idx3-ubyte", "12 images but .*11 labels"):
        load_fashion_mnist(root=root, verbose=False)


def bad_csv(tmp_path, tiny, line: int, new_line: str) -> Path:
    """The tiny CSV with 1-based line ``line`` replaced."""
    lines = csv_text(*tiny).split("\n")
    lines[line - 1] = new_line
    path = tmp_path / "fashion-mnist_train.csv"
    path.write_text("\n".join(lines))
    return path


def test_csv_row_with_wrong_count(tmp_path, tiny):
    path = bad_csv(tmp_path, tiny, 4, "3," + ",".join(["0"] * 783))
    with raises_naming(path, "line 4: expected 785 values .* found 784"):
        read_csv(path)


def test_csv_every_row_one_short(tmp_path, tiny):
    x, y = tiny
    text = csv_text(x[:, :-1], y)  # a valid header, then rows of 784 values
    path = tmp_path / "fashion-mnist_train.csv"
    path.write_text(text)
    with raises_naming(path, "line 2: expected 785 values"):
        read_csv(path)


@pytest.mark.parametrize(
    "value, problem",
    [
        ("1.5", r"line 3, column 2: '1.5' is not an integer"),
        ("abc", r"line 3, column 2: 'abc' is not an integer"),
        ("", r"line 3, column 2: '' is not an integer"),
        ("256", r"line 3, column 2: pixel value 256 is outside 0..255"),
        ("-1", r"line 3, column 2: pixel value -1 is outside 0..255"),
    ],
)
def test_csv_bad_pixel(tmp_path, tiny, value, problem):
    path = bad_csv(tmp_path, tiny, 3, "1," + value + "," + ",".join(["0"] * 783))
    with raises_naming(path, problem):
        read_csv(path)


def test_csv_bad_label(tmp_path, tiny):
    path = bad_csv(tmp_path, tiny, 5, "11," + ",".join(["0"] * 784))
    with raises_naming(path, "line 5: label 11 is outside 0..9"):
        read_csv(path)


def test_csv_bad_header_and_no_rows(tmp_path, tiny):
    path = bad_csv(tmp_path, tiny, 1, "1," + ",".join(["0"] * 784))
    with raises_naming(path, "line 1: expected the header"):
        read_csv(path)
    path.write_text(csv_text(*tiny).split("\n")[0] + "\n\n")
    with raises_naming(path, "no data rows"):
        read_csv(path)


def test_bad_split():
    with pytest.raises(ValueError, match="split"):
        load_fashion_mnist("validation")
    with pytest.raises(ValueError, match="split"):
        load_sample("val")


# ----------------------------------------------------------------------------- search order


def test_explicit_root_without_files_is_an_error(tmp_path, tiny):
    empty = tmp_path / "empty"
    empty.mkdir()
    write_idx_dir(data.DEBIAN_DIR, *tiny)  # must not be used instead
    with pytest.raises(DatasetError, match=r"empty: no Fashion-MNIST train files"):
        load_fashion_mnist(root=empty, verbose=False)
    with pytest.raises(DatasetError, match="directory not found"):
        load_fashion_mnist(root=tmp_path / "missing", verbose=False)


def test_explicit_root_with_half_a_pair_names_what_is_there(tmp_path, tiny):
    root = write_idx_dir(tmp_path / "root", *tiny)
    (root / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(DatasetError, match=r"expected .*train-labels.*found train-images"):
        load_fashion_mnist(root=root, verbose=False)


def test_env_dir_wins_over_cache_and_debian(tmp_path, tiny, monkeypatch):
    x, y = tiny
    write_idx_dir(data.CACHE_DIR, x[:3], y[:3])
    write_idx_dir(data.DEBIAN_DIR, x[:4], y[:4])
    env = write_csv_dir(tmp_path / "env", x, y)
    monkeypatch.setenv("FASHION_MNIST_DIR", str(env))
    xr, _, source = load_with_source(verbose=False)
    assert source.kind == "env" and len(xr) == N_TINY


def test_env_dir_without_files_is_an_error_not_a_fallback(tmp_path, tiny, monkeypatch):
    write_idx_dir(data.DEBIAN_DIR, *tiny)
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path / "wrong"))
    with pytest.raises(DatasetError, match="FASHION_MNIST_DIR=.*wrong"):
        load_fashion_mnist(verbose=False)
    (tmp_path / "wrong").mkdir()
    with pytest.raises(DatasetError, match="FASHION_MNIST_DIR=.*no Fashion-MNIST train files"):
        find_data_source()


def test_cache_before_debian(tiny):
    x, y = tiny
    write_idx_dir(data.DEBIAN_DIR, x[:4], y[:4])
    write_idx_dir(data.CACHE_DIR, x[:3], y[:3], gz=True)
    assert find_data_source().kind == "cache"
    assert len(load_fashion_mnist(verbose=False)[0]) == 3


def test_debian_when_no_cache(tiny):
    write_idx_dir(data.DEBIAN_DIR, *tiny, split="test", gz=True)
    source = find_data_source("test")
    assert source.kind == "debian" and source.path == data.DEBIAN_DIR
    assert data_source_name("test") == f"debian ({data.DEBIAN_DIR})"
    assert find_data_source("train").kind == "sample"  # only the test split is there


def test_sample_when_nothing_else(capsys):
    x, y, source = load_with_source("test")
    assert source.kind == "sample" and not source.is_full and len(x) == 500
    err = capsys.readouterr().out  # a notice, on stdout: plain output in a notebook
    assert err.count("\n") == 1  # one line
    assert "embedded sample" in err and "LAB01_NO_DOWNLOAD" in err
    assert "apt-get install dataset-fashion-mnist" in err and "FASHION_MNIST_DIR" in err
    assert data_source_name().startswith("sample")
    with pytest.raises(DatasetError, match="no full Fashion-MNIST"):
        load_fashion_mnist(allow_sample=False, verbose=False)


def test_full_set_notice_is_one_line_naming_the_directory(tiny, capsys):
    write_idx_dir(data.DEBIAN_DIR, *tiny)
    load_fashion_mnist()
    err = capsys.readouterr().out
    assert err.count("\n") == 1 and str(data.DEBIAN_DIR) in err
    load_fashion_mnist(verbose=False)
    assert capsys.readouterr().out == ""


# ----------------------------------------------------------------------------- download


@pytest.fixture
def fake_mirror(tmp_path, tiny, monkeypatch):
    """Downloads on; pooch.retrieve copies from a local 'mirror'; SHA256 set to its content."""
    pooch = pytest.importorskip("pooch")
    mirror = write_idx_dir(tmp_path / "mirror", *tiny, gz=True)
    calls = []

    def retrieve(url, known_hash=None, fname=None, path=None, downloader=None, **kwargs):
        calls.append((url, downloader))
        target = Path(path) / fname
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((mirror / fname).read_bytes())
        return str(target)

    monkeypatch.delenv("LAB01_NO_DOWNLOAD")
    monkeypatch.setattr(pooch, "retrieve", retrieve)
    digests = {
        "train-images-idx3-ubyte": idx_sha256(tiny[0]),
        "train-labels-idx1-ubyte": idx_sha256(tiny[1]),
    }
    monkeypatch.setattr(data, "SHA256", dict(data.SHA256, **digests))
    return calls


def test_download_then_cache(fake_mirror, tiny):
    assert find_data_source().kind == "download"  # would try; fetches nothing
    assert fake_mirror == []
    x, y, source = load_with_source(verbose=False)
    assert source.kind == "download" and np.array_equal(x, tiny[0])
    assert [url.rsplit("/", 1)[1] for url, _ in fake_mirror] == [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
    ]
    assert all(url.startswith(data.MIRROR_URL) for url, _ in fake_mirror)
    assert fake_mirror[0][1].kwargs["timeout"] == data.DOWNLOAD_TIMEOUT_S
    assert find_data_source().kind == "cache"


def test_download_with_wrong_digest_is_deleted(fake_mirror, monkeypatch, capsys):
    monkeypatch.setitem(data.SHA256, "train-labels-idx1-ubyte", "0" * 64)
    x, _, source = load_with_source()
    assert source.kind == "sample" and len(x) == 2000
    assert "sha256" in capsys.readouterr().out
    assert not list(data.CACHE_DIR.glob("*.gz"))


def test_failed_download_falls_back_once(monkeypatch, capsys):
    pooch = pytest.importorskip("pooch")
    calls = []

    def retrieve(*args, **kwargs):
        calls.append(args)
        raise ConnectionError("no route to host")

    monkeypatch.delenv("LAB01_NO_DOWNLOAD")
    monkeypatch.setattr(pooch, "retrieve", retrieve)
    _, _, source = load_with_source()
    assert source.kind == "sample" and len(calls) == 1  # no retry, no second file
    err = capsys.readouterr().out
    assert err.count("\n") == 1 and "download" in err and "no route to host" in err


# ----------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def real():
    return {
        split: load_fashion_mnist(split, REAL_DIR, verbose=False) for split in ("train", "test")
    }


@needs_real
def test_real_files_match_published_digests():
    for name, digest in data.SHA256.items():
        content = gzip.decompress((REAL_DIR / f"{name}.gz").read_bytes())
        assert hashlib.sha256(content).hexdigest() == digest, name


@needs_real
@pytest.mark.parametrize("split, n", [("train", 60_000), ("test", 10_000)])
def test_real_data(real, split, n):
    x, y = real[split]
    assert x.shape == (n, 784) and x.dtype == np.uint8
    assert y.shape == (n,) and y.dtype == np.int64
    assert np.array_equal(np.bincount(y, minlength=10), np.full(10, n // 10))
    assert x.max() == 255 and x.min() == 0
    prefix = {"train": "train", "test": "t10k"}[split]
    assert idx_sha256(x) == data.SHA256[f"{prefix}-images-idx3-ubyte"]
    assert idx_sha256(y) == data.SHA256[f"{prefix}-labels-idx1-ubyte"]


@needs_real
def test_debian_directory_is_found(monkeypatch):
    monkeypatch.setattr(data, "DEBIAN_DIR", REAL_DIR)
    source = find_data_source("test")
    assert source.kind == "debian" and source.fmt == "idx"


# ----------------------------------------------------------------------------- sample


@pytest.mark.parametrize("split, per_class", [("train", 200), ("test", 50)])
def test_sample_is_stratified(split, per_class):
    x, y = load_sample(split)
    assert x.shape == (10 * per_class, 784) and x.dtype == np.uint8
    assert y.shape == (10 * per_class,) and y.dtype == np.int64
    assert np.array_equal(np.bincount(y, minlength=10), np.full(10, per_class))


@needs_real
@pytest.mark.parametrize("split", ["train", "test"])
def test_sample_rows_are_real_rows(real, split):
    x_real, y_real = real[split]
    x, y = load_sample(split)
    rows = {row.tobytes(): label for row, label in zip(x_real, y_real, strict=True)}
    assert all(rows.get(row.tobytes()) == label for row, label in zip(x, y, strict=True))
    with np.load(data.SAMPLE_PATH, allow_pickle=False) as f:
        idx = f[f"idx_{split}"]
    assert np.array_equal(x_real[idx], x) and np.array_equal(y_real[idx], y)


@needs_real
def test_make_sample_rebuilds_the_same_file(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DEBIAN_DIR", REAL_DIR)
    spec = importlib.util.spec_from_file_location("make_sample", MAKE_SAMPLE)
    make_sample = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_sample)
    out = tmp_path / "sample.npz"
    assert make_sample.main(["--out", str(out)]) == 0
    assert out.read_bytes() == data.SAMPLE_PATH.read_bytes()


def test_missing_sample_is_a_dataset_error(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "SAMPLE_PATH", tmp_path / "none.npz")
    with pytest.raises(DatasetError, match="make sample"):
        load_sample()


# ----------------------------------------------------------------------------- to_images


def test_to_images(tiny):
    x = tiny[0]
    before = x.copy()
    out = to_images(x)
    assert out.shape == (N_TINY, 1, 28, 28) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert np.array_equal(out.reshape(N_TINY, 784), x.astype(np.float32) / 255)
    assert np.array_equal(x, before)
    out64 = to_images(x.reshape(N_TINY, 1, 28, 28), dtype=np.float64)
    assert out64.dtype == np.float64 and np.allclose(out64, out)


@pytest.mark.parametrize(
    "x, kwargs",
    [
        (np.zeros((2, 783), dtype=np.uint8), {}),
        (np.zeros((2, 28, 28), dtype=np.uint8), {}),
        (np.zeros((2, 3, 28, 28), dtype=np.uint8), {}),
        (np.full((2, 784), 300.0), {}),
        (np.zeros((2, 784), dtype=np.uint8), {"dtype": np.int32}),
    ],
)
def test_to_images_rejects_bad_input(x, kwargs):
    with pytest.raises(ValueError):
        to_images(x, **kwargs)


# ----------------------------------------------------------------------------- MiniBatchLoader


@pytest.fixture
def loader_data():
    """105 images; the labels are the row indices, so a batch's yb says which rows it holds."""
    x = np.random.default_rng(1).integers(0, 256, size=(105, 784), dtype=np.uint8)
    return x, np.arange(105)


def batches(loader, epoch):
    return list(loader.epoch(epoch))


def test_loader_batch_count_and_last_partial_batch(loader_data):
    loader = MiniBatchLoader(*loader_data, batch_size=50)
    got = batches(loader, 0)
    assert len(loader) == 3 and len(got) == 3
    assert [len(yb) for _, yb in got] == [50, 50, 5]
    xb, yb = got[-1]
    assert xb.shape == (5, 1, 28, 28) and xb.dtype == np.float32 and yb.dtype == np.int64
    assert len(MiniBatchLoader(*loader_data, batch_size=105)) == 1
    assert len(MiniBatchLoader(*loader_data, batch_size=1000)) == 1


def test_loader_sees_every_index_once_per_epoch(loader_data):
    loader = MiniBatchLoader(*loader_data, batch_size=10, augment=True)
    for epoch in range(3):
        seen = np.concatenate([yb for _, yb in loader.epoch(epoch)])
        assert np.array_equal(np.sort(seen), np.arange(105))


def test_loader_is_deterministic_per_seed_and_epoch(loader_data):
    a = MiniBatchLoader(*loader_data, batch_size=16, augment=True, seed=5)
    b = MiniBatchLoader(*loader_data, batch_size=16, augment=True, seed=5)
    for _ in batches(a, 0):  # consuming other epochs first changes nothing (resume)
        pass
    for (xa, ya), (xb, yb) in zip(batches(a, 2), batches(b, 2), strict=True):
        assert np.array_equal(xa, xb) and np.array_equal(ya, yb)
    order = [np.concatenate([yb for _, yb in a.epoch(e)]) for e in range(2)]
    assert not np.array_equal(order[0], order[1])  # different epochs differ
    other = MiniBatchLoader(*loader_data, batch_size=16, augment=True, seed=6)
    assert not np.array_equal(batches(other, 2)[0][1], batches(a, 2)[0][1])


def test_loader_without_augmentation_returns_the_pixels(loader_data):
    x, y = loader_data
    loader = MiniBatchLoader(x, y, batch_size=50, shuffle=False, dtype=np.float64)
    got = batches(loader, 0)
    assert np.array_equal(np.concatenate([yb for _, yb in got]), y)  # original order
    assert np.array_equal(np.concatenate([xb for xb, _ in got]), to_images(x, np.float64))


def test_loader_augmentation_follows_the_documented_stream(loader_data):
    x, y = loader_data
    loader = MiniBatchLoader(x, y, batch_size=40, augment=True, seed=3, max_shift=1)
    rng = np.random.default_rng([3, 4])
    order = rng.permutation(105)
    for k, (xb, yb) in enumerate(loader.epoch(4)):
        idx = order[40 * k : 40 * (k + 1)]
        assert np.array_equal(yb, idx)
        assert np.array_equal(xb, augment_batch(to_images(x[idx]), rng, max_shift=1))
    plain = MiniBatchLoader(x, y, batch_size=40, augment=False, seed=3)
    assert not np.array_equal(batches(plain, 4)[0][0], batches(loader, 4)[0][0])


@pytest.mark.parametrize(
    "kwargs",
    [{"batch_size": 0}, {"batch_size": 2.5}, {"seed": -1}, {"flip_prob": 2.0}, {"max_shift": -1}],
)
def test_loader_rejects_bad_arguments(loader_data, kwargs):
    with pytest.raises(ValueError):
        MiniBatchLoader(*loader_data, **kwargs)


def test_loader_rejects_bad_data(loader_data):
    x, y = loader_data
    with pytest.raises(ValueError, match="differ in length"):
        MiniBatchLoader(x, y[:-1])
    with pytest.raises(ValueError, match="shape"):
        MiniBatchLoader(x[:, :700], y)
    with pytest.raises(ValueError, match="epoch"):
        next(MiniBatchLoader(x, y).epoch(-1))


def test_split_size_is_what_each_profile_loads():
    from lab01_utils.data import split_size

    for split in ("train", "test"):
        assert split_size("quick", split) == len(load_sample(split)[1])
    assert (split_size("full"), split_size("full", "test")) == (60_000, 10_000)
    with pytest.raises(ValueError, match='profile must be "full" or "quick", not \'fast\''):
        split_size("fast")
