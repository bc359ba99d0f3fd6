"""The study file: what a study runs, validated before anything starts.

A study names the paper table it reproduces, a base trial config (adcore's ``TrialConfig``
fields), grid axes (``arm`` for adcore presets, or dotted config keys such as ``data.fold``),
an optional search space, the validation metric, the scheduler, resources and the table.
Loading applies, in this order: ``--smoke`` or ``--budget NAME`` overlays, then ``--set``.
Every error names the file, the key path and the valid choices.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal, Sequence, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from adcore.config import PAPER_BUDGET, TrialConfig, deep_merge, set_dotted
from dashboards.spec import SavedStudy, TableSpec, rows_axis, value_label

# The tiniest budget a trial runs at (a few seconds on one core): for tests and --smoke.
SMOKE_BUDGET: dict[str, Any] = {
    "data": {"image_size": 16, "n_normal": 64, "n_oe": 64, "n_val": 16, "n_test": 96},
    "optim": {"epochs": 2, "batch_size": 16},
    "runtime": {"device": "cpu"},
}


BUDGET_STUDY_KEYS = ("resources", "concurrency")  # what a --budget overlay sets on the study, not on the trials


class StudyError(ValueError):
    """A study file or override is invalid; the message names the file and every bad key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SearchRange(_Strict):
    """A searched key's range; fields left out come from the range adcore declares for it."""

    type: Literal["loguniform", "uniform", "int", "categorical"] | None = None
    low: float | None = None
    high: float | None = None
    choices: list[Any] | None = None


class SearchSpec(_Strict):
    num_samples: int = Field(ge=1, description="trials the searcher proposes")
    algorithm: Literal["tpe", "random"] = Field("tpe", description="Optuna sampler")
    seed: int = Field(0, ge=0, description="seeds the sampler in the driver (each trial has its own config seed)")
    space: dict[str, SearchRange] = Field(description="dotted config key -> range ({} = adcore's declared range)")

    @field_validator("space")
    @classmethod
    def _not_empty(cls, space: dict[str, SearchRange]) -> dict[str, SearchRange]:
        if not space:
            raise ValueError("a search needs at least one key in space")
        return space


class SchedulerSpec(_Strict):
    name: Literal["fifo", "asha", "median"] = "fifo"
    grace_period: int = Field(1, ge=1, description="epochs every trial runs before it may be stopped")
    reduction_factor: float = Field(2.0, gt=1.0, description="asha: keep the top 1/reduction_factor at each rung")
    min_samples_required: int = Field(3, ge=1, description="median: trials needed before stopping by the median")


class Resources(_Strict):
    cpu: float = Field(1.0, gt=0, description="CPUs per trial; also the trial's torch threads (rounded up)")
    gpu: float = Field(0.0, ge=0, description="GPUs per trial; a fraction must divide one card (0.5, 0.25, ...): "
                       "1/gpu trials share a card, each in its own process")
    mps: Literal["auto", "on", "off"] = Field(
        "auto", description="where trials share a card (gpu < 1): auto starts NVIDIA's MPS daemon for a local cluster "
        "when nvidia-cuda-mps-control is there, so their kernels run side by side (else they time-slice); on insists; "
        "off never starts it (tune/mps.py)")

    @field_validator("gpu")
    @classmethod
    def _divides_a_card(cls, gpu: float) -> float:
        # Ray counts fractions against the pooled total, so 0.3 would straddle two cards.
        if 0 < gpu < 1 and abs(round(1 / gpu) - 1 / gpu) > 1e-9:
            raise ValueError(f"a GPU fraction must divide one card (1/n, e.g. 0.5 or 0.25), got {gpu}")
        if gpu > 1 and gpu != int(gpu):
            raise ValueError(f"more than one GPU must be a whole number, got {gpu}")
        return gpu

    @field_validator("mps", mode="before")
    @classmethod
    def _yaml_on_off(cls, mps: Any) -> Any:
        return {True: "on", False: "off"}.get(mps, mps) if isinstance(mps, bool) else mps  # YAML reads on/off as booleans


class SmokeSpec(_Strict):
    budget: dict[str, Any] = Field(default_factory=lambda: copy.deepcopy(SMOKE_BUDGET))
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="axes replaced under --smoke")
    num_samples: int | None = Field(None, ge=1, description="search trials under --smoke")


class Study(_Strict):
    """One study file. ``applied`` records the overlays a run added, so a saved study.yaml says
    exactly what ran and ``--resume`` reruns nothing but it."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_]*$")
    reproduces: str | None = Field(None, description="the paper table or figure this study reproduces")
    description: str = ""
    base: dict[str, Any] = Field(default_factory=dict, description="trial config every trial starts from")
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="axis -> values; trials = product; a "
                                       "mapping value sets several keys under its axis together (a class pair)")
    overrides: dict[str, Any] = Field(default_factory=dict,
                                      description="trial config applied after the arm (what --set writes)")
    search: SearchSpec | None = None
    metric: Literal["val_ap", "val_auroc"] = Field("val_ap", description="what searchers and schedulers see: validation only")
    mode: Literal["max", "min"] = "max"
    scheduler: SchedulerSpec = Field(default_factory=SchedulerSpec)
    resources: Resources = Field(default_factory=Resources)
    concurrency: int | None = Field(None, ge=1, description="trials at once (default: as many as resources allow)")
    max_failures: int = Field(2, ge=0, description="retries of a trial whose worker died, from its last checkpoint")
    budgets: dict[str, dict[str, Any]] = Field(default_factory=dict, description="named overlays for --budget: "
                                               "trial config keys, and resources and concurrency of the study")
    smoke: SmokeSpec = Field(default_factory=SmokeSpec)
    table: TableSpec = Field(default_factory=TableSpec)
    figures: list[str] = Field(default_factory=list, description="figures drawn besides the default one, by name "
                               "(dashboards/figures/)")
    applied: list[str] = Field(default_factory=list, description="--smoke/--budget/--set applied to the file (recorded)")

    @field_validator("grid")
    @classmethod
    def _axes_not_empty(cls, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for axis, values in grid.items():
            if not values:
                raise ValueError(f"grid axis {axis!r} has no values")
            if len({yaml.safe_dump(v) for v in values}) != len(values):
                raise ValueError(f"grid axis {axis!r} repeats a value")
        return grid

    @model_validator(mode="after")
    def _consistent(self) -> "Study":
        if self.table.rows is not None and self.table.rows not in self.grid:
            raise ValueError(f"table.rows {self.table.rows!r} is not a grid axis; axes: {', '.join(self.grid) or 'none'}")
        if self.table.columns is not None and (self.table.columns not in self.grid
                                               or self.table.columns == self.rows_axis):
            raise ValueError(f"table.columns {self.table.columns!r} must be a grid axis other than the rows; "
                             f"axes: {', '.join(self.grid) or 'none'}")
        row_values = list(map(str, self.labels(self.rows_axis)))
        for key in ("baseline", "compare_to"):
            value = getattr(self.table, key)
            # checked on the file itself: --smoke or --set may narrow the rows (the table then says so)
            if value is not None and value not in row_values and not self.applied:
                raise ValueError(f"table.{key} {value!r} is not a value of the rows axis {self.rows_axis!r}; "
                                 f"values: {', '.join(row_values)}")
        if self.figures:
            from dashboards.figures import FIGURES  # only here: a study is read without drawing's imports

            unknown = [name for name in self.figures if name not in FIGURES]
            if unknown:
                raise ValueError(f"unknown figure(s) {', '.join(unknown)}; valid figures: {', '.join(FIGURES.names())}")
        if self.search is not None:
            many = [axis for axis, values in self.grid.items() if len(values) > 1]
            if many:
                raise ValueError(f"a search runs on one grid point; axes with several values: {', '.join(many)}")
        return self

    @property
    def rows_axis(self) -> str | None:
        return rows_axis(self.table, self.grid)

    def labels(self, axis: str | None) -> list[Any]:
        """The values of a grid axis as rows, names and tables show them (see ``value_label``)."""
        return [value_label(value) for value in self.grid.get(axis, [])] if axis else []

    def saved(self) -> SavedStudy:
        """The study as dashboards/ read it back from study.yaml."""
        return SavedStudy.from_dict(self.model_dump(mode="json"))

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


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
    elif top in Study.model_fields and top not in ("base", "overrides"):
        _set_nested(raw, key.split("."), value)
    elif top in TrialConfig.model_fields:
        raw["overrides"] = set_dotted(raw.get("overrides", {}), key, value)
    else:
        study_keys = sorted(set(Study.model_fields) - {"base", "overrides", "applied"})
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
        raw["applied"].append("--smoke")
    if budget is not None:
        overlay = copy.deepcopy(_budget_overlay(raw, budget))
        for key in BUDGET_STUDY_KEYS:  # a GPU budget also says how trials share the GPU
            if key in overlay:
                value = overlay.pop(key)
                raw[key] = deep_merge(raw[key], value) if isinstance(value, dict) else value
        raw["base"] = deep_merge(raw["base"], overlay)
        raw["applied"].append(f"--budget {budget}")
    for item in sets:
        try:
            _apply_set(raw, *parse_set(item))
        except StudyError as error:
            raise StudyError(f"{path}: {error}") from None
        raw["applied"].append(f"--set {item}")
    return _validate(raw, path)


def _validate(raw: dict[str, Any], path: Path) -> Study:
    try:
        return Study.model_validate(raw)
    except ValidationError as error:
        raise StudyError(format_errors(path, error, Study, raw)) from None


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
