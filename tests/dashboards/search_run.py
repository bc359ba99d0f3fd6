"""Write the files a search run leaves that `dashboards/serve.py optuna` reads, in a folder:

    python tests/dashboards/search_run.py FOLDER '{"TUNE_TRIAL_ID": [VAL_AP_EPOCH_1, VAL_AP_FINAL], ...}'

prints FOLDER/adib_search/20990101-000000.

The searcher is the study runner's own (tune.tuner.searcher), told the trials in the given order and
exported as the driver exports it (optuna.db in the run directory): seconds, where a search would take
a minute. It runs as its own process because importing Ray fixes the process's Ray auth mode before
the study runner sets it, which would break studies run later inside the test process.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]

from adcore.config import TrialConfig
from studyspec.layout import OPTUNA_DB
from tune import tuner
from tune.grid import expand
from tune.searcher import export_study
from tune.space import resolve_space
from tune.study import load_study

RUN_ID = "20990101-000000"


def search_run(folder: Path, reports: dict[str, list[float]]) -> Path:
    """<folder>/adib_search/<run-id> with the files of a search whose trials reported ``reports``."""
    study = load_study(ROOT / "studies" / "adib_search.yaml", smoke=True)
    points = expand(study)
    searcher = tuner.searcher(study)
    space = resolve_space(study, TrialConfig.model_validate(points[0].config))
    searcher.set_search_properties(study.metric, study.mode, tuner.param_space(study, points, space))
    run = folder / "adib_search" / RUN_ID
    run.mkdir(parents=True)
    rows = []
    for tune_id, (first, final) in reports.items():
        config = searcher.suggest(tune_id)
        searcher.on_trial_result(tune_id, {study.metric: first, "training_iteration": 1})
        searcher.on_trial_complete(tune_id, {study.metric: final})
        rows.append({"trial_id": config["trial_id"], "status": "ok", study.metric: final, **config["search"]})
    export_study(searcher, run / OPTUNA_DB, f"{study.name}/{RUN_ID}", study.metric,
                 {row["trial_id"]: row["status"] for row in rows})
    (run / "study.yaml").write_text(study.to_yaml())
    (run / "run.json").write_text(json.dumps({"run_id": run.name, "study": study.name, "started_at": 0.0}))
    pd.DataFrame(rows).to_csv(run / "trials.csv", index=False)
    return run


if __name__ == "__main__":
    print(search_run(Path(sys.argv[1]), json.loads(sys.argv[2])))
