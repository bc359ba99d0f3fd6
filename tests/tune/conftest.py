"""Helpers for running studies in tests: small study files at the smoke budget, the runner in this
process or as a killable driver process (its own process session: a killed driver takes its local
Ray with it) and MLflow queries. Results and MLflow always go under the test's tmp_path."""
from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd
import pytest
import yaml

from adcore.config import deep_merge
from studyspec.schema import SMOKE_BUDGET
from tune.local_cluster import LocalCluster
from tune.results import RunDir
from tune.run_study import main

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "tune" / "run_study.py"
LOOPBACK = ["--node-ip-address", "127.0.0.1"]


def write_study(folder: Path, name: str, base: dict[str, Any] | None = None, **fields: Any) -> Path:
    """A study file at the smoke budget (``base`` merges into it), 2 trials at a time."""
    study = {"name": name, "base": deep_merge(copy.deepcopy(SMOKE_BUDGET), base or {}), "concurrency": 2, **fields}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator["LocalCluster"]:
    """One Ray node for the session (2 CPUs, 1 logical GPU, on 127.0.0.1) that the tests' studies
    join with --address, as on a real cluster: starting a local Ray costs each run seconds here."""
    nodes = LocalCluster()
    try:
        nodes.head(num_cpus=2, num_gpus=1)
        yield nodes
    finally:
        nodes.stop()


@pytest.fixture
def run_study(tmp_path: Path, ray_cluster: "LocalCluster") -> Callable[..., int]:
    """The runner in this process, results under tmp_path/results, joining the session's Ray
    (``local=True``: starting its own, as `make study` does); the environment it sets is restored."""

    def run(study: Path, *args: str, local: bool = False) -> int:
        saved = dict(os.environ)
        try:
            where = LOOPBACK if local else ["--address", ray_cluster.address]
            return main([str(study), "--out", str(tmp_path / "results"), *where, *args])
        finally:
            os.environ.clear()
            os.environ.update(saved)

    return run


def runs_of(out: Path, study: str) -> list[RunDir]:
    folder = out / study
    return [RunDir(p) for p in sorted(folder.iterdir()) if (p / "run.json").exists()] if folder.is_dir() else []


def the_run(out: Path, study: str) -> RunDir:
    runs = runs_of(out, study)
    assert len(runs) == 1, runs
    return runs[0]


def trials(run: RunDir) -> pd.DataFrame:
    return pd.read_csv(run.trials_csv)


def logged(run: RunDir) -> list[dict[str, Any]]:
    """The row files written so far (trials that ended)."""
    return run.rows() if run.rows_dir.is_dir() else []


# --- processes ---------------------------------------------------------------------------------

def start_driver(args: list[str], log: Path) -> subprocess.Popen:
    """The runner as its own process session, so the driver and the Ray it starts can be killed."""
    return subprocess.Popen([sys.executable, str(RUNNER), *args], cwd=ROOT, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, start_new_session=True)


# --- MLflow ------------------------------------------------------------------------------------

def mlflow_runs(out: Path, experiment: str) -> tuple[list[Any], list[Any]]:
    """(parent runs, child runs) of an experiment in the default store under ``out``."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no MLflow experiment {experiment}"
    runs = client.search_runs([found.experiment_id], max_results=1000)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    return parents, [r for r in runs if "mlflow.parentRunId" in r.data.tags]


def metric_history(out: Path, run_id: str, key: str) -> list[tuple[int, float]]:
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))
