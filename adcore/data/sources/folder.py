"""What the image-file layouts share: listing class folders, their parameters for decoding, and the
Source they make, whose images come from the decode cache (``adcore.data.decode_cache``).

A class's images are every file with an image suffix under its folder, recursively, in sorted
order; names starting with "." (``.ipynb_checkpoints``, ``.DS_Store``) are not classes or images.
Listing is all the check before Ray needs: class counts come from it, nothing is decoded.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

from pydantic import Field

from adcore.cache import default_cache_dir
from adcore.data.sources.base import Census, DataConfigError, ImageSet, Source
from adcore.data.sources.layouts import LoadSettings, SourceParams

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".ppm", ".pgm", ".pbm", ".bmp", ".tif", ".tiff", ".webp", ".gif"})
SHOWN_UNREADABLE = 10  # paths an error message lists before it refers to the cache's full list


class ImageFileParams(SourceParams):
    """How image files are decoded, shared by the layouts that read them."""

    mode: Literal["RGB", "L"] = Field("RGB", description="RGB: colour (grey images are repeated); L: grey")
    fit: Literal["crop", "stretch"] = Field(
        "crop", description="crop: the shorter side to data.image_size, then the centre square (torchvision's "
        "Resize + CenterCrop); stretch: both sides to data.image_size")
    unreadable: Literal["error", "skip"] = Field(
        "error", description="error: a file that cannot be decoded fails the trial, every such file listed by path; "
        "skip: leave them out and record how many in the row (n_skipped_images)")


def class_folders(directory: Path) -> list[str]:
    """The class folders of a split directory, sorted (torchvision's ImageFolder order)."""
    return sorted(entry.name for entry in os.scandir(directory) if entry.is_dir() and not entry.name.startswith("."))


def image_files(directory: Path) -> list[Path]:
    """Every image file under ``directory`` (recursively, following links), in sorted order."""
    found: list[Path] = []
    for folder, subfolders, names in os.walk(directory, followlinks=True):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        found += [Path(folder, name) for name in sorted(names)
                  if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES]
    return found


@dataclass(frozen=True)
class Listing:
    """One split's image files and the class of each."""

    files: tuple[Path, ...]
    labels: tuple[int, ...]

    def counts(self, n_classes: int) -> tuple[int, ...]:
        counts = [0] * n_classes
        for label in self.labels:
            counts[label] += 1
        return tuple(counts)


def list_split(directory: Path, folders: Sequence[str]) -> Listing:
    """The images of class i under ``directory/folders[i]``; a class without a folder here has none."""
    files: list[Path] = []
    labels: list[int] = []
    for label, folder in enumerate(folders):
        if (directory / folder).is_dir():
            found = image_files(directory / folder)
            files += found
            labels += [label] * len(found)
    return Listing(tuple(files), tuple(labels))


def folder_source(name: str, split_dirs: dict[str, Path], folders: Sequence[str], class_names: Sequence[str],
                  params: ImageFileParams, settings: LoadSettings, vocabulary: str | None,
                  concepts: tuple[frozenset[str], ...] | None = None) -> Source:
    """A Source over class folders: split -> directory, class i's images under ``<directory>/<folders[i]>``.
    Its family is the training directory: two sources reading the same folder hold the same images."""
    listings = {split: list_split(directory, folders) for split, directory in split_dirs.items()}
    if not listings["train"].files:
        raise DataConfigError("root", f"no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) under the class folders "
                              f"of {split_dirs['train']}: each class is a folder of images")
    names = tuple(class_names)

    def census(split: str, data_root: Path | None) -> Census:
        return Census(names, listings[split].counts(len(names)), class_concepts=concepts)

    def load(split: str, data_root: Path | None) -> ImageSet:
        return _decoded(name, listings[split], names, concepts, params, settings)

    return Source(name, load, tuple(split_dirs), family=str(split_dirs["train"]), vocabulary=vocabulary, census=census)


def _decoded(name: str, listing: Listing, class_names: tuple[str, ...], concepts: tuple[frozenset[str], ...] | None,
             params: ImageFileParams, settings: LoadSettings) -> ImageSet:
    """A split's images from the decode cache: decoded there once per node, mapped from disk after."""
    import numpy as np

    from adcore.data.decode_cache import DecodeSpec, decoded_images

    spec = DecodeSpec(settings.image_size, params.mode, params.fit)
    if not listing.files:
        return ImageSet.from_numpy(np.zeros((0, spec.channels, spec.size, spec.size), np.uint8), np.zeros(0), class_names,
                                   concepts)
    directory = (settings.cache_dir or default_cache_dir(None)) / "decoded"
    decoded = decoded_images(listing.files, spec, directory)
    bad = [f"{listing.files[index]} ({why})" for index, why in decoded.unreadable.items()]
    if bad and params.unreadable == "error":
        more = len(bad) - SHOWN_UNREADABLE
        raise DataConfigError("unreadable", f"{len(bad)} of {len(listing.files)} image files of {name} cannot be "
                              f"decoded: {'; '.join(bad[:SHOWN_UNREADABLE])}"
                              + (f"; and {more} more (all listed in {directory}/*.json)" if more > 0 else "")
                              + ". Replace or remove them, or set unreadable: skip to leave them out")
    labels = np.asarray(listing.labels, dtype=np.int64)[decoded.kept]
    skipped = tuple(str(listing.files[index]) for index in decoded.unreadable)
    return ImageSet.from_numpy(decoded.images, labels, class_names, concepts, skipped)


def require_dir(key: str, path: Path, what: str) -> Path:
    """``path`` if it is a directory, else the error naming it under ``key``."""
    if not path.is_dir():
        raise DataConfigError(key, f"no folder {path}; {what}")
    return path
