"""Every sampler of tune/samplers.py runs a smoke search over arms with a conditional key: the Optuna
study on the run's storage agrees with the rows, a key never appears in a trial of an arm that lacks
it, a Pareto search (every sampler that can run one) gets its front drawn and listed, and the default
sampler's search re-runs each arm's best on further seeds with paired statistics in the table.

Each case is one search of 2 trials at the smoke budget on the session's Ray, three drivers at a time:
the acceptance of issue 26 asks for a smoke search per sampler."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import optuna
import pandas as pd
import pytest

from conftest import run_driver, the_run, trials, write_study
from studyspec.layout import optuna_storage
from tune.optuna_study import disagreements
from tune.samplers import SAMPLERS

ARMS = ["a2", "a7"]  # a2's regularizer has no alpha, a7's has
SPACE = {"arm": {"choices": ARMS}, "regularizer.alpha": {}, "optim.lr": {"low": 0.01, "high": 0.3}}
QUICK = {"tpe": {"n_startup_trials": 1}, "cmaes": {"n_startup_trials": 1, "warn_independent_sampling": False},
         "gp": {"n_startup_trials": 1, "warn_independent_sampling": False}, "nsga2": {"population_size": 2}}
DEFAULT = "tpe"  # its search also repeats each arm's best
AT_ONCE = 3  # drivers at a time on the session's cluster: one's start-up and report overlap another's trials


def _objectives(name: str) -> dict[str, list[str]]:
    pareto = SAMPLERS.get(name).objectives == "any"
    return {"metric": ["val_ap", "train_s"], "mode": ["max", "min"]} if pareto else {}


@pytest.fixture(scope="module")
def searches(cluster, empty_mlflow_store: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, Path]]:
    """Every sampler's search, once per module: name -> (exit status, results folder)."""
    folder = tmp_path_factory.mktemp("samplers")

    def run(name: str) -> tuple[int, Path]:
        repeat = 2 if name == DEFAULT else 0
        search = {"num_samples": 2, "algorithm": name, "options": QUICK.get(name, {}), "seed": 1, "space": SPACE,
                  "repeat_best": repeat}
        study = write_study(folder, f"search_{name}", search=search, table={"compare_to": "a2"}, **_objectives(name))
        out = folder / name / "results"
        return run_driver(study, [], out, folder / f"{name}.log", cluster, empty_mlflow_store), out

    names = SAMPLERS.names()
    with ThreadPoolExecutor(AT_ONCE) as pool:
        return dict(zip(names, pool.map(run, names)))


@pytest.mark.parametrize("name", SAMPLERS.names())
def test_sampler_runs_a_smoke_search_over_arms(searches, name: str) -> None:
    objectives = _objectives(name)
    pareto, repeat = bool(objectives), 2 if name == DEFAULT else 0
    status, out = searches[name]
    assert status == 0, (out.parent.parent / f"{name}.log").read_text()[-5000:]
    run = the_run(out, f"search_{name}")
    frame = trials(run)
    searched = frame[frame["repeat_of"].isna()] if "repeat_of" in frame else frame
    assert len(searched) == 2 and (searched["status"] == "ok").all()

    meta = json.loads(run.run_json.read_text())
    stored = optuna.load_study(study_name=meta["optuna"]["study"], storage=optuna_storage(run.path, meta["optuna"]))
    goals = list(zip(*objectives.values())) if pareto else [("val_ap", "max")]
    assert disagreements(stored, run, goals) == []
    assert sorted(t.user_attrs["trial_id"] for t in stored.trials) == sorted(searched["trial_id"])
    assert stored.user_attrs["samplers"] == [{"session": 0, "sampler": name, "seed": 1, "options": QUICK.get(name, {})}]
    rows = searched.set_index("trial_id")
    for trial in stored.trials:  # alpha exactly where the arm's regularizer has one, in the storage and the row
        arm = trial.params["arm"]
        assert ("regularizer.alpha" in trial.params) == (arm == "a7"), trial.params
        assert rows.loc[trial.user_attrs["trial_id"], "arm"] == arm
        assert pd.isna(rows.loc[trial.user_attrs["trial_id"], "regularizer.alpha"]) == (arm == "a2")

    table = json.loads((run.path / "table.json").read_text())
    kinds = [record.get("rows") for record in table["records"]]
    if pareto:  # the front is drawn and listed
        assert (run.figures / "pareto_val_ap_train_s.png").exists()
        assert "front" in kinds
    if repeat:  # each arm that finished a trial: its best again on seeds 1 and 2, compared over them
        again = frame[frame["repeat_of"].notna()]
        assert len(again) == repeat * len(set(searched["arm"])) and (again["status"] == "ok").all()
        assert sorted(set(again["seed"])) == [1, 2]
        best = [record for record in table["records"] if str(record.get("rows")).startswith("best of")]
        assert {record["arm"] for record in best} == set(searched["arm"]) and all(r["n"] == 2 for r in best)
        if {"a2", "a7"} <= set(searched["arm"]):
            a7 = next(record for record in best if record["arm"] == "a7")
            assert a7["delta_test_ap_units"] == 2  # paired over the two seeds
