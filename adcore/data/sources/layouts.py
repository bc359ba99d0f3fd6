"""A researcher's own data, named in the study file by its layout: ``{name: <layout>, ...}``.

The built-in sources are names (``data.dataset: fashion_mnist``); data on the user's disk is a mapping
whose ``name`` is a registered layout (``image_folder``, ``mvtec``, ``npz``, ``imagenet_subset``) and
whose other keys are that layout's parameters, validated by its ``Params`` as methods' are. The same
form works for ``data.oe_corpus``. A layout turns its parameters into a ``Source`` (splits, family,
vocabulary, census, loader), so everything after that (benchmarks, the overlap guard, the check
before Ray starts) treats the user's data and the built-in sources alike.

Relative paths are taken from ``data.data_root`` (or $ADCORE_DATA_ROOT) when one is set, else from
the working directory; on a cluster give absolute paths that every node can read.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, ClassVar

from adcore.data.sources.base import SOURCES, Census, DataConfigError, ImageSet, Source, resolve_root
from adcore.params import ComponentParams
from adcore.registry import Registry


class SourceParams(ComponentParams):
    """Parameters of a layout; ``name`` is the layout."""


@dataclass(frozen=True)
class LoadSettings:
    """What resolving and loading a source needs from the data config and the runtime."""

    data_root: str | None = None  # relative paths are taken from here (or $ADCORE_DATA_ROOT)
    image_size: int = 32  # decoded image files are stored at this side length
    cache_dir: Path | None = None  # the decode cache's directory (None: adcore's default cache dir)


class Layout:
    """One way user data can lie on disk; registered in LAYOUTS with its ``Params``."""

    Params: ClassVar[type[SourceParams]]

    @classmethod
    def source(cls, params: Any, settings: LoadSettings) -> Source:
        """The Source these parameters describe; problems are DataConfigErrors keyed by parameter
        (``root``), found by listing the files, not by decoding them."""
        raise NotImplementedError


LAYOUTS: Registry[type[Layout]] = Registry("data layout")


def resolve_path(text: str, data_root: str | None) -> Path:
    """A path from a layout's parameters: ~ expanded; relative ones below the data root, if one is set."""
    path = Path(text).expanduser()
    root = resolve_root(data_root)
    return (root / path if root is not None and not path.is_absolute() else path).absolute()


def resolve_source(spec: str | SourceParams, key: str, settings: LoadSettings) -> Source:
    """The Source a config names at ``key`` (``data.dataset`` or ``data.oe_corpus``): a built-in one, or
    one built from a layout's parameters, whose errors then name keys below ``key``."""
    if isinstance(spec, str):
        return SOURCES.get(spec)
    try:
        found = LAYOUTS.get(spec.name).source(spec, settings)
    except DataConfigError as error:
        raise error.under(key) from None
    return replace(found, load=_keyed(found.load, key), census=_keyed(found.census, key) if found.census else None)


def _keyed(fn: Callable[[str, Path | None], ImageSet | Census], key: str) -> Callable[[str, Path | None], Any]:
    def call(split: str, data_root: Path | None) -> ImageSet | Census:
        try:
            return fn(split, data_root)
        except DataConfigError as error:
            raise error.under(key) from None

    return call
