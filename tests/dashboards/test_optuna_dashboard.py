"""`dashboards/serve.py optuna` on a search run: the Optuna study the driver's searcher keeps on its
storage (<run>/optuna.db by default) is served by optuna-dashboard on 127.0.0.1."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pandas as pd

from servers import ROOT, http, listening_addresses, wait_until_serving
from testing.processes import free_port

REPORTS = {"aaaa0001": [0.50, 0.60], "aaaa0002": [0.70, 0.40]}  # Tune's trial id: val_ap after epoch 1, final


def test_optuna_dashboard_serves_the_search_of_a_run(tmp_path: Path, serve: Callable) -> None:
    made = subprocess.run([sys.executable, "tests/dashboards/search_run.py", str(tmp_path), json.dumps(REPORTS)],
                          cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert made.returncode == 0, made.stderr
    run = Path(made.stdout.strip())
    port = free_port()
    server = serve("optuna", str(run.parent), "--port", str(port))
    wait_until_serving(server, f"http://127.0.0.1:{port}/api/studies", 90)
    assert listening_addresses(port) == {"127.0.0.1"}
    assert (run / "optuna.db").exists()

    studies = http(f"http://127.0.0.1:{port}/api/studies")["study_summaries"]
    assert [study["study_name"] for study in studies] == ["adib_search/20990101-000000"]
    trials = http(f"http://127.0.0.1:{port}/api/studies/{studies[0]['study_id']}")["trials"]
    rows = pd.read_csv(run / "trials.csv").set_index("trial_id")
    assert len(trials) == len(REPORTS)
    for trial in trials:  # numbered in the order the searcher proposed them
        attrs = {attr["key"]: attr["value"] for attr in trial["user_attrs"]}
        first, final = list(REPORTS.values())[trial["number"]]
        assert trial["values"] == [final] and [v["value"] for v in trial["intermediate_values"]] == [first]
        assert attrs["status"] == "ok" and attrs["trial_id"] in rows.index
        params = {p["name"]: float(p["param_external_value"]) for p in trial["params"]}
        assert params == {key: rows.loc[attrs["trial_id"], key] for key in ("regularizer.alpha", "optim.lr")}
