"""AP and AUROC with the project's conventions: anomalies are the positive class, higher score =
more anomalous. AP is scikit-learn's step-wise average precision, not a trapezoid under the PR curve."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

AP_DEFINITION = "average precision, step-wise (sklearn.metrics.average_precision_score)"


def _as_numpy(values: torch.Tensor | np.ndarray) -> np.ndarray:
    return values.detach().float().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)


def _check(labels: np.ndarray, scores: np.ndarray) -> None:
    if labels.shape != scores.shape or labels.ndim != 1:
        raise ValueError(f"need one score per label, got {scores.shape} scores for {labels.shape} labels")
    if not np.isfinite(scores).all():
        raise ValueError(f"{int((~np.isfinite(scores)).sum())} scores are NaN or infinite")
    present = set(np.unique(labels).tolist())
    if present != {0, 1}:
        raise ValueError(f"labels must contain both 0 (normal) and 1 (anomaly), got {sorted(present)}")


def average_precision(labels: torch.Tensor | np.ndarray, scores: torch.Tensor | np.ndarray) -> float:
    y, s = _as_numpy(labels).astype(int), _as_numpy(scores).astype(np.float64)
    _check(y, s)
    return float(average_precision_score(y, s))


def auroc(labels: torch.Tensor | np.ndarray, scores: torch.Tensor | np.ndarray) -> float:
    y, s = _as_numpy(labels).astype(int), _as_numpy(scores).astype(np.float64)
    _check(y, s)
    return float(roc_auc_score(y, s))


def detection_metrics(labels: torch.Tensor, scores: torch.Tensor, prefix: str) -> dict[str, float]:
    """{prefix_ap, prefix_auroc} as fractions in [0, 1]."""
    return {f"{prefix}_ap": average_precision(labels, scores), f"{prefix}_auroc": auroc(labels, scores)}
