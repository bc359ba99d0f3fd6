"""Process helpers for tests and benchmarks: free loopback ports, bounded waits, and the processes of
a process session (what a command started with ``start_new_session=True`` and everything it started)."""
from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path
from typing import Any, Callable


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
