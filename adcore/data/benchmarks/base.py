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
from adcore.data.overlap import default_oe_classes, overlap_error
from adcore.data.sources import SOURCES, ImageSet, load_source
from adcore.data.transforms import resize_images, to_channels
from adcore.registry import Registry

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
    val_protocols: ClassVar[tuple[str, ...]] = ("oe_holdout", "oe_class_holdout")  # validation protocols it supports

    def check(self, cfg: DataConfig) -> None:
        """Refuse a config this protocol cannot run (called when the config is validated)."""
        if cfg.val_protocol not in self.val_protocols:
            raise ValueError(f"data.val_protocol {cfg.val_protocol} does not fit benchmark {cfg.benchmark}, which "
                             f"supports {', '.join(self.val_protocols)} (class_holdout needs leave_one_out: elsewhere "
                             "every other class is a test anomaly)")
        if cfg.classes is not None and cfg.fold not in cfg.classes:
            raise ValueError(f"data.fold {cfg.fold} is not one of data.classes {cfg.classes}")

    def select(self, cfg: DataConfig, train: ImageSet, classes: list[int], generator: torch.Generator) -> Selection:
        """Choose among ``classes`` (the benchmark's: data.classes, or all the dataset's)."""
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


def benchmark_classes(cfg: DataConfig, train: ImageSet) -> list[int]:
    """data.classes, each a class of the dataset, or every class of it."""
    check_class("fold", cfg.fold, len(train.class_names))
    for value in cfg.classes or []:
        check_class("classes", value, len(train.class_names))
    return list(cfg.classes) if cfg.classes is not None else list(range(len(train.class_names)))


def _oe_pool(oe_classes: list[int] | None, oe: ImageSet, held: int | None) -> torch.Tensor:
    """Indices of the OE images a trial may draw: of its OE classes (all without), minus the class held
    out for validation."""
    if oe_classes is None and held is None:
        return torch.arange(len(oe))
    classes = oe_classes if oe_classes is not None else list(range(len(oe.class_names)))
    return of_classes(oe.labels, [c for c in classes if c != held])


def held_oe_class(cfg: DataConfig, oe: ImageSet, oe_classes: list[int] | None, classes: list[int]) -> int:
    """oe_class_holdout: the OE class held out for validation, a different one for each fold (the
    fold's position among the benchmark's classes picks among the OE classes)."""
    oe_classes = oe_classes if oe_classes is not None else list(range(len(oe.class_names)))
    if len(oe_classes) < 2 or not (oe.labels >= 0).any():
        raise ValueError(f"data.val_protocol oe_class_holdout holds one OE class out, but data.oe_corpus "
                         f"{cfg.oe_corpus} has {'no labelled classes' if not (oe.labels >= 0).any() else 'one class'}; "
                         "use val_protocol oe_holdout")
    return oe_classes[classes.index(cfg.fold) % len(oe_classes)]


def make_benchmark(cfg: DataConfig, seed: int) -> Benchmark:
    """Build the configured benchmark from the registered sources (nothing downloads)."""
    protocol = BENCHMARKS.get(cfg.benchmark)()
    data, oe = SOURCES.get(cfg.dataset), SOURCES.get(cfg.oe_corpus)
    generator = torch.Generator().manual_seed(seed)
    train = load_source(cfg.dataset, "train", cfg.data_root)
    test = load_source(cfg.dataset, "test", cfg.data_root)
    classes = benchmark_classes(cfg, train)
    oe_source = load_source(cfg.oe_corpus, oe.oe_split, cfg.data_root)
    for value in cfg.oe_classes or []:
        check_class("oe_classes", value, len(oe_source.class_names))
    oe_classes = cfg.oe_classes if cfg.oe_classes is not None else default_oe_classes(data, train, classes, oe, oe_source)
    error = overlap_error(data, train, classes, oe, oe_source, oe_classes)
    if error:
        raise ValueError(error)
    chosen = protocol.select(cfg, train, classes, generator)
    info: dict[str, Any] = {"benchmark": cfg.benchmark, "val_protocol": cfg.val_protocol, "oe_classes": oe_classes,
                            **chosen.info}

    val_normal_idx, _ = take(chosen.val_normal_pool, cfg.n_val, generator)
    held_oe = held_oe_class(cfg, oe_source, oe_classes, classes) if cfg.val_protocol == "oe_class_holdout" else None
    n_oe_val = cfg.n_val if cfg.val_protocol == "oe_holdout" else 0
    oe_pool = _oe_pool(oe_classes, oe_source, held_oe)
    oe_idx, _ = take(oe_pool, None if cfg.n_oe is None else cfg.n_oe + n_oe_val, generator)
    val_oe_idx, oe_idx = oe_idx[:n_oe_val], oe_idx[n_oe_val:]

    test_idx, _ = take(torch.arange(len(test)), cfg.n_test, generator)
    test_set = test.subset(test_idx)
    held = chosen.val_anomaly_class
    keep = torch.isin(test_set.labels, torch.tensor([c for c in classes if c != held]))
    test_set = test_set.subset(keep)  # the benchmark's classes only; a class held out for validation is not tested
    test_labels = torch.isin(test_set.labels, torch.tensor(chosen.anomaly_classes)).long()

    if cfg.val_protocol == "oe_holdout":
        val_anomalies = oe_source.images[val_oe_idx]
    elif cfg.val_protocol == "class_holdout":
        val_anomalies = train.images[take(of_classes(train.labels, [held]), cfg.n_val, generator)[0]]
        info["val_anomaly_class"] = held
    else:
        val_anomalies = oe_source.images[take(of_classes(oe_source.labels, [held_oe]), cfg.n_val, generator)[0]]
        info["val_anomaly_oe_class"] = held_oe

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
