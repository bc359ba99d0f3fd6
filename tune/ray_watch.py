"""The driver's watch on its Ray: a driver that loses its Ray cluster says so and ends with exit
status LOST_RAY (3) instead of disappearing.

Ray's core worker ends a driver whose GCS stops answering after 60 s with ``_exit(1)``: no Python
``finally`` runs, and its one line goes to the driver's stderr (inside pytest, which captures it,
nowhere anyone sees). A driver whose node's raylet died while its GCS lives on waits inside Tune's
calls. Neither says what happened or what to do, and the main thread, blocked inside Ray, cannot be
asked to unwind. So a daemon thread checks every ``every_s`` seconds that the GCS accepts a connection and
that this node's raylet process is alive; once the GCS has refused for ``grace_s`` (well under
Ray's 60 s: a GCS that comes back within it is not a loss) or the raylet has ended, it calls
``on_lost`` with what it saw (the driver then saves what the run has and prints how to resume)
and ends the process with LOST_RAY.
"""
from __future__ import annotations

import logging
import os
import select
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)

LOST_RAY = 3  # the exit status of a driver that lost its Ray cluster (tune/run_study.py documents it)


def unreachable(address: str) -> str | None:
    """Why nothing answers at a GCS ``address`` (host:port), or None; other forms (``auto``, ``ray://``)
    are left to Ray."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "/" in host:
        return None
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            return None
    except OSError as error:
        return f"{host}:{port} does not answer ({error.strerror or error})"


def raylet_pid(socket_name: str) -> int | None:
    """The process of the raylet that serves ``socket_name`` on this machine (found by its command line)."""
    wanted = f"--raylet_socket_name={socket_name}".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if wanted in (entry / "cmdline").read_bytes().split(b"\0"):
                    return int(entry.name)
            except OSError:
                continue
    return None


class RayWatch:
    """Watches the GCS at ``gcs_address`` (host:port) and the raylet process ``raylet`` (a pid; None:
    only the GCS) from a daemon thread; ``stop()`` before the driver shuts Ray down itself."""

    def __init__(self, gcs_address: str, raylet: int | None, on_lost: Callable[[str], None], every_s: float = 2.0,
                 grace_s: float = 20.0, end_process: Callable[[int], None] = os._exit) -> None:
        self.gcs_address, self.raylet = gcs_address, raylet
        self.on_lost, self.every_s, self.grace_s, self.end_process = on_lost, every_s, grace_s, end_process
        self._pidfd = _pidfd(raylet) if raylet is not None else None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="ray-watch", daemon=True)

    @classmethod
    def of_this_driver(cls, on_lost: Callable[[str], None], **kwargs: Any) -> "RayWatch":
        """The watch on the Ray this process has joined or started (after ``ray.init``)."""
        import ray

        node = ray._private.worker.global_worker.node  # the driver's node: its GCS and raylet socket
        return cls(node.gcs_address, raylet_pid(node.raylet_socket_name), on_lost, **kwargs)

    def start(self) -> "RayWatch":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=self.every_s + 10)
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

    def raylet_ended(self) -> bool:
        if self.raylet is None:
            return False
        if self._pidfd is not None:  # readable once the process has ended, whatever reuses its pid
            return bool(select.select([self._pidfd], [], [], 0)[0])
        return not Path(f"/proc/{self.raylet}").exists()

    def _watch(self) -> None:
        refused_since: float | None = None
        while not self._stopped.wait(self.every_s):
            if self.raylet_ended():
                return self._end(f"this node's raylet (pid {self.raylet}) has ended")
            problem = unreachable(self.gcs_address)
            if problem is None:
                refused_since = None
                continue
            refused_since = refused_since or time.monotonic()
            if time.monotonic() - refused_since >= self.grace_s:
                return self._end(f"its GCS at {problem} for {time.monotonic() - refused_since:.0f} s")

    def _end(self, what: str) -> None:
        if self._stopped.is_set():  # the driver is shutting Ray down itself
            return
        try:
            self.on_lost(what)
        except BaseException:  # noqa: BLE001 - the exit below must happen whatever saving the run does
            log.exception("saving the run after losing Ray failed")
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            self.end_process(LOST_RAY)  # the main thread is blocked inside Ray: only ending the process ends it


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # no pidfd on this kernel or platform, or the process is gone
        return None
