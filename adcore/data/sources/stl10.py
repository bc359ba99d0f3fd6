"""STL-10 (Coates et al., 2011): 96x96 RGB, 5k train / 8k test labelled and 100k unlabelled images,
from the official binaries.

Each image is stored channel by channel, each channel column-major. The unlabelled file is
2.7 GB, so it is memory-mapped and only the images asked for are read (``load_stl10(limit=...)``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from adcore.data.sources.base import ImageSet, source
from adcore.data.sources.locate import require_file, require_root

CLASS_NAMES = ("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck")
SPLITS = ("train", "test", "unlabeled")
SUBDIR = "stl10_binary"
_IMAGE_BYTES = 3 * 96 * 96
_HOW = (
    "download stl10_binary.tar.gz from https://cs.stanford.edu/~acoates/stl10/ "
    "and unpack it so that {root}/stl10_binary/train_X.bin exists"
)


def load_stl10(split: str, data_root: str | Path | None, limit: int | None = None) -> ImageSet:
    """The first ``limit`` images of ``split`` (all when None); labels are -1 for ``unlabeled``."""
    if split not in SPLITS:
        raise ValueError(f"stl10 has no split {split!r}; valid splits: {', '.join(SPLITS)}")
    root = require_root("stl10", data_root, _HOW)
    how = _HOW.format(root=root)
    x_path = require_file("stl10", root / SUBDIR / f"{split}_X.bin", how)
    size = x_path.stat().st_size
    if size == 0 or size % _IMAGE_BYTES:
        raise ValueError(f"{x_path}: {size} bytes is not a whole number of 3x96x96 images")
    n = size // _IMAGE_BYTES
    count = n if limit is None else min(limit, n)
    stored = np.memmap(x_path, np.uint8, mode="r", shape=(n, 3, 96, 96))  # (N, C, W, H)
    images = np.ascontiguousarray(stored[:count].transpose(0, 1, 3, 2))  # reads only `count` images
    if split == "unlabeled":
        labels = np.full(count, -1, dtype=np.int64)
    else:
        y_path = require_file("stl10", root / SUBDIR / f"{split}_y.bin", how)
        labels = np.fromfile(y_path, np.uint8, count=count).astype(np.int64) - 1  # stored 1..10
        if labels.shape != (count,):
            raise ValueError(f"{y_path}: holds {labels.shape[0]} labels for {count} images")
    return ImageSet.from_numpy(images, labels, CLASS_NAMES)


@source("stl10", splits=SPLITS, vocabulary="objects", oe_split="unlabeled")
def stl10(split: str, data_root: str | Path | None) -> ImageSet:
    """A whole split; use ``load_stl10(..., limit=k)`` for the first k images."""
    return load_stl10(split, data_root)
