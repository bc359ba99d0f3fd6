"""adcore: the anomaly-detection method library (PyTorch only; no Ray, no MLflow).

One trial is one call: ``run_trial(cfg, report=None, checkpoint_dir=None, model_dir=None) -> row``
(``model_dir``: keep the trained detector there, ``adcore.saved``). The names
below are imported on first use, so reading a config (``adcore.config``) does not import torch.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"TrialConfig": "adcore.config", "build_config": "adcore.config", "run_trial": "adcore.trial"}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'adcore' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
