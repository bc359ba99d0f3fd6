"""scikit-learn's 8x8 handwritten digits (UCI optdigits test set, 1,797 images), always available."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from adcore.data.sources.base import Census, ImageSet, source

CLASS_NAMES = tuple(str(d) for d in range(10))
COUNTS = (178, 182, 177, 183, 181, 182, 181, 179, 174, 180)  # images per digit, as load_digits() gives them


def _census(split: str, data_root: str | Path | None) -> Census:
    return Census(CLASS_NAMES, COUNTS)


@source("digits", splits=("train",), family="optdigits", vocabulary="digits", census=_census)
def digits(split: str, data_root: str | Path | None) -> ImageSet:
    """All images as split ``train``, grey levels 0..16 scaled to 0..255; ``data_root`` is not used."""
    from sklearn.datasets import load_digits  # here, not at the top: keeps importing the sources light

    bunch = load_digits()
    images = np.rint(bunch.images * (255 / 16)).astype(np.uint8)  # (1797, 8, 8)
    return ImageSet.from_numpy(images[:, None], bunch.target, CLASS_NAMES)
