"""The cluster's tracking server: `dashboards/serve.py tracking-server` runs MLflow on a PostgreSQL
server of its own; a study logged to it round-trips its parent run, nested children and per-epoch
metrics; SIGTERM to the command ends every server it started (MLflow, its workers, PostgreSQL)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from benchmarks.chaos import TrackingServer
from conftest import the_run, trials, write_study
from dashboards.postgres import Postgres
from testing.processes import listening, wait_for


@pytest.fixture
def postgres_server() -> Iterator[TrackingServer]:
    # PostgreSQL runs as the postgres user: its folder must not be under pytest's root-only tmp.
    folder = Path(tempfile.mkdtemp(prefix="adstudy-pg-", dir="/tmp"))
    os.chmod(folder, 0o755)
    server = TrackingServer(folder, postgres=True)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def test_study_round_trips_through_the_postgresql_tracking_server_which_sigterm_ends(
        tmp_path: Path, run_study, postgres_server: TrackingServer) -> None:
    study = write_study(tmp_path, "on_postgres", grid={"arm": ["a2"], "data.fold": [0, 1]})
    assert run_study(study, "--tracking-uri", postgres_server.uri) == 0
    frame = trials(the_run(tmp_path / "results", "on_postgres"))

    from mlflow import MlflowClient

    client = MlflowClient(postgres_server.uri)
    experiment = client.get_experiment_by_name("on_postgres")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    assert sorted(c.data.tags["tune.trial_id"] for c in children) == sorted(frame["trial_id"])
    for child in children:
        assert child.info.status == "FINISHED" and child.data.params["optim.epochs"] == "2"
        assert sorted(m.step for m in client.get_metric_history(child.info.run_id, "val_ap")) == [1, 2]
    assert "table.md" in {a.path for a in client.list_artifacts(parents[0].info.run_id)}
    stored = postgres_server.folder / "mlartifacts" / experiment.experiment_id / parents[0].info.run_id / "artifacts"
    assert (stored / "table.md").is_file()  # the server keeps the artifacts on the results volume

    import psycopg  # the runs are in PostgreSQL, not in a file beside the server

    postgres = Postgres(postgres_server.folder / "postgres", postgres_server.postgres_port)
    with psycopg.connect(postgres.uri.replace("postgresql+psycopg", "postgresql")) as connection:
        assert connection.execute("SELECT count(*) FROM runs").fetchone()[0] == 3

    postgres_server.stop()  # SIGTERM to serve.py
    wait_for(lambda: not listening(postgres_server.port) and not listening(postgres_server.postgres_port), 30,
             "the MLflow server and PostgreSQL to end")
    leftovers = [pid for pid in os.listdir("/proc") if pid.isdigit() and _mentions(pid, str(postgres_server.folder))]
    assert leftovers == []  # no uvicorn worker, no postgres backend left behind


def _mentions(pid: str, text: str) -> bool:
    try:
        return text.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
