"""MPI3D (Gondal et al., 2019), read memory-mapped from the files the dataset ships.

Each of MPI3D's three variants (``toy``, ``realistic``, ``real``; paper 000 §5.1 uses ``real``) is
one file ``mpi3d_<variant>.npz`` holding one array ``images`` of shape (1,036,800, 64, 64, 3) uint8,
an image per factor tuple in row-major factor order (``adcore.data.factors``), about 12.7 GB. It is
never loaded whole: np.savez stores members uncompressed, so the array's bytes lie contiguous
inside the zip and are memory-mapped at their offset (the local zip header, then the .npy header
give it). A compressed member cannot be mapped; the error says how to extract it to
``mpi3d_<variant>.npy`` beside it, which is read first when present. Any square image side is
accepted (the tests write 2 x 2 images); studies resize to their own size.

One registration per variant (``mpi3d_toy``, ``mpi3d_realistic``, ``mpi3d_real``), because a factor
source is named by the config alone: its factory takes only the data root.
"""
from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import numpy as np
import torch

from adcore.data.factors import FACTOR_SOURCES, NUM_IMAGES, FactorSource, flat_index
from adcore.data.sources.locate import require_file, require_root

VARIANTS = ("toy", "realistic", "real")
MEMBER = "images.npy"  # the npz member that np.savez(..., images=...) writes
_HOW = (
    "download mpi3d_{variant}.npz from https://github.com/rr-learning/disentanglement_dataset "
    "(files mpi3d_toy.npz, mpi3d_realistic.npz, mpi3d_real.npz) into {root}/"
)
_LOCAL_HEADER = 30  # bytes of a zip local file header before its name and extra field


def _stored_member_offset(path: Path, member: str) -> int:
    """Byte offset in the zip ``path`` where the uncompressed bytes of ``member`` begin."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        if member not in names:
            raise ValueError(f"{path}: no array {member.removesuffix('.npy')!r} in it (it holds {', '.join(names)})")
        info = archive.getinfo(member)
    if info.compress_type != zipfile.ZIP_STORED:
        npy = path.with_suffix(".npy")
        raise ValueError(
            f"{path}: member {member} is compressed, so it cannot be memory-mapped; extract it once "
            f"(about 12.7 GB for MPI3D, streamed, not loaded into memory) with `unzip -p {path} {member} > {npy}`; "
            f"{npy.name} is read instead of the .npz when present"
        )
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        header = f.read(_LOCAL_HEADER)
    if header[:4] != b"PK\x03\x04":
        raise ValueError(f"{path}: no zip local header at offset {info.header_offset}; the file is damaged")
    name_length, extra_length = struct.unpack("<HH", header[26:30])  # the local extra field may differ from the central one
    return info.header_offset + _LOCAL_HEADER + name_length + extra_length


def _map_npy(path: Path, offset: int) -> np.memmap:
    """Memory-map the .npy array whose file starts at byte ``offset`` of ``path``."""
    with open(path, "rb") as f:
        f.seek(offset)
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"{path}: .npy format version {version} is not supported (1.0 or 2.0 are)")
        data_offset = f.tell()
    return np.memmap(path, dtype=dtype, mode="r", offset=data_offset, shape=shape, order="F" if fortran_order else "C")


def open_images(path: Path) -> np.memmap:
    """MPI3D's images (1,036,800, S, S, 3) uint8, memory-mapped from a .npz (stored member
    ``images``) or a .npy file."""
    array = np.load(path, mmap_mode="r") if path.suffix == ".npy" else _map_npy(path, _stored_member_offset(path, MEMBER))
    n, height, width, channels = array.shape if array.ndim == 4 else (None,) * 4
    if (array.dtype != np.uint8 or n != NUM_IMAGES or height != width or channels != 3
            or not array.flags.c_contiguous):
        raise ValueError(f"{path}: expected a C-ordered uint8 array ({NUM_IMAGES}, S, S, 3) as MPI3D ships, "
                         f"got {array.dtype} {array.shape}")
    return array


class MPI3D(FactorSource):
    """One MPI3D variant: ``images(codes)`` reads the images of those factor tuples from disk."""

    def __init__(self, variant: str, data_root: str | Path | None) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"unknown MPI3D variant {variant!r}; valid variants: {', '.join(VARIANTS)}")
        self.name = f"mpi3d_{variant}"
        how = _HOW.replace("{variant}", variant)
        root = require_root(self.name, data_root, how)
        npy = root / f"{self.name}.npy"
        path = npy if npy.is_file() else require_file(self.name, root / f"{self.name}.npz", how.format(root=root))
        self.array = open_images(path)

    def images(self, codes: np.ndarray) -> torch.Tensor:
        flat = flat_index(codes)
        rows, inverse = np.unique(flat, return_inverse=True)  # read each image once, in file order
        images = self.array[rows][inverse.reshape(-1)]  # (N, S, S, 3)
        return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))


@FACTOR_SOURCES.register("mpi3d_toy")
def mpi3d_toy(data_root: str | None) -> MPI3D:
    return MPI3D("toy", data_root)


@FACTOR_SOURCES.register("mpi3d_realistic")
def mpi3d_realistic(data_root: str | None) -> MPI3D:
    return MPI3D("realistic", data_root)


@FACTOR_SOURCES.register("mpi3d_real")
def mpi3d_real(data_root: str | None) -> MPI3D:
    """The photographs; paper 000 §5.1 uses this variant."""
    return MPI3D("real", data_root)
