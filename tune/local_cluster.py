"""A Ray cluster of `ray start` nodes on loopback, with token authentication, each node in a process
session of its own so that it can be killed whole: what the chaos drill and the cluster tests run
studies on. Also the process helpers they share: free ports, bounded waits, a session's processes."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
TRIAL_ACTOR = "ray::ImplicitFunc"  # how a function trainable's actor process names itself


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    """``condition()``'s first truthy value, polled every ``every`` seconds for at most ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def session_pids(session: int) -> list[int]:
    """The live processes of a session (a process started with start_new_session leads its own)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # state, ppid, pgrp, session, ...
        if int(fields[3]) == session and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


def kill_session(session: int, timeout: float = 10.0) -> None:
    """SIGKILL every process of a session we started (a driver and the local Ray it started, or a
    node), until none is left."""
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


class LocalCluster:
    """`ray start --block` nodes on 127.0.0.1: ``head()`` first, then ``worker()`` per further node;
    ``stop()`` ends them and everything they started. A driver joins with ``--address`` and the
    cluster's ``env`` (its token auth and temp dir)."""

    def __init__(self) -> None:
        self.temp = Path(tempfile.mkdtemp(prefix="rc", dir="/tmp"))  # short: socket paths stay < 108 bytes
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_TMPDIR": str(self.temp), "PYTHONPATH": str(ROOT)}
        self.nodes: list[subprocess.Popen] = []
        self.address = ""

    def _start(self, *args: str) -> None:
        ray = str(Path(sys.executable).with_name("ray"))
        self.nodes.append(subprocess.Popen(
            [ray, "start", *args, "--node-ip-address=127.0.0.1", "--block", "--disable-usage-stats"], env=self.env,
            cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def head(self, num_cpus: int, num_gpus: int = 0) -> str:
        port = free_port()
        self.address = f"127.0.0.1:{port}"
        self._start("--head", f"--port={port}", f"--num-cpus={num_cpus}", f"--num-gpus={num_gpus}",
                    "--include-dashboard=false", f"--temp-dir={self.temp}")
        wait_for(lambda: listening(port), 180, "the Ray head node")
        return self.address

    def worker(self, num_cpus: int) -> None:
        """One more node, once it has joined."""
        self._start(f"--address={self.address}", f"--num-cpus={num_cpus}")
        wait_for(lambda: self.alive() == len(self.nodes), 180, "the Ray worker node", every=1)

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
        for node in reversed(self.nodes):
            node.terminate()
            try:
                node.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            kill_session(node.pid)
        shutil.rmtree(self.temp, ignore_errors=True)
