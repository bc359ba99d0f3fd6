"""Data sources: functions ``(split, data_root) -> ImageSet`` registered by name in ``SOURCES``.

Every source module is imported here so that importing this package registers them all.
"""
from __future__ import annotations

from pathlib import Path

from adcore.data.sources import cifar, digits, fashion_mnist, mnist, mnist5k, smooth_noise, stl10, svhn  # noqa: F401  (registration)
from adcore.data.sources.base import SOURCES, DataNotFoundError, ImageSet, Source

__all__ = ["SOURCES", "DataNotFoundError", "ImageSet", "Source", "load_source"]


def load_source(name: str, split: str, data_root: str | Path | None = None) -> ImageSet:
    """Load ``split`` of the source registered as ``name``; unknown names and splits list the valid ones."""
    found = SOURCES.get(name)
    error = found.split_error(split)
    if error:
        raise ValueError(error)
    return found.load(split, data_root)
