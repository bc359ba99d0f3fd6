"""Which trials keep their trained detector (tune/models.py), on rows alone: per arm of a grid the best by
the study's validation metric (never a test number), the best of a search, every finished trial with
runtime.keep_model all; the driver removes a detector as soon as it loses, and at the end keeps exactly
the selected ones."""
from __future__ import annotations

from pathlib import Path

from conftest import write_study
from tune.models import Selection, kept, model_dir, prune
from tune.results import RunDir
from tune.study import load_study


def _row(trial: str, arm: str, val_ap: float, test_ap: float, status: str = "ok", keep: str = "best") -> dict:
    return {"trial_id": trial, "arm": arm, "val_ap": val_ap, "test_ap": test_ap, "status": status,
            "runtime.keep_model": keep}


ROWS = [_row("a1-0", "a1", 0.50, 0.90), _row("a1-1", "a1", 0.70, 0.10), _row("a1-2", "a1", 0.99, 0.99, "failed"),
        _row("a2-0", "a2", 0.60, 0.20), _row("a2-1", "a2", 0.60, 0.80)]


def test_a_grid_keeps_each_arms_best_by_validation_and_a_search_its_best(tmp_path: Path) -> None:
    grid = load_study(write_study(tmp_path, "g", grid={"arm": ["a1", "a2"], "seed": [0, 1, 2]}))
    assert kept(grid, ROWS) == {"a1-1": "best val_ap of a1", "a2-0": "best val_ap of a2"}  # a tie: the first id
    search = load_study(write_study(tmp_path, "s", grid={"arm": ["a7"]}, search={
        "num_samples": 5, "space": {"optim.lr": {}}}))
    assert kept(search, ROWS) == {"a1-1": "best val_ap"}
    every = [{**row, "runtime.keep_model": "all"} for row in ROWS]
    assert set(kept(grid, every)) == {"a1-0", "a1-1", "a2-0", "a2-1"}
    assert kept(grid, [{**row, "runtime.keep_model": "none"} for row in ROWS]) == {}


def test_the_driver_removes_a_detector_once_it_loses_and_keeps_the_selection_at_the_end(tmp_path: Path) -> None:
    study = load_study(write_study(tmp_path, "g", grid={"arm": ["a1", "a2"], "seed": [0, 1, 2]}))
    run = RunDir.create(tmp_path / "results", "g")
    selection = Selection(study, run)
    for row in ROWS:  # each trial ends: its row, then the callback
        model_dir(run.path, row["trial_id"]).mkdir(parents=True)
        run.write_row(row)
        selection.ended(row["trial_id"])
    assert sorted(p.name for p in (run.path / "models").iterdir()) == ["a1-1", "a2-0"]
    model_dir(run.path, "a1-0").mkdir()  # e.g. left by a killed driver
    prune(run, kept(study, ROWS))
    assert sorted(p.name for p in (run.path / "models").iterdir()) == ["a1-1", "a2-0"]


def test_a_kept_model_waits_in_the_journal_while_mlflow_is_down_and_is_sent_once(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    from tune.tracking import STUDY, Tracking

    store = tmp_path / "store"
    store.write_text("")  # a file where the store's folder goes: it cannot be opened, as a server that is down
    tracking = Tracking(f"sqlite:///{store / 'mlflow.db'}", "outage", str(tmp_path / "run"), str(tmp_path / "art"))
    tracking.journal(STUDY).start("run", {}, {"study": "outage"})
    trial = tracking.journal("t1")
    trial.start("t1", {}, {"study": "outage"})
    folder = tmp_path / "run" / "models" / "t1"
    folder.mkdir(parents=True)
    (folder / "detector.pt").write_bytes(b"a kept detector")
    trial.log_model(folder, {"study": "outage"}, "outage", {"config.seed": "0"})
    trial.log_model(folder, {"study": "outage"}, "outage", {"config.seed": "0"})  # journaled once
    assert tracking.sync() == {"synced": 0, "behind": 2}
    store.unlink()  # the server is back
    store.mkdir()
    assert tracking.sync() == {"synced": 2, "behind": 0}
    trial.state_file.write_text("{}")  # as if the sender was killed before it noted its progress: all sent again
    assert tracking.sync() == {"synced": 2, "behind": 0}
    client = MlflowClient(tracking.uri)
    (model,) = client.search_logged_models([client.get_experiment_by_name("outage").experiment_id])
    assert model.status == "READY" and model.source_run_id == trial.state()["run_id"]
    (version,) = client.search_model_versions("name = 'outage'")
    assert version.tags["config.seed"] == "0" and version.run_id == model.source_run_id
