"""MNIST (LeCun et al., 1998), all 70k 28x28 digits, from IDX files under the data root.

Not obtainable on this project's machines (only the 5k subset in mnist5k is); a user with
internet puts the four official files in ``<data_root>/mnist/``.
"""
from __future__ import annotations

from pathlib import Path

from adcore.data.sources.base import ImageSet, source
from adcore.data.sources.idx import read_mnist_split
from adcore.data.sources.locate import require_root

CLASS_NAMES = tuple(str(d) for d in range(10))
SUBDIR = "mnist"
_HOW = (
    "download train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
    "t10k-labels-idx1-ubyte.gz from http://yann.lecun.com/exdb/mnist/ (mirror: "
    "https://ossci-datasets.s3.amazonaws.com/mnist/) into {root}/mnist/ (gzipped or unpacked)"
)


@source("mnist", splits=("train", "test"), vocabulary="digits")
def mnist(split: str, data_root: str | Path | None) -> ImageSet:
    root = require_root("mnist", data_root, _HOW)
    images, labels = read_mnist_split("mnist", root / SUBDIR, split, _HOW.format(root=root))
    # images (N, 28, 28) -> (N, 1, 28, 28)
    return ImageSet.from_numpy(images[:, None], labels, CLASS_NAMES)
