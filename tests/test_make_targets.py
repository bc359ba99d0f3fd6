"""What the Makefile does for a new user, read with `make -n` (nothing runs): a study installs only what
a study needs, STUDY means the same for every target, and the tracking server's PostgreSQL port can be
chosen (and is not Debian's 5432 by default)."""
from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from dashboards.serve import postgres_port

ROOT = Path(__file__).resolve().parents[1]
FRESH = ["STAMP=/nonexistent/stamp", "FASHION_MNIST=/nonexistent/fashion", "CHROMIUM=/nonexistent/chromium",
         "POSTGRES=/nonexistent/initdb"]  # a fresh machine: nothing installed yet


def planned(*args: str) -> str:
    return subprocess.run(["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def test_a_study_installs_what_a_study_needs_and_the_tests_add_the_rest() -> None:
    study, tests = planned("study", *FRESH), planned("test", *FRESH)
    assert "dataset-fashion-mnist" in study and "chromium" not in study and "postgresql" not in study
    assert "chromium" in tests and "postgresql" in tests


@pytest.mark.parametrize("study", ["masking", "studies/masking.yaml"])
def test_study_is_a_name_or_a_path_for_every_target(study: str) -> None:
    assert "adstudy run studies/masking.yaml" in planned("study", f"STUDY={study}", *FRESH)
    assert "adstudy serve mlflow results/masking" in planned("mlflow-ui", f"STUDY={study}", *FRESH)
    assert "adstudy serve optuna results/masking" in planned("optuna-dashboard", f"STUDY={study}", *FRESH)


def test_the_tracking_servers_postgres_port_is_free_by_default_and_can_be_chosen() -> None:
    assert "--postgres-port 5544" in planned("tracking-server", "PG_PORT=5544", *FRESH)
    assert "--postgres-port" not in planned("tracking-server", *FRESH)
    port = postgres_port(None)
    assert port != 5432 and postgres_port(5544) == 5544
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # free to take
