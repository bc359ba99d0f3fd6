"""Helpers for running studies in tests: small study files at the smoke budget, the runner in this
process or as a killable driver process, process sessions (a killed driver takes its local Ray
with it) and MLflow queries. Results and MLflow always go under the test's tmp_path."""
from __future__ import annotations

import copy
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd
import pytest
import yaml

from adcore.config import deep_merge
from tune.results import RunDir
from tune.run_study import main
from tune.study import SMOKE_BUDGET

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "tune" / "run_study.py"
RAY = str(Path(sys.executable).with_name("ray"))
LOOPBACK = ["--node-ip-address", "127.0.0.1"]


def write_study(folder: Path, name: str, base: dict[str, Any] | None = None, **fields: Any) -> Path:
    """A study file at the smoke budget (``base`` merges into it), 2 trials at a time."""
    study = {"name": name, "base": deep_merge(copy.deepcopy(SMOKE_BUDGET), base or {}), "concurrency": 2, **fields}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator["RayNodes"]:
    """One Ray node for the session (2 CPUs, 1 logical GPU, on 127.0.0.1) that the tests' studies
    join with --address, as on a real cluster: starting a local Ray costs each run seconds here."""
    nodes = RayNodes()
    try:
        nodes.head(num_cpus=2, num_gpus=1)
        yield nodes
    finally:
        nodes.stop()


@pytest.fixture
def run_study(tmp_path: Path, ray_cluster: "RayNodes") -> Callable[..., int]:
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


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class RayNodes:
    """Ray nodes started with `ray start --block` on 127.0.0.1, each in its own process session,
    with token authentication; stop() ends them and everything they started."""

    def __init__(self) -> None:
        self.temp = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))  # short: socket paths stay < 108 bytes
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_TMPDIR": str(self.temp), "PYTHONPATH": str(ROOT)}
        self.nodes: list[subprocess.Popen] = []
        self.address = ""

    def _start(self, *args: str) -> None:
        self.nodes.append(subprocess.Popen(
            [RAY, "start", *args, "--node-ip-address=127.0.0.1", "--block", "--disable-usage-stats"], env=self.env,
            cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def head(self, num_cpus: int, num_gpus: int = 0) -> str:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.address = f"127.0.0.1:{port}"
        self._start("--head", f"--port={port}", f"--num-cpus={num_cpus}", f"--num-gpus={num_gpus}",
                    "--include-dashboard=false", f"--temp-dir={self.temp}")
        wait_for(lambda: _listening(port), 120, "the Ray head node", every=0.2)
        return self.address

    def worker(self, num_cpus: int) -> None:
        self._start(f"--address={self.address}", f"--num-cpus={num_cpus}")
        wait_for(lambda: self.alive() == len(self.nodes), 120, "the Ray worker node", every=1)

    def alive(self) -> int:
        probe = (f"import ray; ray.init(address={self.address!r}, logging_level='ERROR'); "
                 "print(sum(n['Alive'] for n in ray.nodes()))")
        done = subprocess.run([sys.executable, "-c", probe], env=self.env, capture_output=True, text=True, timeout=60)
        return int(done.stdout.split()[-1]) if done.returncode == 0 and done.stdout.split() else 0

    def processes(self) -> list[int]:
        """Every process of these nodes: each `ray start --block` leads its own session."""
        return [pid for node in self.nodes for pid in session_pids(node.pid)]

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.terminate()
            try:
                node.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
            kill_session(node.pid)
        shutil.rmtree(self.temp, ignore_errors=True)


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


def wait_for(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


# --- processes ---------------------------------------------------------------------------------

def start_driver(args: list[str], log: Path) -> subprocess.Popen:
    """The runner as its own process session, so the driver and the Ray it starts can be killed."""
    return subprocess.Popen([sys.executable, str(RUNNER), *args], cwd=ROOT, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # state, ppid, pgrp, session, ...


def session_pids(session: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None and int(stat[3]) == session:
            pids.append(int(entry.name))
    return pids


def kill_session(session: int, timeout: float = 10.0) -> None:
    """SIGKILL every process of a session we started (a driver and the local Ray it started,
    or a `ray start --block` node), until none is left."""
    deadline = time.monotonic() + timeout
    while (pids := session_pids(session)) and time.monotonic() < deadline:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


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
