"""The contract every registered benchmark protocol keeps, with each validation protocol it supports:
the same seed draws the same images and another seed others; no test anomaly (nor any test image)
reaches validation or the OE set; and a class protocol's ``demand`` is exactly what ``select``
takes, so the check before Ray passes a budget exactly when the trial can build it.

It iterates BENCHMARKS, so a new protocol is tested with no new test code. Each runs on the first
example data config it accepts: a class split of a small .npz whose every image encodes its class
and index (``own_data``), so any image a benchmark hands out is traced back to its file; or factors
of the rendered scenes, traced by their pixels alone.
"""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
from pydantic import ValidationError

from adcore.data.check import check_data
from adcore.data.config import DataConfig
from adcore.data.protocols import BENCHMARKS, Benchmark, checked, make_benchmark
from adcore.data.sources import DataConfigError, LoadSettings, census, resolve_source
from adcore.data.splits import drawn_censuses
from own_data import identity, write_npz

CASES = [(name, val) for name in BENCHMARKS.names() for val in BENCHMARKS.get(name).val_protocols]
CLASS_CASES = [(name, val) for name, val in CASES if BENCHMARKS.get(name).draws_classes]
BUDGET = {"image_size": 8, "n_normal": 8, "n_oe": 8, "n_val": 4}


@pytest.fixture(scope="module")
def npz(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """Six classes of 24 training images, as a source with a test split (8 a class) and with one split."""
    root = tmp_path_factory.mktemp("protocols")
    return {"test split": {"name": "npz", "path": str(write_npz(root / "split.npz", [24] * 6, [8] * 6))},
            "one split": {"name": "npz", "path": str(write_npz(root / "whole.npz", [24] * 6))}}


def class_split(dataset: dict[str, str], **extra: Any) -> dict[str, Any]:
    """Classes 0-3 are the benchmark's, 4 and 5 of the same collection are the OE (a class split)."""
    return {**BUDGET, "dataset": dataset, "classes": [0, 1, 2, 3], "fold": 1, "oe_corpus": dataset,
            "oe_classes": [4, 5], "n_test": None, **extra}


def factor_scenes(val_protocol: str) -> dict[str, Any]:
    factors = {"normal": {"object_color": "red", "object_shape": "cone", "object_size": "small"},
               "intervention": {"object_color": "blue"}}
    if val_protocol == "oe_factor_holdout":
        factors["val"] = {"object_shape": "hexagonal"}
    return {**BUDGET, "image_size": 16, "dataset": "scenes", "oe_corpus": "scenes", "n_test": 8, "factors": factors}


def example(name: str, val_protocol: str, dataset: dict[str, str]) -> DataConfig:
    """The first example config protocol ``name`` accepts with ``val_protocol``."""
    candidates: list[Callable[[], dict[str, Any]]] = [
        lambda: class_split(dataset), lambda: class_split(dataset, secondary_class=2, minor_ratio=0.5),
        lambda: factor_scenes(val_protocol)]
    refusals = []
    for candidate in candidates:
        try:
            return checked(DataConfig(**candidate(), benchmark=name, val_protocol=val_protocol))
        except ValidationError as error:
            refusals.append(str(error))
    pytest.fail(f"benchmark {name} with {val_protocol} accepts none of the examples here; add one it accepts:\n"
                + "\n".join(refusals))


def tensors(bench: Benchmark) -> dict[str, torch.Tensor]:
    return {f.name: getattr(bench, f.name) for f in fields(bench) if isinstance(getattr(bench, f.name), torch.Tensor)}


def as_bytes(images: torch.Tensor) -> set[bytes]:
    return {image.numpy().tobytes() for image in images}


@pytest.mark.parametrize(("name", "val_protocol"), CASES)
def test_the_same_seed_draws_the_same_images_and_another_seed_others(npz: dict, tmp_path: Path, name: str,
                                                                     val_protocol: str) -> None:
    cfg = example(name, val_protocol, npz["test split"])
    first, again, other = (tensors(make_benchmark(cfg, seed, tmp_path)) for seed in (0, 0, 1))
    assert first.keys() == again.keys() and all(torch.equal(first[key], again[key]) for key in first)
    assert not torch.equal(first["train_normal"], other["train_normal"])


@pytest.mark.parametrize(("name", "val_protocol"), CASES)
def test_no_test_anomaly_reaches_validation_or_the_oe(npz: dict, tmp_path: Path, name: str, val_protocol: str) -> None:
    cfg = example(name, val_protocol, npz["one split"])
    bench = make_benchmark(cfg, 0, tmp_path)
    anomalies = bench.test_images[bench.test_labels == 1]
    assert len(anomalies) and len(bench.oe) and (bench.val_labels == 1).any()
    for part in (bench.val_images, bench.oe, bench.train_normal):
        assert not as_bytes(part) & as_bytes(anomalies)
    if not BENCHMARKS.get(name).draws_classes:
        return  # rendered scenes carry no file identity; their factors are checked in test_factor_benchmark
    test = identity(bench.test_images.numpy())
    test_anomaly_classes = {c for (c, _), label in zip(test, bench.test_labels.tolist()) if label == 1}
    normal_classes = {c for c, _ in identity(bench.train_normal.numpy())}
    val = identity(bench.val_images.numpy())
    for part in (val, identity(bench.oe.numpy()), identity(bench.train_normal.numpy())):
        assert not {c for c, _ in part} & test_anomaly_classes and not set(part) & set(test)  # no test image at all
    val_normals = {c for (c, _), label in zip(val, bench.val_labels.tolist()) if label == 0}
    assert val_normals <= normal_classes


def training_census(cfg: DataConfig):
    source = resolve_source(cfg.dataset, "data.dataset", LoadSettings(cfg.data_root, cfg.image_size))
    train = census(source, "train")
    return train if "test" in source.splits else drawn_censuses(train, cfg.test_fraction)[0]


@pytest.mark.parametrize("layout", ["test split", "one split"])
@pytest.mark.parametrize(("name", "val_protocol"), CLASS_CASES)
def test_demand_is_exactly_what_select_takes(npz: dict, tmp_path: Path, layout: str, name: str,
                                             val_protocol: str) -> None:
    cfg = example(name, val_protocol, npz[layout])
    protocol, train, classes = BENCHMARKS.get(name)(), training_census(cfg), cfg.classes

    def at(n_normal: int) -> DataConfig:
        return checked(cfg.model_copy(update={"n_normal": n_normal}))

    def fits(n_normal: int) -> bool:
        return all(need.count <= train.of(list(need.classes)) for need in protocol.demand(at(n_normal), train, classes))

    limit = max(n for n in range(1, len(train) + 1) if fits(n))  # the largest budget demand says the data holds
    assert limit > BUDGET["n_normal"] and not fits(limit + 1)
    check_data(at(limit))
    assert make_benchmark(at(limit), 0, tmp_path).info["n_train_normal"] == limit
    with pytest.raises(DataConfigError, match="data.n_normal"):
        check_data(at(limit + 1))
    with pytest.raises(ValueError, match="only .* are available"):
        make_benchmark(at(limit + 1), 0, tmp_path)
