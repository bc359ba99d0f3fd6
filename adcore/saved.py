"""A trained detector kept after its trial and scored again anywhere adcore is installed: without the
training data, Ray or MLflow.

A detector folder holds
  detector.pt   tensors and plain values only (``torch.load(weights_only=True)``): the format, the adcore
                version and a fingerprint of the method's config schema, the resolved trial config, the
                method's ``state_dict()`` and ``fitted_state()`` (``adcore.methods.base``), the input it
                takes (image side, channels) and the threshold chosen on the validation split;
  config.yaml   the resolved trial config, for people;
  row.json      the trial's results row (``run_trial`` writes it once the trial has finished).

Scoring runs exactly the trial's evaluation: the same network in float32, batches of the config's
``runtime.eval_batch_size`` from the first image on, the frozen prefix (``model.train_stages``) run
on each batch as the trial ran it before caching, so the scores of the trial's own test images are
the trial's, bit for bit.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from pydantic import ValidationError

from adcore.cache import default_cache_dir
from adcore.config import TrialConfig
from adcore.context import FitContext
from adcore.data.transforms import BatchTransform, resize_images, to_channels
from adcore.methods import METHODS, Detector, build_method
from adcore.models import Backbone, add_residual_adapters, create_backbone, freeze_for_adra

FORMAT = 1  # bump when what detector.pt holds changes
DETECTOR_FILE = "detector.pt"
CONFIG_FILE = "config.yaml"
ROW_FILE = "row.json"
THRESHOLD_RULE = "the validation split's ROC point of largest TPR - FPR (Youden's J); score >= threshold: anomaly"


class SavedDetectorError(ValueError):
    """A kept detector that this adcore cannot load: one message that says why and what to do."""


def adcore_version() -> str:
    """The installed distribution's version; a checkout that is not installed says so."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("adstudy")
    except PackageNotFoundError:
        return "checkout"


def config_schema(method: str) -> str:
    """A fingerprint of the method's config schema and the trial config's: a kept detector's config means
    the same to this adcore only where both are unchanged."""
    schemas = [METHODS.get(method).Params.model_json_schema(), TrialConfig.model_json_schema()]
    return hashlib.sha256(json.dumps(schemas, sort_keys=True).encode()).hexdigest()[:16]


def method_on(cfg: TrialConfig, backbone: Backbone) -> Detector:
    """The config's method on ``backbone`` (its prefix frozen where the config says so), with ADRA's
    adapters where it asks for them: the last steps of building a trial's detector, in the trial and here."""
    if cfg.model.adapters:
        add_residual_adapters(backbone, cfg.model.adapter_init)
        freeze_for_adra(backbone)
    return build_method(cfg.method, backbone)


def network(cfg: TrialConfig) -> Detector:
    """The trial's detector before training, built as ``adcore.trial.prepare_trial`` builds it, at random
    init: a kept state then fills every tensor."""
    backbone = create_backbone(cfg.model.backbone, pretrained=False)
    if cfg.model.train_stages is not None:
        backbone.freeze_prefix(cfg.model.train_stages)
    return method_on(cfg, backbone)


def validation_threshold(labels: torch.Tensor, scores: torch.Tensor) -> float:
    """THRESHOLD_RULE on the validation scores (labels 1 = anomaly)."""
    from sklearn.metrics import roc_curve

    fpr, tpr, thresholds = roc_curve(labels.numpy().astype(int), scores.numpy().astype(np.float64))
    best = int(np.argmax(tpr - fpr))
    return float(min(thresholds[best], scores.max().item()))  # roc_curve's first threshold is +inf


def save_detector(directory: str | Path, cfg: TrialConfig, method: Detector, channels: int,
                  threshold: float | None) -> Path:
    """Write the detector folder atomically (a folder of a killed process is never half there); a folder
    of an earlier attempt of the same trial is replaced."""
    directory = Path(directory)
    state = {key: value.detach().cpu() if isinstance(value, torch.Tensor) else value
             for key, value in method.state_dict().items()}
    payload = {
        "format": FORMAT, "adcore": adcore_version(), "method": cfg.method.name, "schema": config_schema(cfg.method.name),
        "config": cfg.model_dump(mode="json"), "state": state, "fitted": _to_cpu(method.fitted_state()),
        "input": {"image_size": cfg.data.image_size, "channels": channels},
        "threshold": None if threshold is None else {"value": threshold, "rule": THRESHOLD_RULE},
    }
    tmp = directory.with_name(f".{directory.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    torch.save(payload, tmp / DETECTOR_FILE)
    (tmp / CONFIG_FILE).write_text(yaml.safe_dump(payload["config"], sort_keys=False))
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(tmp, directory)
    return directory


def write_row(directory: str | Path, row: dict[str, Any]) -> None:
    """The trial's row beside its kept detector (what it scored, for whoever loads it)."""
    path = Path(directory) / ROW_FILE
    tmp = path.with_name(f".{ROW_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(row, default=str, indent=1))
    os.replace(tmp, path)


def _to_cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {key: _to_cpu(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_cpu(item) for item in value]
    return value


def detector_file(path: str | Path) -> Path:
    """detector.pt of a detector folder (or the file itself)."""
    path = Path(path)
    file = path / DETECTOR_FILE if path.is_dir() else path
    if not file.is_file():
        raise SavedDetectorError(f"{path}: no kept detector here (a folder with {DETECTOR_FILE}); a study keeps them "
                                 "in <run>/models/<trial_id>/ (runtime.keep_model)")
    return file


@dataclass
class SavedDetector:
    """A kept detector on a device: ``score(images)`` gives the trial's scores (higher = more anomalous)."""

    path: Path
    cfg: TrialConfig
    method: Detector
    device: torch.device
    channels: int  # of the images the detector was trained on (1: grey, repeated to 3 by the transform)
    threshold: dict[str, Any] | None
    version: str  # the adcore that kept it
    row: dict[str, Any] = field(default_factory=dict)  # the trial's row, where it was written
    _ctx: FitContext | None = None

    @property
    def image_size(self) -> int:
        return self.cfg.data.image_size

    @property
    def batch_size(self) -> int:
        return self.cfg.runtime.eval_batch_size

    def context(self) -> FitContext:
        if self._ctx is None:
            backbone = self.method.backbone
            empty = torch.zeros((0, self.channels, self.image_size, self.image_size), dtype=torch.uint8)
            self._ctx = FitContext(normal=empty, oe=empty, device=self.device, eval_batch_size=self.batch_size,
                                   transform=BatchTransform(backbone.input_mean, backbone.input_std, self.device,
                                                            augment=False),
                                   cache_dir=default_cache_dir(self.cfg.runtime.cache_dir))
        return self._ctx

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) uint8 -> (B, channels, S, S) uint8 as the trial's data had them."""
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"images must be uint8 (B, C, H, W); got {images.dtype} {tuple(images.shape)}")
        if images.shape[1] == 3 and self.channels == 1:
            raise ValueError("the detector was trained on grey images and these are colour; convert them to grey")
        return resize_images(to_channels(images, self.channels), self.image_size)

    def score(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) uint8 -> (B,) float32 anomaly scores on the CPU."""
        backbone = self.method.backbone

        def score_normalised(x: torch.Tensor) -> torch.Tensor:
            return self.method.score(backbone.prefix(x) if backbone.prefix_in_input else x)

        return self.context().forward_batched(score_normalised, self.prepare(images)).cpu()

    def decision(self, scores: torch.Tensor) -> torch.Tensor:
        """True where a score reaches the validation-selected threshold."""
        if self.threshold is None:
            raise SavedDetectorError(f"{self.path}: this detector was kept without a validation threshold")
        return scores >= self.threshold["value"]


def load_detector(path: str | Path, device: str = "auto") -> SavedDetector:
    """Load a kept detector onto ``device`` (auto: CUDA when there is one); a detector this adcore cannot
    load (another format, a method config that changed since, a state that does not fit) is one
    SavedDetectorError."""
    file = detector_file(path)
    target = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                          ("cpu" if device == "auto" else device))
    try:
        saved = torch.load(file, map_location=target, weights_only=True)
    except Exception as error:  # noqa: BLE001 - a truncated or foreign file: say which
        raise SavedDetectorError(f"{file} is not a readable kept detector ({type(error).__name__}: {error})") from None
    ours = adcore_version()
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise SavedDetectorError(f"{file} was written in kept-detector format {saved.get('format')!r} "
                                 f"(adcore {saved.get('adcore')}); this adcore ({ours}) reads format {FORMAT}: score it "
                                 f"with adcore {saved.get('adcore')} or train it again")
    method = saved["method"]
    if method not in METHODS or saved["schema"] != config_schema(method):
        raise SavedDetectorError(
            f"{file} was kept by adcore {saved['adcore']}, whose config of method {method!r} differs from this "
            f"adcore's ({ours}; schema {saved['schema']} there, "
            f"{config_schema(method) if method in METHODS else 'no such method'} here): its settings would not mean "
            f"the same. Score it with adcore {saved['adcore']} (pip install adstudy=={saved['adcore']}) or train it "
            "again with this one")
    try:
        cfg = TrialConfig.model_validate(saved["config"])
        detector = network(cfg).to(target, memory_format=torch.channels_last if cfg.runtime.channels_last
                                   else torch.preserve_format)
        detector.backbone.prefix_in_input = cfg.model.train_stages is not None and cfg.runtime.prefix_cache
        detector.restore(saved["state"], saved["fitted"])
    except (ValidationError, RuntimeError, KeyError, ValueError) as error:
        raise SavedDetectorError(f"{file} (kept by adcore {saved['adcore']}) does not load into this adcore's "
                                 f"{method} ({ours}): {str(error).splitlines()[0]}") from None
    detector.eval()
    row_file = file.parent / ROW_FILE
    row = json.loads(row_file.read_text()) if row_file.exists() else {}
    return SavedDetector(file.parent, cfg, detector, target, saved["input"]["channels"], saved["threshold"],
                         saved["adcore"], row)
