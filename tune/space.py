"""Search ranges: adcore declares a hyperparameter's range next to its default; a study may
use that range as is (``regularizer.alpha: {}``) or override parts of it, and search over arms."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from adcore.config import TrialConfig, set_dotted
from adcore.params import search_range
from studyspec.schema import ARM_AXIS, SearchRange, Study
from tune.grid import GridPoint
from tune.study import StudyError, format_errors


def declared_range(config: TrialConfig, key: str) -> dict[str, Any] | None:
    """The range adcore declares for dotted ``key`` of this config (its method/regularizer's own)."""
    node: Any = config
    parts = key.split(".")
    for depth, part in enumerate(parts):
        fields = type(node).model_fields if isinstance(node, BaseModel) else {}
        if part not in fields:
            where = ".".join(parts[:depth]) or "the trial config"
            raise StudyError(f"search.space.{key}: {part!r} is not a key of {where}; valid keys: {', '.join(sorted(fields))}")
        if depth == len(parts) - 1:
            return search_range(type(node), part)
        node = getattr(node, part)
    return None


def resolve_space(study: Study, points: list[GridPoint], where: str = "study") -> dict[str, dict[str, Any]]:
    """{key: {"type", "low", "high" | "choices"}} for every searched key, checked at its extremes against
    the config of every point (arm) it applies to. A search over arms (``arm: {choices: [...]}``) has
    one point per arm; a key applies to the arms whose config has it (``regularizer.alpha`` only where
    the regularizer has an alpha), listed under "arms"; a key no arm has is an error."""
    assert study.search is not None
    space: dict[str, dict[str, Any]] = {}
    arms = study.search.arms
    if arms:
        space[ARM_AXIS] = {"type": "categorical", "choices": arms}
    for key, given in study.search.space.items():
        if key == ARM_AXIS:
            continue
        specs, missing = {}, []
        for point in points:
            try:
                declared = declared_range(point.trial, key)
            except StudyError as error:  # not a key of this arm's config: the key does not apply to it
                missing.append(StudyError(f"{where}: {error}"))
                continue
            specs[str(point.labels.get(ARM_AXIS, ""))] = _resolve_key(key, given, declared, point.trial, where)
        if not specs:
            raise missing[0]
        first = next(iter(specs.values()))
        if any(spec != first for spec in specs.values()):
            raise StudyError(f"{where}: search.space.{key}: its range differs between arms "
                             f"({'; '.join(f'{arm}: {spec}' for arm, spec in specs.items())}); give type and "
                             "low/high or choices")
        space[key] = {**first, "arms": list(specs)} if arms and len(specs) < len(points) else first
    return space


def _resolve_key(key: str, given: SearchRange, declared: dict[str, Any] | None, config: TrialConfig,
                 where: str) -> dict[str, Any]:
    """One key's range on one config: the declared range with the study's overrides, checked at its ends."""
    spec = {**(declared or {}), **given.model_dump(exclude_none=True)}
    kind = spec.get("type")
    if kind is None:
        raise StudyError(f"{where}: search.space.{key}: adcore declares no range for it; "
                         "give type and low/high or choices")
    if kind == "categorical":
        if not spec.get("choices"):
            raise StudyError(f"{where}: search.space.{key}: categorical needs choices")
        spec = {"type": kind, "choices": spec["choices"]}
        extremes = spec["choices"]
    else:
        if spec.get("low") is None or spec.get("high") is None or not spec["low"] < spec["high"]:
            raise StudyError(f"{where}: search.space.{key}: {kind} needs low < high, "
                             f"got {spec.get('low')}..{spec.get('high')}")
        if kind == "loguniform" and spec["low"] <= 0:
            raise StudyError(f"{where}: search.space.{key}: loguniform needs low > 0")
        low, high = (int(spec["low"]), int(spec["high"])) if kind == "int" else (spec["low"], spec["high"])
        spec = {"type": kind, "low": low, "high": high}
        extremes = [low, high]
    for value in extremes:  # the trial config must accept every end of the range
        try:
            TrialConfig.model_validate(set_dotted(config.model_dump(mode="json"), key, value))
        except ValidationError as error:
            raise StudyError(format_errors(f"{where} (search.space.{key}={value})", error, TrialConfig, {})) from None
    return spec
