"""STL-10 (Coates et al., 2011): 96x96 RGB, 5k train / 8k test labelled and 100k unlabelled images,
from the official binaries.

Each image is stored channel by channel, each channel column-major. The unlabelled file is
2.7 GB, so it is memory-mapped and only the images asked for are read (``load_stl10(limit=...)``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from adcore.data.sources.base import Census, ImageSet, source
from adcore.data.sources.locate import require_file, require_root

CLASS_NAMES = ("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck")
SPLITS = ("train", "test", "unlabeled")
SUBDIR = "stl10_binary"
_IMAGE_BYTES = 3 * 96 * 96
_HOW = (
    "download stl10_binary.tar.gz from https://cs.stanford.edu/~acoates/stl10/ "
    "and unpack it so that {root}/stl10_binary/train_X.bin exists"
)


def _images_file(split: str, data_root: str | Path | None) -> tuple[Path, int]:
    """The split's image file and how many images it holds (from its size; nothing is read)."""
    if split not in SPLITS:
        raise ValueError(f"stl10 has no split {split!r}; valid splits: {', '.join(SPLITS)}")
    root = require_root("stl10", data_root, _HOW)
    x_path = require_file("stl10", root / SUBDIR / f"{split}_X.bin", _HOW.format(root=root))
    size = x_path.stat().st_size
    if size == 0 or size % _IMAGE_BYTES:
        raise ValueError(f"{x_path}: {size} bytes is not a whole number of 3x96x96 images")
    return x_path, size // _IMAGE_BYTES


def _labels(x_path: Path, split: str, count: int) -> np.ndarray:
    """The first ``count`` labels of a labelled split, 0..9; -1 for ``unlabeled``."""
    if split == "unlabeled":
        return np.full(count, -1, dtype=np.int64)
    y_path = require_file("stl10", x_path.with_name(f"{split}_y.bin"), _HOW.format(root=x_path.parent.parent))
    labels = np.fromfile(y_path, np.uint8, count=count).astype(np.int64) - 1  # stored 1..10
    if labels.shape != (count,):
        raise ValueError(f"{y_path}: holds {labels.shape[0]} labels for {count} images")
    return labels


def load_stl10(split: str, data_root: str | Path | None, limit: int | None = None) -> ImageSet:
    """The first ``limit`` images of ``split`` (all when None); labels are -1 for ``unlabeled``."""
    x_path, n = _images_file(split, data_root)
    count = n if limit is None else min(limit, n)
    stored = np.memmap(x_path, np.uint8, mode="r", shape=(n, 3, 96, 96))  # (N, C, W, H)
    images = np.ascontiguousarray(stored[:count].transpose(0, 1, 3, 2))  # reads only `count` images
    return ImageSet.from_numpy(images, _labels(x_path, split, count), CLASS_NAMES)


def _census(split: str, data_root: str | Path | None) -> Census:
    """Counted from the label file and the image file's size: the check before Ray never reads the 2.7 GB
    unlabelled split."""
    x_path, n = _images_file(split, data_root)
    labels = _labels(x_path, split, n)
    return Census(CLASS_NAMES, tuple(int(c) for c in np.bincount(labels[labels >= 0], minlength=len(CLASS_NAMES))),
                  unlabelled=int((labels < 0).sum()))


@source("stl10", splits=SPLITS, vocabulary="objects", oe_split="unlabeled", census=_census)
def stl10(split: str, data_root: str | Path | None) -> ImageSet:
    """A whole split; use ``load_stl10(..., limit=k)`` for the first k images."""
    return load_stl10(split, data_root)
