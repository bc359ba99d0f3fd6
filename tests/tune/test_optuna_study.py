"""A driver killed at any moment leaves the Optuna storage behind or ahead of the rows; the next
session's reconcile brings it back in step (tune/optuna_study.py). Each kill window is made here by
hand on a real SQLite storage and run directory, without Ray: a row written but not told, a row the
storage never saw, a started trial the storage lost, a trial proposed but never started, a trial
asked but never named, a trial that errored out of its retries, a trial a scheduler stopped."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from adcore.row import Status
from conftest import write_study
from tune.grid import expand
from tune.optuna_space import SearchSpace
from tune.optuna_study import disagreements, open_study, reconcile
from tune.results import RunDir
from tune.space import resolve_space
from tune.study import load_study
from tune.trial_store import TrialStore

OBJECTIVES = [("val_ap", "max")]


def _row(key: str, status: Status, **values: float) -> dict:
    return {"trial_id": key, "status": status.value, "message": "", **values}


def test_reconcile_brings_the_storage_in_step_with_the_rows_after_a_kill_anywhere(tmp_path: Path) -> None:
    space_spec = {"arm": {"choices": ["a2", "a7"]}, "regularizer.alpha": {}, "optim.lr": {}}
    study = load_study(write_study(tmp_path, "killed", search={"num_samples": 8, "space": space_spec}))
    points = expand(study)
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.write_points(point.as_dict() for point in points)
    space = SearchSpace.of(resolve_space(study, points), points)
    url = f"sqlite:///{run.path / 'optuna.db'}"

    def session(seed: int):
        search = open_study(url, "killed/run", OBJECTIVES, space, optuna.samplers.RandomSampler(seed), "a note")
        return search, search.study

    search, stored = session(0)

    def ask(key: str | None, record: bool = True):
        trial = stored.ask()
        params = space.suggest(trial)
        if key is not None:
            trial.set_user_attr("trial_id", key)
            if record:
                TrialStore(run.path, key).record(space.point(params), space.config_values(params))
        return trial, params

    a, a_params = ask("p_000")  # its row written, the storage not yet told
    run.write_row(_row("p_000", Status.OK, val_ap=0.7, **space.config_values(a_params)))
    g, _ = ask("p_001")  # stopped by the scheduler after one epoch, the storage not yet told
    search.report(g.number, 1, 0.4)
    run.write_row(_row("p_001", Status.STOPPED_EARLY, val_ap=0.4))
    f, f_params = ask("p_002")  # errored out of its retries: failed in the storage, run again on resume
    run.write_row(_row("p_002", Status.ERROR))
    search.finish(f.number, run.read_row("p_002"), errored=True)
    d, d_params = ask("p_003", record=False)  # proposed, never started
    e, e_params = ask(None)  # asked, killed before it was named
    TrialStore(run.path, "p_004").record(points[0].key, {"optim.lr": 0.05})  # started; the storage lost it
    # done by an earlier session the storage never saw (the storage was replaced)
    TrialStore(run.path, "p_005").record(points[1].key, {"optim.lr": 0.02, "regularizer.alpha": 0.01})
    run.write_row(_row("p_005", Status.OK, val_ap=0.9, **{"optim.lr": 0.02, "regularizer.alpha": 0.01}))

    search, stored = session(1)  # the next session
    reconcile(search, run)
    assert disagreements(stored, run, OBJECTIVES) == []
    by_id = {t.user_attrs.get("trial_id"): t for t in sorted(stored.trials, key=lambda t: t.number)}
    assert by_id["p_000"].state == TrialState.COMPLETE and by_id["p_000"].values == [0.7]
    assert by_id["p_001"].state == TrialState.PRUNED and by_id["p_001"].values == [0.4]
    assert by_id["p_005"].state == TrialState.COMPLETE and by_id["p_005"].params["arm"] == "a7"
    assert stored.trials[f.number].state == TrialState.FAIL  # the errored attempt stays, marked as such
    assert stored.trials[f.number].user_attrs["status"] == Status.ERROR
    # to run first, in order: the proposed one, the unnamed one, then the errored and the lost one again
    pending = [stored.trials[n] for n in search.pending]
    assert [t.user_attrs.get("trial_id") for t in pending] == ["p_003", None, "p_002", "p_004"]
    assert search.next_index == 6
    for trial, params in zip(pending, [d_params, e_params, f_params, {"arm": "a2", "optim.lr": 0.05}]):
        if trial.state == TrialState.WAITING:
            search.storage.set_trial_state_values(search.trial_id(trial.number), TrialState.RUNNING)
        continued = optuna.trial.Trial(stored, search.trial_id(trial.number))
        assert space.suggest(continued) == params  # the same values, not new draws

    search, stored = session(2)  # a second reconcile changes nothing
    before = [(t.number, t.state, t.values) for t in stored.trials]
    reconcile(search, run)
    assert [(t.number, t.state, t.values) for t in stored.trials] == before


def test_a_search_study_on_the_tracking_servers_postgresql(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tracking server's PostgreSQL has an optuna database; a run's storage entry records its URL
    without the password, which a resume and the dashboard take from $OPTUNA_STORAGE."""
    from dashboards.postgres import Postgres
    from studyspec.layout import optuna_storage
    from testing.processes import free_port
    from tune.optuna_study import storage_entry

    folder = Path(tempfile.mkdtemp(prefix="adstudy-pg-", dir="/tmp"))  # PostgreSQL runs as the postgres user
    os.chmod(folder, 0o755)
    postgres = Postgres(folder / "postgres", free_port())
    try:
        postgres.start()
        url = postgres.database_uri("optuna")
        entry = {**storage_entry(url, None, None), "study": "on_postgres/run"}
        assert "***" in entry["storage"] and postgres.password_file.read_text().strip() not in entry["storage"]
        study = load_study(write_study(tmp_path, "on_postgres", search={"num_samples": 2, "space": {"optim.lr": {}}}))
        points = expand(study)
        space = SearchSpace.of(resolve_space(study, points), points)
        search = open_study(url, entry["study"], OBJECTIVES, space, optuna.samplers.RandomSampler(0), "a note")
        trial = search.study.ask()
        space.suggest(trial)
        search.study.tell(trial, 0.5)
        monkeypatch.setenv("OPTUNA_STORAGE", url)
        stored = optuna.load_study(study_name=entry["study"], storage=optuna_storage(tmp_path, entry))
        assert [t.values for t in stored.trials] == [[0.5]]
    finally:
        postgres.stop()
        shutil.rmtree(folder, ignore_errors=True)
