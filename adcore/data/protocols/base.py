"""What every benchmark shares: the Benchmark a trial receives, the protocol interface and registry,
and the assembly of OE, validation and test sets around a class protocol's choice of classes.

A class protocol (leave_one_out, one_vs_rest, minor_mode: one module each) decides which classes of
a labelled source are normal and which anomalous and which training images are taken; the rest is
common (``class_benchmark``). A protocol whose data is not a labelled source with train and test
splits builds its whole Benchmark itself (``Protocol.build``; ``factors`` draws factor tuples).
Every benchmark yields training normals, an OE set, a validation set that holds no test anomaly,
and a test set; labels are 1 for anomalies and 0 for normal images. All subsets are drawn with the
trial seed, so a config and seed always give the same images. A source with one split has its test
split drawn from it first (``adcore.data.splits``), apart from every image the protocol may take.

A protocol also says how many training images it takes (``demand``), so the check before Ray starts
(``adcore.data.check``) can compare a budget with a source's class counts without loading an image.
torch is imported inside the functions that use it: reading the registry stays light.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from adcore.data.config import DataConfig
from adcore.data.overlap import default_oe_classes, overlap_error
from adcore.data.sources import SOURCES, Census, DataConfigError, ImageSet, LoadSettings, Source, load_split, resolve_source
from adcore.data.splits import stratified_test_index
from adcore.registry import Registry

if TYPE_CHECKING:
    import torch

Embed = Callable[["torch.Tensor"], "torch.Tensor"]  # uint8 images (N, C, S, S) -> the method's features (N, D) on the CPU


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
    dci_images: torch.Tensor | None = None  # images whose features DCI scores against dci_factors (factors)
    dci_factors: torch.Tensor | None = None  # (N_dci, 7) int64

    def test_metrics(self, scores: torch.Tensor) -> dict[str, float]:
        """The protocol's own test metrics beyond AP and AUROC (see Protocol.metric_names)."""
        return self.protocol.test_metrics(self, scores)

    def representation_metrics(self, embed: Embed) -> dict[str, float]:
        """The protocol's metrics of the trained representation (see Protocol.representation_metrics)."""
        return self.protocol.representation_metrics(self, embed)


@dataclass(frozen=True)
class Need:
    """Training images a protocol takes from the union of some classes, and the keys that set how many."""

    classes: tuple[int, ...]
    count: int
    keys: str  # what to lower, e.g. "data.n_normal + data.n_val"


def normal_need(classes: list[int], n_normal: int | None, n_val: int) -> Need:
    """Training normals plus validation normals drawn from one pool (n_normal None: all but n_val, so at
    least one to train on)."""
    return Need(tuple(classes), (1 if n_normal is None else n_normal) + n_val, "data.n_normal + data.n_val")


class Protocol:
    """How one benchmark picks its normal and anomalous images; registered in BENCHMARKS. A class
    protocol implements ``select``; another kind of benchmark overrides ``build``."""

    metric_names: ClassVar[tuple[str, ...]] = ()  # test metrics it reports beyond test_ap / test_auroc
    draws_classes: ClassVar[bool] = True  # from a labelled source's classes; the check before Ray counts them
    val_protocols: ClassVar[tuple[str, ...]] = ("oe_holdout", "oe_class_holdout")  # validation protocols it supports

    def check(self, cfg: DataConfig) -> None:
        """Refuse a config this protocol cannot run (called when the config is validated)."""
        self.check_val_protocol(cfg)
        if cfg.factors is not None:
            raise ValueError(f"data.factors chooses images by their factors, which only benchmark factors reads; "
                             f"remove it or set data.benchmark=factors (now {cfg.benchmark})")
        if isinstance(cfg.dataset, str) and cfg.dataset not in SOURCES:
            raise ValueError(f"data.dataset {cfg.dataset} is a factor source, which only benchmark factors reads; "
                             f"set data.benchmark=factors (now {cfg.benchmark})")
        if cfg.classes is not None and cfg.fold not in cfg.classes:
            raise ValueError(f"data.fold {cfg.fold} is not one of data.classes {cfg.classes}")

    def check_val_protocol(self, cfg: DataConfig) -> None:
        if cfg.val_protocol not in self.val_protocols:
            raise ValueError(f"data.val_protocol {cfg.val_protocol} does not fit benchmark {cfg.benchmark}, which "
                             f"supports {', '.join(self.val_protocols)} (class_holdout needs leave_one_out: elsewhere "
                             "every other class is a test anomaly; oe_factor_holdout needs factors)")

    def build(self, cfg: DataConfig, seed: int, cache_dir: Path | None = None) -> Benchmark:
        """The trial's images; a class protocol's are assembled around its ``select``."""
        return class_benchmark(self, cfg, seed, cache_dir)

    def select(self, cfg: DataConfig, train: ImageSet, classes: list[int], generator: torch.Generator) -> Selection:
        """Choose among ``classes`` (the benchmark's: data.classes, or all the dataset's)."""
        raise NotImplementedError

    def demand(self, cfg: DataConfig, train: Census, classes: list[int]) -> list[Need]:
        """The training images ``select`` takes, by class: what the check before Ray compares with the data."""
        raise NotImplementedError

    def test_metrics(self, bench: Benchmark, scores: torch.Tensor) -> dict[str, float]:
        return {}

    def representation_metrics(self, bench: Benchmark, embed: Embed) -> dict[str, float]:
        """Test metrics of the trained representation itself, computed once after the last epoch from
        ``embed`` (the method's features); e.g. factors' DCI disentanglement. Keys are in metric_names."""
        return {}


BENCHMARKS: Registry[type[Protocol]] = Registry("benchmark")


def take(index: torch.Tensor, n: int | None, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a seeded permutation of ``index`` into (first n, rest); n None takes everything."""
    import torch

    shuffled = index[torch.randperm(len(index), generator=generator)]
    n = len(shuffled) if n is None else n
    if n > len(shuffled):
        raise ValueError(f"asked for {n} images but only {len(shuffled)} are available; lower the budget")
    return shuffled[:n], shuffled[n:]


def n_train(n_normal: int | None, pool: torch.Tensor, n_val: int) -> int:
    """Training normals to take from ``pool``; None means all but the validation normals."""
    return len(pool) - n_val if n_normal is None else n_normal


def of_classes(labels: torch.Tensor, classes: list[int]) -> torch.Tensor:
    import torch

    return torch.nonzero(torch.isin(labels, torch.tensor(classes)), as_tuple=True)[0]


def check_class(cfg_name: str, value: int, num_classes: int) -> None:
    if not 0 <= value < num_classes:
        raise ValueError(f"data.{cfg_name}={value} is not a class of this dataset (0..{num_classes - 1})")


def benchmark_classes(cfg: DataConfig, train: ImageSet | Census) -> list[int]:
    """data.classes, each a class of the dataset, or every class of it."""
    check_class("fold", cfg.fold, len(train.class_names))
    for value in cfg.classes or []:
        check_class("classes", value, len(train.class_names))
    return list(cfg.classes) if cfg.classes is not None else list(range(len(train.class_names)))


def _oe_pool(oe_classes: list[int] | None, oe: ImageSet, held: int | None) -> torch.Tensor:
    """Indices of the OE images a trial may draw: of its OE classes (all without), minus the class held
    out for validation."""
    import torch

    if oe_classes is None and held is None:
        return torch.arange(len(oe))
    classes = oe_classes if oe_classes is not None else list(range(len(oe.class_names)))
    return of_classes(oe.labels, [c for c in classes if c != held])


def held_oe_class(cfg: DataConfig, oe: ImageSet | Census, oe_classes: list[int] | None, classes: list[int]) -> int:
    """oe_class_holdout: the OE class held out for validation, a different one for each fold (the
    fold's position among the benchmark's classes picks among the OE classes)."""
    oe_classes = oe_classes if oe_classes is not None else list(range(len(oe.class_names)))
    if len(oe_classes) < 2 or not oe.labelled:
        raise ValueError(f"data.val_protocol oe_class_holdout holds one OE class out, but data.oe_corpus "
                         f"{oe_name(cfg)} has {'no labelled classes' if not oe.labelled else 'one class'}; "
                         "use val_protocol oe_holdout")
    return oe_classes[classes.index(cfg.fold) % len(oe_classes)]


def oe_name(cfg: DataConfig) -> str:
    return cfg.oe_corpus if isinstance(cfg.oe_corpus, str) else cfg.oe_corpus.name


def benchmark_splits(cfg: DataConfig, data: Source, seed: int) -> tuple[ImageSet, ImageSet, torch.Tensor, str]:
    """(training split, the set test images come from, their indices in it, how the test split was made).

    A source without a test split keeps its images in one set (a memory-mapped folder is not copied):
    the drawn test images are the returned indices, and in the training split their labels are -1
    (unlabelled), so no protocol, which draws by class, can take them."""
    import torch

    train = load_split(data, "train", cfg.data_root)
    if "test" in data.splits:
        test = load_split(data, "test", cfg.data_root)
        return train, test, torch.arange(len(test)), "source"
    test_index = stratified_test_index(train.labels, cfg.test_fraction, seed)
    labels = train.labels.clone()
    labels[test_index] = -1
    training = ImageSet(train.images, labels, train.class_names, train.class_concepts, train.unreadable)
    return training, train, test_index, "drawn"


def class_benchmark(protocol: Protocol, cfg: DataConfig, seed: int, cache_dir: Path | None) -> Benchmark:
    """A class protocol's benchmark: its choice of classes on the source's train split, OE from the OE
    corpus, validation by data.val_protocol and the test split's images of the benchmark's classes."""
    import torch

    from adcore.data.transforms import resize_images, to_channels

    settings = LoadSettings(cfg.data_root, cfg.image_size, cache_dir)
    data = resolve_source(cfg.dataset, "data.dataset", settings)
    oe = resolve_source(cfg.oe_corpus, "data.oe_corpus", settings)
    generator = torch.Generator().manual_seed(seed)
    train, test, test_pool, test_split = benchmark_splits(cfg, data, seed)
    classes = benchmark_classes(cfg, train)
    oe_source = load_split(oe, oe.oe_split, cfg.data_root)
    for value in cfg.oe_classes or []:
        check_class("oe_classes", value, len(oe_source.class_names))
    oe_classes = cfg.oe_classes if cfg.oe_classes is not None else default_oe_classes(data, train, classes, oe, oe_source)
    error = overlap_error(data, train, classes, oe, oe_source, oe_classes)
    if error:
        raise DataConfigError("data.oe_classes" if cfg.oe_classes is not None else "data.oe_corpus", error)
    chosen = protocol.select(cfg, train, classes, generator)
    info: dict[str, Any] = {"benchmark": cfg.benchmark, "val_protocol": cfg.val_protocol, "oe_classes": oe_classes,
                            **chosen.info}

    val_normal_idx, _ = take(chosen.val_normal_pool, cfg.n_val, generator)
    held_oe = held_oe_class(cfg, oe_source, oe_classes, classes) if cfg.val_protocol == "oe_class_holdout" else None
    n_oe_val = cfg.n_val if cfg.val_protocol == "oe_holdout" else 0
    oe_pool = _oe_pool(oe_classes, oe_source, held_oe)
    oe_idx, _ = take(oe_pool, None if cfg.n_oe is None else cfg.n_oe + n_oe_val, generator)
    val_oe_idx, oe_idx = oe_idx[:n_oe_val], oe_idx[n_oe_val:]

    test_idx, _ = take(test_pool, cfg.n_test, generator)
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
                n_test=len(test_labels), n_test_anomalies=int(test_labels.sum()), test_split=test_split,
                n_skipped_images=len({*train.unreadable, *test.unreadable, *oe_source.unreadable}))
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
