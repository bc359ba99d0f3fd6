"""IDX, the file format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/).

Both datasets ship the same four files per dataset, gzipped or not; this module reads either and
checks the unpacked bytes against pinned digests where a source pins them (gzip headers differ
between mirrors, the unpacked data does not).
"""
from __future__ import annotations

import gzip
import hashlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from adcore.data.sources.locate import require_file

# IDX type byte -> big-endian numpy dtype
_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

# split -> (images file, labels file), without the optional ".gz"
SPLIT_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class ChecksumError(ValueError):
    """A data file's content is not the one the source pins: corrupt, truncated or another dataset."""


def find_idx(source: str, directory: Path, name: str, how_to_obtain: str) -> Path:
    """``directory/name`` if unpacked, else ``directory/name.gz``; an error naming the latter if neither."""
    unpacked = directory / name
    return unpacked if unpacked.is_file() else require_file(source, directory / f"{name}.gz", how_to_obtain)


def read_idx_bytes(path: Path, sha256: str | None = None) -> bytes:
    """The unpacked bytes of an IDX file, verified against ``sha256`` when given."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    if sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise ChecksumError(
                f"{path}: SHA-256 of the unpacked data is {actual}, expected {sha256}; "
                "the file is corrupt or not the expected dataset, replace it"
            )
    return data


def parse_idx(data: bytes, where: str) -> np.ndarray:
    """Decode IDX bytes: 2 zero bytes, a type byte, ndim, ndim big-endian uint32 sizes, then the data."""
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] not in _DTYPES:
        raise ValueError(f"{where}: not an IDX file (magic bytes {data[:4]!r})")
    ndim = data[3]
    shape = tuple(int(n) for n in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_DTYPES[data[2]])
    offset = 4 + 4 * ndim
    if len(data) - offset != dtype.itemsize * int(np.prod(shape)):
        raise ValueError(f"{where}: IDX header says shape {shape} but holds {len(data) - offset} data bytes")
    return np.frombuffer(data, dtype, offset=offset).reshape(shape).astype(dtype.newbyteorder("="))


def read_mnist_split(
    source: str, directory: Path, split: str, how_to_obtain: str, sha256: Mapping[str, str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) uint8 of one split in MNIST's file layout.

    ``sha256`` maps an unpacked file name (e.g. "train-images-idx3-ubyte") to its pinned digest.
    """
    arrays = []
    for name in SPLIT_FILES[split]:
        path = find_idx(source, directory, name, how_to_obtain)
        digest = sha256[name] if sha256 is not None else None
        arrays.append(parse_idx(read_idx_bytes(path, digest), str(path)))
    images, labels = arrays
    if images.dtype != np.uint8 or images.ndim != 3 or labels.shape != images.shape[:1]:
        raise ValueError(
            f"{source} {split}: expected uint8 images (N, H, W) and N labels in {directory}, "
            f"got {images.dtype} {images.shape} and {labels.shape}"
        )
    return images, labels
