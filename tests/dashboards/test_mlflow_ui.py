"""`dashboards/serve.py mlflow` starts the MLflow UI on 127.0.0.1 over a study's store: its REST API
gives back the parent run and one child run per trial with per-epoch metrics, and the saved view
of the run's trials (columns, grouping per arm) is in the experiment."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pandas as pd

from servers import http, listening_addresses, wait_until_serving
from testing.processes import free_port


def test_mlflow_ui_serves_parent_and_child_runs_on_loopback(smoke_run: Path, serve: Callable) -> None:
    port = free_port()
    server = serve("mlflow", str(smoke_run.parent), "--port", str(port))  # the study directory: its newest run
    api = f"http://127.0.0.1:{port}/api/2.0/mlflow"
    wait_until_serving(server, f"http://127.0.0.1:{port}/health", 120)
    assert listening_addresses(port) == {"127.0.0.1"}
    assert "<html" in http(f"http://127.0.0.1:{port}/").lower()

    meta = json.loads((smoke_run / "run.json").read_text())["tracking"]
    experiment = http(f"{api}/experiments/get-by-name?experiment_name=ablation_table4")["experiment"]
    assert experiment["experiment_id"] == meta["experiment_id"]
    runs = http(f"{api}/runs/search", {"experiment_ids": [meta["experiment_id"]], "max_results": 1000})["runs"]
    tags = [{t["key"]: t["value"] for t in run["data"].get("tags", [])} for run in runs]
    parents = [run for run, tag in zip(runs, tags) if "mlflow.parentRunId" not in tag]
    children = [run for run, tag in zip(runs, tags) if tag.get("mlflow.parentRunId") == meta["parent_run_id"]]
    assert [run["info"]["run_id"] for run in parents] == [meta["parent_run_id"]]
    assert parents[0]["info"]["status"] == "FINISHED"

    trials = pd.read_csv(smoke_run / "trials.csv")
    assert sorted(run["info"]["run_name"] for run in children) == sorted(trials["trial_id"])
    for child in children:
        params = {p["key"]: p["value"] for p in child["data"]["params"]}
        assert params["arm"] in ("a1", "a7") and params["data.fold"] == "0" and params["optim.epochs"] == "2"
        history = http(f"{api}/metrics/get-history?run_id={child['info']['run_id']}&metric_key=val_ap")["metrics"]
        assert sorted(m["step"] for m in history) == [1, 2]

    saved = {tag["key"]: tag["value"] for tag in experiment.get("tags", [])}
    view = json.loads(saved[f"mlflow.sharedViewState.{smoke_run.name}"])  # what serve.py printed the address of
    assert view["groupBy"]["groupByKeys"] == [{"mode": "param", "groupByData": "arm"}]
    assert {"params.`arm`", "metrics.`val_ap`", "metrics.`test_ap`"} <= set(view["selectedColumns"])
