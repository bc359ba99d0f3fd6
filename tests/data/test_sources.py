"""Every data source, read from small files written in its real on-disk format.

CIFAR pickles are filled with foolbox's real CIFAR images; Fashion-MNIST, mnist5k and digits are
read from the real packaged files.
"""
from __future__ import annotations

import gzip
import importlib.util
import os
import pickle
import re
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from adcore.data.sources import SOURCES, DataNotFoundError, ImageSet, load_source
from adcore.data.sources.base import DATA_ROOT_ENV
from adcore.data.sources.fashion_mnist import DEBIAN_DIR, SHA256
from adcore.data.sources.idx import ChecksumError, parse_idx
from adcore.data.sources.restricted_pickle import UnsafePickleError, load_pickle
from adcore.data.sources.stl10 import load_stl10
from adcore.registry import UnknownNameError

@pytest.fixture(autouse=True)
def _no_env_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_ROOT_ENV, raising=False)


def foolbox_images(prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """foolbox's real images ``<prefix>_<idx>_<label>.png``: (N, 32, 32, 3) uint8 and (N,) labels."""
    data = Path(next(iter(importlib.util.find_spec("foolbox").submodule_search_locations)), "data")
    paths = sorted(data.glob(f"{prefix}_*.png"))
    images = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in paths])
    labels = np.array([int(p.stem.split("_")[-1]) for p in paths])
    return images, labels


def to_cifar_rows(images_hwc: np.ndarray) -> np.ndarray:
    """(N, 32, 32, 3) -> (N, 3072): R plane, G plane, B plane, each row-major, as CIFAR stores them."""
    return images_hwc.transpose(0, 3, 1, 2).reshape(len(images_hwc), 3072)


def py2_pickle(batch: dict[str, object]) -> bytes:
    """``batch`` as Python 2's cPickle wrote CIFAR's files (protocol 2, str as BINSTRING, numpy 1's
    array reduction), which Python 3 cannot write. Values: bytes, lists of ints or bytes, 2-D uint8 arrays.

    Opcodes: T str, J int, ] [] ( mark e appends, c global, K small int, N None, \\x85/\\x86/\\x87
    1/2/3-tuple, t tuple to mark, R call, b setstate, \\x89 False, } {} u setitems, . stop.
    """

    def string(b: bytes) -> bytes:
        return b"T" + struct.pack("<I", len(b)) + b

    def value(v: object) -> bytes:
        if isinstance(v, bytes):
            return string(v)
        if isinstance(v, list):
            return b"](" + b"".join(string(x) if isinstance(x, bytes) else b"J" + struct.pack("<i", x) for x in v) + b"e"
        assert isinstance(v, np.ndarray) and v.dtype == np.uint8 and v.ndim == 2
        # dtype("u1", 0, 1) with state (3, "|", None, None, None, -1, -1, 0)
        dtype = b"cnumpy\ndtype\n" + string(b"u1") + b"K\x00K\x01\x87R" + b"(K\x03" + string(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
        shape = b"J" + struct.pack("<i", v.shape[0]) + b"J" + struct.pack("<i", v.shape[1]) + b"\x86"
        # _reconstruct(ndarray, (0,), "b") with state (1, shape, dtype, False, raw bytes)
        return (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + string(b"b") + b"\x87R"
                + b"(K\x01" + shape + dtype + b"\x89" + string(v.tobytes()) + b"tb")

    return b"\x80\x02}(" + b"".join(string(k.encode()) + value(v) for k, v in batch.items()) + b"u."


def dump(path: Path, obj: dict, protocol: int | str) -> None:
    """Pickle ``obj`` with ``protocol``, or as Python 2 wrote CIFAR's files when it is "py2"."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if protocol == "py2":
        path.write_bytes(py2_pickle({k.decode(): v for k, v in obj.items()}))
    else:
        with open(path, "wb") as f:
            pickle.dump(obj, f, protocol=protocol)


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file of uint8 ``array`` (gzipped when the name ends in .gz)."""
    data = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


def check_image_set(s: ImageSet, n: int, chw: tuple[int, int, int], n_classes: int) -> None:
    assert s.images.shape == (n, *chw) and s.images.dtype == torch.uint8
    assert s.labels.shape == (n,) and s.labels.dtype == torch.int64
    assert len(s.class_names) == n_classes


# --- every registered source ---------------------------------------------------------------


@pytest.mark.parametrize("name", SOURCES.names())
def test_a_source_loads_or_names_the_path_it_looked_at_and_how_to_get_it(name: str, tmp_path: Path) -> None:
    """Under an empty data root a source either needs none (its files ship in a package, or it draws its
    images) or names the file it looked for there and where to get it; with no root at all it loads from
    its default place (fashion_mnist: Debian's package) or says to set one."""
    try:
        loaded = load_source(name, "train", tmp_path)
    except DataNotFoundError as err:
        assert err.source == name and err.path.is_relative_to(tmp_path)
        assert str(err.path) in str(err) and "http" in str(err)
        try:
            loaded = load_source(name, "train")
        except DataNotFoundError as unset:
            assert re.search(r"data\.data_root.*ADCORE_DATA_ROOT", str(unset)), unset
            return
    assert len(loaded) > 0


def test_env_root_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
    with pytest.raises(DataNotFoundError, match=str(tmp_path)):
        load_source("cifar10", "train")


def test_unknown_source_and_split() -> None:
    with pytest.raises(UnknownNameError, match="fashion_mnist"):
        load_source("cifar11", "train")
    with pytest.raises(ValueError, match="valid splits: train"):
        load_source("digits", "test")


# --- IDX: mnist and fashion_mnist -------------------------------------------------------------


def test_mnist_reads_gzipped_and_unpacked_idx(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    train, test = rng.integers(0, 256, (12, 28, 28), dtype=np.uint8), rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    train_y, test_y = rng.integers(0, 10, 12, dtype=np.uint8), rng.integers(0, 10, 5, dtype=np.uint8)
    write_idx(tmp_path / "mnist/train-images-idx3-ubyte.gz", train)
    write_idx(tmp_path / "mnist/train-labels-idx1-ubyte.gz", train_y)
    write_idx(tmp_path / "mnist/t10k-images-idx3-ubyte", test)
    write_idx(tmp_path / "mnist/t10k-labels-idx1-ubyte", test_y)
    for split, images, labels in (("train", train, train_y), ("test", test, test_y)):
        s = load_source("mnist", split, tmp_path)
        check_image_set(s, len(images), (1, 28, 28), 10)
        assert np.array_equal(s.images[:, 0].numpy(), images) and np.array_equal(s.labels.numpy(), labels)


def test_parse_idx_rejects_bad_files() -> None:
    with pytest.raises(ValueError, match="not an IDX file"):
        parse_idx(b"PK\x03\x04....", "x")
    with pytest.raises(ValueError, match="holds 3 data bytes"):
        parse_idx(struct.pack(">BBBBI", 0, 0, 0x08, 1, 4) + b"abc", "x")
    wide = struct.pack(">BBBBI", 0, 0, 0x0B, 1, 2) + struct.pack(">2h", -2, 300)
    assert parse_idx(wide, "x").tolist() == [-2, 300]


def test_fashion_mnist_from_the_debian_package() -> None:
    for split, n in (("train", 60000), ("test", 10000)):
        s = load_source("fashion_mnist", split)
        check_image_set(s, n, (1, 28, 28), 10)
        assert torch.bincount(s.labels).tolist() == [n // 10] * 10
    assert s.class_names[0] == "T-shirt/top" and s.class_names[9] == "Ankle boot"
    s.images.zero_()  # a caller's edit must not reach the in-process cache
    assert load_source("fashion_mnist", "test").images.any()


def test_fashion_mnist_under_a_data_root_and_its_checksums(tmp_path: Path) -> None:
    directory = tmp_path / "fashion-mnist"
    directory.mkdir()
    shutil.copy(DEBIAN_DIR / "t10k-labels-idx1-ubyte.gz", directory)
    images = gzip.decompress((DEBIAN_DIR / "t10k-images-idx3-ubyte.gz").read_bytes())
    (directory / "t10k-images-idx3-ubyte").write_bytes(images)
    assert torch.equal(load_source("fashion_mnist", "test", tmp_path).images, load_source("fashion_mnist", "test").images)

    corrupt = tmp_path / "corrupt"
    shutil.copytree(directory, corrupt / "fashion-mnist")
    (corrupt / "fashion-mnist/t10k-images-idx3-ubyte").write_bytes(images[:-1] + bytes([images[-1] ^ 1]))
    with pytest.raises(ChecksumError) as err:
        load_source("fashion_mnist", "test", corrupt)
    message = str(err.value)
    assert "t10k-images-idx3-ubyte" in message and SHA256["t10k-images-idx3-ubyte"] in message
    assert "expected" in message


# --- packaged: mnist5k and digits -------------------------------------------------------------


def test_mnist5k() -> None:
    s = load_source("mnist5k", "train")
    check_image_set(s, 5000, (1, 28, 28), 10)
    assert torch.bincount(s.labels).tolist() == [500] * 10
    assert s.images.max() == 255


def test_digits() -> None:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    s = load_source("digits", "train")
    check_image_set(s, 1797, (1, 8, 8), 10)
    assert torch.equal(torch.bincount(s.labels), torch.from_numpy(np.bincount(bunch.target)))
    assert np.array_equal(s.images[:, 0].numpy(), np.rint(bunch.images * 255 / 16)) and s.images.max() == 255


# --- CIFAR pickles ----------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["py2", 2, pickle.DEFAULT_PROTOCOL])
def test_cifar10(tmp_path: Path, protocol: int | str) -> None:
    images, labels = foolbox_images("cifar10")  # 20 real CIFAR-10 test images
    rows = to_cifar_rows(images)
    # keys and strings are bytes: what encoding="bytes" makes of the official Python 2 files
    for i, name in enumerate(["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]):
        part = slice(0, 20) if name == "test_batch" else slice(4 * i, 4 * i + 4)
        batch = {
            b"batch_label": name.encode(),
            b"labels": labels[part].tolist(),
            b"data": rows[part],
            b"filenames": [f"img_{j}.png".encode() for j in range(20)][part],
        }
        dump(tmp_path / "cifar-10-batches-py" / name, batch, protocol)
    for split in ("train", "test"):
        s = load_source("cifar10", split, tmp_path)
        check_image_set(s, 20, (3, 32, 32), 10)
        assert np.array_equal(s.images.permute(0, 2, 3, 1).numpy(), images)  # exact pixels of the PNGs
        assert s.labels.tolist() == labels.tolist()
    assert s.class_names[3] == "cat"


@pytest.mark.parametrize("protocol", ["py2", pickle.DEFAULT_PROTOCOL])
@pytest.mark.parametrize("name,label_key", [("cifar100", "fine"), ("cifar100_coarse", "coarse")])
def test_cifar100(tmp_path: Path, name: str, label_key: str, protocol: int | str) -> None:
    images, fine = foolbox_images("cifar100")
    coarse = fine % 20  # any fine -> coarse map will do for reading
    for split in ("train", "test"):
        batch = {b"filenames": [], b"batch_label": split.encode(), b"fine_labels": fine.tolist(),
                 b"coarse_labels": coarse.tolist(), b"data": to_cifar_rows(images)}
        dump(tmp_path / "cifar-100-python" / split, batch, protocol)
    meta = {b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
            b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)]}
    dump(tmp_path / "cifar-100-python/meta", meta, protocol)
    s = load_source(name, "test", tmp_path)
    n_classes = 100 if label_key == "fine" else 20
    check_image_set(s, 20, (3, 32, 32), n_classes)
    assert np.array_equal(s.images[0].permute(1, 2, 0).numpy(), images[0])
    assert s.labels.tolist() == (fine if label_key == "fine" else coarse).tolist()
    assert s.class_names[1] == f"{label_key}1"


class _RunsShell:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return os.system, (f"touch {self.marker}",)


def test_restricted_unpickler_refuses_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    dump(tmp_path / "cifar-10-batches-py/data_batch_1", {b"data": _RunsShell(marker)}, pickle.DEFAULT_PROTOCOL)
    with pytest.raises(UnsafePickleError, match=r"refusing to load (posix|nt)\.system"):
        load_source("cifar10", "train", tmp_path)
    assert not marker.exists()
    dump(tmp_path / "builtin", {"f": eval}, pickle.DEFAULT_PROTOCOL)
    with pytest.raises(UnsafePickleError, match="builtins.eval"):
        load_pickle(tmp_path / "builtin")


# --- SVHN and STL-10 --------------------------------------------------------------------------


@pytest.mark.parametrize("split", ["train", "test", "extra"])
def test_svhn(tmp_path: Path, split: str) -> None:
    images, _ = foolbox_images("cifar10")  # any real 32x32 RGB images
    digits = np.arange(20) % 10
    y = np.where(digits == 0, 10, digits).astype(np.uint8).reshape(-1, 1)  # (N, 1), 10 for digit 0
    (tmp_path / "svhn").mkdir()
    scipy.io.savemat(tmp_path / "svhn" / f"{split}_32x32.mat", {"X": images.transpose(1, 2, 3, 0), "y": y})
    s = load_source("svhn", split, tmp_path)
    check_image_set(s, 20, (3, 32, 32), 10)
    assert np.array_equal(s.images.permute(0, 2, 3, 1).numpy(), images)
    assert s.labels.tolist() == digits.tolist()


def test_stl10(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 3, 96, 96), dtype=np.uint8)  # (N, C, H, W)
    directory = tmp_path / "stl10_binary"
    directory.mkdir()
    column_major = images.transpose(0, 1, 3, 2).tobytes()  # each channel stored column by column
    for split in ("train", "test", "unlabeled"):
        (directory / f"{split}_X.bin").write_bytes(column_major)
    labels = np.array([1, 10, 3, 4, 5, 2], dtype=np.uint8)  # stored 1..10
    for split in ("train", "test"):
        (directory / f"{split}_y.bin").write_bytes(labels.tobytes())

    s = load_source("stl10", "train", tmp_path)
    check_image_set(s, 6, (3, 96, 96), 10)
    assert np.array_equal(s.images.numpy(), images) and s.labels.tolist() == (labels - 1).tolist()
    first = load_stl10("unlabeled", tmp_path, limit=2)
    assert np.array_equal(first.images.numpy(), images[:2]) and first.labels.tolist() == [-1, -1]
    (directory / "test_X.bin").write_bytes(column_major[:-1])
    with pytest.raises(ValueError, match="whole number"):
        load_source("stl10", "test", tmp_path)
