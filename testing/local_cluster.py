"""A Ray cluster of `ray start` nodes on loopback, with token authentication, each node in a process
session of its own so that it can be killed whole: what the chaos drill and the tests run studies on.

It keeps out of the way of any other Ray on the machine (a study someone runs beside the tests,
another test run): its own temp dir (sessions, sockets, logs), free ports for every service whose
port Ray otherwise fixes (the client server's 10001, the dashboard's 8265, the node agent's 52365,
the autoscaler's metrics 44217), and it only ever kills the processes of its own nodes' sessions,
never by name. ``ray start --block`` ends a whole node when any of its processes dies; each node's
output goes to ``node-<i>.log`` in the temp dir, which ``stop()`` keeps when a node died early.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from testing.processes import command_line, free_port, kill_session, listening, session_pids, wait_for

ROOT = Path(__file__).resolve().parents[1]
TRIAL_ACTOR = "ray::ImplicitFunc"  # how a function trainable's actor process names itself


class LocalCluster:
    """`ray start --block` nodes on 127.0.0.1: ``head()`` first, then ``worker()`` per further node;
    ``stop()`` ends them and everything they started. A driver joins with ``--address`` and the
    cluster's ``env`` (its token auth and temp dir)."""

    def __init__(self) -> None:
        self.temp = Path(tempfile.mkdtemp(prefix="rc", dir="/tmp"))  # short: socket paths stay < 108 bytes
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_TMPDIR": str(self.temp), "PYTHONPATH": str(ROOT),
                    "AUTOSCALER_METRIC_PORT": str(free_port())}
        self.env.pop("RAY_ADDRESS", None)
        self.nodes: list[subprocess.Popen] = []
        self.address = ""

    def _start(self, *args: str) -> None:
        ray = str(Path(sys.executable).with_name("ray"))
        ports = [f"--dashboard-agent-listen-port={free_port()}"]
        log = (self.temp / f"node-{len(self.nodes)}.log").open("w")
        self.nodes.append(subprocess.Popen(
            [ray, "start", *args, *ports, "--node-ip-address=127.0.0.1", "--block", "--disable-usage-stats"],
            env=self.env, cwd=ROOT, start_new_session=True, stdout=log, stderr=subprocess.STDOUT))
        log.close()

    def head(self, num_cpus: float, num_gpus: float = 0) -> str:
        port = free_port()
        self.address = f"127.0.0.1:{port}"
        self._start("--head", f"--port={port}", f"--num-cpus={num_cpus:g}", f"--num-gpus={num_gpus:g}",
                    "--include-dashboard=false", f"--dashboard-port={free_port()}",
                    f"--ray-client-server-port={free_port()}", f"--temp-dir={self.temp}")
        wait_for(lambda: self._running() and listening(port), 180, "the Ray head node")
        return self.address

    def worker(self, num_cpus: float) -> None:
        """One more node, once it has joined."""
        self._start(f"--address={self.address}", f"--num-cpus={num_cpus:g}")
        wait_for(lambda: self._running() and self.alive() == len(self.nodes), 180, "the Ray worker node", every=1)

    def _running(self) -> bool:
        """True while every node's `ray start --block` runs; a node that ended raises with its log."""
        for index, node in enumerate(self.nodes):
            if node.poll() is not None:
                log = self.temp / f"node-{index}.log"
                raise RuntimeError(f"Ray node {index} of the cluster at {self.address} ended (status "
                                   f"{node.returncode}); its log, {log}:\n{log.read_text()[-3000:]}")
        return True

    def check(self) -> None:
        """Raise if a node has ended (a test on a cluster that lost a node would fail for no reason it shows)."""
        self._running()

    def alive(self) -> int:
        """The nodes the cluster counts alive (asked from a process of its own, as a driver would)."""
        probe = (f"import ray; ray.init(address={self.address!r}, logging_level='ERROR'); "
                 "print(sum(n['Alive'] for n in ray.nodes()))")
        done = subprocess.run([sys.executable, "-c", probe], env=self.env, capture_output=True, text=True, timeout=60)
        return int(done.stdout.split()[-1]) if done.returncode == 0 and done.stdout.split() else 0

    def processes(self) -> list[int]:
        """Every process of these nodes: each `ray start --block` leads its own session."""
        return [pid for node in self.nodes for pid in session_pids(node.pid)]

    def trial_workers(self) -> list[int]:
        """The processes of the trial actors running on these nodes."""
        return [pid for pid in self.processes() if command_line(pid).startswith(TRIAL_ACTOR)]

    def stop(self) -> None:
        """End every node; keep the temp dir (the nodes' logs) if one had ended before."""
        ended_early = [node.poll() is not None for node in self.nodes]
        for node in reversed(self.nodes):
            node.terminate()
            try:
                node.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            kill_session(node.pid)
        if any(ended_early):
            print(f"a Ray node of the cluster at {self.address} had ended early; its logs are kept in {self.temp}",
                  file=sys.stderr)
        else:
            shutil.rmtree(self.temp, ignore_errors=True)
