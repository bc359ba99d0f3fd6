"""Fashion-MNIST (Xiao et al., 2017): 70k 28x28 grey images of 10 clothing classes.

The one full benchmark dataset this project can have offline: the Debian package
``dataset-fashion-mnist`` installs its four IDX files. Their .gz headers differ from upstream's
(no file name field), so the pinned digests are of the unpacked bytes, which match upstream.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from adcore.data.sources.base import Census, ImageSet, resolve_root, source
from adcore.data.sources.idx import SPLIT_FILES, find_idx, read_mnist_split

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
SUBDIR = "fashion-mnist"  # under a configured data root
PER_CLASS = {"train": 6000, "test": 1000}

# SHA-256 of the unpacked IDX files (computed from the Debian package, equal to upstream's data)
SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

_FILES = "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz"
_UPSTREAM = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/ (see https://github.com/zalandoresearch/fashion-mnist)"


def _where(data_root: str | Path | None) -> tuple[Path, str]:
    """The directory the files are read from, and how to get them there."""
    root = resolve_root(data_root)
    if root is None:
        return DEBIAN_DIR, (f"install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist), "
                            f"or download {_FILES} from {_UPSTREAM} into <data_root>/{SUBDIR}/ and set data.data_root")
    directory = root / SUBDIR
    return directory, (f"download {_FILES} from {_UPSTREAM} into {directory}/ (gzipped or unpacked), or leave "
                       "data.data_root unset to use the Debian package dataset-fashion-mnist")


@lru_cache(maxsize=None)
def _load(directory: Path, how: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Decode and verify once per process: (N, 1, 28, 28) uint8 images, (N,) int64 labels."""
    images, labels = read_mnist_split("fashion_mnist", directory, split, how, SHA256)
    counts = np.bincount(labels, minlength=len(CLASS_NAMES))
    if counts.tolist() != [PER_CLASS[split]] * len(CLASS_NAMES):
        raise ValueError(f"fashion_mnist {split} in {directory}: expected {PER_CLASS[split]} images per class, got {counts.tolist()}")
    return images[:, None], labels.astype(np.int64)


def _census(split: str, data_root: str | Path | None) -> Census:
    """The files are there (their digests are checked when they are read); the counts are the dataset's."""
    directory, how = _where(data_root)
    for name in SPLIT_FILES[split]:
        find_idx("fashion_mnist", directory, name, how)
    return Census(CLASS_NAMES, (PER_CLASS[split],) * len(CLASS_NAMES))


@source("fashion_mnist", splits=("train", "test"), vocabulary="fashion", census=_census)
def fashion_mnist(split: str, data_root: str | Path | None) -> ImageSet:
    """60k train / 10k test images from ``<data_root>/fashion-mnist/``, else the Debian package."""
    images, labels = _load(*_where(data_root), split)
    # copies keep callers from editing the cache in place; ~10 ms against ~0.5 s to decode
    return ImageSet.from_numpy(images.copy(), labels.copy(), CLASS_NAMES)
