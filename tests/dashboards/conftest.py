"""One smoke study for every dashboard test, and servers started and stopped with bounded waits.

The study is Table 4 at the smoke budget on arms a1 and a7 (two trials, side by side on the two
cores), run once per test session by the study runner in its own process, with its own local Ray
on 127.0.0.1; its results and MLflow store live under a temporary directory. Screenshots go to test-artifacts/dashboards/.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest

from servers import ROOT
from testing.processes import session_pids, wait_for

ARMS = "[a1,a7]"


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """results/ablation_table4/<run-id> of `--smoke --set grid.arm=[a1,a7]`, run by the study runner
    in its own process (and process session, so a hung run is stopped with its Ray)."""
    from dashboards.run import find_run

    out = tmp_path_factory.mktemp("dashboards") / "results"
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}  # a local Ray, always
    command = [sys.executable, "tune/run_study.py", "studies/ablation_table4.yaml", "--smoke", "--set",
               f"grid.arm={ARMS}", "--out", str(out), "--num-cpus", "2", "--node-ip-address", "127.0.0.1"]
    log = out.parent / "study.log"
    with log.open("w") as handle:
        driver = subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        status = driver.wait(timeout=300)
    finally:
        stop_session(driver)
    assert status == 0, log.read_text()[-3000:]
    return find_run(out / "ablation_table4")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """test-artifacts/dashboards/: screenshots kept after the run (gitignored)."""
    folder = ROOT / "test-artifacts" / "dashboards"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start `python dashboards/serve.py ...` in its own session; at the end stop that session
    (the UI and every process it started), SIGTERM first, then SIGKILL."""
    started: list[subprocess.Popen] = []

    def start(*args: str) -> subprocess.Popen:
        log = tmp_path / f"serve-{len(started)}.log"
        with log.open("w") as handle:
            process = subprocess.Popen([sys.executable, "dashboards/serve.py", *args], cwd=ROOT, stdout=handle,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        process.log = log  # type: ignore[attr-defined]
        started.append(process)
        return process

    yield start
    for process in started:
        stop_session(process)


def stop_session(process: subprocess.Popen) -> None:
    """End a process started with start_new_session and everything left in its session:
    SIGTERM to it first, then SIGKILL to every process of the session, until none is left."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass

    def gone() -> bool:
        for pid in session_pids(process.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return not session_pids(process.pid)

    wait_for(gone, 30, "the session's processes to end")
    process.wait(timeout=15)
