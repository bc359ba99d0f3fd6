"""Strict config models and hyperparameters whose default, type and search range live together.

``hparam(0.01, low=1e-4, high=1.0, log=True)`` declares a field's default and the range a study
may search over; tune/ reads the range from the field's schema, so it is written once, here.
"""
from __future__ import annotations

from typing import Any, ClassVar, Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator


class StrictModel(BaseModel):
    """Unknown keys and wrong types are errors, never silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ComponentParams(StrictModel):
    """Parameters of a registered component (method, regularizer, scorer); ``name`` picks the
    component and is filled in from its registration, so it is written once."""

    name: str = Field(description="the registered component these parameters configure")
    registered_name: ClassVar[str | None] = None

    @classmethod
    def register_as(cls, name: str) -> None:
        """Called by the registry: these parameters configure the component registered as ``name``."""
        if "registered_name" in vars(cls) and cls.registered_name != name:
            raise ValueError(f"{cls.__name__} already configures {cls.registered_name!r}; give {name!r} its own "
                             "Params subclass")
        cls.registered_name = name

    @model_validator(mode="before")
    @classmethod
    def _registered(cls, data: Any) -> Any:
        if cls.registered_name is None or not isinstance(data, dict):
            return data
        given = data.get("name", cls.registered_name)
        if given != cls.registered_name:
            raise ValueError(f"{cls.__name__} configures {cls.registered_name!r}, not {given!r}")
        return {**data, "name": cls.registered_name}


def hparam(
    default: Any,
    description: str,
    *,
    low: float | None = None,
    high: float | None = None,
    log: bool = False,
    choices: Sequence[Any] | None = None,
) -> Any:
    """A config field with its default and, optionally, the range a search may draw it from."""
    extra: dict[str, Any] = {}
    if choices is not None:
        extra["search"] = {"type": "categorical", "choices": list(choices)}
    elif low is not None and high is not None:
        if isinstance(default, bool) or not isinstance(default, (int, float)):
            raise TypeError(f"a numeric range needs a numeric default, got {default!r}")
        kind = "int" if isinstance(default, int) else ("loguniform" if log else "uniform")
        extra["search"] = {"type": kind, "low": low, "high": high}
    elif (low is None) != (high is None):
        raise TypeError("give both low and high, or neither")
    return Field(default, description=description, json_schema_extra=extra or None)


def search_range(model: type[BaseModel], field: str) -> dict[str, Any] | None:
    """The search range declared with ``field`` of ``model`` (None if it is not searchable)."""
    extra = model.model_fields[field].json_schema_extra
    return dict(extra["search"]) if isinstance(extra, dict) and "search" in extra else None
