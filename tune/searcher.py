"""Optuna through Ray Tune, with trial ids that survive a resume.

Tune's trial ids are new in every driver session, and a resumed study never reads Tune's own
experiment state (see ``tune/resume.py``). So the searcher names each trial it proposes itself,
``<point>_<n>``, and puts that id in the trial's config (``trial_id``): the trial's row, its
checkpoints and its MLflow run are all keyed by it. On ``--resume`` a new searcher is given
the run's finished trials (from their rows) as evaluated points, and its unfinished ones (started,
no final row) as points to propose first, each under its old id, so it continues from its
checkpoint and logs into its MLflow run.

The searcher's Optuna study lives in the driver's memory; ``export_study`` copies it into the run
directory (``optuna.db``), where ``dashboards/serve.py optuna`` opens it: nothing outside tune/ reads
Tune's own state.
"""
from __future__ import annotations

import math
import os
import time
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial
from ray.tune.search.optuna import OptunaSearch

from tune.resume import Evaluated, search_trial_id

PREFIX = "search/"  # how Tune flattens the searched keys of the param space


class KeyedOptunaSearch(OptunaSearch):
    """OptunaSearch that names its trials and can be warm-started from a run's rows."""

    def __init__(self, sampler: optuna.samplers.BaseSampler, evaluated: list[Evaluated] = (),
                 pending: list[tuple[str, dict[str, Any]]] = (), next_index: int = 0) -> None:
        super().__init__(sampler=sampler)
        self._point = ""  # the grid point's key, from the param space
        self._evaluated = list(evaluated)
        self._pending = list(pending)  # (trial id, dotted key -> value), proposed first in this order
        self._next_index = next_index
        self._ids: dict[str, str] = {}  # Tune's trial id -> ours

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        if not super().set_search_properties(metric, mode, config, **spec):
            return False
        self._point = config["point"]
        for done in self._evaluated:  # as OptunaSearch.add_evaluated_point, with the trial's id
            failed = done.value is None or not math.isfinite(done.value)
            state = optuna.trial.TrialState
            self._ot_study.add_trial(optuna.trial.create_trial(
                state=state.FAIL if failed else state.COMPLETE,
                value=None if failed else done.value, params=_flat(done.params), distributions=self._space,
                user_attrs={"trial_id": done.trial_id}))
        for _, params in self._pending:
            self._ot_study.enqueue_trial(_flat(params))
        return True

    def suggest(self, trial_id: str) -> dict | None:
        config = super().suggest(trial_id)
        if config is None:
            return None
        if trial_id not in self._ids:
            params = self._ot_trials[trial_id].params
            match = next((i for i, (_, p) in enumerate(self._pending) if _flat(p) == params), None)
            if match is not None:
                self._ids[trial_id] = self._pending.pop(match)[0]
            else:
                self._ids[trial_id] = search_trial_id(self._point, self._next_index)
                self._next_index += 1
            self._ot_trials[trial_id].set_user_attr("trial_id", self._ids[trial_id])
        return {**config, "trial_id": self._ids[trial_id]}


def _flat(params: dict[str, Any]) -> dict[str, Any]:
    return {f"{PREFIX}{key}": value for key, value in params.items()}


def export_study(searcher: KeyedOptunaSearch, path: Path, name: str, metric: str, statuses: dict[str, str]) -> None:
    """Write the searcher's Optuna study to an SQLite storage at ``path`` (replacing it atomically): every
    trial with its parameters (dotted config keys), values and per-epoch intermediate values, its
    ``trial_id`` and its row's status (``running`` while it has none) as user attributes."""
    source: optuna.Study = searcher._ot_study
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    target = optuna.create_study(storage=f"sqlite:///{tmp}", study_name=name, directions=source.directions)
    for trial in source.get_trials(deepcopy=False):
        status = statuses.get(trial.user_attrs.get("trial_id", ""), "running")
        target.add_trial(FrozenTrial(
            number=trial.number, state=trial.state, value=None, values=trial.values,
            datetime_start=trial.datetime_start, datetime_complete=trial.datetime_complete,
            params={key.removeprefix(PREFIX): value for key, value in trial.params.items()},
            distributions={key.removeprefix(PREFIX): dist for key, dist in trial.distributions.items()},
            user_attrs={**trial.user_attrs, "status": status}, system_attrs=trial.system_attrs,
            intermediate_values=trial.intermediate_values, trial_id=0))  # the storage numbers its own
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        target.set_metric_names([metric])
    target.set_user_attr("note", f"Written by the study's driver from its searcher at {time.strftime('%Y-%m-%d %H:%M:%S')}. "
                                 f"Objective: {metric}, the validation metric the search optimised, per epoch as "
                                 "intermediate values; test metrics are in the report and trials.csv, never in the "
                                 "search. Status stopped_early: stopped by the scheduler.")
    os.replace(tmp, path)
