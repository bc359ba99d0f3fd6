"""A driver that loses its Ray cluster says so, keeps what finished and ends with exit status 3 (issue
27: a suite that ran its drivers inside pytest ended without a word when the Ray they had joined went
away, because Ray's core worker ends the process that lost its cluster, 60 s later, with status 1 and
one line on a stderr pytest had captured). The drivers of the tests run as processes of their own,
and a driver's own watch (tune/ray_watch.py) ends it, with one message, long before Ray would."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import finish_driver, logged, runs_of, start_driver, trials, write_study
from testing.local_cluster import LocalCluster
from testing.processes import command_line, free_port, wait_for
from tune.ray_watch import LOST_RAY, RayWatch
from tune.run_study import main


@pytest.mark.ray
def test_a_driver_whose_ray_cluster_dies_mid_study_says_so_keeps_what_ended_and_exits_3(tmp_path: Path) -> None:
    nodes = LocalCluster()  # a cluster of its own: this test kills it
    try:
        nodes.head(num_cpus=1)
        study = write_study(tmp_path, "lost", grid={"arm": ["a2"], "data.fold": list(range(8))}, concurrency=1)
        out, log = tmp_path / "results", tmp_path / "driver.log"
        driver = start_driver([str(study), "--out", str(out), "--address", nodes.address], log, nodes.env)
        run = wait_for(lambda: runs_of(out, "lost"), 300, "the run directory")[0]
        wait_for(lambda: logged(run), 300, "a finished trial", every=0.1)
        raylet = [pid for pid in nodes.processes() if "raylet/raylet " in command_line(pid)]
        os.kill(raylet[0], signal.SIGKILL)  # as the OOM killer would; `ray start --block` then ends the node
        status = finish_driver(driver, log, timeout=60)  # Ray itself would end it only after 60 s, with status 1
    finally:
        nodes.stop()
        shutil.rmtree(nodes.temp, ignore_errors=True)  # the node's logs, kept as it ended early: here on purpose
    assert status == LOST_RAY
    said = log.read_text()
    assert f"lost the Ray cluster at {nodes.address}: this node's raylet" in said, said
    assert f"--resume {run.run_id}" in said
    frame = trials(run)  # the trials that had ended, each with its row
    assert len(frame) >= 1 and (frame["status"] == "ok").all()


def test_a_driver_given_an_address_where_no_ray_answers_says_so_at_once(tmp_path: Path, capsys) -> None:
    study = write_study(tmp_path, "nowhere", grid={"arm": ["a2"]})
    assert main([str(study), "--out", str(tmp_path / "results"), "--address", f"127.0.0.1:{free_port()}"]) == LOST_RAY
    assert "no Ray cluster at --address 127.0.0.1:" in capsys.readouterr().err
    assert not (tmp_path / "results").exists()  # nothing started


def _watch(gcs: str, raylet: int | None, grace_s: float) -> tuple[RayWatch, list[str], list[int], threading.Event]:
    said: list[str] = []
    ended: list[int] = []
    done = threading.Event()

    def end(status: int) -> None:
        ended.append(status)
        done.set()

    watch = RayWatch(gcs, raylet, said.append, every_s=0.1, grace_s=grace_s, end_process=end)
    return watch, said, ended, done


def test_the_watch_ends_the_driver_once_the_gcs_has_refused_for_its_grace_and_not_before(tmp_path: Path) -> None:
    gcs = socket.create_server(("127.0.0.1", 0))
    address = f"127.0.0.1:{gcs.getsockname()[1]}"
    watch, said, ended, done = _watch(address, None, grace_s=1.0)
    watch.start()
    assert not done.wait(0.5)  # the GCS answers
    gcs.close()
    assert done.wait(10) and ended == [LOST_RAY]
    assert said == [f"its GCS at {address} does not answer (Connection refused) for 1 s"]


def test_the_watch_ends_the_driver_at_once_when_its_raylet_ends_and_never_after_stop() -> None:
    raylet = subprocess.Popen(["sleep", "600"])
    gcs = socket.create_server(("127.0.0.1", 0))
    address = f"127.0.0.1:{gcs.getsockname()[1]}"
    try:
        watch, said, ended, done = _watch(address, raylet.pid, grace_s=60)
        watch.start()
        assert not done.wait(0.5)
        raylet.kill()
        raylet.wait()
        assert done.wait(10) and ended == [LOST_RAY] and said == [f"this node's raylet (pid {raylet.pid}) has ended"]

        stopped, _, quiet, _ = _watch(address, None, grace_s=0)
        stopped.start()
        stopped.stop()  # the driver shuts Ray down itself
        gcs.close()
        time.sleep(0.5)
        assert quiet == []
    finally:
        gcs.close()
        raylet.kill()
