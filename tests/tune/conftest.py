"""Helpers for running studies in tests: small study files at the smoke budget, one Ray cluster for the
session, the study runner as a process of its own, and MLflow queries. Results and MLflow always go
under the test's tmp_path.

Every test that runs a study runs the runner (tune/run_study.py) as its own process, in a process
session of its own: a driver that dies, or whose Ray dies, ends with a status and its output, which
the test shows; it never takes the test session with it (Ray's core worker ends the whole process
that lost its cluster, which inside pytest is pytest). Tests that only validate a study (nothing
reaches Ray) call ``tune.run_study.main`` in this process."""
from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd
import pytest
import yaml

from adcore.config import deep_merge
from studyspec.schema import SMOKE_BUDGET
from testing.local_cluster import LocalCluster
from testing.processes import kill_session
from tune.results import RunDir
from tune.tracking import DB_FILE

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "tune" / "run_study.py"
LOOPBACK = ["--node-ip-address", "127.0.0.1"]
DRIVER_TIMEOUT_S = 900  # a study of the tests that runs longer has hung: its session is killed, the test fails


def write_study(folder: Path, name: str, base: dict[str, Any] | None = None, **fields: Any) -> Path:
    """A study file at the smoke budget (``base`` merges into it), 2 trials at a time."""
    study = {"name": name, "base": deep_merge(copy.deepcopy(SMOKE_BUDGET), base or {}), "concurrency": 2, **fields}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


# --- the session's Ray cluster and MLflow store ------------------------------------------------

@pytest.fixture(scope="session")
def cluster(_private_cache: None) -> Iterator[LocalCluster]:
    """The session's Ray cluster, started once: two `ray start` nodes on 127.0.0.1 (the head with 1 CPU
    and 1 logical GPU, a worker with 1 CPU) that every study of the tests joins with --address, as on a
    real cluster; the chaos drills, the cluster tests and the resume and failure tests run on it too.
    Started after the private cache is set, so its trial workers use that cache."""
    nodes = LocalCluster()
    try:
        nodes.head(num_cpus=1, num_gpus=1)
        nodes.worker(num_cpus=1)
        yield nodes
    finally:
        nodes.stop()


@pytest.fixture(scope="session")
def empty_mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow SQLite store with its tables made, copied into a study's results folder before the run
    (making the tables takes seconds per store; the studies that start their own local Ray, and the
    journal tests, still make theirs)."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow") / DB_FILE
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


# --- the runner as a process of its own -------------------------------------------------------

def start_driver(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    """The runner as its own process session, so the driver (and a local Ray it starts) can be killed."""
    return subprocess.Popen([sys.executable, str(RUNNER), *args], cwd=ROOT, env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop_driver(driver: subprocess.Popen, log: Path) -> int | None:
    """Kill what is left of the driver's session (a local Ray it started, or all of it); print its
    output (pytest shows it with a failing test); its exit status, None if it was still running."""
    status = driver.poll()
    kill_session(driver.pid)
    print(f"--- {log} (status {status})\n{log.read_text()[-20000:]}")
    return status


def finish_driver(driver: subprocess.Popen, log: Path, timeout: float = DRIVER_TIMEOUT_S) -> int:
    """The driver's exit status; a driver still running after ``timeout`` is killed and fails the test."""
    try:
        driver.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    status = stop_driver(driver, log)
    assert status is not None, f"the driver ran longer than {timeout:.0f} s; see its output above"
    return status


def run_driver(study: Path, args: list[str], out: Path, log: Path, cluster: LocalCluster, empty_store: Path,
               local: bool = False) -> int:
    """Run a study with results under ``out`` on ``cluster``, or with ``local=True`` on a local Ray of its
    own, as `make study` does; return the exit status (the output is in ``log``, and printed)."""
    if not (local or "--tracking-uri" in args or (out / DB_FILE).exists()):
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(empty_store, out / DB_FILE)
    where = LOOPBACK if local else ["--address", cluster.address]
    env = {key: value for key, value in cluster.env.items() if not (local and key == "RAY_TMPDIR")}
    cluster.check()
    status = finish_driver(start_driver([str(study), "--out", str(out), *where, *args], log, env), log)
    cluster.check()  # a study that failed because the cluster lost a node says so
    return status


@pytest.fixture
def run_study(tmp_path: Path, cluster: LocalCluster, empty_mlflow_store: Path) -> Callable[..., int]:
    """``run_driver`` with results under tmp_path/results (or ``out``) and the output in tmp_path."""
    runs = iter(range(1000))

    def run(study: Path, *args: str, local: bool = False, out: Path | None = None) -> int:
        log = tmp_path / f"driver-{study.stem}-{next(runs)}.log"
        return run_driver(study, list(args), out or tmp_path / "results", log, cluster, empty_mlflow_store, local)

    return run


# --- what a run left ---------------------------------------------------------------------------

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


# --- MLflow ------------------------------------------------------------------------------------

def mlflow_runs(out: Path, experiment: str) -> tuple[list[Any], list[Any]]:
    """(parent runs, child runs) of an experiment in the default store under ``out``."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{out / DB_FILE}")
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no MLflow experiment {experiment}"
    runs = client.search_runs([found.experiment_id], max_results=1000)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    return parents, [r for r in runs if "mlflow.parentRunId" in r.data.tags]


def metric_history(out: Path, run_id: str, key: str) -> list[tuple[int, float]]:
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{out / DB_FILE}")
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))
