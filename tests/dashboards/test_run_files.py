"""Dashboards read a run directory's own files (studyspec/layout.py), never Ray Tune's storage under
tune/, which Tune writes for itself and may change in any release."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from dashboards.run import Run
from studyspec.layout import EPOCHS_DIR, RUN_JSON, STUDY_YAML, TRIALS_CSV, TUNE_DIR
from studyspec.schema import Study

ROOT = Path(__file__).resolve().parents[2]
TUNE_FILES = re.compile(r"result\.json|experiment_state|searcher-state|progress\.csv|\bTUNE_DIR\b|\btune_dir\b")


def test_learning_curves_come_from_the_epochs_files_not_from_tune(tmp_path: Path) -> None:
    run = tmp_path / "study" / "20990101-000000"
    (run / EPOCHS_DIR).mkdir(parents=True)
    (run / STUDY_YAML).write_text(Study(name="study", grid={"arm": ["a2"]}).to_yaml())
    (run / RUN_JSON).write_text(json.dumps({"run_id": run.name, "started_at": 0.0}))
    pd.DataFrame([{"trial_id": "a2", "status": "ok", "arm": "a2"}]).to_csv(run / TRIALS_CSV, index=False)
    reports = [{"epoch": 1, "val_ap": 0.5}, {"epoch": 2, "val_ap": 0.6},  # a worker killed after epoch 2,
               {"epoch": 2, "val_ap": 0.65}, {"epoch": 3, "val_ap": 0.7}]  # resumed from epoch 1's checkpoint
    (run / EPOCHS_DIR / "a2.jsonl").write_text("".join(json.dumps(r) + "\n" for r in reports) + '{"epoch": 4, "va')
    (run / TUNE_DIR / "a2").mkdir(parents=True)
    (run / TUNE_DIR / "a2" / "result.json").write_text(json.dumps({"epoch": 9, "val_ap": 0.0}) + "\n")

    history = Run.load(run.parent).history()
    assert history[["trial_id", "epoch", "val_ap"]].values.tolist() == [["a2", 1, 0.5], ["a2", 2, 0.65], ["a2", 3, 0.7]]


def test_no_shipped_module_outside_tune_reads_tunes_storage() -> None:
    readers = [path for folder in ("adcore", "dashboards", "studyspec", "scripts") for path in (ROOT / folder).rglob("*.py")
               if path.name != "layout.py" and TUNE_FILES.search(path.read_text())]
    assert readers == []
