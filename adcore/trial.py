"""One trial is one call: ``run_trial(cfg, report, checkpoint_dir) -> row``.

The row is tidy and flat: the resolved config (``data.fold``, ``method.name``, ...), the final
metrics (fractions in [0, 1]), the best validation epoch, timings and the protocol facts a table
needs (which checkpoint, which AP, which validation protocol). Test metrics are recorded, never
used to choose anything: selection fields use validation metrics only.
"""
from __future__ import annotations

import logging
import platform
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from adcore.config import TrialConfig, flatten
from adcore.context import FitContext, default_cache_dir
from adcore.data import BatchTransform, Benchmark, make_benchmark
from adcore.methods import Detector, build_method
from adcore.metrics import AP_DEFINITION, auroc, detection_metrics
from adcore.models import Backbone, add_residual_adapters, create_backbone, freeze_for_adra
from adcore.objectives import Regularizer, build_regularizer
from adcore.train import Report, fit

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; return the generator that orders batches and augments."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("runtime.device is cuda but no CUDA device is visible; use runtime.device=cpu or auto")
    return torch.device("cuda" if name == "auto" and torch.cuda.is_available() else ("cpu" if name == "auto" else name))


def _scores(method: Detector, ctx: FitContext,
            images: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The method's scores, and its variants' (e.g. other scorers) from the same features: the
    network runs once per image however many scorers are compared."""
    if not method.variant_names():
        return ctx.forward_batched(method.score, images).cpu(), {}
    features = ctx.forward_batched(method.embed, images)
    variants = {name: scores.cpu() for name, scores in method.score_variants(features).items()}
    return method.score_features(features).cpu(), variants


def _metrics(labels: torch.Tensor, scores: torch.Tensor, variants: dict[str, torch.Tensor],
             prefix: str) -> dict[str, float]:
    """Detection metrics of the main score and the AUROC of each variant. Variants named
    ``hindsight_*`` are settings the papers chose on the very split they report (paper 004's OC-SVM):
    their best is added as ``<split>_auroc_hindsight_best``, a labelled number that chooses nothing."""
    metrics = detection_metrics(labels, scores, prefix)
    metrics.update({f"{prefix}_auroc_{name}": auroc(labels, values) for name, values in variants.items()})
    hindsight = [metrics[f"{prefix}_auroc_{name}"] for name in variants if name.startswith("hindsight_")]
    if hindsight:
        metrics[f"{prefix}_auroc_hindsight_best"] = max(hindsight)
    return metrics


def evaluation(method: Detector, ctx: FitContext, bench: Benchmark):
    """evaluate(final): validation metrics every epoch, test metrics after the last one."""

    def evaluate(final: bool) -> dict[str, float]:
        method.eval()
        method.prepare_scoring(ctx)
        metrics = _metrics(bench.val_labels, *_scores(method, ctx, bench.val_images), "val")
        if final:
            scores, variants = _scores(method, ctx, bench.test_images)
            metrics.update(_metrics(bench.test_labels, scores, variants, "test"))
            if "secondary_class" in bench.info:  # minor mode: each normal mode against the anomalies
                for mode in ("primary", "secondary"):
                    keep = (bench.test_labels == 1) | (bench.test_classes == bench.info[f"{mode}_class"])
                    metrics[f"test_auroc_{mode}"] = auroc(bench.test_labels[keep], scores[keep])
        method.train()
        return metrics

    return evaluate


@dataclass
class TrialParts:
    """Everything a trial trains and scores with, built from its config in one place."""

    generator: torch.Generator
    device: torch.device
    bench: Benchmark
    backbone: Backbone
    method: Detector
    ctx: FitContext
    regularizer: Regularizer


def prepare_trial(cfg: TrialConfig) -> TrialParts:
    """Seed, load the benchmark, build backbone (+ adapters), method and regularizer."""
    if cfg.runtime.threads is not None:
        torch.set_num_threads(cfg.runtime.threads)
    generator = seed_everything(cfg.seed)
    device = resolve_device(cfg.runtime.device)
    bench = make_benchmark(cfg.data, cfg.seed)
    backbone = create_backbone(cfg.model.backbone, cfg.model.pretrained, cfg.model.weights_path)
    if cfg.model.adapters:
        add_residual_adapters(backbone)
        freeze_for_adra(backbone)
    method = build_method(cfg.method, backbone).to(device)
    ctx = FitContext(
        normal=bench.train_normal.to(device), oe=bench.oe.to(device),
        transform=BatchTransform(backbone.input_mean, backbone.input_std, device, augment=cfg.data.augment),
        device=device, eval_batch_size=cfg.runtime.eval_batch_size,
        cache_dir=default_cache_dir(cfg.runtime.cache_dir), autocast=device.type == "cuda",
        normal_classes=bench.train_classes)
    method.setup(ctx)
    regularizer = build_regularizer(cfg.regularizer, backbone, ctx)
    return TrialParts(generator, device, bench, backbone, method, ctx, regularizer)


def run_trial(cfg: TrialConfig | dict[str, Any], report: Report | None = None,
              checkpoint_dir: str | Path | None = None) -> dict[str, Any]:
    """Train and evaluate one configuration; resume from ``checkpoint_dir`` if it has a checkpoint."""
    started = time.perf_counter()
    cfg = cfg if isinstance(cfg, TrialConfig) else TrialConfig.model_validate(cfg)
    parts = prepare_trial(cfg)
    bench, device = parts.bench, parts.device
    setup_s = time.perf_counter() - started

    history = fit(parts.method, parts.regularizer, parts.ctx, cfg.optim, parts.generator,
                  evaluation(parts.method, parts.ctx, bench), report,
                  None if checkpoint_dir is None else Path(checkpoint_dir))
    final = history[-1]
    best = max(history, key=lambda entry: entry["val_ap"])
    row: dict[str, Any] = {"status": "ok", **flatten(cfg.model_dump(mode="json"))}
    row.update({key: value for key, value in final.items() if key.startswith(("test_", "val_", "train_loss"))})
    row.update(
        epochs_run=final["epoch"], best_val_ap=best["val_ap"], best_val_epoch=best["epoch"],
        checkpoint="last epoch", ap_definition=AP_DEFINITION, val_protocol=bench.info["val_protocol"],
        n_train_normal=bench.info["n_train_normal"], n_oe=bench.info["n_oe"], n_test=bench.info["n_test"],
        n_test_anomalies=bench.info["n_test_anomalies"], device=str(device), torch_version=torch.__version__,
        node=platform.node(), setup_s=setup_s, train_s=sum(entry["train_s"] for entry in history),
        total_s=time.perf_counter() - started)
    return row
