"""Write the files a search run leaves that `dashboards/serve.py optuna` reads, in a folder:

    python tests/dashboards/search_run.py FOLDER '{"TUNE_TRIAL_ID": [VAL_AP_EPOCH_1, VAL_AP_FINAL], ...}'

prints FOLDER/adib_search/20990101-000000.

The searcher is the study runner's own (tune.tuner.searcher: its Optuna study on optuna.db in the run
directory), told the trials in the given order as Tune tells it, each trial's row written as a worker
writes it: seconds, where a search would take a minute. It runs as its own process because importing
Ray fixes the process's Ray auth mode before the study runner sets it, which would break studies run
later inside the test process.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]

from studyspec.layout import OPTUNA_DB
from tune import tuner
from tune.grid import expand
from tune.resume import remaining
from tune.results import RunDir
from tune.space import resolve_space
from tune.study import load_study

RUN_ID = "20990101-000000"


def search_run(folder: Path, reports: dict[str, list[float]]) -> Path:
    """<folder>/adib_search/<run-id> with the files of a search whose trials reported ``reports``."""
    study = load_study(ROOT / "studies" / "adib_search.yaml", smoke=True)
    points = expand(study)
    run = RunDir(folder / "adib_search" / RUN_ID)
    run.path.mkdir(parents=True)
    searcher = tuner.searcher(study, remaining(study, points, None), resolve_space(study, points), run,
                              f"sqlite:///{run.path / OPTUNA_DB}")
    rows = []
    for tune_id, (first, final) in reports.items():
        config = searcher.suggest(tune_id)
        searcher.on_trial_result(tune_id, {study.selection_metric: first, "epoch": 1})
        row = {"trial_id": config["trial_id"], "status": "ok", "message": "", study.selection_metric: final,
               **config["search"]}
        run.write_row(row)  # as the worker does, before Tune hears the trial has ended
        searcher.on_trial_complete(tune_id, {study.selection_metric: final})
        rows.append(row)
    (run.path / "study.yaml").write_text(study.to_yaml())
    (run.path / "run.json").write_text(json.dumps({"run_id": RUN_ID, "study": study.name, "started_at": 0.0,
                                                   "optuna": {"storage": OPTUNA_DB,
                                                              "study": f"{study.name}/{RUN_ID}"}}))
    pd.DataFrame(rows).to_csv(run.trials_csv, index=False)
    return run.path


if __name__ == "__main__":
    print(search_run(Path(sys.argv[1]), json.loads(sys.argv[2])))
