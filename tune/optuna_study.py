"""A search's Optuna study on a storage that outlives the driver, kept in step with the run's rows.

The study lives in an RDB storage, by default SQLite in the run directory (``optuna.db``), or a
database the run names (``--optuna-storage postgresql+psycopg://...``: the tracking server's
PostgreSQL on a cluster), under the name ``<study>/<run-id>``. The driver's searcher writes to it as
trials are proposed, report epochs and end, so ``optuna-dashboard`` on the storage shows the search
live (``dashboards/serve.py optuna``). The driver is its only writer.

The run directory's rows stay the truth. A driver killed at any moment can leave the storage behind
the rows (a row written, the storage not yet told) or ahead of them (a trial proposed that never
started), so each session first reconciles the storage with the rows (``reconcile``):

- a trial with a done row (ok, failed, stopped_early) gets that row's state and values, whether the
  storage had it running or not at all (a trial the storage never saw is added from its row);
- a trial still running in the storage (the killed session's) with no done row is proposed again
  first, as the same storage trial and under its old id: it continues from its checkpoint;
- a trial that started (``trials/<id>/trial.json``) but is missing from the storage, or that the
  storage failed because it errored out of its retries (an ``error`` row, which a resume runs again),
  is enqueued again with its parameters and id: the newest storage trial of an id is its trial.

So a search of N trials killed anywhere and resumed ends with N trials, none proposed twice, and the
storage agrees with the rows (``disagreements`` lists where it does not; tests and the chaos drill
check it). Only validation metrics and costs are objectives; test metrics never enter the storage.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState

from adcore.row import Status
from studyspec.layout import OPTUNA_DB, optuna_storage, read_jsonl
from tune.optuna_space import SearchSpace
from tune.resume import trial_index
from tune.results import RunDir
from tune.study import StudyError
from tune.trial_store import records

MASK = "***"  # a password in a storage URL, as run.json records it
STATES = {Status.OK: TrialState.COMPLETE, Status.FAILED: TrialState.FAIL, Status.STOPPED_EARLY: TrialState.PRUNED,
          Status.ERROR: TrialState.FAIL}  # a row's status as a finished storage trial's state


class StorageError(StudyError):
    """The search's storage cannot be used as given; the message says what to do."""


def storage_entry(given: str | None, recorded: dict[str, Any] | None, run: RunDir | None) -> dict[str, str]:
    """run.json's ``optuna`` entry (with the study's name besides): the storage, ``optuna.db`` in the run
    directory or a URL with its password masked. A resumed run keeps its storage; naming another is an error."""
    if recorded is None:
        return {"storage": OPTUNA_DB if given is None else _masked(given)}
    if given is not None and _masked(given) != recorded["storage"]:
        raise StorageError(f"{run.path if run else 'the run'}: its Optuna study is in {recorded['storage']}, not "
                           f"{_masked(given)}; resume it with that storage (or leave out --optuna-storage)")
    return {"storage": recorded["storage"]}


def storage_url(run: RunDir, entry: dict[str, Any], given: str | None) -> str:
    """The storage's full URL: the run directory's SQLite file, or the recorded URL (whose password
    comes from ``given``: --optuna-storage or $OPTUNA_STORAGE)."""
    if given is not None and MASK in entry["storage"]:
        return given
    try:
        return optuna_storage(run.path, entry)
    except KeyError as error:
        raise StorageError(str(error.args[0])) from None


def _masked(url: str) -> str:
    if "://" not in url or url.startswith("sqlite"):
        return url
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@dataclass
class SearchStudy:
    """A run's Optuna study on its storage, with the run's search space and objectives."""

    storage: RDBStorage
    study: optuna.Study
    space: SearchSpace
    objectives: list[tuple[str, str]]
    pending: list[int] = field(default_factory=list)  # storage trial numbers to propose first, in order
    next_index: int = 0  # of the next new trial id

    @property
    def study_id(self) -> int:
        return self.storage.get_study_id_from_name(self.study.study_name)

    def trial_id(self, number: int) -> int:
        """The storage's id of trial ``number`` (public storage API)."""
        return self.storage.get_trial_id_from_study_id_trial_number(self.study_id, number)

    def report(self, number: int, epoch: int, value: float) -> None:
        """One epoch's validation value as the trial's intermediate value (a resumed trial's repeated
        epoch replaces the earlier report, as the learning curves keep the latest)."""
        self.storage.set_trial_intermediate_value(self.trial_id(number), epoch, float(value))

    def finish(self, number: int, row: dict[str, Any] | None, errored: bool = False) -> None:
        """End a running storage trial as its row says: ok -> COMPLETE with the objectives' values,
        failed -> FAIL, stopped_early (or no row: stopped by the scheduler) -> PRUNED, error -> FAIL."""
        status = Status(row["status"]) if row else (Status.ERROR if errored else Status.STOPPED_EARLY)
        state, values = outcome(status, row, self.objectives)
        self.storage.set_trial_user_attr(self.trial_id(number), "status", status.value)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a PRUNED trial without reports
            self.study.tell(number, values, state=state)


def outcome(status: Status, row: dict[str, Any] | None, objectives: list[tuple[str, str]]
            ) -> tuple[TrialState, list[float] | None]:
    """(state, values) of a finished trial: an ok row whose objectives are not all finite numbers fails."""
    state = STATES.get(status, TrialState.FAIL)
    if state != TrialState.COMPLETE:
        return state, None
    values = [row.get(metric) for metric, _ in objectives] if row else []
    if not values or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
        return TrialState.FAIL, None
    return state, [float(v) for v in values]


def open_study(url: str, name: str, objectives: list[tuple[str, str]], space: SearchSpace,
               sampler: optuna.samplers.BaseSampler, note: str, first: list[dict[str, Any]] = ()) -> SearchStudy:
    """The run's study on the storage at ``url`` (created on first use, with its objectives' names, a note
    optuna-dashboard shows and the ``first`` parameters enqueued: each arm once), with this session's sampler."""
    # SQLite: a reader (optuna-dashboard) may hold the file for a moment; wait for it rather than fail
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    try:
        storage = RDBStorage(url, engine_kwargs=engine)
    except Exception as error:  # noqa: BLE001 - SQLAlchemy's and the driver's own errors
        raise StorageError(f"cannot open the Optuna storage {_masked(url)}: {type(error).__name__}: "
                           f"{str(error).splitlines()[0][:300]}") from None
    directions = ["maximize" if mode == "max" else "minimize" for _, mode in objectives]
    try:
        storage.get_study_id_from_name(name)
        new = False
    except KeyError:
        new = True
    study = optuna.create_study(storage=storage, sampler=sampler, study_name=name, directions=directions,
                                load_if_exists=True)
    if [d.name.lower() for d in study.directions] != directions:
        raise StorageError(f"{_masked(url)}: study {name} optimises {study.directions}, not {directions}")
    if new:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([metric for metric, _ in objectives])
        from optuna_dashboard import save_note

        save_note(study, note)
        for params in first:  # the sampler draws the rest of each
            study.enqueue_trial(params)
    return SearchStudy(storage, study, space, objectives)


def search_rows(run: RunDir) -> dict[str, dict[str, Any]]:
    """trial id -> row of every searched trial that has a row (the repeats of the best are not searched)."""
    return {row["trial_id"]: row for row in run.rows() if row.get("repeat_of") is None}


def newest(trials: list[FrozenTrial]) -> dict[str, FrozenTrial]:
    """trial id -> the newest storage trial carrying it (older ones failed with an error and were run again)."""
    found: dict[str, FrozenTrial] = {}
    for trial in sorted(trials, key=lambda t: t.number):
        if "trial_id" in trial.user_attrs:
            found[trial.user_attrs["trial_id"]] = trial
    return found


def reconcile(search: SearchStudy, run: RunDir) -> None:
    """Bring the storage in step with the run's rows and started trials (see the module docstring);
    leave in ``search.pending`` the storage trials to propose first and in ``search.next_index`` the
    index of the next new trial id."""
    rows = search_rows(run)
    points = set(search.space.points.values())
    started = {key: record for key, record in records(run.path).items() if record["point"] in points}
    trials = search.study.get_trials(deepcopy=False)
    by_id = newest(trials)
    for key, row in sorted(rows.items()):
        if not Status(row["status"]).done:
            continue
        trial = by_id.get(key)
        if trial is not None and trial.state in (TrialState.RUNNING, TrialState.WAITING):
            if trial.state == TrialState.WAITING:
                search.storage.set_trial_state_values(search.trial_id(trial.number), TrialState.RUNNING)
            search.finish(trial.number, row)
        elif trial is None or trial.state != outcome(Status(row["status"]), row, search.objectives)[0]:
            _add_from_row(search, run, key, row, started.get(key))
    for key, record in sorted(started.items()):
        if key in rows and Status(rows[key]["status"]).done:
            continue
        trial = by_id.get(key)
        if trial is None or trial.state.is_finished():  # lost by the storage, or failed with an error: again
            params = search.space.params(record["point"], record["search"])
            search.study.enqueue_trial(params, user_attrs={"trial_id": key, "status": "running"})
    done = {key for key, row in rows.items() if Status(row["status"]).done}
    trials = search.study.get_trials(deepcopy=False)
    search.pending = [t.number for t in sorted(trials, key=lambda t: t.number)
                      if t.state in (TrialState.RUNNING, TrialState.WAITING) and t.user_attrs.get("trial_id") not in done]
    ids = [*rows, *started, *(t.user_attrs["trial_id"] for t in trials if "trial_id" in t.user_attrs)]
    search.next_index = max(map(trial_index, ids), default=-1) + 1


def _add_from_row(search: SearchStudy, run: RunDir, key: str, row: dict[str, Any], record: dict[str, Any] | None) -> None:
    """A finished trial the storage missed, from its row (and its per-epoch reports as intermediate values)."""
    point = record["point"] if record else search.space.points[str(row.get("arm", "")) if len(search.space.points) > 1 else ""]
    params = search.space.params(point, record["search"] if record else row)
    state, values = outcome(Status(row["status"]), row, search.objectives)
    epochs = {} if len(search.objectives) > 1 else {
        int(line["epoch"]): float(line[search.objectives[0][0]]) for line in read_jsonl(run.epochs_dir / f"{key}.jsonl")
        if isinstance(line.get(search.objectives[0][0]), (int, float))}
    if state == TrialState.PRUNED and epochs:
        values = [epochs[max(epochs)]]
    search.study.add_trial(optuna.trial.create_trial(
        state=state, values=values, params=params, distributions=search.space.distributions(params),
        user_attrs={"trial_id": key, "status": row["status"]}, intermediate_values=epochs))


def disagreements(study: optuna.Study, run: RunDir, objectives: list[tuple[str, str]]) -> list[str]:
    """Where the storage and the run's rows disagree (empty: they agree): every searched trial with a
    done row has one newest storage trial in the row's state, with the row's values where it is ok;
    every other storage trial is still to run, or failed with an error and was (or will be) run again."""
    rows = search_rows(run)
    trials = study.get_trials(deepcopy=False)
    by_id = newest(trials)
    problems = [f"storage trial {t.number} has no trial id" for t in trials  # one still to run is named when proposed
                if "trial_id" not in t.user_attrs and t.state.is_finished()]
    for key, row in sorted(rows.items()):
        status = Status(row["status"])
        trial = by_id.get(key)
        if not status.done:
            continue
        if trial is None:
            problems.append(f"{key}: a {status} row, not in the storage")
            continue
        state, values = outcome(status, row, objectives)
        if trial.state != state:
            problems.append(f"{key}: a {status} row, {trial.state.name} in the storage")
        elif values is not None and not all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(values, trial.values)):
            problems.append(f"{key}: values {values} in its row, {trial.values} in the storage")
    for key, trial in by_id.items():
        if trial.state.is_finished() and not (key in rows and Status(rows[key]["status"]).done) \
                and trial.user_attrs.get("status") != Status.ERROR:
            problems.append(f"{key}: {trial.state.name} in the storage without a done row")
    for trial in trials:
        key = trial.user_attrs.get("trial_id")
        if key in by_id and by_id[key].number != trial.number and trial.user_attrs.get("status") != Status.ERROR:
            problems.append(f"{key}: storage trial {trial.number} is a second copy, not an errored attempt")
    return problems


def study_note(name: str, objectives: list[tuple[str, str]], run_path: Path) -> str:
    """What optuna-dashboard shows on the study's page."""
    goals = ", ".join(f"{metric} ({mode})" for metric, mode in objectives)
    return (f"Search `{name}` of the run in `{run_path}`, created {time.strftime('%Y-%m-%d %H:%M:%S')}.\n\n"
            f"Objectives: {goals}: validation metrics and costs only; test metrics are in the run's report and "
            "trials.csv, never in the search. Intermediate values: the validation metric per epoch. Each trial's "
            "user attributes give its id in the run directory (`trial_id`) and its row's status (`stopped_early`: "
            "stopped by the scheduler; `error`: failed after its retries, run again on --resume as a new trial "
            "with the same id). The run directory's rows are the truth; each session reconciles this study with them.")
