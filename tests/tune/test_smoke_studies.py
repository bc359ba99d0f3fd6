"""--smoke of every study file in studies/: the whole study runs end to end at the tiniest budget
and leaves its rows, table and figures; MLflow shows the parent run with its nested trials."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from conftest import metric_history, mlflow_runs, the_run, trials
from tune.grid import expand
from tune.study import load_study

STUDIES = sorted(Path("studies").glob("*.yaml"))


@pytest.fixture(scope="module")
def smoke_out() -> dict[Path, Path]:
    """Each study's --smoke run happens once per module; tests look at what it left."""
    return {}


def _smoke(study: Path, smoke_out: dict[Path, Path], run_study, tmp_path: Path) -> Path:
    if study not in smoke_out:
        # The main study starts its own local Ray, as `make study` does; the others join the session's.
        assert run_study(study, "--smoke", local=study.name == "ablation_table4.yaml") == 0
        smoke_out[study] = tmp_path / "results"
    return smoke_out[study]


@pytest.mark.parametrize("study", STUDIES, ids=[p.stem for p in STUDIES])
def test_smoke_of_every_study_file(study: Path, smoke_out, run_study, tmp_path: Path) -> None:
    out = _smoke(study, smoke_out, run_study, tmp_path)
    spec = load_study(study, smoke=True)
    run = the_run(out, spec.name)
    frame = trials(run)
    expected = spec.trials if spec.search else len(expand(spec))  # a search's repeats of its best included
    assert len(frame) == expected and frame["trial_id"].is_unique
    assert set(frame["status"]) <= {"ok", "stopped_early"} and (frame["status"] == "ok").any()
    finished = frame[frame["status"] == "ok"]
    assert finished["test_ap"].between(0, 1).all() and finished["epochs_run"].eq(finished["optim.epochs"]).all()
    # best_* follows the study's metric: best_val_ap, or best_val_auroc where the study selects by AUROC
    assert {"data.fold", "method.name", f"best_{spec.selection_metric}", "val_protocol", "node",
            "total_s"} <= set(frame.columns)
    for name in ("table.md", "table.csv", "table.tex"):
        assert (run.path / name).stat().st_size > 0
    assert {p.suffix for p in run.figures.iterdir()} == {".png", ".svg"}
    if spec.table.paper and spec.table.paper.columns:  # the paper's numbers stand beside ours
        assert all(f"paper {column}" in (run.path / "table.md").read_text() for column in spec.table.paper.columns)
    assert yaml.safe_load(run.study_yaml.read_text())["applied"] == ["--smoke"]


def test_mlflow_shows_a_parent_run_with_nested_children_and_per_epoch_metrics(smoke_out, run_study,
                                                                              tmp_path: Path) -> None:
    study = Path("studies/ablation_table4.yaml")
    out = _smoke(study, smoke_out, run_study, tmp_path)
    spec = load_study(study, smoke=True)
    frame = trials(the_run(out, spec.name))
    parents, children = mlflow_runs(out, spec.name)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    parent = parents[0]
    assert len(children) == len(frame)
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert sorted(c.data.tags["tune.trial_id"] for c in children) == sorted(frame["trial_id"])
    epochs = spec.base["optim"]["epochs"]
    for child in children:
        tags, params = child.data.tags, child.data.params
        assert child.info.status == "FINISHED"
        assert tags["study"] == spec.name and tags["arm"] in spec.grid["arm"] and tags["fold"] == "0"
        assert tags["seed"] == "0" and tags["git_commit"]
        assert params["data.fold"] == "0" and params["optim.epochs"] == str(epochs)  # flattened config
        history = metric_history(out, child.info.run_id, "val_ap")
        assert [step for step, _ in history] == list(range(1, epochs + 1)) and all(math.isfinite(v) for _, v in history)
        assert [step for step, _ in metric_history(out, child.info.run_id, "test_ap")] == [epochs]
    from mlflow import MlflowClient

    artifacts = {a.path for a in MlflowClient(f"sqlite:///{out / 'mlflow.db'}").list_artifacts(parent.info.run_id)}
    assert {"table.md", "table.csv", "table.tex", "trials.csv", "figures"} <= artifacts
