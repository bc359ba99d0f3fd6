"""The benchmarks of papers 000 and 002: which images are normal, OE, validation and test.

Every benchmark yields training normals, an OE set, a validation set that holds no test
anomaly class, and a test set; labels are 1 for anomalies and 0 for normal images. All subsets
are drawn with the trial seed, so a config and seed always give the same images.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from adcore.config import DataConfig
from adcore.data.sources import load_source
from adcore.data.transforms import resize_images, to_channels

# Sources whose OE corpus is a split other than "train" (STL-10's large unlabelled split).
OE_SPLITS: dict[str, str] = {"stl10": "unlabeled"}


@dataclass
class Benchmark:
    """Images are uint8 (N, C, S, S) at the configured size; labels: 1 = anomaly."""

    train_normal: torch.Tensor
    oe: torch.Tensor
    val_images: torch.Tensor
    val_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    test_classes: torch.Tensor  # the source class of each test image, for per-class metrics
    info: dict[str, Any] = field(default_factory=dict)  # protocol facts recorded with the results
    train_classes: torch.Tensor | None = None  # the source class of each training normal (paper 002's classifier)


def _take(index: torch.Tensor, n: int | None, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a seeded permutation of ``index`` into (first n, rest); n None takes everything."""
    shuffled = index[torch.randperm(len(index), generator=generator)]
    n = len(shuffled) if n is None else n
    if n > len(shuffled):
        raise ValueError(f"asked for {n} images but only {len(shuffled)} are available; lower the budget")
    return shuffled[:n], shuffled[n:]


def _n_train(n_normal: int | None, pool: torch.Tensor, n_val: int) -> int:
    """Training normals to take from ``pool``; None means all but the validation normals."""
    return len(pool) - n_val if n_normal is None else n_normal


def _of_classes(labels: torch.Tensor, classes: list[int]) -> torch.Tensor:
    return torch.nonzero(torch.isin(labels, torch.tensor(classes)), as_tuple=True)[0]


def _check_class(cfg_name: str, value: int, num_classes: int) -> None:
    if not 0 <= value < num_classes:
        raise ValueError(f"data.{cfg_name}={value} is not a class of this dataset (0..{num_classes - 1})")


def make_benchmark(cfg: DataConfig, seed: int) -> Benchmark:
    """Build the configured benchmark from the registered sources (nothing downloads)."""
    if cfg.oe_corpus == cfg.dataset and cfg.oe_corpus not in OE_SPLITS:
        raise ValueError(f"data.oe_corpus must differ from data.dataset ({cfg.dataset}): the OE corpus would then "
                         f"contain the test anomaly class (only {', '.join(OE_SPLITS)} has a separate OE split)")
    generator = torch.Generator().manual_seed(seed)
    train = load_source(cfg.dataset, "train", cfg.data_root)
    test = load_source(cfg.dataset, "test", cfg.data_root)
    num_classes = len(train.class_names)
    _check_class("fold", cfg.fold, num_classes)
    others = [c for c in range(num_classes) if c != cfg.fold]
    info: dict[str, Any] = {"benchmark": cfg.benchmark, "val_protocol": cfg.val_protocol}
    val_anomaly_class: int | None = None

    if cfg.benchmark == "leave_one_out":
        normal_classes, anomaly_classes = others, [cfg.fold]
        if cfg.val_protocol == "class_holdout":
            val_anomaly_class = others[cfg.fold % len(others)]  # the next class after the fold
            normal_classes = [c for c in others if c != val_anomaly_class]
        pool = _of_classes(train.labels, normal_classes)
        train_idx, rest = _take(pool, _n_train(cfg.n_normal, pool, cfg.n_val), generator)
    elif cfg.benchmark == "one_vs_rest":
        normal_classes, anomaly_classes = [cfg.fold], others
        pool = _of_classes(train.labels, normal_classes)
        train_idx, rest = _take(pool, _n_train(cfg.n_normal, pool, cfg.n_val), generator)
    else:  # minor_mode: S_n ~ 1/(r+1) P(y_a) + r/(r+1) P(y_b)
        assert cfg.secondary_class is not None
        _check_class("secondary_class", cfg.secondary_class, num_classes)
        primary, secondary = cfg.fold, cfg.secondary_class
        normal_classes = [primary, secondary]
        anomaly_classes = [c for c in range(num_classes) if c not in normal_classes]
        primary_idx = _of_classes(train.labels, [primary])
        n_total = _n_train(cfg.n_normal, primary_idx, cfg.n_val)
        n_secondary = round(n_total * cfg.minor_ratio / (1.0 + cfg.minor_ratio))
        take_a, rest_a = _take(primary_idx, n_total - n_secondary, generator)
        take_b, rest_b = _take(_of_classes(train.labels, [secondary]), n_secondary, generator)
        train_idx, rest = torch.cat([take_a, take_b]), rest_a  # validation normals: the primary class
        info.update(primary_class=primary, secondary_class=secondary, minor_ratio=cfg.minor_ratio,
                    n_secondary=n_secondary)

    val_normal_idx, _ = _take(rest, cfg.n_val, generator)
    oe_source = load_source(cfg.oe_corpus, OE_SPLITS.get(cfg.oe_corpus, "train"), cfg.data_root)
    n_oe_val = cfg.n_val if cfg.val_protocol == "oe_holdout" else 0
    oe_idx, _ = _take(torch.arange(len(oe_source)), None if cfg.n_oe is None else cfg.n_oe + n_oe_val, generator)
    val_oe_idx, oe_idx = oe_idx[:n_oe_val], oe_idx[n_oe_val:]

    test_idx, _ = _take(torch.arange(len(test)), cfg.n_test, generator)
    test_set = test.subset(test_idx)
    test_labels = torch.isin(test_set.labels, torch.tensor(anomaly_classes)).long()
    if val_anomaly_class is not None:  # the validation anomaly class is removed from the test too
        keep = test_set.labels != val_anomaly_class
        test_set, test_labels = test_set.subset(keep), test_labels[keep]

    if cfg.val_protocol == "oe_holdout":
        val_anomalies = oe_source.images[val_oe_idx]
    else:
        val_anomalies = train.images[_take(_of_classes(train.labels, [val_anomaly_class]), cfg.n_val, generator)[0]]
        info["val_anomaly_class"] = val_anomaly_class

    channels = max(train.images.shape[1], oe_source.images.shape[1])

    def prepare(images: torch.Tensor) -> torch.Tensor:
        return resize_images(to_channels(images, channels), cfg.image_size)

    val_normals = train.images[val_normal_idx]
    info.update(normal_classes=normal_classes, anomaly_classes=anomaly_classes,
                class_names=list(train.class_names), n_train_normal=len(train_idx), n_oe=len(oe_idx),
                n_test=len(test_labels), n_test_anomalies=int(test_labels.sum()))
    return Benchmark(
        train_normal=prepare(train.images[train_idx]),
        oe=prepare(oe_source.images[oe_idx]),
        val_images=torch.cat([prepare(val_normals), prepare(val_anomalies)]),  # sizes may differ before
        val_labels=torch.cat([torch.zeros(len(val_normals)), torch.ones(len(val_anomalies))]).long(),
        test_images=prepare(test_set.images),
        test_labels=test_labels,
        test_classes=test_set.labels.clone(),
        train_classes=train.labels[train_idx].clone(),
        info=info,
    )

