"""Loading a study file: its schema (``studyspec.schema``) plus what needs adcore and the figures.

Loading applies, in this order: ``--smoke`` or ``--budget NAME`` overlays, then ``--set``. The file is
checked against the schema, its figure names against dashboards' registry, a search's sampler and its
options against ``tune.samplers``, and (in ``tune.grid``)
every trial config it implies against adcore's. Every error names the file, the key path and the
valid choices.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Sequence, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from adcore.config import PAPER_BUDGET, TrialConfig, deep_merge, set_dotted
from studyspec.schema import Study


BUDGET_STUDY_KEYS = ("resources", "concurrency")  # what a --budget overlay sets on the study, not on the trials


class StudyError(ValueError):
    """A study file or override is invalid; the message names the file and every bad key."""


# --- loading ---------------------------------------------------------------------------------------

def parse_set(item: str) -> tuple[str, Any]:
    """'optim.lr=0.01' -> ('optim.lr', 0.01); values are YAML scalars or lists."""
    key, sep, text = item.partition("=")
    if not sep or not key:
        raise StudyError(f"--set {item!r}: expected KEY=VALUE, e.g. --set optim.lr=0.01")
    return key.strip(), yaml.safe_load(text)


def _apply_set(raw: dict[str, Any], key: str, value: Any) -> None:
    """Study keys (``scheduler.name``, ``grid.seed``) change the study; a grid axis is narrowed
    to that value; any other trial-config key becomes an override applied after the arm."""
    top = key.split(".")[0]
    grid = raw.setdefault("grid", {})
    if key in grid:
        grid[key] = value if isinstance(value, list) else [value]
    elif any(key.startswith(f"{field}.") for field in _DOTTED_KEYED):
        field = next(f for f in _DOTTED_KEYED if key.startswith(f"{f}."))
        _set_nested(raw, [*field.split("."), key[len(field) + 1:]], value)  # e.g. grid["data.fold"]
    elif top in Study.keys() and top != "base":
        _set_nested(raw, key.split("."), value)
    elif top in TrialConfig.model_fields:
        raw["overrides"] = set_dotted(raw.get("overrides", {}), key, value)
    else:
        study_keys = sorted(set(Study.keys()) - {"base"})
        raise StudyError(f"--set {key}: unknown key {top!r}; valid: a grid axis ({', '.join(grid) or 'none'}), "
                         f"a study key ({', '.join(study_keys)}) "
                         f"or a trial config key ({', '.join(TrialConfig.model_fields)})")


# Study mappings whose keys are dotted config keys themselves: --set grid.data.fold=[0,1] sets one entry.
_DOTTED_KEYED = ("grid", "search.space", "smoke.grid")


def _set_nested(mapping: dict[str, Any], parts: list[str], value: Any) -> None:
    """A plain nested assignment (unlike adcore's set_dotted, a study's 'name' keys are not components)."""
    for part in parts[:-1]:
        if not isinstance(mapping.get(part), dict):
            mapping[part] = {}
        mapping = mapping[part]
    mapping[parts[-1]] = value


def _budget_overlay(raw: dict[str, Any], name: str) -> dict[str, Any]:
    budgets = {"paper": PAPER_BUDGET, **raw.get("budgets", {})}
    if name not in budgets:
        raise StudyError(f"--budget {name}: unknown budget; valid budgets: {', '.join(sorted(budgets))}")
    return budgets[name]


def load_study(path: str | Path, sets: Sequence[str] = (), smoke: bool = False, budget: str | None = None) -> Study:
    """Read, overlay and validate a study file; raise StudyError naming the file and key paths."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise StudyError(f"{path}: no such study file") from None
    except yaml.YAMLError as error:
        raise StudyError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise StudyError(f"{path}: a study file is a mapping with keys such as name, base, grid")
    study = _validate(raw, path)  # the file itself first, so its errors are not blamed on overlays
    raw = study.model_dump(mode="json")
    if smoke:
        raw["base"] = deep_merge(raw["base"], study.smoke.budget)
        raw["grid"].update(study.smoke.grid)
        if raw["search"] and study.smoke.num_samples:
            raw["search"]["num_samples"] = study.smoke.num_samples
        if raw["search"] and study.smoke.repeat_best is not None:
            raw["search"]["repeat_best"] = study.smoke.repeat_best
        raw["applied"].append("--smoke")
    if budget is not None:
        overlay = copy.deepcopy(_budget_overlay(raw, budget))
        for key in BUDGET_STUDY_KEYS:  # a GPU budget also says how trials share the GPU
            if key in overlay:
                value = overlay.pop(key)
                raw[key] = deep_merge(raw.get(key) or {}, value) if isinstance(value, dict) else value
        raw["base"] = deep_merge(raw["base"], overlay)
        raw["applied"].append(f"--budget {budget}")
    for item in sets:
        try:
            _apply_set(raw, *parse_set(item))
        except StudyError as error:
            raise StudyError(f"{path}: {error}") from None
        raw["applied"].append(f"--set {item}")
    study = _validate(raw, path)
    _check_figures(study, path)
    _check_sampler(study, path)
    return study


def _validate(raw: dict[str, Any], path: Path) -> Study:
    try:
        return Study.model_validate(raw)
    except ValidationError as error:
        raise StudyError(format_errors(path, error, Study, raw)) from None


def _check_figures(study: Study, path: Path) -> None:
    """The figures a study names exist (dashboards' registry: tune runs what dashboards draw)."""
    if study.figures:
        from dashboards.figures import FIGURES  # only here: a study without figures is read without drawing's imports

        unknown = [name for name in study.figures if name not in FIGURES]
        if unknown:
            raise StudyError(f"{path}: invalid study\n  figures: unknown figure(s) {', '.join(unknown)}; "
                             f"valid figures: {', '.join(FIGURES.names())}")


def _check_sampler(study: Study, path: Path) -> None:
    """A search's sampler exists, takes the options given and can optimise the study's objectives."""
    if study.search is not None:
        from tune.samplers import check_sampler

        problems = check_sampler(study.search.algorithm, study.search.options, len(study.objectives))
        if problems:
            raise StudyError("\n  ".join([f"{path}: invalid study", *problems]))


def format_errors(where: Path | str, error: ValidationError, model: type[BaseModel], data: Any) -> str:
    """One line per error: 'file: key.path: what is wrong (valid keys: ...)'."""
    lines = [f"{where}: invalid {'study' if model is Study else 'trial config'}"]
    for item in error.errors():
        loc = tuple(item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            keys = valid_keys(model, loc[:-1], data)
            message = "unknown key" + (f"; valid keys: {', '.join(keys)}" if keys else "")
        lines.append(f"  {'.'.join(str(part) for part in loc) or '(top level)'}: {message}")
    return "\n".join(lines)


def valid_keys(model: type[BaseModel], loc: tuple[Any, ...], data: Any) -> list[str]:
    """The keys a mapping at ``loc`` of ``model`` accepts (method/regularizer: the named one's)."""
    current: Any = model
    i = 0
    while i < len(loc):
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        if current is TrialConfig and loc[i] in ("method", "regularizer"):
            return _component_keys(str(loc[i]), _get(data, loc[: i + 1]))
        field = current.model_fields.get(str(loc[i]))
        if field is None:
            return []
        current, is_mapping = _unwrap(field.annotation)
        i += 2 if is_mapping else 1  # a mapping's own key (e.g. a space entry) is not a field
    if current is Study:
        return sorted(Study.keys())
    return sorted(current.model_fields) if isinstance(current, type) and issubclass(current, BaseModel) else []


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """Optional[X] -> (X, False); dict[str, X] -> (X, True)."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) is dict:
        return args[-1], True
    if args and get_origin(annotation) is not list:
        return args[0], False
    return annotation, False


def _get(data: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _component_keys(kind: str, value: Any) -> list[str]:
    from adcore.methods import METHODS
    from adcore.objectives import REGULARIZERS

    registry = METHODS if kind == "method" else REGULARIZERS
    name = value.get("name") if isinstance(value, dict) else None
    return sorted(registry.get(name).Params.model_fields) if name in registry else []
