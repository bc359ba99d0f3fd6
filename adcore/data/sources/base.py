"""What every data source returns, and the error it raises when its files are missing."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from adcore.registry import Registry


@dataclass(frozen=True)
class ImageSet:
    """A labelled image set held in memory as uint8, the form the tensor pipeline expects.

    images: (N, C, H, W) uint8, C in {1, 3}; labels: (N,) int64, -1 where a split is unlabelled.
    """

    images: torch.Tensor
    labels: torch.Tensor
    class_names: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"ImageSet images must be uint8 (N, C, H, W), got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError("ImageSet needs one label per image")

    def __len__(self) -> int:
        return self.images.shape[0]

    def subset(self, index: torch.Tensor) -> "ImageSet":
        return ImageSet(self.images[index], self.labels[index], self.class_names)


class DataNotFoundError(FileNotFoundError):
    """A data source's files are not where the config says; the message says how to get them."""

    def __init__(self, source: str, path: Path, how_to_obtain: str) -> None:
        super().__init__(f"{source}: no data at {path}. {how_to_obtain}")
        self.source, self.path = source, path


# A source is a function (split, data_root) -> ImageSet. ``data_root`` is the directory the
# user configured (None: the source's own default, e.g. a Debian or PyPI package's files).
SourceFn = Callable[[str, "Path | None"], ImageSet]
SOURCES: Registry[SourceFn] = Registry("dataset")

DATA_ROOT_ENV = "ADCORE_DATA_ROOT"


def resolve_root(data_root: "str | Path | None") -> Path | None:
    """The configured data root, falling back to $ADCORE_DATA_ROOT."""
    root = data_root if data_root is not None else os.environ.get(DATA_ROOT_ENV)
    return Path(root).expanduser() if root else None


def check_split(source: str, split: str, valid: tuple[str, ...]) -> None:
    if split not in valid:
        raise ValueError(f"{source} has no split {split!r}; valid splits: {', '.join(valid)}")
