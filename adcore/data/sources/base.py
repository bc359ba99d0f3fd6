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
    # what each class is, as names in its source's vocabulary (a coarse class: its fine classes); the
    # overlap guard compares these across sources. None: each class is its own name
    class_concepts: tuple[frozenset[str], ...] | None = None

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"ImageSet images must be uint8 (N, C, H, W), got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError("ImageSet needs one label per image")

    def __len__(self) -> int:
        return self.images.shape[0]

    def subset(self, index: torch.Tensor) -> "ImageSet":
        return ImageSet(self.images[index], self.labels[index], self.class_names, self.class_concepts)

    def concepts(self, classes: list[int]) -> set[str]:
        """The concepts (lower-case names in the vocabulary) the given classes cover."""
        per_class = self.class_concepts or tuple(frozenset([name]) for name in self.class_names)
        return {concept.lower() for c in classes for concept in per_class[c]}


class DataNotFoundError(FileNotFoundError):
    """A data source's files are not where the config says; the message says how to get them."""

    def __init__(self, source: str, path: Path, how_to_obtain: str) -> None:
        super().__init__(f"{source}: no data at {path}. {how_to_obtain}")
        self.source, self.path = source, path


# A source's loader is a function (split, data_root) -> ImageSet. ``data_root`` is the directory the
# user configured (None: the source's own default, e.g. a Debian or PyPI package's files).
SourceFn = Callable[[str, "Path | None"], ImageSet]


@dataclass(frozen=True)
class Source:
    """A registered image source and what a benchmark must know about it before loading it."""

    name: str
    load: SourceFn
    splits: tuple[str, ...]
    family: str  # the collection its images come from: sources of one family may hold the same images
    vocabulary: str | None  # the label space its class names live in; sources sharing one share classes
    oe_split: str = "train"  # the split an OE corpus is drawn from (STL-10: its unlabelled split)

    def split_error(self, split: str) -> str | None:
        if split in self.splits:
            return None
        return f"{self.name} has no split {split!r}; valid splits: {', '.join(self.splits)}"


SOURCES: Registry[Source] = Registry("dataset")


def source(name: str, *, splits: tuple[str, ...], family: str | None = None, vocabulary: str | None = None,
           oe_split: str = "train") -> Callable[[SourceFn], SourceFn]:
    """Decorator: register a loader as source ``name`` with its splits, family and vocabulary
    (``family`` defaults to the name: a collection of its own)."""

    def add(load: SourceFn) -> SourceFn:
        SOURCES.register(name)(Source(name, load, splits, family or name, vocabulary, oe_split))
        return load

    return add

DATA_ROOT_ENV = "ADCORE_DATA_ROOT"


def resolve_root(data_root: "str | Path | None") -> Path | None:
    """The configured data root, falling back to $ADCORE_DATA_ROOT."""
    root = data_root if data_root is not None else os.environ.get(DATA_ROOT_ENV)
    return Path(root).expanduser() if root else None

