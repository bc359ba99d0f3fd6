"""scripts/adcore_grid.py, the runner of the GPU machine (no Ray, MLflow or Optuna there): a study's grid
through the same grid expansion, into the run directory tune/ writes, which dashboards/ read alike."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from adcore.row import IDENTITY, PROVENANCE, Status
from conftest import ROOT, write_study
from dashboards.aggregate import aggregate
from dashboards.run import Run
from tune.results import TUNE_PLACEMENT

GRID = ROOT / "scripts" / "adcore_grid.py"


def _without_orchestration(folder: Path) -> dict[str, str]:
    """An environment in which ray, mlflow and optuna cannot be imported, as on the GPU machine."""
    for name in ("ray", "mlflow", "optuna"):
        (folder / name).mkdir(parents=True)
        (folder / name / "__init__.py").write_text(f"raise ImportError('{name} is not installed here')\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), str(ROOT)])}


def _grid(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(GRID), *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=600)


def test_a_grid_without_ray_writes_the_run_directory_that_dashboards_read(tmp_path: Path) -> None:
    study = write_study(tmp_path, "gpu_grid", grid={"arm": ["a2", "a7"], "data.fold": [0, 2]})
    out = tmp_path / "results"
    done = _grid(str(study), "--folds", "2", "--jobs", "2", "--out", str(out), "--no-table",
                 env=_without_orchestration(tmp_path / "blocked"))
    assert done.returncode == 0, done.stderr
    assert "[2/2]" in done.stdout and "elapsed" in done.stdout

    run = Run.load(out / "gpu_grid")
    rows = run.trials
    assert sorted(rows["trial_id"]) == ["a2-fold2", "a7-fold2"] and (rows["status"] == Status.OK).all()
    assert list(rows.columns[:len(IDENTITY)]) == list(IDENTITY)
    assert {*PROVENANCE, *TUNE_PLACEMENT} <= set(rows.columns) and rows["git_commit"].notna().all()
    assert run.study.applied == ["--set grid.data.fold=[2]"]  # --folds narrowed the study's own axis
    history = run.history()
    assert history.groupby("trial_id")["epoch"].apply(list).tolist() == [[1, 2], [1, 2]]  # learning curves
    assert "| a7 |" in aggregate(run.path)  # the table tune/ would build


def test_options_are_checked_before_anything_runs(tmp_path: Path) -> None:
    study = write_study(tmp_path, "gpu_grid", grid={"arm": ["a2"]})
    for args, message in ((["--folds", "x"], "argument --folds: 'x' is not a list of integers"),
                          (["--presets", "a2,zz"], "unknown preset 'zz'; valid presets: a1"),
                          (["--jobs", "0"], "--jobs: must be at least 1")):
        done = _grid(str(study), *args, "--dry-run")
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
    search = write_study(tmp_path, "searched", grid={"arm": ["a2"]},
                         search={"num_samples": 2, "space": {"optim.lr": {}}})
    done = _grid(str(search), "--dry-run")
    assert done.returncode == 2 and "tune/run_study.py" in done.stderr
    assert "--jobs N" in _grid("--help").stdout


def test_every_trial_failed_exits_1_with_each_reason_in_its_row(tmp_path: Path) -> None:
    study = write_study(tmp_path, "all_fail", grid={"arm": ["a2"]},
                        base={"model": {"backbone": "resnet26_cifar", "weights_path": str(tmp_path / "none.pt")}})
    out = tmp_path / "results"
    done = _grid(str(study), "--out", str(out), "--no-table")
    assert done.returncode == 1 and "no trial finished" in done.stderr, done.stderr
    (row,) = (json.loads(path.read_text()) for path in out.glob("all_fail/*/rows/*.json"))
    assert row["status"] == Status.FAILED and "none.pt" in row["message"]
    assert pd.read_csv(next(out.glob("all_fail/*/trials.csv")))["status"].tolist() == ["failed"]
