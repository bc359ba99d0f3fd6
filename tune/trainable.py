"""One Tune trial = one ``adcore.run_trial`` call, reported to Tune and MLflow once per epoch.

A trial is known by its own stable id (``trial_id``: a grid point's key, or the id the searcher
gave it), not by Tune's, which is new in every driver session. run_trial writes its checkpoint
before each report; the trainable copies it into the run directory (``trials/<trial_id>/``, the
newest two kept), and every start of the trial (the first, a retry after its worker died, a
``--resume``) continues from the newest readable one. When run_trial returns its row (``ok``, or
``failed`` with the message of an error a retry cannot fix), the worker adds where and when it ran
and writes the row to the run directory itself (``rows/<trial_id>.json``); Tune receives metrics
only, the last epoch's held back until the row is written; each epoch's report is also appended to
the run directory (``epochs/<trial_id>.jsonl``, the learning curves). MLflow gets everything through the
trial's journal (``tune/tracking.py``), so a tracking outage costs no trial. The study goes on
whatever one trial does.
"""
from __future__ import annotations

import hashlib
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
from adcore.row import Status
from adcore.train import CHECKPOINT_FILE, load_checkpoint
from tune.grid import trial_config, trial_id, trial_point, trial_row
from tune.models import model_dir
from tune.results import RunDir
from tune.tracking import TRIAL_TAG, Tracking, http_defaults
from tune.trial_store import TrialStore


def work_root(run_path: str) -> Path:
    """Where a study run's trials keep their working checkpoint on a node (the copy that counts is
    in the run directory); the driver removes it when the study has finished. Named by the run's
    whole path: run ids are start times, which two studies started in the same second share."""
    digest = hashlib.sha1(run_path.encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / "adstudy-trials" / f"{Path(run_path).name}-{digest}"


@dataclass(frozen=True)
class TrialContext:
    """What every trial of a study run shares (passed with tune.with_parameters)."""

    study: str
    run_path: str  # the run directory, where the trial writes its row, checkpoints and journal
    git_commit: str
    tracking: Tracking

    @property
    def run_id(self) -> str:
        return Path(self.run_path).name


def train(config: dict[str, Any], context: TrialContext) -> None:
    """The Tune function trainable."""
    started = time.time()
    http_defaults()
    run = RunDir(Path(context.run_path))
    point, key = trial_point(run, config), trial_id(config)
    cfg = TrialConfig.model_validate(trial_config(point, config))
    metric = cfg.selection_metric
    store = TrialStore(Path(context.run_path), key)
    store.record(point["key"], config.get("search", {}))
    params = {**flatten(cfg.model_dump(mode="json")), **point["labels"]}  # + `arm`: MLflow's compare view plots params
    journal = context.tracking.journal(key)
    journal.start(key, params, _tags(context, point["labels"], cfg, key))
    journal.set_status("RUNNING")
    journal.send()
    workdir = work_root(context.run_path) / key
    shutil.rmtree(workdir, ignore_errors=True)  # left by an attempt whose worker was killed
    workdir.mkdir(parents=True)
    restored = store.restore(workdir / CHECKPOINT_FILE, lambda path: load_checkpoint(path.parent))
    store.log_attempt({"at": started, "resumed_from_epoch": restored.epoch, "unreadable": restored.unreadable,
                       "tune_trial_id": tune.get_context().get_trial_id(),
                       "ray_node_id": ray.get_runtime_context().get_node_id(), "worker_pid": os.getpid(),
                       "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES", "")})
    held: dict[str, Any] = {}
    best = -math.inf

    def report(metrics: dict[str, Any]) -> None:
        nonlocal best
        best = max(best, metrics.get(metric, -math.inf))
        if metrics["epoch"] < cfg.optim.epochs:
            store.save(workdir / CHECKPOINT_FILE, metrics["epoch"])
        run.append_epoch(key, metrics)
        journal.log_metrics(metrics, step=metrics["epoch"])
        journal.send()
        if metrics["epoch"] == cfg.optim.epochs:
            held.update(metrics)  # reported once the row is written
            return
        tune.report({**metrics, f"best_{metric}": best})

    status = "KILLED"  # if a scheduler stops the trial, report() exits the thread with SystemExit
    try:
        row = trial_row(run, config, run_trial(cfg, report=report, checkpoint_dir=workdir,
                                               model_dir=model_dir(context.run_path, key)), context.git_commit)
        if row["status"] != Status.OK:
            journal.set_tags({"error": row["message"][:5000]})
            held = {key: math.nan for key in ("val_ap", "val_auroc")}  # what searchers read as a failed trial
        journal.log_metrics({k: row[k] for k in _SUMMARY if k in row}, step=cfg.optim.epochs)
        journal.set_tags({"status": row["status"]})
        run.write_row(row)
        store.prune()  # the row is final: no start of this trial will need a checkpoint
        status = "FINISHED" if row["status"] == Status.OK else "FAILED"
        tune.report({**held, "status": row["status"].value, "wall_s": row["wall_s"]})
    except Exception:
        status = "FAILED"
        raise
    finally:
        journal.set_status(status)
        journal.send()
        shutil.rmtree(workdir, ignore_errors=True)


_SUMMARY = ("best_val_ap", "best_val_auroc", "best_val_epoch", "epochs_run", "setup_s", "train_s", "total_s", "wall_s")


def _tags(context: TrialContext, labels: dict[str, Any], cfg: TrialConfig, key: str) -> dict[str, str]:
    return {"study": context.study, "study_run": context.run_id, "git_commit": context.git_commit,
            "arm": str(labels.get("arm", "")), "fold": str(cfg.data.fold), "seed": str(cfg.seed), TRIAL_TAG: key}
