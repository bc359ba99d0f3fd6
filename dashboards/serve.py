"""The MLflow UI and the Optuna dashboard on a study, listening on 127.0.0.1 only:

    python dashboards/serve.py mlflow results/ablation_table4             # or a run directory
    python dashboards/serve.py optuna results/adib_search --port 8080     # the newest run's search

mlflow: ``mlflow server`` over the store the run logged to (run.json; by default
sqlite:///<results>/mlflow.db with artifacts in <results>/mlartifacts). It first saves a view of
the run in the experiment (the UI's own shared-view tag) and prints its address: the run's trials
with their grid labels, searched keys and metrics as columns, grouped per arm with means (or, for
a search, ranked by the validation metric), and every trial in the per-epoch charts. A study that
logged to an MLflow server gets the view there and is opened on that server.
optuna: exports the Optuna study of a search run (Tune's checkpoint of its searcher) to
<run dir>/optuna.db and starts ``optuna-dashboard`` on it; run it again to see newer trials.
The command runs until Ctrl-C.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dashboards.run import Run  # noqa: E402

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
    metric = run.study.metric
    metrics = dict.fromkeys([metric, "val_auroc", *run.study.table.metrics])
    state: dict[str, object] = {
        "searchFilter": trials, "runsHiddenMode": "SHOW_ALL",
        "selectedColumns": [*(column(key) for key in [*run.study.grid, *searched]),
                            *(f"metrics.`{m}`" for m in metrics), "tags.`status`"]}
    axis = run.study.rows_axis
    if run.study.search:
        state.update(orderByKey=f"metrics.`{metric}`", orderByAsc=run.study.mode == "min")
    elif axis:
        state.update(orderByKey=column(axis), orderByAsc=True, groupBy={
            "aggregateFunction": "average",
            "groupByKeys": [{"mode": "param" if axis in params else "tag", "groupByData": axis}]})
    client.set_experiment_tag(tracking["experiment_id"], VIEW_TAG + run.run_id, json.dumps(state))
    return run.run_id


def optuna_command(run: Run, port: int) -> list[str]:
    from dashboards.optuna_storage import export

    return [script("optuna-dashboard"), export(run), "--host", HOST, "--port", str(port)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python dashboards/serve.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ui", choices=["mlflow", "optuna"])
    parser.add_argument("path", type=Path, help="results/<study> (its newest run) or results/<study>/<run-id>")
    parser.add_argument("--port", type=int, help="default: 5000 for mlflow, 8080 for optuna")
    args = parser.parse_args(argv)
    try:
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
            command = optuna_command(run, port)
            address = f"http://{HOST}:{port}/dashboard"
    except FileNotFoundError as error:
        print(error, file=sys.stderr)
        return 2
    print(f"{run.name} run {run.run_id}: {address}", flush=True)
    if command is None:
        print("the study logged to this MLflow server; open its UI there", flush=True)
        return 0
    if args.ui == "mlflow":  # MLflow's job runner (GenAI judges, trace rollups) is 7 more processes nobody needs here
        os.environ.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    os.execv(command[0], command)  # the UI takes over this process: Ctrl-C stops it


if __name__ == "__main__":
    sys.exit(main())
