"""Explicit name -> item registries, one per kind of component.

Adding a dataset, backbone, method, regularizer, scorer, benchmark or figure is one file plus one
``@REGISTRY.register("name")`` line, as timm registers models. Unknown and duplicate names are
errors that list the valid choices. A component configured by a ``Params`` model (methods,
regularizers, scorers) takes its ``name`` from its registration, and ``REGISTRY.params(value)``
is the one way a ``{name: ..., **params}`` mapping is validated.
"""
from __future__ import annotations

from typing import Any, Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """A config named a component that no registry holds."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0])


class Registry(Generic[T]):
    """A named table of components of one kind (datasets, backbones, methods, ...)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: register ``item`` under ``name``; a duplicate name is an error. An item with a
        ``Params`` model (a ComponentParams subclass) gives that model its name."""

        def add(item: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            params = getattr(item, "Params", None)
            if params is not None:
                params.register_as(name)
            self._items[name] = item
            return item

        return add

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self._unknown(name)) from None

    def _unknown(self, name: object) -> str:
        return f"unknown {self.kind} {name!r}; valid {self.kind}s: {', '.join(sorted(self._items))}"

    def params(self, value: Any, default: str | None = None) -> Any:
        """Validate a component given as a name or ``{name: ..., **params}`` against the named
        component's own Params model; a mapping without a name means ``default``. Errors are
        ValueErrors, which pydantic reports with the key path."""
        if hasattr(value, "model_dump"):
            value = value.model_dump()
        if isinstance(value, str):
            value = {"name": value}
        if not isinstance(value, dict) or ("name" not in value and default is None):
            raise ValueError(f"a {self.kind} is a name or a mapping with a 'name' key, e.g. {{name: ...}}")
        value = {"name": default, **value}
        return self.get(self.known(value["name"])).Params.model_validate(value)

    def known(self, name: str) -> str:
        """``name`` if it is registered; otherwise the unknown-name error as a ValueError, which
        pydantic validators report with the key path."""
        if name not in self._items:
            raise ValueError(self._unknown(name))
        return name

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)
