"""Helpers for the dashboard tests' servers: HTTP on loopback, waiting until a server answers, and
which address a port listens on (free ports, bounded waits and process sessions: testing/processes.py)."""
from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path
from typing import Any

from testing.processes import wait_for

ROOT = Path(__file__).resolve().parents[2]


def http(url: str, body: dict[str, Any] | None = None) -> Any:
    """GET (or POST ``body`` as JSON) on loopback; JSON answers are decoded, errors are None."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode()
    except OSError:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def wait_until_serving(process: Any, url: str, timeout: float) -> None:
    """Until ``url`` answers; a server that exits first fails the test with its log."""
    def up() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the server exited ({process.returncode}):\n{Path(process.log).read_text()[-3000:]}")
        return http(url) is not None

    wait_for(up, timeout, url)


def listening_addresses(port: int) -> set[str]:
    """The IPv4 addresses a TCP port listens on (from /proc/net/tcp), e.g. {'127.0.0.1'}."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


