"""Does the data a config names exist, and is there enough of it? Answered from the sources' censuses
(metadata and file listings), without decoding an image, so a study's driver can ask it of every
data config before Ray starts (``tune/data_check.py``).

It asks what ``make_benchmark`` would find: the dataset and OE corpus resolve (folders, files,
layout parameters), their splits exist (a source with one split gets its test split drawn,
``data.test_fraction`` of each class), the classes a config names exist, the OE corpus keeps apart
from the benchmark's classes (the overlap guard), and the budget fits: the protocol's training and
validation images (``Protocol.demand``), the OE images, the test images. The first problem is raised
as a ``DataConfigError`` naming the config key to change.
"""
from __future__ import annotations

import json

from adcore.data.config import DataConfig
from adcore.data.overlap import default_oe_classes, overlap_error
from adcore.data.protocols import protocol_of
from adcore.data.protocols.base import held_oe_class
from adcore.data.sources import (Census, DataConfigError, DataNotFoundError, LoadSettings, Source, SourceParams,
                                 census, resolve_source)
from adcore.data.splits import drawn_censuses


class Resolved:
    """Sources and censuses found once and shared by the checks of a study's data configs (ten folds of one
    folder list it once)."""

    def __init__(self) -> None:
        self._sources: dict[str, Source] = {}
        self._censuses: dict[tuple[str, str, str | None], Census] = {}

    def source(self, spec: str | SourceParams, key: str, settings: LoadSettings) -> Source:
        named = spec if isinstance(spec, str) else json.dumps(spec.model_dump(mode="json"), sort_keys=True)
        memo = f"{key}|{named}|{settings.data_root}"
        if memo not in self._sources:
            self._sources[memo] = resolve_source(spec, key, settings)
        return self._sources[memo]

    def census(self, found: Source, split: str, data_root: str | None, key: str) -> Census:
        """A split's census; missing files (or split) are an error at the source's key, whose message says
        what to do."""
        memo = (f"{key}|{found.name}|{found.family}", split, data_root)
        if memo not in self._censuses:
            try:
                self._censuses[memo] = census(found, split, data_root)
            except DataConfigError:
                raise
            except (DataNotFoundError, ValueError) as error:
                raise DataConfigError(key, str(error)) from None
        return self._censuses[memo]


def check_data(cfg: DataConfig, resolved: Resolved | None = None) -> None:
    """Raise a DataConfigError for the first problem ``make_benchmark`` would meet with this config;
    ``resolved`` shares what one check found with the next."""
    protocol = protocol_of(cfg)
    if not protocol.draws_classes:  # its own check (protocol_of) counted what it needs
        return
    resolved = resolved or Resolved()
    settings = LoadSettings(cfg.data_root, cfg.image_size)
    data = resolved.source(cfg.dataset, "data.dataset", settings)
    oe = resolved.source(cfg.oe_corpus, "data.oe_corpus", settings)
    train, test = _splits(cfg, data, resolved)
    classes = _classes(cfg, data, train)
    oe_set = resolved.census(oe, oe.oe_split, cfg.data_root, "data.oe_corpus")
    for value in cfg.oe_classes or []:
        _is_class("data.oe_classes", value, oe, oe_set)
    oe_classes = cfg.oe_classes if cfg.oe_classes is not None else default_oe_classes(data, train, classes, oe, oe_set)
    error = overlap_error(data, train, classes, oe, oe_set, oe_classes)
    if error:  # the same key and words as make_benchmark's
        raise DataConfigError("data.oe_classes" if cfg.oe_classes is not None else "data.oe_corpus", error)
    for need in protocol.demand(cfg, train, classes):
        _enough(need.keys, need.count, train.of(list(need.classes)),
                f"class(es) {_names(train, need.classes)} of {data.name}'s training split ({cfg.benchmark})")
    _check_oe(cfg, oe, oe_set, oe_classes, classes)
    if cfg.n_test is not None:
        _enough("data.n_test", cfg.n_test, len(test), f"{data.name}'s test split"
                + (f" (data.test_fraction {cfg.test_fraction:g} of its images)" if "test" not in data.splits else ""))


def _splits(cfg: DataConfig, data: Source, resolved: Resolved) -> tuple[Census, Census]:
    """(training, test) make-up: the source's own splits, or its one split with the test split drawn."""
    train = resolved.census(data, "train", cfg.data_root, "data.dataset")
    if "test" in data.splits:
        return train, resolved.census(data, "test", cfg.data_root, "data.dataset")
    return drawn_censuses(train, cfg.test_fraction)


def _classes(cfg: DataConfig, data: Source, train: Census) -> list[int]:
    """The benchmark's classes, each one the dataset has."""
    _is_class("data.fold", cfg.fold, data, train)
    if cfg.secondary_class is not None:
        _is_class("data.secondary_class", cfg.secondary_class, data, train)
    for value in cfg.classes or []:
        _is_class("data.classes", value, data, train)
    return list(cfg.classes) if cfg.classes is not None else list(range(len(train.class_names)))


def _is_class(key: str, value: int, found: Source, makeup: Census) -> None:
    if not 0 <= value < len(makeup.class_names):
        listed = ", ".join(f"{i} {name}" for i, name in enumerate(makeup.class_names)) or "none: it is unlabelled"
        raise DataConfigError(key, f"{value} is not a class of {found.name}; its classes: {listed}")


def _names(makeup: Census, classes: tuple[int, ...]) -> str:
    return ", ".join(f"{c} ({makeup.class_names[c]})" for c in classes)


def _enough(keys: str, wanted: int, available: int, what: str) -> None:
    if wanted > available:
        hint = " (data.n_normal: null takes all but the validation images)" if "n_normal" in keys else ""
        raise DataConfigError(keys.split(" ")[0], f"{keys} ask{'' if '+' in keys else 's'} for {wanted} images from {what}, which holds "
                              f"{available}; lower {keys}{hint}")


def _check_oe(cfg: DataConfig, oe: Source, oe_set: Census, oe_classes: list[int] | None, classes: list[int]) -> None:
    """The OE images a trial takes (and, with oe_holdout, its validation anomalies) fit the corpus; ``oe_classes``
    are the ones it draws from (data.oe_classes, or their default: None for all)."""
    held = None
    if cfg.val_protocol == "oe_class_holdout":
        try:
            held = held_oe_class(cfg, oe_set, oe_classes, classes)
        except ValueError as error:
            raise DataConfigError("data.val_protocol", str(error).removeprefix("data.val_protocol ")) from None
        _enough("data.n_val", cfg.n_val, oe_set.counts[held], f"OE class {held} ({oe_set.class_names[held]}) of "
                f"{oe.name}, held out as the validation anomalies")
    n_val = cfg.n_val if cfg.val_protocol == "oe_holdout" else 0
    if oe_classes is None and held is None:
        pool = len(oe_set)
    else:
        used = oe_classes if oe_classes is not None else list(range(len(oe_set.class_names)))
        pool = oe_set.of([c for c in used if c != held])
    wanted = (1 if cfg.n_oe is None else cfg.n_oe) + n_val
    _enough("data.n_oe + data.n_val" if n_val else "data.n_oe", wanted, pool, f"the OE corpus {oe.name}"
            + (f" (its classes {oe_classes})" if oe_classes is not None else ""))
