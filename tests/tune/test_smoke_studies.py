"""--smoke of every study file in studies/: the whole study runs end to end at the tiniest budget
and leaves its rows, table and figures; MLflow shows the parent run with its nested trials."""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from conftest import metric_history, mlflow_runs, run_driver, the_run, trials
from tune.grid import expand
from tune.study import load_study

STUDIES = sorted(Path("studies").glob("*.yaml"))
LOCAL = "ablation_table4"  # the main study starts its own local Ray, as `make study` does; the others join the cluster
AT_ONCE = 3  # drivers at a time


@pytest.fixture(scope="module")
def smoke(cluster, empty_mlflow_store: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, Path]]:
    """Every study's --smoke run, once per module: study name -> (exit status, results folder). AT_ONCE
    drivers run at a time on the session's cluster, whose two CPUs run two trials at a time whichever
    studies they belong to, so one driver's start-up, table and report overlap other studies' trials."""
    folder = tmp_path_factory.mktemp("smoke")

    def run(study: Path) -> tuple[int, Path]:
        out = folder / study.stem / "results"
        log = folder / f"{study.stem}.log"
        return run_driver(study, ["--smoke"], out, log, cluster, empty_mlflow_store, local=study.stem == LOCAL), out

    order = sorted(STUDIES, key=lambda study: study.stem != LOCAL)  # the local Ray first, while the cluster is idle
    with ThreadPoolExecutor(AT_ONCE) as pool:
        return dict(zip((study.stem for study in order), pool.map(run, order)))


@pytest.mark.parametrize("study", STUDIES, ids=[p.stem for p in STUDIES])
def test_smoke_of_every_study_file(study: Path, smoke) -> None:
    status, out = smoke[study.stem]
    assert status == 0, (out.parent.parent / f"{study.stem}.log").read_text()[-5000:]
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
    assert (run.path / "report.html").stat().st_size > 0  # the driver logs a failed report and goes on
    if spec.table.paper and spec.table.paper.columns:  # the paper's numbers stand beside ours
        assert all(f"paper {column}" in (run.path / "table.md").read_text() for column in spec.table.paper.columns)
    assert yaml.safe_load(run.study_yaml.read_text())["applied"] == ["--smoke"]


def test_mlflow_shows_a_parent_run_with_nested_children_and_per_epoch_metrics(smoke) -> None:
    study = Path(f"studies/{LOCAL}.yaml")
    status, out = smoke[LOCAL]
    assert status == 0
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


def test_a_search_keeps_its_selected_detector_and_registers_it(smoke, tmp_path: Path) -> None:
    """runtime.keep_model best: the trial the validation metric selects keeps its detector in models/, logged
    as a model of its child run and registered as the study's model; `adstudy score` takes the run directory."""
    status, out = smoke["adib_search"]
    assert status == 0
    run = the_run(out, "adib_search")
    frame = trials(run)
    selected = frame.sort_values("val_ap", ascending=False, kind="stable")["trial_id"].iloc[0]
    assert [p.name for p in (run.path / "models").iterdir()] == [selected]
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    (version,) = client.search_model_versions("name = 'adib_search'")
    assert version.tags["trial_id"] == selected and version.tags["metric"] == "val_ap"
    assert float(version.tags["val_ap"]) == frame.set_index("trial_id").loc[selected, "val_ap"]
    assert version.tags["config.regularizer.alpha"] and version.run_id == next(
        c.info.run_id for c in mlflow_runs(out, "adib_search")[1] if c.data.tags["tune.trial_id"] == selected)
    import numpy as np

    from adstudy.cli import main as adstudy

    images = tmp_path / "images.npz"
    np.savez(images, x=np.random.default_rng(0).integers(0, 255, (5, 28, 28), dtype=np.uint8))
    uri = f"sqlite:///{out / 'mlflow.db'}"
    assert adstudy(["score", str(run.path), str(images), "--out", str(tmp_path / "run")]) == 0
    assert adstudy(["score", "models:/adib_search/1", str(images), "--out", str(tmp_path / "registry"),
                    "--tracking-uri", uri]) == 0
    scores = [(tmp_path / where / "scores.csv").read_text() for where in ("run", "registry")]
    assert scores[0] == scores[1] and len(scores[0].splitlines()) == 6
