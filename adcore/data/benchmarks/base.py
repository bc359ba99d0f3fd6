"""What every benchmark shares: the Benchmark a trial receives, the protocol interface and registry,
and the assembly of OE, validation and test sets around a protocol's choice of classes.

A protocol (leave_one_out, one_vs_rest, minor_mode: one module each) decides which classes are
normal and which anomalous and which training images are taken; everything else is common. Every
benchmark yields training normals, an OE set, a validation set that holds no test anomaly class,
and a test set; labels are 1 for anomalies and 0 for normal images. All subsets are drawn with the
trial seed, so a config and seed always give the same images.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from adcore.data.config import DataConfig
from adcore.data.sources import ImageSet, load_source
from adcore.data.transforms import resize_images, to_channels
from adcore.registry import Registry

# Sources whose OE corpus is a split other than "train" (STL-10's large unlabelled split).
OE_SPLITS: dict[str, str] = {"stl10": "unlabeled"}


@dataclass
class Selection:
    """A protocol's choice on the source's training split (indices into it)."""

    normal_classes: list[int]
    anomaly_classes: list[int]
    train_index: torch.Tensor  # the training normals
    val_normal_pool: torch.Tensor  # normals left over, from which the validation normals are drawn
    val_anomaly_class: int | None = None  # class_holdout: a normal class held out as validation anomalies
    info: dict[str, Any] = field(default_factory=dict)  # protocol facts recorded with the results


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
    protocol: "Protocol"
    info: dict[str, Any] = field(default_factory=dict)  # protocol facts recorded with the results
    train_classes: torch.Tensor | None = None  # the source class of each training normal (paper 002's classifier)

    def test_metrics(self, scores: torch.Tensor) -> dict[str, float]:
        """The protocol's own test metrics beyond AP and AUROC (see Protocol.metric_names)."""
        return self.protocol.test_metrics(self, scores)


class Protocol:
    """How one benchmark picks its normal and anomalous classes; registered in BENCHMARKS."""

    metric_names: ClassVar[tuple[str, ...]] = ()  # test metrics it reports beyond test_ap / test_auroc
    val_protocols: ClassVar[tuple[str, ...]] = ("oe_holdout",)  # validation protocols it supports

    def check(self, cfg: DataConfig) -> None:
        """Refuse a config this protocol cannot run (called when the config is validated)."""
        if cfg.val_protocol not in self.val_protocols:
            raise ValueError(f"data.val_protocol {cfg.val_protocol} does not fit benchmark {cfg.benchmark}, which "
                             f"supports {', '.join(self.val_protocols)} (class_holdout needs leave_one_out: elsewhere "
                             "every other class is a test anomaly)")

    def select(self, cfg: DataConfig, train: ImageSet, generator: torch.Generator) -> Selection:
        raise NotImplementedError

    def test_metrics(self, bench: Benchmark, scores: torch.Tensor) -> dict[str, float]:
        return {}


BENCHMARKS: Registry[type[Protocol]] = Registry("benchmark")


def take(index: torch.Tensor, n: int | None, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a seeded permutation of ``index`` into (first n, rest); n None takes everything."""
    shuffled = index[torch.randperm(len(index), generator=generator)]
    n = len(shuffled) if n is None else n
    if n > len(shuffled):
        raise ValueError(f"asked for {n} images but only {len(shuffled)} are available; lower the budget")
    return shuffled[:n], shuffled[n:]


def n_train(n_normal: int | None, pool: torch.Tensor, n_val: int) -> int:
    """Training normals to take from ``pool``; None means all but the validation normals."""
    return len(pool) - n_val if n_normal is None else n_normal


def of_classes(labels: torch.Tensor, classes: list[int]) -> torch.Tensor:
    return torch.nonzero(torch.isin(labels, torch.tensor(classes)), as_tuple=True)[0]


def check_class(cfg_name: str, value: int, num_classes: int) -> None:
    if not 0 <= value < num_classes:
        raise ValueError(f"data.{cfg_name}={value} is not a class of this dataset (0..{num_classes - 1})")


def make_benchmark(cfg: DataConfig, seed: int) -> Benchmark:
    """Build the configured benchmark from the registered sources (nothing downloads)."""
    if cfg.oe_corpus == cfg.dataset and cfg.oe_corpus not in OE_SPLITS:
        raise ValueError(f"data.oe_corpus must differ from data.dataset ({cfg.dataset}): the OE corpus would then "
                         f"contain the test anomaly class (only {', '.join(OE_SPLITS)} has a separate OE split)")
    protocol = BENCHMARKS.get(cfg.benchmark)()
    generator = torch.Generator().manual_seed(seed)
    train = load_source(cfg.dataset, "train", cfg.data_root)
    test = load_source(cfg.dataset, "test", cfg.data_root)
    check_class("fold", cfg.fold, len(train.class_names))
    chosen = protocol.select(cfg, train, generator)
    info: dict[str, Any] = {"benchmark": cfg.benchmark, "val_protocol": cfg.val_protocol, **chosen.info}

    val_normal_idx, _ = take(chosen.val_normal_pool, cfg.n_val, generator)
    oe_source = load_source(cfg.oe_corpus, OE_SPLITS.get(cfg.oe_corpus, "train"), cfg.data_root)
    n_oe_val = cfg.n_val if cfg.val_protocol == "oe_holdout" else 0
    oe_idx, _ = take(torch.arange(len(oe_source)), None if cfg.n_oe is None else cfg.n_oe + n_oe_val, generator)
    val_oe_idx, oe_idx = oe_idx[:n_oe_val], oe_idx[n_oe_val:]

    test_idx, _ = take(torch.arange(len(test)), cfg.n_test, generator)
    test_set = test.subset(test_idx)
    test_labels = torch.isin(test_set.labels, torch.tensor(chosen.anomaly_classes)).long()
    held = chosen.val_anomaly_class
    if held is not None:  # the validation anomaly class is removed from the test too
        keep = test_set.labels != held
        test_set, test_labels = test_set.subset(keep), test_labels[keep]

    if cfg.val_protocol == "oe_holdout":
        val_anomalies = oe_source.images[val_oe_idx]
    else:
        val_anomalies = train.images[take(of_classes(train.labels, [held]), cfg.n_val, generator)[0]]
        info["val_anomaly_class"] = held

    channels = max(train.images.shape[1], oe_source.images.shape[1])

    def prepare(images: torch.Tensor) -> torch.Tensor:
        return resize_images(to_channels(images, channels), cfg.image_size)

    val_normals = train.images[val_normal_idx]
    info.update(normal_classes=chosen.normal_classes, anomaly_classes=chosen.anomaly_classes,
                class_names=list(train.class_names), n_train_normal=len(chosen.train_index), n_oe=len(oe_idx),
                n_test=len(test_labels), n_test_anomalies=int(test_labels.sum()))
    return Benchmark(
        train_normal=prepare(train.images[chosen.train_index]),
        oe=prepare(oe_source.images[oe_idx]),
        val_images=torch.cat([prepare(val_normals), prepare(val_anomalies)]),  # sizes may differ before
        val_labels=torch.cat([torch.zeros(len(val_normals)), torch.ones(len(val_anomalies))]).long(),
        test_images=prepare(test_set.images),
        test_labels=test_labels,
        test_classes=test_set.labels.clone(),
        protocol=protocol,
        train_classes=train.labels[chosen.train_index].clone(),
        info=info,
    )
