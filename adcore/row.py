"""The results row of one trial: tidy and flat, with the same fixed keys whatever the trial's fate.

A row holds, in this order: its identity (``trial_id``, ``status``, ``message``; the runner adds the
grid point's labels), the flattened config (``data.fold``, ``method.name``, ...), the final metrics
(fractions in [0, 1]; ``None`` where the trial never computed them), the best validation epoch by the
config's ``selection_metric``, the facts a table needs (which checkpoint, which AP, which validation
protocol, image counts, timings), and the provenance the runner adds (``PROVENANCE``: which commit
ran it, when, how many starts, on what). ``run_trial`` returns ``ok`` or ``failed``; a runner writes
rows with the same keys for trials that never returned one (``Status``). Every epoch a trial reports
``EPOCH_METRICS`` (besides ``epoch``), which learning curves draw. Test metrics are recorded, never
used to choose: selection uses validation metrics.

Imports nothing heavy at module level: readers of results (dashboards/) use the names here.
"""
from __future__ import annotations

from enum import StrEnum
from typing import Any

from adcore.config import TrialConfig, flatten


class Status(StrEnum):
    """How a trial ended (a ``str``: rows, CSV cells and JSON hold the plain value)."""

    OK = "ok"  # finished: its metrics are final
    FAILED = "failed"  # an error a retry cannot fix (missing data, an invalid setting, a NaN loss): see message
    ERROR = "error"  # its worker errored or died after every retry; a resume runs it again
    STOPPED_EARLY = "stopped_early"  # a scheduler stopped it: its metrics are its last epoch's
    UNFINISHED = "unfinished"  # the study was interrupted while it ran (or before it started)

    @property
    def done(self) -> bool:
        """A resumed study does not run the trial again."""
        return self in (Status.OK, Status.FAILED, Status.STOPPED_EARLY)

    @property
    def trouble(self) -> bool:
        """Something went wrong that the report flags."""
        return self in (Status.FAILED, Status.ERROR, Status.UNFINISHED)


IDENTITY = ("trial_id", "status", "message")  # the first columns of every row
EPOCH_METRICS = ("val_ap", "val_auroc", "train_loss")  # what a trial reports once per epoch, with "epoch"
METRICS = ("val_ap", "val_auroc", "test_ap", "test_auroc", "train_loss")
CHECKPOINT = "last epoch"  # which model state the test metrics are of
FACTS = ("epochs_run", "best_val_epoch", "weight_shift", "weight_shift_rel", "checkpoint", "ap_definition",
         "val_protocol", "n_train_normal", "n_oe", "n_test", "n_test_anomalies", "test_split", "n_skipped_images",
         "device", "torch_version", "node", "setup_s", "train_s", "total_s")
# Added by the runner that ran the trial; None where it has no such fact.
PROVENANCE = ("git_commit", "started_at", "ended_at", "wall_s", "attempts", "resumed_from_epoch",
              "unreadable_checkpoints", "worker_pid", "cuda_visible_devices")


def best_key(selection_metric: str) -> str:
    """``best_val_ap`` or ``best_val_auroc``: the best epoch's value of the selection metric."""
    return f"best_{selection_metric}"


def empty_row(config: TrialConfig | dict[str, Any], status: Status, message: str = "") -> dict[str, Any]:
    """A row with every fixed key of this (valid) config: status, message, the flattened config, then
    the metrics (the common ones, its benchmark's and its method's own, and the layer probe's) and facts
    as None until the trial fills them."""
    from adcore.data.protocols import BENCHMARKS
    from adcore.methods import METHODS
    from adcore.metrics import AP_DEFINITION

    config = config.model_dump(mode="json") if isinstance(config, TrialConfig) else config
    metrics = [*METRICS, *BENCHMARKS.get(config["data"]["benchmark"]).metric_names,
               *METHODS.get(config["method"]["name"]).metric_names]
    for layer in (config.get("probe") or {}).get("layers", {}):
        metrics += [f"test_auroc_{layer}", f"test_auroc_gain_{layer}"]
    row: dict[str, Any] = {"status": Status(status), "message": message, **flatten(config)}
    row.update(dict.fromkeys([*metrics, best_key(config["selection_metric"]), *FACTS]))
    row.update(checkpoint=CHECKPOINT, ap_definition=AP_DEFINITION, val_protocol=config["data"]["val_protocol"])
    return row


def unended_row(config: TrialConfig | dict[str, Any], last: dict[str, Any], status: Status,
                message: str = "") -> dict[str, Any]:
    """The row of a trial that returned none (stopped, errored, interrupted): its config's fixed keys
    and the last epoch it reported (``EPOCH_METRICS``, and ``epoch`` as ``epochs_run``)."""
    row = empty_row(config, status, message)
    row.update({key: last[key] for key in EPOCH_METRICS if key in last})
    row["epochs_run"] = last.get("epoch", 0)
    return row
