"""ASHA on the validation metric stops poor trials early: they run fewer epochs than the maximum."""
from __future__ import annotations

from pathlib import Path

import optuna

from conftest import the_run, trials, write_study


def test_asha_stops_trials_early(tmp_path: Path, run_study) -> None:
    epochs = 2
    search = {"num_samples": 6, "seed": 0, "space": {"optim.lr": {"type": "loguniform", "low": 1e-4, "high": 0.3}}}
    study = write_study(tmp_path, "asha", grid={"arm": ["a2"]}, search=search, concurrency=1,  # a fixed order
                        scheduler={"name": "asha", "grace_period": 1, "reduction_factor": 2})
    assert run_study(study) == 0
    run = the_run(tmp_path / "results", "asha")
    frame = trials(run)
    assert len(frame) == 6
    stopped = frame[frame["status"] == "stopped_early"]
    assert len(stopped) >= 1 and (stopped["epochs_run"] < epochs).all() and stopped["test_ap"].isna().all()
    assert frame.loc[frame["status"] == "ok", "epochs_run"].eq(epochs).all()
    # the driver's rows of stopped trials carry the provenance the workers' rows carry
    provenance = ["git_commit", "started_at", "ended_at", "attempts", "tune_trial_id", "ray_node_id"]
    assert frame[provenance].notna().all().all()
    # the driver copied its searcher's Optuna study into the run directory, each trial with its row's status
    storage = f"sqlite:///{run.path / 'optuna.db'}"
    (name,) = optuna.get_all_study_names(storage)
    exported = {t.user_attrs["trial_id"]: t.user_attrs["status"] for t in optuna.load_study(study_name=name,
                                                                                            storage=storage).trials}
    assert exported == dict(zip(frame["trial_id"], frame["status"]))
