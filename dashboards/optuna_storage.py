"""A search run's Optuna study as an Optuna storage on disk, ``<run dir>/optuna.db``, for
optuna-dashboard.

The driver's OptunaSearch keeps its study in memory and Tune checkpoints it with the experiment
(``tune/searcher-state-*.pkl``, every few seconds and at the end of each session); a resumed
search's searcher is given the run's earlier trials (tune/resume.py), so the newest session's
checkpoint holds them all, each named by its ``trial_id`` user attribute. Exporting it gives the
dashboard the trials, parameters, values and per-epoch intermediate values the searcher saw,
without a second live database that a killed driver would leave ahead of Tune.
"""
from __future__ import annotations

import pickle
import time
import warnings
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial

from dashboards.run import Run

STORAGE_FILE = "optuna.db"
PREFIX = "search/"  # Tune's flattened config names the searched keys search/<dotted key>


def searcher_state(run: Run) -> Path:
    states = sorted((run.path / "tune").glob("searcher-state-*.pkl"), key=lambda path: path.stat().st_mtime)
    if not run.study.search or not states:
        raise FileNotFoundError(f"{run.path}: not a search run (no search in study.yaml or no "
                                "tune/searcher-state-*.pkl): only search studies have an Optuna study")
    return states[-1]


def export(run: Run) -> str:
    """Write the run's Optuna study to ``<run dir>/optuna.db`` (replacing an older export); return its URL."""
    state = searcher_state(run)
    with state.open("rb") as handle:
        saved = pickle.load(handle)  # noqa: S301 - Tune's checkpoint of this run's own searcher
    source: optuna.Study = saved["_ot_study"]
    ids = [column for column in ("trial_id", "tune_trial_id") if column in run.trials]
    names = {str(i): name for column in ids for i, name in zip(run.trials[column], run.trials["trial"])}
    statuses = {str(i): status for column in ids for i, status in zip(run.trials[column], run.trials["status"])}
    tune_ids = {trial.number: tune_id for tune_id, trial in saved["_ot_trials"].items()}
    path = run.path / STORAGE_FILE
    path.unlink(missing_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = f"sqlite:///{path}"
    target = optuna.create_study(storage=url, study_name=f"{run.name}/{run.run_id}", directions=source.directions)
    for trial in source.get_trials(deepcopy=False):
        # this session's trials by their Tune id; a resumed run's earlier trials by the id tune/searcher.py gave them
        tune_id = tune_ids.get(trial.number) or trial.user_attrs.get("trial_id", "")
        labels = {"trial": names.get(tune_id, tune_id), "status": statuses.get(tune_id, "running")}
        target.add_trial(FrozenTrial(
            number=trial.number, state=trial.state, value=None, values=trial.values,
            datetime_start=trial.datetime_start, datetime_complete=trial.datetime_complete,
            params={key.removeprefix(PREFIX): value for key, value in trial.params.items()},
            distributions={key.removeprefix(PREFIX): dist for key, dist in trial.distributions.items()},
            user_attrs={**trial.user_attrs, **labels}, system_attrs=trial.system_attrs,
            intermediate_values=trial.intermediate_values, trial_id=0))  # the storage numbers its own
    _describe(target, run, state)
    return url


def _describe(study: optuna.Study, run: Run, state: Path) -> None:
    """The objective's name and a note on where the trials come from, shown by the dashboard."""
    from optuna_dashboard import save_note

    metric = run.study.metric
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([metric])
    save_note(study, f"Exported from Tune's checkpoint of the searcher, `{state}`, at "
                     f"{time.strftime('%Y-%m-%d %H:%M:%S')}.\n\nObjective: `{metric}` ({run.study.mode}), "
                     "the validation metric the search optimised, per epoch as intermediate values. Test metrics are "
                     "in the report and trials.csv, never in the search. Each trial's user attributes name its Tune "
                     "trial and its status (`stopped_early`: stopped by the scheduler).")
