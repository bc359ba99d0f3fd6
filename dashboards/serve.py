"""The MLflow UI and the Optuna dashboard on a study, and the MLflow tracking server of a cluster,
listening on 127.0.0.1 unless told otherwise:

    python dashboards/serve.py mlflow results/ablation_table4             # or a run directory
    python dashboards/serve.py optuna results/adib_search --port 8080     # the newest run's search
    python dashboards/serve.py tracking-server results                    # = make tracking-server
    python dashboards/serve.py tracking-server results --host 0.0.0.0 --backend-store-uri postgresql+psycopg://...

mlflow: ``mlflow server`` over the store the run logged to (run.json; by default
sqlite:///<results>/mlflow.db with artifacts in <results>/mlartifacts). It first saves a view of
the run in the experiment (the UI's own shared-view tag) and prints its address: the run's trials
with their grid labels, searched keys and metrics as columns, grouped per arm with means (or, for
a search, ranked by the validation metric), and every trial in the per-epoch charts. A study that
logged to an MLflow server gets the view there and is opened on that server.
optuna: ``optuna-dashboard`` on a search run's Optuna study, on the storage its driver writes as trials
are proposed, report epochs and end (run.json's ``optuna`` entry: <run dir>/optuna.db, or the database
the run named with --optuna-storage, whose password comes from $OPTUNA_STORAGE): live while the search
runs, and after it.
tracking-server: ``mlflow server`` for studies on a cluster (``--tracking-uri http://HOST:PORT``),
its backend store a PostgreSQL database (by default a server of its own in <results>/postgres,
started with it: ``dashboards/postgres.py``; or ``--backend-store-uri`` of one you run), its
artifacts in <results>/mlartifacts on the shared results volume. It listens on 127.0.0.1 unless
``--host`` says otherwise: the MLflow server has no authentication, so only a private network
should see it.
Every command runs until Ctrl-C or SIGTERM, and then ends every server it started (the MLflow
server's uvicorn workers and PostgreSQL included): each runs in a process group of its own.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from dashboards.run import Run
from studyspec.layout import OPTUNA_DB, optuna_storage

HOST = "127.0.0.1"  # never all interfaces: neither UI has authentication
VIEW_TAG = "mlflow.sharedViewState."  # experiment tags the MLflow UI reads as shared views (?viewStateShareKey=)


def script(name: str) -> str:
    """A console script of this Python environment (mlflow, optuna-dashboard)."""
    return str(Path(sys.executable).with_name(name))


def mlflow_command(run: Run, port: int) -> list[str] | None:
    """``mlflow server`` over the run's local store; None where the run logged to a server."""
    uri = run.meta["tracking"]["uri"]
    if not uri.startswith(("sqlite:", "file:")):
        return None
    artifacts = Path(uri.split(":///", 1)[1]).parent / "mlartifacts"  # where tune/run_study.py puts them
    return [script("mlflow"), "server", "--backend-store-uri", uri, "--artifacts-destination", str(artifacts),
            "--host", HOST, "--port", str(port), "--workers", "1"]


def mlflow_view(run: Run) -> str:
    """Save the run's view for the MLflow UI; return its key (the run id)."""
    from mlflow import MlflowClient

    tracking = run.meta["tracking"]
    client = MlflowClient(tracking["uri"])
    trials = f"tags.`mlflow.parentRunId` = '{tracking['parent_run_id']}'"
    found = client.search_runs([tracking["experiment_id"]], trials, max_results=1)
    params = found[0].data.params if found else {}

    def column(key: str) -> str:  # grid labels are params (runs before 'arm' was one have it as a tag)
        return f"params.`{key}`" if key in params else f"tags.`{key}`"

    searched = run.study.searched
    metric = run.study.selection_metric
    metrics = dict.fromkeys([metric, "val_auroc", *run.study.table.metrics])
    state: dict[str, object] = {
        "searchFilter": trials, "runsHiddenMode": "SHOW_ALL",
        "selectedColumns": [*(column(key) for key in [*run.study.grid, *searched]),
                            *(f"metrics.`{m}`" for m in metrics), "tags.`status`"]}
    axis = run.study.rows_axis
    if run.study.search:
        state.update(orderByKey=f"metrics.`{metric}`", orderByAsc=run.study.selection_mode == "min")
    elif axis:
        state.update(orderByKey=column(axis), orderByAsc=True, groupBy={
            "aggregateFunction": "average",
            "groupByKeys": [{"mode": "param" if axis in params else "tag", "groupByData": axis}]})
    client.set_experiment_tag(tracking["experiment_id"], VIEW_TAG + run.run_id, json.dumps(state))
    return run.run_id


def tracking_server_command(artifacts: Path, host: str, port: int, allowed_hosts: str | None, workers: int) -> list[str]:
    """``mlflow server`` that serves the artifacts itself (clients need no access to the volume); the
    backend store comes from $MLFLOW_BACKEND_STORE_URI, so its password stays out of the process list."""
    return [script("mlflow"), "server", "--artifacts-destination", str(artifacts.resolve()), "--host", host,
            "--port", str(port), "--workers", str(workers), *(["--allowed-hosts", allowed_hosts] if allowed_hosts else [])]


def optuna_study_of(run: Run) -> tuple[str, str]:
    """(storage URL, study name) of a search run's Optuna study, which its driver writes as trials are
    proposed, report epochs and end: optuna-dashboard on it shows the search live."""
    entry = run.meta.get("optuna", {"storage": OPTUNA_DB, "study": f"{run.name}/{run.run_id}"})  # older runs
    if not run.study.search:
        raise FileNotFoundError(f"{run.path}: not a search run: only a search has an Optuna study")
    try:
        url = optuna_storage(run.path, entry)
    except KeyError as error:
        raise FileNotFoundError(str(error.args[0])) from None
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        raise FileNotFoundError(f"{run.path}: no {entry['storage']} yet: the driver creates it when its session starts")
    return url, entry["study"]


class Servers:
    """Child servers, each in a process group of its own, ended together (first started, last ended)."""

    def __init__(self) -> None:
        self.started: list[tuple[subprocess.Popen, signal.Signals]] = []

    def start(self, command: list[str], env: dict[str, str] | None = None, stop: signal.Signals = signal.SIGTERM,
              ) -> subprocess.Popen:
        process = subprocess.Popen(command, env=env, start_new_session=True)
        self.started.append((process, stop))
        return process

    def adopt(self, process: subprocess.Popen, stop: signal.Signals) -> None:
        """A server started elsewhere in its own session (PostgreSQL)."""
        self.started.append((process, stop))

    def stop(self, timeout: float = 15.0) -> None:
        for process, stop in reversed(self.started):
            for sig, wait in ((stop, timeout), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    process.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue

    def wait(self) -> int:
        """Until one server ends or this process is told to stop (SIGINT, SIGTERM); then end them all."""
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            while all(process.poll() is None for process, _ in self.started):
                time.sleep(0.5)
            return next(process.returncode for process, _ in self.started if process.returncode is not None) or 0
        except KeyboardInterrupt:
            return 0
        finally:
            self.stop()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def postgres_port(requested: int | None) -> int:
    """The port of the tracking server's own PostgreSQL: the one asked for, else a free loopback port
    (never a fixed 5432, where Debian's own cluster listens once the package is installed)."""
    if requested is not None:
        return requested
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tracking_server(args: argparse.Namespace, servers: Servers) -> None:
    """PostgreSQL (its own, unless --backend-store-uri) and the MLflow server on it."""
    from dashboards.postgres import USER as postgres_user, Postgres

    env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    store = args.backend_store_uri
    optuna = None
    if store is None:
        postgres = Postgres(args.postgres_data or args.path / "postgres", postgres_port(args.postgres_port))
        if not _free(postgres.port):
            raise RuntimeError(f"port {postgres.port} is taken (another PostgreSQL?); pass another with --postgres-port "
                               "(make tracking-server PG_PORT=...)")
        postgres.start()
        servers.adopt(postgres.process, signal.SIGINT)  # SIGINT: PostgreSQL's fast shutdown
        store = postgres.uri
        optuna = (f"  searches on this host keep their Optuna study in it: export OPTUNA_STORAGE="
                  f"postgresql+psycopg://{postgres_user}:PASSWORD@127.0.0.1:{postgres.port}/optuna with the "
                  f"password in {postgres.password_file}\n")
    env["MLFLOW_BACKEND_STORE_URI"] = store
    artifacts = args.path / "mlartifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    servers.start(tracking_server_command(artifacts, args.host, args.port, args.allowed_hosts, args.workers), env)
    where = "127.0.0.1 only" if args.host == HOST else f"{args.host}: no authentication, keep it on a private network"
    print(f"MLflow tracking server: http://{args.host}:{args.port} ({where}); backend store "
          f"{store.split('@')[-1]}, artifacts in {artifacts.resolve()}\n"
          f"  studies log to it with --tracking-uri http://<this host>:{args.port}; Ctrl-C or SIGTERM ends it\n"
          + (optuna or ""), end="", flush=True)


def main(argv: list[str] | None = None, prog: str = "python dashboards/serve.py") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ui", choices=["mlflow", "optuna", "tracking-server"])
    parser.add_argument("path", type=Path, help="mlflow, optuna: results/<study> (its newest run) or "
                        "results/<study>/<run-id>; tracking-server: the results root (shared by every node)")
    parser.add_argument("--port", type=int, help="default: 5000 for mlflow and tracking-server, 8080 for optuna")
    parser.add_argument("--host", default=HOST, help="tracking-server: the address it listens on (default 127.0.0.1)")
    parser.add_argument("--backend-store-uri", default=os.environ.get("MLFLOW_BACKEND_STORE_URI"),
                        help="tracking-server: a PostgreSQL database you run instead of its own "
                        "(postgresql+psycopg://user:password@host:5432/db; default $MLFLOW_BACKEND_STORE_URI)")
    parser.add_argument("--postgres-data", type=Path, help="tracking-server: its own PostgreSQL's folder "
                        "(default <results>/postgres; a local disk is better than NFS)")
    parser.add_argument("--postgres-port", type=int, help="tracking-server: its own PostgreSQL's port on 127.0.0.1 "
                        "(default: a free one; make tracking-server PG_PORT=...)")
    parser.add_argument("--workers", type=int, default=1, help="tracking-server: MLflow's server processes (1: "
                        "no supervisor; several are restarted by uvicorn when a health check times out under load)")
    parser.add_argument("--allowed-hosts", help="tracking-server: Host headers MLflow accepts besides localhost, "
                        "e.g. 'mlflow:5000,10.0.0.1:5000' (MLflow's DNS-rebinding guard)")
    args = parser.parse_args(argv)
    servers = Servers()
    try:
        if args.ui == "tracking-server":
            args.port = args.port or 5000
            tracking_server(args, servers)
            return servers.wait()
        run = Run.load(args.path)
        if args.ui == "mlflow":
            port = args.port or 5000
            command = mlflow_command(run, port)
            tracking = run.meta["tracking"]
            base = f"http://{HOST}:{port}" if command else tracking["uri"].rstrip("/")
            runs = f"{base}/#/experiments/{tracking['experiment_id']}/runs"
            view = f"{runs}?viewStateShareKey={mlflow_view(run)}"
            address = (f"\n  trials: {view}\n  charts: {view}&compareRunsMode=CHART\n  parent run (table, "
                       f"figures, report.html): {runs}/{tracking['parent_run_id']}")
        else:
            port = args.port or 8080
            storage, name = optuna_study_of(run)
            command = [script("optuna-dashboard"), storage, "--host", HOST, "--port", str(port)]
            address = f"http://{HOST}:{port}/dashboard (study {name}; live while the search runs)"
    except (FileNotFoundError, RuntimeError) as error:
        servers.stop()
        print(error, file=sys.stderr)
        return 2
    print(f"{run.name} run {run.run_id}: {address}", flush=True)
    if command is None:
        print("the study logged to this MLflow server; open its UI there", flush=True)
        return 0
    # MLflow's job runner (GenAI judges, trace rollups) is 7 more processes nobody needs here
    env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false") if args.ui == "mlflow" else None
    servers.start(command, env)
    return servers.wait()


if __name__ == "__main__":
    sys.exit(main())
