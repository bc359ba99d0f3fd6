"""Strict config models and hyperparameters whose default, type and search range live together.

``hparam(0.01, low=1e-4, high=1.0, log=True)`` declares a field's default and the range a study
may search over; tune/ reads the range from the field's schema, so it is written once, here.
"""
from __future__ import annotations

from typing import Any, Sequence

from pydantic import BaseModel, ConfigDict, Field


class StrictModel(BaseModel):
    """Unknown keys and wrong types are errors, never silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ComponentParams(StrictModel):
    """Parameters of a registered component (method, regularizer); ``name`` picks the component."""

    name: str


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
