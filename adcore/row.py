"""The results row of one trial: tidy and flat, with the same fixed keys whatever the trial's fate.

A row holds the flattened config (``data.fold``, ``method.name``, ...), the final metrics (fractions
in [0, 1]; ``None`` where the trial never computed them), the best validation epoch by the
config's ``selection_metric``, timings and the protocol facts a table needs (which checkpoint,
which AP, which validation protocol). ``status`` is ``ok`` or ``failed`` from adcore; tune/ adds
``stopped_early``, ``error`` and ``unfinished`` rows with the same keys for trials that never
returned one. Test metrics are recorded, never used to choose: selection uses validation metrics.
"""
from __future__ import annotations

from typing import Any

from adcore.config import TrialConfig, flatten
from adcore.metrics import AP_DEFINITION

METRICS = ("val_ap", "val_auroc", "test_ap", "test_auroc", "train_loss")
CHECKPOINT = "last epoch"  # which model state the test metrics are of
FACTS = ("epochs_run", "best_val_epoch", "weight_shift", "weight_shift_rel", "checkpoint", "ap_definition",
         "val_protocol", "n_train_normal", "n_oe", "n_test", "n_test_anomalies", "test_split", "n_skipped_images",
         "device", "torch_version", "node", "setup_s", "train_s", "total_s")


def best_key(selection_metric: str) -> str:
    """``best_val_ap`` or ``best_val_auroc``: the best epoch's value of the selection metric."""
    return f"best_{selection_metric}"


def empty_row(config: TrialConfig | dict[str, Any], status: str, message: str = "") -> dict[str, Any]:
    """A row with every fixed key of this (valid) config: status, message, the flattened config, then
    the metrics (the common ones, its benchmark's and its method's own, and the layer probe's) and facts
    as None until the trial fills them."""
    from adcore.data.protocols import BENCHMARKS
    from adcore.methods import METHODS

    config = config.model_dump(mode="json") if isinstance(config, TrialConfig) else config
    metrics = [*METRICS, *BENCHMARKS.get(config["data"]["benchmark"]).metric_names,
               *METHODS.get(config["method"]["name"]).metric_names]
    for layer in (config.get("probe") or {}).get("layers", {}):
        metrics += [f"test_auroc_{layer}", f"test_auroc_gain_{layer}"]
    row: dict[str, Any] = {"status": status, "message": message, **flatten(config)}
    row.update(dict.fromkeys([*metrics, best_key(config["selection_metric"]), *FACTS]))
    row.update(checkpoint=CHECKPOINT, ap_definition=AP_DEFINITION, val_protocol=config["data"]["val_protocol"])
    return row
