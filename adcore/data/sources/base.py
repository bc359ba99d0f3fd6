"""What every data source returns, what it declares before it is loaded, and its errors.

torch is imported where images become tensors, not at the top: the check before Ray starts
(``adcore.data.check``) reads sources' metadata and class counts without it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from adcore.registry import Registry

if TYPE_CHECKING:
    import numpy as np
    import torch


class ClassMakeup:
    """What the OE overlap guard compares: class names and the concepts they stand for."""

    class_names: tuple[str, ...]
    # what each class is, as names in its source's vocabulary (a coarse class: its fine classes); the
    # overlap guard compares these across sources. None: each class is its own name
    class_concepts: tuple[frozenset[str], ...] | None

    def concepts(self, classes: list[int]) -> set[str]:
        """The concepts (lower-case names in the vocabulary) the given classes cover."""
        per_class = self.class_concepts or tuple(frozenset([name]) for name in self.class_names)
        return {concept.lower() for c in classes for concept in per_class[c]}


@dataclass(frozen=True)
class ImageSet(ClassMakeup):
    """A labelled image set as uint8, the form the tensor pipeline expects.

    images: (N, C, H, W) uint8, C in {1, 3}, in memory or memory-mapped from the decode cache;
    labels: (N,) int64, -1 where a split is unlabelled.
    """

    images: torch.Tensor
    labels: torch.Tensor
    class_names: tuple[str, ...]
    class_concepts: tuple[frozenset[str], ...] | None = None
    unreadable: tuple[str, ...] = ()  # image files left out because they could not be decoded (unreadable: skip)

    def __post_init__(self) -> None:
        import torch

        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"ImageSet images must be uint8 (N, C, H, W), got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError("ImageSet needs one label per image")

    @classmethod
    def from_numpy(cls, images: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                   class_concepts: tuple[frozenset[str], ...] | None = None, unreadable: tuple[str, ...] = ()) -> "ImageSet":
        """From NumPy arrays, sharing the images' memory (a memory-mapped array stays on disk)."""
        import numpy as np
        import torch

        return cls(torch.from_numpy(images), torch.from_numpy(np.asarray(labels, dtype=np.int64)), tuple(class_names),
                   class_concepts, unreadable)

    def __len__(self) -> int:
        return self.images.shape[0]

    def subset(self, index: torch.Tensor) -> "ImageSet":
        return ImageSet(self.images[index], self.labels[index], self.class_names, self.class_concepts, self.unreadable)

    @property
    def labelled(self) -> bool:
        return bool(self.class_names) and bool((self.labels >= 0).any())


@dataclass(frozen=True)
class Census(ClassMakeup):
    """How many images of each class one split holds, known without decoding an image."""

    class_names: tuple[str, ...]
    counts: tuple[int, ...]  # images per class, in class order
    unlabelled: int = 0
    class_concepts: tuple[frozenset[str], ...] | None = None

    def __len__(self) -> int:
        return sum(self.counts) + self.unlabelled

    @property
    def labelled(self) -> bool:
        return bool(self.class_names) and sum(self.counts) > 0

    def of(self, classes: list[int]) -> int:
        """Images of the given classes."""
        return sum(self.counts[c] for c in classes)


class DataNotFoundError(FileNotFoundError):
    """A data source's files are not where the config says; the message says how to get them."""

    def __init__(self, source: str, path: Path, how_to_obtain: str) -> None:
        super().__init__(f"{source}: no data at {path}. {how_to_obtain}")
        self.source, self.path = source, path


class DataConfigError(ValueError):
    """The data config names data that is not there, or asks for more than there is. ``key`` is the
    config key to change (``data.n_normal``, ``data.dataset.root``); the message says how."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key, self.message = key, message

    def under(self, prefix: str) -> "DataConfigError":
        """The same problem with its key below ``prefix`` (a source's ``root`` -> ``data.dataset.root``)."""
        return DataConfigError(f"{prefix}.{self.key}", self.message)


# A source's loader is a function (split, data_root) -> ImageSet. ``data_root`` is the directory the
# user configured (None: the source's own default, e.g. a Debian or PyPI package's files).
SourceFn = Callable[[str, "Path | None"], ImageSet]
# Its census: (split, data_root) -> Census, from metadata or a file listing, without decoding images.
CensusFn = Callable[[str, "Path | None"], Census]


@dataclass(frozen=True)
class Source:
    """An image source and what a benchmark must know about it before loading it."""

    name: str
    load: SourceFn
    splits: tuple[str, ...]
    family: str  # the collection its images come from: sources of one family may hold the same images
    vocabulary: str | None  # the label space its class names live in; sources sharing one share classes
    oe_split: str = "train"  # the split an OE corpus is drawn from (STL-10: its unlabelled split)
    census: CensusFn | None = None  # None: counted by loading the split

    def split_error(self, split: str) -> str | None:
        if split in self.splits:
            return None
        return f"{self.name} has no split {split!r}; valid splits: {', '.join(self.splits)}"


SOURCES: Registry[Source] = Registry("dataset")


def source(name: str, *, splits: tuple[str, ...], family: str | None = None, vocabulary: str | None = None,
           oe_split: str = "train", census: CensusFn | None = None) -> Callable[[SourceFn], SourceFn]:
    """Decorator: register a loader as source ``name`` with its splits, family and vocabulary
    (``family`` defaults to the name: a collection of its own) and, where it is known without
    loading, its census."""

    def add(load: SourceFn) -> SourceFn:
        SOURCES.register(name)(Source(name, load, splits, family or name, vocabulary, oe_split, census))
        return load

    return add

DATA_ROOT_ENV = "ADCORE_DATA_ROOT"


def resolve_root(data_root: "str | Path | None") -> Path | None:
    """The configured data root, falling back to $ADCORE_DATA_ROOT."""
    root = data_root if data_root is not None else os.environ.get(DATA_ROOT_ENV)
    return Path(root).expanduser() if root else None
