"""SVHN (Netzer et al., 2011), cropped 32x32 house-number digits, from the official .mat files."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from adcore.data.sources.base import ImageSet, source
from adcore.data.sources.locate import require_file, require_root

CLASS_NAMES = tuple(str(d) for d in range(10))
SUBDIR = "svhn"
_HOW = (
    "download train_32x32.mat, test_32x32.mat and extra_32x32.mat from "
    "http://ufldl.stanford.edu/housenumbers/ into {root}/svhn/"
)


@source("svhn", splits=("train", "test", "extra"), vocabulary="digits")
def svhn(split: str, data_root: str | Path | None) -> ImageSet:
    import scipy.io  # here, not at the top: keeps importing the sources light

    root = require_root("svhn", data_root, _HOW)
    path = require_file("svhn", root / SUBDIR / f"{split}_32x32.mat", _HOW.format(root=root))
    mat = scipy.io.loadmat(path, variable_names=("X", "y"))
    x, y = mat["X"], mat["y"].reshape(-1).astype(np.int64)  # X (32, 32, 3, N) uint8, y (N, 1)
    if x.dtype != np.uint8 or x.shape[:3] != (32, 32, 3) or y.shape != x.shape[3:]:
        raise ValueError(f"{path}: expected X uint8 (32, 32, 3, N) and y (N, 1), got {x.dtype} {x.shape} and {mat['y'].shape}")
    images = np.ascontiguousarray(x.transpose(3, 2, 0, 1))  # (H, W, C, N) -> (N, C, H, W)
    labels = np.where(y == 10, 0, y)  # SVHN stores digit 0 as label 10
    return ImageSet.from_numpy(images, labels, CLASS_NAMES)
