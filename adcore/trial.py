"""One trial is one call: ``run_trial(cfg, report, checkpoint_dir) -> row``.

The row (``adcore.row``) has the same fixed keys whether the trial finished or failed: errors
that a retry cannot fix (missing data, a bad config, a NaN loss) end as a row with status
``failed`` and the message; anything else (a lost device, a killed process) propagates so that
the caller can retry from the checkpoint. Test metrics are recorded, never used to choose.
"""
from __future__ import annotations

import logging
import platform
import random
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from adcore.config import ProbeConfig, TrialConfig
from adcore.cache import default_cache_dir
from adcore.context import FitContext
from adcore.data import BatchTransform, Benchmark, make_benchmark
from adcore.data.transforms import FeatureTransform
from adcore.methods import METHODS, Detector
from adcore.metrics import auroc, detection_metrics
from adcore.models import Backbone, create_backbone
from adcore.objectives import Regularizer, build_regularizer
from adcore.prefix import PrefixCache, prefix_key, prefix_outputs
from adcore.probe import check_stages, probe_metrics
from adcore.row import Status, best_key, empty_row
from adcore.saved import DETECTOR_FILE, method_on, save_detector, validation_threshold, write_row
from adcore.train import Report, fit

log = logging.getLogger(__name__)

# What a retry cannot fix: missing files, invalid settings, a diverged loss (FloatingPointError).
FAILURES = (FileNotFoundError, ValueError, FloatingPointError)


def seed_everything(seed: int, device: torch.device | None = None) -> torch.Generator:
    """Seed python, numpy and torch; return the generator that orders batches and augments, on
    ``device`` (the host by default; on the CPU either is the same generator)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator(device=device or "cpu").manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("runtime.device is cuda but no CUDA device is visible; use runtime.device=cpu or auto")
    return torch.device("cuda" if name == "auto" and torch.cuda.is_available() else ("cpu" if name == "auto" else name))


def _scores(method: Detector, ctx: FitContext,
            images: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The method's scores, and its variants' (e.g. other scorers) from the same features: the
    network runs once per image however many scorers are compared. The main score is taken per
    evaluation batch either way, as a kept detector scores a stream of images (``adcore.saved``)."""
    if not method.variant_names():
        return ctx.forward_batched(method.score, images).cpu(), {}
    features = ctx.forward_batched(method.embed, images)
    variants = {name: scores.cpu() for name, scores in method.score_variants(features).items()}
    main = torch.cat([method.score_features(chunk) for chunk in features.split(ctx.eval_batch_size)])
    return main.cpu(), variants


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


def evaluation(method: Detector, ctx: FitContext, bench: Benchmark, probe: ProbeConfig | None = None):
    """evaluate(final): validation metrics every epoch, test metrics (and the benchmark's own, of the
    scores and of the representation, and the layer probe's) after the last one."""

    def evaluate(final: bool) -> dict[str, float]:
        method.eval()
        method.prepare_scoring(ctx)
        metrics = _metrics(bench.val_labels, *_scores(method, ctx, bench.val_images), "val")
        if final:
            scores, variants = _scores(method, ctx, bench.test_images)
            metrics.update(_metrics(bench.test_labels, scores, variants, "test"))
            metrics.update(bench.test_metrics(scores))
            metrics.update(method.test_metrics(ctx, bench.test_images, bench.test_classes))
            metrics.update(bench.representation_metrics(lambda images: ctx.forward_batched(method.embed, images).cpu()))
            if probe is not None:
                metrics.update(probe_metrics(probe, method.backbone, ctx, bench.test_images, bench.test_labels))
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
    channels: int  # of the benchmark's images (1: grey), which a kept detector takes too


def prepare_trial(cfg: TrialConfig) -> TrialParts:
    """Seed, load the benchmark, build backbone (+ adapters), method and regularizer."""
    if cfg.runtime.threads is not None:
        torch.set_num_threads(cfg.runtime.threads)
    device = resolve_device(cfg.runtime.device)
    generator = seed_everything(cfg.seed, device if cfg.runtime.data_on_device else None)
    bench = make_benchmark(cfg.data, cfg.seed, default_cache_dir(cfg.runtime.cache_dir))
    channels = bench.test_images.shape[1]
    backbone = create_backbone(cfg.model.backbone, cfg.model.pretrained, cfg.model.weights_path)
    if cfg.probe is not None:
        check_stages(backbone, list(cfg.probe.layers.values()))
    transform = BatchTransform(backbone.input_mean, backbone.input_std, device, augment=cfg.data.augment)
    if cfg.model.train_stages is not None:
        if METHODS.get(cfg.method.name).needs_images:
            raise ValueError(f"method {cfg.method.name} works on the images themselves (or splits the backbone "
                             "itself): leave model.train_stages unset")
        backbone.freeze_prefix(cfg.model.train_stages)
        if cfg.runtime.prefix_cache:
            bench = through_prefix(bench, backbone.to(device), transform, cfg)
            transform = FeatureTransform(device)
    if cfg.runtime.data_on_device:
        bench = on_device(bench, device)
    layout = torch.channels_last if cfg.runtime.channels_last else torch.preserve_format
    method = method_on(cfg, backbone).to(device, memory_format=layout)  # before theta_0 is snapshotted
    if method.needs_class_labels and len(torch.unique(bench.train_classes)) < 2:
        raise ValueError(f"method {cfg.method.name} classifies the normal classes and needs at least two of them; "
                         f"benchmark {cfg.data.benchmark} gives {len(torch.unique(bench.train_classes))} "
                         "(use data.benchmark=leave_one_out)")
    ctx = FitContext(
        normal=bench.train_normal.to(device), oe=bench.oe.to(device), transform=transform, device=device, eval_batch_size=cfg.runtime.eval_batch_size,
        cache_dir=default_cache_dir(cfg.runtime.cache_dir), autocast=device.type == "cuda",
        normal_classes=bench.train_classes, compile=cfg.runtime.compile, channels_last=cfg.runtime.channels_last,
        cuda_graph=cfg.runtime.cuda_graph and device.type == "cuda")
    method.setup(ctx)
    regularizer = build_regularizer(cfg.regularizer, backbone, ctx)
    return TrialParts(generator, device, bench, backbone, method, ctx, regularizer, channels)


def on_device(bench: Benchmark, device: torch.device) -> Benchmark:
    """The benchmark with its images (uint8, or a frozen prefix's outputs) on ``device``: evaluation
    reads them there with no copy per batch. Labels and classes stay on the host, where metrics are
    computed."""
    return replace(bench, train_normal=bench.train_normal.to(device), oe=bench.oe.to(device),
                   val_images=bench.val_images.to(device), test_images=bench.test_images.to(device),
                   dci_images=None if bench.dci_images is None else bench.dci_images.to(device))


def through_prefix(bench: Benchmark, backbone: Backbone, transform: BatchTransform, cfg: TrialConfig) -> Benchmark:
    """The benchmark with every image replaced by the frozen prefix's output on it, from the shared
    on-disk cache where another trial computed it (adcore.prefix); the backbone then takes those."""
    cache = PrefixCache(default_cache_dir(cfg.runtime.cache_dir) / "prefix", cfg.runtime.prefix_cache_mb)
    key = prefix_key(backbone, transform.mean, transform.std)

    def outputs(images: torch.Tensor) -> torch.Tensor:
        return prefix_outputs(backbone, images, transform.eval, cache, key, cfg.runtime.eval_batch_size)

    backbone.prefix_in_input = True
    return replace(bench, train_normal=outputs(bench.train_normal), oe=outputs(bench.oe),
                   val_images=outputs(bench.val_images), test_images=outputs(bench.test_images),
                   dci_images=None if bench.dci_images is None else outputs(bench.dci_images))


def keep_detector(parts: TrialParts, cfg: TrialConfig, model_dir: str | Path) -> None:
    """The trained detector, as the last evaluation scored it, into ``model_dir`` (``adcore.saved``), with
    the threshold chosen on its validation scores."""
    parts.method.eval()
    val_scores, _ = _scores(parts.method, parts.ctx, parts.bench.val_images)
    save_detector(model_dir, cfg, parts.method, parts.channels, validation_threshold(parts.bench.val_labels, val_scores))


def train_and_evaluate(cfg: TrialConfig, report: Report | None = None, checkpoint_dir: str | Path | None = None,
                       model_dir: str | Path | None = None) -> dict[str, Any]:
    """Train and evaluate, keep the detector in ``model_dir`` unless ``runtime.keep_model`` is none; return
    the row's metrics and facts. Errors propagate (see run_trial)."""
    started = time.perf_counter()
    parts = prepare_trial(cfg)
    bench = parts.bench
    setup_s = time.perf_counter() - started
    history = fit(parts.method, parts.regularizer, parts.ctx, cfg.optim, parts.generator,
                  evaluation(parts.method, parts.ctx, bench, cfg.probe), report,
                  None if checkpoint_dir is None else Path(checkpoint_dir))
    if model_dir is not None and cfg.runtime.keep_model != "none":
        try:
            keep_detector(parts, cfg, model_dir)
        except OSError as error:  # a full disk costs the kept detector, never the trial's results
            log.warning("the trained detector was not kept in %s: %s", model_dir, error)
    return summary(cfg, parts, history, setup_s)


def summary(cfg: TrialConfig, parts: TrialParts, history: list[dict[str, Any]], setup_s: float) -> dict[str, Any]:
    """The row's metrics and facts from a finished fit's history."""
    bench = parts.bench
    final = history[-1]
    best = max(history, key=lambda entry: entry[cfg.selection_metric])
    out = {key: value for key, value in final.items() if key.startswith(("test_", "val_", "train_loss"))}
    out[best_key(cfg.selection_metric)] = best[cfg.selection_metric]
    out["weight_shift"], out["weight_shift_rel"] = parts.regularizer.shift()  # of the trained backbone weights
    out.update(
        epochs_run=final["epoch"], best_val_epoch=best["epoch"], val_protocol=bench.info["val_protocol"],
        n_train_normal=bench.info["n_train_normal"], n_oe=bench.info["n_oe"], n_test=bench.info["n_test"],
        n_test_anomalies=bench.info["n_test_anomalies"], test_split=bench.info["test_split"],
        n_skipped_images=bench.info["n_skipped_images"], device=str(parts.device), torch_version=torch.__version__,
        node=platform.node(), setup_s=setup_s, train_s=sum(entry["train_s"] for entry in history))
    return out


def run_trial(cfg: TrialConfig | dict[str, Any], report: Report | None = None,
              checkpoint_dir: str | Path | None = None, model_dir: str | Path | None = None) -> dict[str, Any]:
    """Train and evaluate one configuration (resuming from ``checkpoint_dir`` if it has a checkpoint)
    and return its row; a failure a retry cannot fix returns a ``failed`` row with its message. With
    ``model_dir`` the trained detector and the row are kept there (unless ``runtime.keep_model: none``)."""
    started = time.perf_counter()
    cfg = cfg if isinstance(cfg, TrialConfig) else TrialConfig.model_validate(cfg)
    row = empty_row(cfg, Status.OK)
    try:
        row.update(train_and_evaluate(cfg, report, checkpoint_dir, model_dir))
    except FAILURES as error:
        record_failure(row, error)
    row["total_s"] = time.perf_counter() - started
    if row["status"] == Status.OK and model_dir is not None and (Path(model_dir) / DETECTOR_FILE).exists():
        write_row(model_dir, row)
    return row


def record_failure(row: dict[str, Any], error: Exception) -> None:
    """Make ``row`` the failed row of an error a retry cannot fix (one of ``FAILURES``)."""
    log.warning("trial failed: %s: %s", type(error).__name__, error)
    row.update(status=Status.FAILED, message=f"{type(error).__name__}: {error}", node=platform.node())
