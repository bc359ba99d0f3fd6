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

from pydantic import ValidationError

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


def source_spec(value: Any) -> str | SourceParams:
    """A dataset or OE corpus as a config names it: a built-in source's name, or a layout's parameters.
    Errors are ValueErrors with one line of what to change, which pydantic reports with the key path."""
    if isinstance(value, SourceParams):
        return value
    if isinstance(value, str):
        if value in SOURCES:
            return value
        from adcore.data.factors import factor_sources  # imports torch: only for a name that is no built-in source

        if value in factor_sources():  # benchmark factors reads it; a class benchmark refuses it by name
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
