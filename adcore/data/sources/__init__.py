"""Data sources: the built-in ones registered by name in ``SOURCES`` (one module each), and the
layouts of a researcher's own data in ``LAYOUTS`` (image folders, MVTec AD, .npz, paper 002's
ImageNet subsets), which become sources from the parameters a study gives them. Factor sources
(images for MPI3D factor tuples: ``scenes``, ``mpi3d``) register in ``adcore.data.factors``, which
imports them when one is first asked for.

Every module is imported here so that importing this package registers them all. Source modules
import torch only where images become tensors, so their metadata and class counts are read without
it (the check before Ray starts).
"""
from __future__ import annotations

from pathlib import Path

from adcore.data.sources import (  # noqa: F401  (registration)
    cifar, digits, fashion_mnist, image_folder, imagenet_subsets, mnist, mnist5k, mvtec, npz, smooth_noise, stl10, svhn)
from adcore.data.sources.base import (SOURCES, Census, DataConfigError, DataNotFoundError, ImageSet, Source)
from adcore.data.sources.layouts import LAYOUTS, LoadSettings, SourceParams, resolve_source, source_spec

__all__ = ["LAYOUTS", "SOURCES", "Census", "DataConfigError", "DataNotFoundError", "ImageSet", "LoadSettings", "Source",
           "SourceParams", "census", "load_source", "load_split", "resolve_source", "source_spec"]


def load_source(name: str, split: str, data_root: str | Path | None = None) -> ImageSet:
    """Load ``split`` of the built-in source registered as ``name``; unknown names and splits list the valid ones."""
    return load_split(SOURCES.get(name), split, data_root)


def load_split(found: Source, split: str, data_root: str | Path | None = None) -> ImageSet:
    """Load ``split`` of a source; a split it does not have is an error listing the ones it has."""
    error = found.split_error(split)
    if error:
        raise ValueError(error)
    return found.load(split, data_root)


def census(found: Source, split: str, data_root: str | Path | None = None) -> Census:
    """How many images of each class ``split`` holds: from the source's metadata or file listing, or,
    for a source that declares none, by loading the split and counting its labels."""
    error = found.split_error(split)
    if error:
        raise ValueError(error)
    if found.census is not None:
        return found.census(split, data_root)
    loaded = found.load(split, data_root)
    labels = loaded.labels.tolist()
    counts = tuple(labels.count(c) for c in range(len(loaded.class_names)))
    return Census(loaded.class_names, counts, unlabelled=labels.count(-1), class_concepts=loaded.class_concepts)
