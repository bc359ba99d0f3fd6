"""A study's search space as an Optuna define-by-run function, with its arms and conditional keys.

``tune.space.resolve_space`` gives each searched key its range (and, in a search over arms, the arms
it applies to). Here a trial draws the arm first, then only the keys its arm has: ``regularizer.alpha``
is never drawn for an arm whose regularizer has no alpha, so it never appears in such a trial's
parameters (nor in its row, whose config has no such key). Parameters are named by their dotted
config keys, ``arm`` included.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from studyspec.schema import ARM_AXIS
from tune.grid import GridPoint


def distribution(spec: dict[str, Any]) -> BaseDistribution:
    """The Optuna distribution of a resolved range (see ``tune.space.resolve_space``)."""
    kind = spec["type"]
    if kind == "categorical":
        return CategoricalDistribution(spec["choices"])
    if kind == "int":
        return IntDistribution(spec["low"], spec["high"])
    return FloatDistribution(spec["low"], spec["high"], log=kind == "loguniform")


@dataclass(frozen=True)
class SearchSpace:
    """The searched keys with their ranges, and the grid point each arm's trials run on."""

    specs: dict[str, dict[str, Any]]  # key -> resolved range, "arms" where it applies to some arms only
    points: dict[str, str]  # arm ("" when arms are not searched) -> the key of its grid point

    @classmethod
    def of(cls, specs: dict[str, dict[str, Any]], points: list[GridPoint]) -> "SearchSpace":
        searched_arms = ARM_AXIS in specs
        return cls(specs, {str(point.labels[ARM_AXIS]) if searched_arms else "": point.key for point in points})

    def applies(self, key: str, arm: str) -> bool:
        return key != ARM_AXIS and arm in self.specs[key].get("arms", [arm])

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """Draw a trial's parameters, define-by-run: the arm, then the keys that arm has. On a trial that
        already has parameters (a resumed or enqueued one), Optuna returns those."""
        params: dict[str, Any] = {}
        arm = ""
        if ARM_AXIS in self.specs:
            arm = params[ARM_AXIS] = trial.suggest_categorical(ARM_AXIS, self.specs[ARM_AXIS]["choices"])
        for key, spec in self.specs.items():
            if not self.applies(key, arm):
                continue
            kind = spec["type"]
            if kind == "categorical":
                params[key] = trial.suggest_categorical(key, spec["choices"])
            elif kind == "int":
                params[key] = trial.suggest_int(key, spec["low"], spec["high"])
            else:
                params[key] = trial.suggest_float(key, spec["low"], spec["high"], log=kind == "loguniform")
        return params

    def arm(self, params: dict[str, Any]) -> str:
        return str(params.get(ARM_AXIS, ""))

    def point(self, params: dict[str, Any]) -> str:
        """The grid point a trial with these parameters runs on (its arm's)."""
        return self.points[self.arm(params)]

    def config_values(self, params: dict[str, Any]) -> dict[str, Any]:
        """What the trial sets in its config: every parameter but the arm (its grid point has the arm)."""
        return {key: value for key, value in params.items() if key != ARM_AXIS}

    def params(self, point: str, values: dict[str, Any]) -> dict[str, Any]:
        """A trial's Optuna parameters from its grid point and config values (a record or a row)."""
        arm = next(arm for arm, key in self.points.items() if key == point)
        params: dict[str, Any] = {ARM_AXIS: arm} if ARM_AXIS in self.specs else {}
        params.update({key: values[key] for key in self.specs if self.applies(key, arm)})
        return params

    def distributions(self, params: dict[str, Any]) -> dict[str, BaseDistribution]:
        return {key: distribution(self.specs[key]) for key in params}
