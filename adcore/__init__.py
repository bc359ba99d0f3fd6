"""adcore: the anomaly-detection method library (PyTorch only; no Ray, no MLflow).

One trial is one call: ``run_trial(cfg, report=None, checkpoint_dir=None) -> dict``.
"""
from adcore.config import TrialConfig, build_config
from adcore.trial import run_trial

__all__ = ["TrialConfig", "build_config", "run_trial"]
