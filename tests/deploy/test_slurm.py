"""docker/slurm/adstudy.sbatch on a real slurmctld and slurmd (tests/deploy/slurm_cluster.py): a
--smoke study goes in through sbatch on two nodes and ends complete with its MLflow parent run; a
study requeued near its time limit and then cancelled and submitted again with --resume loses no row
and re-runs no trial from scratch (the chaos drill's counters); bad input ends the job before Ray.

The two study tests are long for this suite (49 s and 97 s measured on the idle 2-core machine, 54 s
and 165 s at a load of 5-7 from other work: each of their four jobs starts Ray nodes and a driver, and
the resume test runs three sessions of a 4-trial study, the fewest that leave a trial part-way at both
interruptions): they are the only check that the batch script works inside SLURM. Every test on the cluster is marked slow (tests/conftest.py, from the
fixture) and the study tests ray: `make test-fast` needs neither root nor SLURM."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import pytest
import yaml

from adcore.config import deep_merge
from benchmarks.chaos import BUDGET, from_scratch, observe, on_disk, rows_lost
from slurm_cluster import ENDED, ROOT, SCRIPT, SlurmCluster, job_env
from testing.processes import wait_for
from tune.results import RunDir
from tune.trial_store import TRIALS_DIR, TrialStore


def _run_dirs(results: Path, study: str) -> list[RunDir]:
    folder = results / study
    return [RunDir(p) for p in sorted(folder.glob("*")) if (p / "run.json").exists()] if folder.is_dir() else []


def _mlflow(results: Path, study: str) -> tuple[list[Any], list[Any]]:
    """(parent runs, child runs) of the study's experiment in the default store under ``results``."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{results / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(study)
    assert experiment is not None, f"no MLflow experiment {study}"
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    return ([r for r in runs if "mlflow.parentRunId" not in r.data.tags],
            [r for r in runs if "mlflow.parentRunId" in r.data.tags])


@pytest.mark.ray
def test_a_smoke_study_goes_through_sbatch_on_two_nodes(slurm: SlurmCluster, tmp_path: Path) -> None:
    results = tmp_path / "results"
    job = slurm.sbatch("--nodes=2", "--cpus-per-task=1", str(SCRIPT), "studies/alpha_sweep.yaml", "--smoke",
                       env=job_env(slurm, results))
    info = slurm.wait_ended(job, timeout=900)
    output = slurm.output(job)
    assert (info["JobState"], info["ExitCode"]) == ("COMPLETED", "0:0"), output[-4000:]
    assert "2 of 2 Ray nodes up" in output
    (run,) = _run_dirs(results, "alpha_sweep")
    frame = pd.read_csv(run.trials_csv)
    assert len(frame) == 2 and set(frame["status"]) == {"ok"}
    assert frame["ray_node_id"].nunique() == 2  # one trial on the head's node, one on the worker's
    for name in ("run.json", "study.yaml", "table.json", "table.md", "table.csv", "table.tex", "report.html"):
        assert (run.path / name).stat().st_size > 0, name
    assert {p.suffix for p in run.figures.iterdir()} == {".png", ".svg"}
    parents, children = _mlflow(results, "alpha_sweep")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert parents[0].data.tags["results_dir"] == str(run.path)
    assert sorted(c.data.tags["tune.trial_id"] for c in children) == sorted(frame["trial_id"])


def _study(folder: Path) -> Path:
    """Four trials at the chaos drill's budget, two at a time on one 2-CPU node, at 12 epochs rather than
    its 4: the first interruption comes once one trial has its row and another a checkpoint, the second
    at the first epoch the resumed session adds. At 4 epochs (about 0.5 s each here) the resumed session
    could finish the study between the test seeing that epoch and the cancel reaching the job (CI saw it:
    the third session found nothing to do); 12 leave it seconds of work that only the last session does."""
    study = {"name": "slurm_resume", "base": deep_merge(BUDGET, {"optim": {"epochs": 12}}),
             "grid": {"arm": ["a2"], "data.fold": [0, 1, 2, 3], "seed": [0]}}
    path = folder / "slurm_resume.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def _checkpointed(run: RunDir) -> dict[str, int]:
    """Trial id -> its newest checkpoint's epoch, for the trials without a row yet."""
    done = {p.stem for p in run.rows_dir.glob("*.json")} if run.rows_dir.is_dir() else set()
    found = {}
    for folder in (run.path / TRIALS_DIR).glob("*") if (run.path / TRIALS_DIR).is_dir() else []:
        if folder.name not in done and (checkpoints := TrialStore(run.path, folder.name).checkpoints()):
            found[folder.name] = checkpoints[0][0]
    return found


@pytest.mark.ray
def test_a_requeued_then_cancelled_study_resumes_and_loses_nothing(slurm: SlurmCluster, tmp_path: Path) -> None:
    results, study = tmp_path / "results", _study(tmp_path)
    env = job_env(slurm, results)
    job = slurm.sbatch("--nodes=1", "--cpus-per-task=2", str(SCRIPT), str(study), env=env)
    seen: dict[str, str] = {}  # trial id -> started_at of every row seen while the study ran
    expected: list[tuple[float, dict[str, int]]] = []  # newest valid checkpoints at each interruption

    def until(condition: Callable[[], Any], what: str, job: int = job) -> Any:
        def check() -> Any:
            if runs := _run_dirs(results, "slurm_resume"):
                observe(runs[0], seen)
            if slurm.job(job)["JobState"] in ENDED:
                raise AssertionError(f"job {job} ended before {what}:\n{slurm.output(job)[-4000:]}")
            return condition()
        return wait_for(check, 900, what, every=0.3)

    (run,) = until(lambda: _run_dirs(results, "slurm_resume"), "the run directory")
    # 1. The time-limit warning (--signal=B:USR1@300; sent here at once): the job requeues itself, and
    #    when it starts again it resumes its own run directory.
    until(lambda: seen and _checkpointed(run), "a row and a checkpointed unfinished trial")
    slurm.run("scancel", "--batch", "--signal=USR1", str(job))
    wait_for(lambda: slurm.job(job)["JobState"] == "PENDING" and not slurm.job_processes(), 120, "the requeue")
    expected.append(on_disk(run))
    before = _checkpointed(run)
    slurm.run("scontrol", "update", f"JobId={job}", "StartTime=now")  # SLURM holds a requeued job ~2 minutes
    # 2. Cancelled by hand once the resumed session has trained further, then submitted again.
    until(lambda: any(epoch > before.get(trial, 0) for trial, epoch in _checkpointed(run).items()),
          "the resumed session to train further")
    slurm.run("scancel", str(job))
    assert slurm.wait_ended(job, timeout=120)["JobState"] == "CANCELLED"
    expected.append(on_disk(run))
    observe(run, seen)
    assert len(seen) < 4, "the cancel came after the resumed session had finished every trial: nothing left to resume"
    again = slurm.sbatch("--nodes=1", "--cpus-per-task=2", str(SCRIPT), str(study), "--resume", env=env)
    info = slurm.wait_ended(again, timeout=900)
    output = slurm.output(job) + slurm.output(again)
    assert (info["JobState"], info["ExitCode"]) == ("COMPLETED", "0:0"), output[-4000:]
    assert f"job {job} requeued (restart 1): resuming {run.path}" in output

    observe(run, seen)
    assert rows_lost(run, seen) == 0 and from_scratch(run, expected) == [], output[-4000:]
    assert _run_dirs(results, "slurm_resume") == [run]
    frame = pd.read_csv(run.trials_csv)
    assert len(frame) == 4 and frame["trial_id"].is_unique and set(frame["status"]) == {"ok"}
    assert len(json.loads(run.run_json.read_text())["sessions"]) == 3
    attempts = [json.loads(line) for path in (run.path / TRIALS_DIR).glob("*/attempts.jsonl")
                for line in path.read_text().splitlines()]
    assert any(a["resumed_from_epoch"] > 0 for a in attempts)  # the resumes continued from checkpoints
    parents, children = _mlflow(results, "slurm_resume")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert sorted(c.data.tags["tune.trial_id"] for c in children) == sorted(frame["trial_id"])


def test_outside_an_allocation_the_script_stops_with_one_message() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SLURM_")}
    done = subprocess.run(["bash", str(SCRIPT), "studies/alpha_sweep.yaml"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("adstudy.sbatch: not inside a SLURM allocation") and "sbatch" in done.stderr


def test_a_missing_study_or_a_bad_option_ends_the_job_before_ray_starts(slurm: SlurmCluster, tmp_path: Path) -> None:
    env = job_env(slurm, tmp_path / "results")
    missing = slurm.sbatch(str(SCRIPT), "studies/no_such_study.yaml", env=env)
    bad = slurm.sbatch(str(SCRIPT), "studies/alpha_sweep.yaml", "--set", "optim.no_such_key=1", env=env)
    for job, message in ((missing, "adstudy.sbatch: study file studies/no_such_study.yaml not found on"),
                         (bad, "optim.no_such_key")):
        info = slurm.wait_ended(job, timeout=300)
        output = slurm.output(job)
        assert (info["JobState"], info["ExitCode"]) == ("FAILED", "2:0"), output
        assert message in output and "Ray at" not in output
