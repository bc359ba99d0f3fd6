"""Arrays in a NumPy ``.npz`` file, as data a study names: ``dataset: {name: npz, path: /data/mine.npz}``.

The file holds ``x_train`` (N, H, W) or (N, H, W, C) uint8 with C 1 or 3 (channels last, as Keras'
datasets give them) and ``y_train`` (N,) integer class labels 0..K-1 (-1: unlabelled), optionally
``x_test`` with ``y_test`` (else the test split is drawn from the training images,
``data.test_fraction`` of each class) and ``class_names`` (K strings). It is read without pickle
(``allow_pickle=False``); the check before Ray reads only the labels and the image arrays' headers.
The arrays are held in memory per trial and resized there, as the built-in sources are; a dataset
too large for that belongs in an image folder, whose decoded images are memory-mapped.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from adcore.data.sources.base import Census, DataConfigError, ImageSet, Source
from adcore.data.sources.layouts import LAYOUTS, Layout, LoadSettings, SourceParams, resolve_path

ARRAYS = {"train": ("x_train", "y_train"), "test": ("x_test", "y_test")}


@LAYOUTS.register("npz")
class Npz(Layout):
    class Params(SourceParams):
        path: str = Field(description="the .npz file (relative paths are below data.data_root)")
        vocabulary: str | None = Field(None, description="label space of class_names, for the OE overlap guard "
                                       "(default: this file's own)")

    @classmethod
    def source(cls, params: Any, settings: LoadSettings) -> Source:
        path = resolve_path(params.path, settings.data_root)
        if not path.is_file():
            raise DataConfigError("path", f"no file {path}; point path at your .npz (np.savez(path, x_train=..., "
                                  "y_train=..., x_test=..., y_test=...))")
        try:
            with zipfile.ZipFile(path) as archive:
                stored = {Path(name).stem for name in archive.namelist()}
                shapes = {name: _header(archive, name, path) for name in ("x_train", "x_test") if name in stored}
        except zipfile.BadZipFile:
            raise DataConfigError("path", f"{path} is not an .npz file (np.savez writes one)") from None
        if not {"x_train", "y_train"} <= stored:
            raise DataConfigError("path", f"{path} holds {', '.join(sorted(stored))}; it needs x_train and y_train")
        if ("x_test" in stored) != ("y_test" in stored):
            raise DataConfigError("path", f"{path} holds one of x_test and y_test; give both, or neither (the test "
                                  "split is then drawn from the training images)")
        splits = ("train", "test") if "x_test" in stored else ("train",)
        with np.load(path, allow_pickle=False) as arrays:
            labels = {split: _labels(arrays, split, shapes[ARRAYS[split][0]][0], path) for split in splits}
            names = _class_names(arrays, "class_names" in stored, labels, path)

        def census(split: str, data_root: Path | None) -> Census:
            counts = np.bincount(labels[split][labels[split] >= 0], minlength=len(names))
            return Census(names, tuple(int(n) for n in counts), unlabelled=int((labels[split] < 0).sum()))

        def load(split: str, data_root: Path | None) -> ImageSet:
            with np.load(path, allow_pickle=False) as arrays:
                images = arrays[ARRAYS[split][0]]
            images = images[:, None] if images.ndim == 3 else np.ascontiguousarray(images.transpose(0, 3, 1, 2))
            return ImageSet.from_numpy(images, labels[split], names)  # (N, C, H, W)

        return Source(f"npz {path}", load, splits, family=str(path), vocabulary=params.vocabulary, census=census)


def _header(archive: zipfile.ZipFile, name: str, path: Path) -> tuple[int, ...]:
    """The shape of image array ``name``, read from its header alone; it must be uint8 images."""
    with archive.open(f"{name}.npy") as handle:
        version = np.lib.format.read_magic(handle)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(handle)
    if dtype != np.uint8 or len(shape) not in (3, 4) or (len(shape) == 4 and shape[3] not in (1, 3)):
        raise DataConfigError("path", f"{path}: {name} is {dtype} {shape}; images are uint8 (N, H, W) or (N, H, W, C) "
                              "with C 1 or 3 (e.g. np.round(x * 255).astype(np.uint8) for floats in [0, 1])")
    return shape


def _labels(arrays: Any, split: str, count: int, path: Path) -> np.ndarray:
    name = ARRAYS[split][1]
    labels = arrays[name]
    if labels.shape != (count,) or not np.issubdtype(labels.dtype, np.integer) or (labels < -1).any():
        raise DataConfigError("path", f"{path}: {name} is {labels.dtype} {labels.shape}; it needs one integer class "
                              f"label per image ({count}), 0..K-1, or -1 for unlabelled")
    return labels.astype(np.int64)


def _class_names(arrays: Any, named: bool, labels: dict[str, np.ndarray], path: Path) -> tuple[str, ...]:
    """class_names if the file has them, else the labels' numbers; every label must name a class."""
    top = max(int(values.max(initial=-1)) for values in labels.values())
    if not named:
        return tuple(str(c) for c in range(top + 1))
    try:
        names = tuple(str(name) for name in arrays["class_names"])
    except ValueError:  # an object array: it would need pickle
        raise DataConfigError("path", f"{path}: store class_names as strings (np.array([...], dtype=str))") from None
    if top >= len(names):
        raise DataConfigError("path", f"{path}: label {top} but class_names has {len(names)} names")
    return names
