"""One Tune trial = one ``adcore.run_trial`` call, reported to Tune and MLflow once per epoch.

run_trial writes its checkpoint before each report, so every epoch's report carries that
directory as a Tune checkpoint: a trial whose worker dies is retried from its last epoch. The
last epoch's report is held back until run_trial returns its row, so the final Tune result
carries the whole row (config, metrics, timings) and the driver writes trials.csv from Tune's
results alone. Errors that a retry cannot fix (missing data, a bad config, a NaN loss) end the
trial as a row with status "failed" and its message; the study goes on.
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
from tune.tracking import TrackingInfo, TrialRun

PROGRESS_FILE = "tune_progress.json"  # beside adcore's checkpoint: the epoch it holds
_NOT_RETRYABLE = (FileNotFoundError, ValueError, FloatingPointError)  # adcore's documented errors


def work_root(run_id: str) -> Path:
    """Where a study run's trials keep their working checkpoint on a node (Tune keeps the copy
    that counts); the driver removes it when the study has finished."""
    return Path(tempfile.gettempdir()) / "adstudy-trials" / run_id


@dataclass(frozen=True)
class TrialContext:
    """What every trial of a study run shares (passed with tune.with_parameters)."""

    study: str
    run_id: str
    git_commit: str
    tracking: TrackingInfo


def trial_config(config: dict[str, Any]) -> dict[str, Any]:
    """The trial config of a Tune trial: its grid point plus what the searcher proposed."""
    return with_searched(config["point"]["config"], config.get("search", {}))


def train(config: dict[str, Any], context: TrialContext) -> None:
    """The Tune function trainable."""
    started = time.time()
    cfg = TrialConfig.model_validate(trial_config(config))
    point, tctx = config["point"], tune.get_context()
    trial_id = tctx.get_trial_id()
    extras: dict[str, Any] = {
        "trial": tctx.get_trial_name(), "trial_id": trial_id, **point["labels"],
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
    best_val = -math.inf

    def report(metrics: dict[str, Any]) -> None:
        nonlocal best_val
        mlflow_run.log_metrics(metrics, step=metrics["epoch"])
        best_val = max(best_val, metrics.get("val_ap", -math.inf))
        if metrics["epoch"] == cfg.optim.epochs:
            held.update(metrics)  # reported with the row once run_trial returns
            return
        (workdir / PROGRESS_FILE).write_text(json.dumps({"epoch": metrics["epoch"]}))
        tune.report({**metrics, "best_val_ap": best_val}, checkpoint=tune.Checkpoint.from_directory(str(workdir)))

    status = "KILLED"  # if a scheduler stops the trial, report() exits the thread with SystemExit
    try:
        try:
            row = run_trial(cfg, report=report, checkpoint_dir=workdir)
        except _NOT_RETRYABLE as error:
            message = f"{type(error).__name__}: {error}"
            row = {"status": "failed", "message": message, **flatten(cfg.model_dump(mode="json"))}
            mlflow_run.set_tags({"error": message[:5000]})
            held = {key: math.nan for key in ("val_ap", "val_auroc")}  # what searchers read as a failed trial
        row.update(extras, ended_at=time.time(), wall_s=time.time() - started)
        mlflow_run.log_metrics({k: row[k] for k in _SUMMARY if k in row}, step=cfg.optim.epochs)
        mlflow_run.set_tags({"status": row["status"]})
        status = "FINISHED" if row["status"] == "ok" else "FAILED"
        tune.report({**held, "status": row["status"], "wall_s": row["wall_s"], "row": json.dumps(row, default=str)})
    except Exception:
        status = "FAILED"
        raise
    finally:
        mlflow_run.finish(status)
        shutil.rmtree(workdir, ignore_errors=True)


_SUMMARY = ("best_val_ap", "best_val_epoch", "epochs_run", "setup_s", "train_s", "total_s", "wall_s")


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
