"""The one place that names metrics and scales them for display.

Rows store AP and AUROC as fractions in [0, 1]; a table with ``percent: true`` shows them times
100. Every other column (losses, epochs, seconds, hyperparameters) is shown as it is.
"""
from __future__ import annotations

import re

NAMES = {"test_ap": "test AP", "test_auroc": "test AUROC", "val_ap": "val AP", "val_auroc": "val AUROC",
         "best_val_ap": "best val AP", "best_val_auroc": "best val AUROC", "train_loss": "train loss"}
_FRACTION = re.compile(r"^(best_)?(val|test)_(ap|auroc)(_.*)?$")  # test_auroc_kmeans, test_auroc_primary, ...


def metric_name(metric: str) -> str:
    """'test_ap' -> 'test AP'; unknown columns keep their own name."""
    return NAMES.get(metric, metric)


def is_fraction(column: str) -> bool:
    """AP and AUROC columns, which a percent table scales by 100."""
    return bool(_FRACTION.match(column))


def scale(percent: bool) -> float:
    return 100.0 if percent else 1.0


def unit(percent: bool) -> str:
    return " (%)" if percent else ""


def metric_label(metric: str, percent: bool) -> str:
    """'test AP (%)': a metric's name with its display unit."""
    return metric_name(metric) + (unit(percent) if is_fraction(metric) else "")
