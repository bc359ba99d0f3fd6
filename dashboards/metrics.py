"""The one place that names metrics and scales them for display.

Rows store AP, AUROC and accuracy as fractions in [0, 1]; a table with ``percent: true`` shows them
times 100. Every other column (DCI scores, losses, epochs, seconds, hyperparameters) is shown as it is.
"""
from __future__ import annotations

import re

NAMES = {"test_ap": "test AP", "test_auroc": "test AUROC", "val_ap": "val AP", "val_auroc": "val AUROC",
         "best_val_ap": "best val AP", "best_val_auroc": "best val AUROC", "train_loss": "train loss",
         "test_accuracy": "test accuracy", "test_dci_disentanglement": "DCI disentanglement",
         "test_dci_completeness": "DCI completeness", "test_dci_informativeness": "DCI informativeness",
         "train_s": "train time (s)", "total_s": "trial time (s)",
         **{f"test_dci_{score}_random": f"DCI {score}, random code" for score in
            ("disentanglement", "completeness", "informativeness")}}
# test_auroc_kmeans, test_auroc_primary, test_auroc_gain_conv1, test_accuracy, ...; DCI scores are shown as they are
_FRACTION = re.compile(r"^(best_)?(val|test)_(ap|auroc|accuracy)(_.*)?$")


def metric_name(metric: str) -> str:
    """'test_ap' -> 'test AP'; unknown columns keep their own name."""
    return NAMES.get(metric, metric)


def is_fraction(column: str) -> bool:
    """AP and AUROC columns, which a percent table scales by 100."""
    return bool(_FRACTION.match(column))


def scale(percent: bool) -> float:
    return 100.0 if percent else 1.0


def metric_scale(metric: str, percent: bool) -> float:
    """What a column is multiplied by for display: 100 for a fraction in a percent table, else 1."""
    return scale(percent) if is_fraction(metric) else 1.0


def unit(percent: bool) -> str:
    return " (%)" if percent else ""


def metric_label(metric: str, percent: bool) -> str:
    """'test AP (%)': a metric's name with its display unit."""
    return metric_name(metric) + (unit(percent) if is_fraction(metric) else "")
