"""One Tune trial = one ``adcore.run_trial`` call, reported to Tune and MLflow once per epoch.

run_trial writes its checkpoint before each report, so every epoch's report carries that
directory as a Tune checkpoint: a trial whose worker dies is retried from its last epoch. When
run_trial returns its row (``ok``, or ``failed`` with the message of an error a retry cannot fix),
the worker adds where and when it ran and writes the row to the run directory itself
(``rows/<trial_id>.json``); Tune receives metrics only, the last epoch's held back until the row
is written. The study goes on whatever one trial does.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
from ray import tune

from adcore import run_trial
from adcore.config import TrialConfig, flatten
from tune.grid import with_searched
from tune.results import RunDir
from tune.tracking import TrackingInfo, TrialRun

PROGRESS_FILE = "tune_progress.json"  # beside adcore's checkpoint: the epoch it holds


def work_root(run_id: str) -> Path:
    """Where a study run's trials keep their working checkpoint on a node (Tune keeps the copy
    that counts); the driver removes it when the study has finished."""
    return Path(tempfile.gettempdir()) / "adstudy-trials" / run_id


@dataclass(frozen=True)
class TrialContext:
    """What every trial of a study run shares (passed with tune.with_parameters)."""

    study: str
    run_path: str  # the run directory, where the trial writes its row
    git_commit: str
    tracking: TrackingInfo

    @property
    def run_id(self) -> str:
        return Path(self.run_path).name


def trial_config(config: dict[str, Any]) -> dict[str, Any]:
    """The trial config of a Tune trial: its grid point plus what the searcher proposed."""
    return with_searched(config["point"]["config"], config.get("search", {}))


def train(config: dict[str, Any], context: TrialContext) -> None:
    """The Tune function trainable."""
    started = time.time()
    cfg = TrialConfig.model_validate(trial_config(config))
    point, tctx = config["point"], tune.get_context()
    trial_id, metric = tctx.get_trial_id(), cfg.selection_metric
    extras: dict[str, Any] = {
        "trial": tctx.get_trial_name(), "trial_id": trial_id, **point["labels"], **point["columns"],
        "git_commit": context.git_commit, "ray_node_id": ray.get_runtime_context().get_node_id(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES", ""), "worker_pid": os.getpid(),
        "started_at": started,
    }
    params = {**flatten(cfg.model_dump(mode="json")), **point["labels"]}  # + `arm`: MLflow's compare view plots params
    mlflow_run = TrialRun.open(context.tracking, trial_id, tctx.get_trial_name(), params,
                               _tags(context, point["labels"], cfg, trial_id))
    extras["mlflow_run_id"] = mlflow_run.run_id
    workdir = work_root(context.run_id) / trial_id
    shutil.rmtree(workdir, ignore_errors=True)  # left by an attempt whose worker was killed
    workdir.mkdir(parents=True)
    extras["resumed_from_epoch"] = _restore(workdir)
    held: dict[str, Any] = {}
    best = -math.inf

    def report(metrics: dict[str, Any]) -> None:
        nonlocal best
        mlflow_run.log_metrics(metrics, step=metrics["epoch"])
        best = max(best, metrics.get(metric, -math.inf))
        if metrics["epoch"] == cfg.optim.epochs:
            held.update(metrics)  # reported once the row is written
            return
        (workdir / PROGRESS_FILE).write_text(json.dumps({"epoch": metrics["epoch"]}))
        tune.report({**metrics, f"best_{metric}": best}, checkpoint=tune.Checkpoint.from_directory(str(workdir)))

    status = "KILLED"  # if a scheduler stops the trial, report() exits the thread with SystemExit
    try:
        row = {**extras, **run_trial(cfg, report=report, checkpoint_dir=workdir)}
        if row["status"] != "ok":
            mlflow_run.set_tags({"error": row["message"][:5000]})
            held = {key: math.nan for key in ("val_ap", "val_auroc")}  # what searchers read as a failed trial
        row.update(ended_at=time.time(), wall_s=time.time() - started)
        mlflow_run.log_metrics({k: row[k] for k in _SUMMARY if k in row}, step=cfg.optim.epochs)
        mlflow_run.set_tags({"status": row["status"]})
        RunDir(Path(context.run_path)).write_row(row)
        status = "FINISHED" if row["status"] == "ok" else "FAILED"
        tune.report({**held, "status": row["status"], "wall_s": row["wall_s"]})
    except Exception:
        status = "FAILED"
        raise
    finally:
        mlflow_run.finish(status)
        shutil.rmtree(workdir, ignore_errors=True)


_SUMMARY = ("best_val_ap", "best_val_auroc", "best_val_epoch", "epochs_run", "setup_s", "train_s", "total_s", "wall_s")


def _restore(workdir: Path) -> int:
    """Copy Tune's last checkpoint of this trial (if any) into workdir; return its epoch."""
    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        return 0
    checkpoint.to_directory(str(workdir))
    progress = workdir / PROGRESS_FILE
    return json.loads(progress.read_text())["epoch"] if progress.exists() else 0


def _tags(context: TrialContext, labels: dict[str, Any], cfg: TrialConfig, trial_id: str) -> dict[str, str]:
    return {"study": context.study, "study_run": context.run_id, "git_commit": context.git_commit,
            "arm": str(labels.get("arm", "")), "fold": str(cfg.data.fold), "seed": str(cfg.seed),
            "tune.trial_id": trial_id}
