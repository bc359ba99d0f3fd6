"""What a study file holds, its defaults and the checks that need nothing but the file itself.

A study names the paper table it reproduces, a base trial config (adcore's ``TrialConfig`` fields,
checked by tune/ when it expands the grid), grid axes (``arm`` for adcore presets, or dotted config
keys such as ``data.fold``), an optional search space, the validation metric, the scheduler,
resources, the table and extra figures. A run saves the study as it ran (overlays applied, listed in
``applied``) to its ``study.yaml``, which dashboards/ read back through the same model.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ARM_AXIS = "arm"  # the grid axis whose values are adcore presets (Table 4's a1..a7)
INTERNAL = ("overrides", "applied")  # what a run writes into its study.yaml: never listed as keys to write

# The tiniest budget a trial runs at (a few seconds on one core): for tests and --smoke.
SMOKE_BUDGET: dict[str, Any] = {
    "data": {"image_size": 16, "n_normal": 64, "n_oe": 64, "n_val": 16, "n_test": 96},
    "optim": {"epochs": 2, "batch_size": 16},
    "runtime": {"device": "cpu"},
}


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
    algorithm: str = Field("tpe", description="Optuna sampler: tpe, random, cmaes, gp or nsga2 (tune/samplers.py)")
    options: dict[str, Any] = Field(default_factory=dict, description="the sampler's own options (e.g. "
                                    "n_startup_trials), checked against the sampler's valid options")
    seed: int = Field(0, ge=0, description="seeds the sampler in the driver (each trial has its own config seed); a "
                      "resumed session's sampler gets seed + the number of earlier sessions")
    space: dict[str, SearchRange] = Field(description="dotted config key -> range ({} = adcore's declared range); "
                                          "'arm' with choices searches over presets, and a key applies only to the "
                                          "arms whose config has it (alpha only where the regularizer has one)")
    repeat_best: int = Field(0, ge=0, description="after the search, re-run the best finished trial of each arm "
                             "(chosen by the validation metric) on this many further seeds, for paired statistics")

    @field_validator("space")
    @classmethod
    def _not_empty(cls, space: dict[str, SearchRange]) -> dict[str, SearchRange]:
        if not space:
            raise ValueError("a search needs at least one key in space")
        arm = space.get(ARM_AXIS)
        if arm is not None and (not arm.choices or arm.type not in (None, "categorical") or arm.low is not None
                                or arm.high is not None):
            raise ValueError(f"search.space.{ARM_AXIS} picks presets: give choices, e.g. {{choices: [a2, a6, a7]}}")
        return space

    @property
    def arms(self) -> list[str]:
        """The presets a search over arms chooses among (empty: the search runs on one arm)."""
        arm = self.space.get(ARM_AXIS)
        return [str(choice) for choice in arm.choices] if arm is not None and arm.choices else []


# What a search or scheduler may optimise: validation metrics, and costs as further objectives. Test
# metrics never: nothing that chooses may see the test anomalies.
VALIDATION_METRICS = ("val_ap", "val_auroc")
COST_METRICS = ("train_s", "total_s")


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
    repeat_best: int | None = Field(None, ge=0, description="search.repeat_best under --smoke")


class PaperSpec(_Strict):
    metric: str = Field(description="what the published numbers are, e.g. 'mAP (%)'")
    columns: dict[str, dict[str, float]] = Field(description="column (dataset) -> row value -> published number")
    budget: str = Field("", description="the paper's budget, in words")


class TableSpec(_Strict):
    rows: str | None = Field(None, description="grid axis whose values are the table rows (default: the first axis)")
    metrics: list[str] = Field(default_factory=lambda: ["test_ap", "test_auroc"])
    percent: bool = True
    paper: PaperSpec | None = None
    deviations: list[str] = Field(default_factory=list, description="how this study departs from the paper")
    spread: Literal["std", "sem"] = Field("std", description="± of each cell: sample std, or its standard error "
                                          "(std / sqrt(n)) as papers that report mean ± SEM over seeds")
    columns: str | None = Field(None, description="grid axis spread across the columns for the first metric "
                                "(e.g. data.fold: one column per held-out class, as paper 002's Table 3)")
    mean_row: bool = Field(False, description="add a row with the mean over the rows (over classes when the rows "
                           "are classes), the paper's numbers averaged the same way")
    baseline: str | None = Field(None, description="a value of the rows axis: add a row '<row> - <baseline>' for each "
                                 "other row, its means minus the baseline's (ours and the paper's), as paper 000's "
                                 "Table 6 prints each method's gain over HSC")
    compare_to: str | None = Field(None, description="a value of the rows axis: every other row's paired difference to it "
                                   "over units (the other grid axes but the seed, which is averaged within a unit), "
                                   "with 95 % bootstrap and t intervals, Wilcoxon p and Holm's correction; marked "
                                   "where the intervals widened for the rows compared both exclude 0")
    smallest_effect: float = Field(2.0, gt=0, description="a difference (in the table's units, e.g. AP points) for which "
                                   "the notes state how many folds, at the seeds run and with unlimited seeds, the "
                                   "observed paired spread would need to mark it")


def value_label(value: Any) -> Any:
    """A grid value as a results row records it. A mapping sets several keys of its axis together (e.g.
    ``data: [{fold: 7, secondary_class: 9}]``, a class pair) and reads 'fold7-secondary_class9'; a list
    (a set of factor values, ``[red, blue]``) reads 'red+blue', inside a mapping too."""
    if isinstance(value, dict):
        return "-".join(f"{key}{value_label(item)}" for key, item in value.items())
    if isinstance(value, list):
        return "+".join(str(value_label(item)) for item in value)
    return value


class Study(_Strict):
    """One study file, or the study.yaml of a run. ``applied`` records the overlays a run added and
    ``overrides`` what ``--set`` wrote, so a saved study.yaml says exactly what ran and ``--resume``
    reruns nothing but it."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_]*$")
    reproduces: str | None = Field(None, description="the paper table or figure this study reproduces")
    description: str = ""
    base: dict[str, Any] = Field(default_factory=dict, description="trial config every trial starts from")
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="axis -> values; trials = product; a "
                                       "mapping value sets several keys under its axis together (a class pair)")
    overrides: dict[str, Any] = Field(default_factory=dict,
                                      description="trial config applied after the arm (what --set writes)")
    search: SearchSpec | None = None
    metric: str | list[str] = Field("val_ap", description="what searchers and schedulers see: a validation metric "
                                    f"({', '.join(VALIDATION_METRICS)}); a search may add costs as further objectives "
                                    f"({', '.join(COST_METRICS)}), e.g. [val_ap, train_s]: a Pareto search")
    mode: Literal["max", "min"] | list[Literal["max", "min"]] = Field("max", description="max or min, one per metric")
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
        if self.table.rows is not None and self.table.rows not in self.axes:
            raise ValueError(f"table.rows {self.table.rows!r} is not a grid axis; axes: {', '.join(self.axes) or 'none'}")
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
        if self.search is not None:
            many = [axis for axis, values in self.grid.items() if len(values) > 1 and axis not in self.search.space]
            if many:
                raise ValueError(f"a search runs on one grid point; axes with several values: {', '.join(many)}")
        self._check_objectives()
        return self

    def _check_objectives(self) -> None:
        metrics = self.metric if isinstance(self.metric, list) else [self.metric]
        modes = self.mode if isinstance(self.mode, list) else [self.mode]
        for name in metrics:
            if name.startswith("test_"):
                raise ValueError(f"metric {name}: test numbers are never an objective (nothing that chooses may see the "
                                 f"test anomalies); use {' or '.join(VALIDATION_METRICS)}, and "
                                 f"{' or '.join(COST_METRICS)} as a cost")
            if name not in (*VALIDATION_METRICS, *COST_METRICS):
                raise ValueError(f"metric {name}: not an objective; valid: {', '.join((*VALIDATION_METRICS, *COST_METRICS))}")
        if metrics[0] not in VALIDATION_METRICS:
            raise ValueError(f"metric: the first metric picks each trial's best epoch and what schedulers and tables rank "
                             f"by, so it is a validation metric ({', '.join(VALIDATION_METRICS)}), not {metrics[0]}")
        if len(set(metrics)) != len(metrics):
            raise ValueError(f"metric {metrics} names a metric twice")
        if len(modes) != len(metrics):
            raise ValueError(f"mode: give one per metric ({len(metrics)}: {', '.join(metrics)}), got {len(modes)}")
        if len(metrics) > 1:
            if self.search is None:
                raise ValueError("several metrics need a search (a Pareto search over search.space); a grid ranks by one")
            if self.scheduler.name != "fifo":
                raise ValueError(f"scheduler.name {self.scheduler.name}: a search over several metrics runs every trial "
                                 "to its end (a scheduler compares trials on one metric, and a stopped trial has no "
                                 "final cost); use scheduler.name: fifo")

    @classmethod
    def keys(cls) -> list[str]:
        """The keys a study file is written with (what an error lists as valid)."""
        return [key for key in cls.model_fields if key not in INTERNAL]

    @classmethod
    def read(cls, path: str | Path) -> "Study":
        """A run's saved study.yaml."""
        return cls.model_validate(yaml.safe_load(Path(path).read_text()))

    @property
    def axes(self) -> dict[str, list[Any]]:
        """The grid's axes, and a search over arms' ``arm`` with its choices first."""
        arms = self.search.arms if self.search else []
        return {ARM_AXIS: arms, **{a: v for a, v in self.grid.items() if a != ARM_AXIS}} if arms else self.grid

    @property
    def rows_axis(self) -> str | None:
        """The axis whose values are the table's rows: ``table.rows``, else the first axis (a search over
        arms: the arm)."""
        return self.table.rows or next(iter(self.axes), None)

    @property
    def objectives(self) -> list[tuple[str, str]]:
        """(metric, mode) of each objective: one, or several for a Pareto search."""
        metrics = self.metric if isinstance(self.metric, list) else [self.metric]
        modes = self.mode if isinstance(self.mode, list) else [self.mode]
        return list(zip(metrics, modes))

    @property
    def selection_metric(self) -> str:
        """The validation metric that picks a trial's best epoch, schedulers compare and tables rank by: the first."""
        return self.objectives[0][0]

    @property
    def selection_mode(self) -> str:
        return self.objectives[0][1]

    @property
    def searched(self) -> list[str]:
        """The dotted config keys a search draws (empty for a grid study)."""
        return list(self.search.space) if self.search else []

    @property
    def trials(self) -> int:
        """How many trials the study runs: the grid's product, or the search's samples."""
        if self.search:  # the searched trials, then the best of each arm again on repeat_best seeds
            return self.search.num_samples + self.search.repeat_best * max(1, len(self.search.arms))
        count = 1
        for values in self.grid.values():
            count *= len(values)
        return count

    def labels(self, axis: str | None) -> list[Any]:
        """The values of a grid axis as rows, names and tables show them (see ``value_label``)."""
        return [value_label(value) for value in self.axes.get(axis, [])] if axis else []

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)
