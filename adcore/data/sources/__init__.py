"""Data sources: the built-in ones registered by name in ``SOURCES`` (one module each), the layouts
of a researcher's own data in ``LAYOUTS`` (image folders, MVTec AD, .npz, paper 002's ImageNet
subsets), which become sources from the parameters a study gives them, and the factor sources
(images for MPI3D factor tuples: ``scenes``, ``mpi3d``) in ``adcore.data.factors.FACTOR_SOURCES``.

This package is the one place that loads them: every source and layout module is imported here, so
importing the package registers them all, and what needs the full registries (``source_spec``,
``factor_sources``) lives here, above both the registries and their members. Source modules import
torch only where images become tensors, so their metadata and class counts are read without it (the
check before Ray starts); the factor sources need torch, so ``factor_sources`` imports them when one
is first asked for.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from adcore.data.factors import FACTOR_SOURCES, FactorSource, FactorSourceFactory
from adcore.data.sources import (  # noqa: F401  (registration)
    cifar, digits, fashion_mnist, image_folder, imagenet_subsets, mnist, mnist5k, mvtec, npz, smooth_noise, stl10, svhn)
from adcore.data.sources.base import (SOURCES, Census, DataConfigError, DataNotFoundError, ImageSet, Source)
from adcore.data.sources.layouts import LAYOUTS, LoadSettings, SourceParams, resolve_source
from adcore.registry import Registry

__all__ = ["LAYOUTS", "SOURCES", "Census", "DataConfigError", "DataNotFoundError", "ImageSet", "LoadSettings", "Source",
           "SourceParams", "census", "factor_source", "factor_sources", "load_source", "load_split", "resolve_source",
           "source_spec"]


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


def factor_sources() -> Registry[FactorSourceFactory]:
    """FACTOR_SOURCES with the built-in factor sources registered. Their modules need torch, so they are
    imported when a factor source is first asked for, not with this package: the check of a study before
    Ray starts stays free of torch."""
    from adcore.data.sources import mpi3d, scenes  # noqa: F401  (registration)

    return FACTOR_SOURCES


def factor_source(name: str, data_root: str | None = None) -> FactorSource:
    """The factor source registered as ``name``; unknown names list the valid ones."""
    return factor_sources().get(name)(data_root)


def source_spec(value: Any) -> str | SourceParams:
    """A dataset or OE corpus as a config names it: a built-in source's name, or a layout's parameters.
    Errors are ValueErrors with one line of what to change, which pydantic reports with the key path."""
    if isinstance(value, SourceParams):
        return value
    if isinstance(value, str):
        if value in SOURCES:
            return value
        # imports torch: only for a name that is no built-in source. Benchmark factors reads a factor source;
        # a class benchmark refuses it by name
        if value in factor_sources():
            return value
        raise ValueError(f"unknown dataset {value!r}; built-in datasets: {', '.join(SOURCES.names())}; factor sources "
                         f"(benchmark factors): {', '.join(factor_sources().names())}; your own data "
                         f"is a mapping {{name: <layout>, ...}} with a layout of: {', '.join(LAYOUTS.names())}")
    if isinstance(value, dict):
        if value.get("name") in SOURCES and len(value) == 1:
            return value["name"]
        try:
            return LAYOUTS.params(value)
        except ValidationError as error:
            raise ValueError(_params_error(value, error)) from None
    raise ValueError(f"a dataset is a built-in name (e.g. fashion_mnist) or a mapping {{name: <layout>, ...}}, "
                     f"got {value!r}")


def _params_error(value: dict[str, Any], error: ValidationError) -> str:
    """One line per problem, each naming the layout's parameter and, for an unknown one, the valid ones."""
    params = LAYOUTS.get(value["name"]).Params
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or value["name"]
        if item["type"] == "extra_forbidden":
            problems.append(f"{where}: unknown parameter of layout {value['name']}; valid: "
                            f"{', '.join(k for k in params.model_fields if k != 'name')}")
        else:
            problems.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)
