"""The check a driver runs before Ray starts (adcore.data.check): from file listings and class counts
alone it refuses what make_benchmark would refuse, with the key to change, and passes what it builds
(exactly, at the limit of every class protocol's budget: tests/data/test_protocol_contract.py)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from adcore.data.check import check_data
from adcore.data.config import DataConfig
from adcore.data.sources import DataConfigError
from own_data import write_classes, write_mvtec

SMALL = dict(image_size=8, n_normal=10, n_oe=20, n_val=4, n_test=None)


@pytest.fixture
def flowers(tmp_path: Path) -> dict:
    write_classes(tmp_path / "flowers", {"daisy": 20, "rose": 20, "tulip": 20})
    return {"name": "image_folder", "root": str(tmp_path / "flowers")}


def refused(**data) -> DataConfigError:
    with pytest.raises(DataConfigError) as error:
        check_data(DataConfig(**{**SMALL, **data}))
    return error.value


@pytest.mark.parametrize(("data", "key", "words"), [
    ({"dataset": {"name": "image_folder", "root": "/nonexistent/flowers"}}, "data.dataset.root",
     "no folder /nonexistent/flowers"),
    ({"fold": 3}, "data.fold", "3 is not a class of image_folder .*; its classes: 0 daisy, 1 rose, 2 tulip"),
    ({"benchmark": "minor_mode", "fold": 0, "secondary_class": 7}, "data.secondary_class", "7 is not a class"),
    ({"dataset": {"classes": ["rose", "lily"]}}, "data.dataset.classes", "no class folder lily .*: daisy, rose, tulip"),
    ({"n_normal": 13}, "data.n_normal", r"data.n_normal \+ data.n_val ask for 17 images from class\(es\) 0 \(daisy\) "
     r"of image_folder .*'s training split \(one_vs_rest\), which holds 16"),
    ({"benchmark": "leave_one_out", "n_normal": 29}, "data.n_normal", r"class\(es\) 1 \(rose\), 2 \(tulip\)"),
    ({"n_test": 13}, "data.n_test", "asks for 13 images from .*test split .*test_fraction 0.2.*, which holds 12"),
    ({"n_oe": 4997}, "data.n_oe", r"data.n_oe \+ data.n_val ask for 5001 images from the OE corpus mnist5k"),
    ({"oe_corpus": "flowers_placeholder"}, "data.oe_corpus", "same collection"),
    ({"oe_corpus": "flowers_placeholder", "oe_classes": [0, 1], "classes": [1, 2], "fold": 1}, "data.oe_classes",
     "hold the benchmark's classes \\(rose\\)"),
    ({"val_protocol": "oe_class_holdout", "oe_corpus": "smooth_noise"}, "data.val_protocol", "no labelled classes"),
    ({"oe_corpus": "flowers_placeholder", "classes": [1, 2], "fold": 1, "n_oe": 17}, "data.n_oe",  # OE: the daisies
     r"ask for 21 images from the OE corpus .* \(its classes \[0\]\), which holds 20"),
])
def test_what_the_data_cannot_give_is_refused_with_its_key(flowers: dict, data: dict, key: str, words: str) -> None:
    data = {"benchmark": "one_vs_rest", **data}
    data["dataset"] = {**flowers, **data.get("dataset", {})}
    if data.get("oe_corpus") == "flowers_placeholder":
        data["oe_corpus"] = flowers
    error = refused(**data)
    assert error.key == key
    assert re.search(words, error.message), error.message


def test_built_in_single_split_sources_pass_with_their_test_split_drawn() -> None:
    check_data(DataConfig(dataset="mnist5k", oe_corpus="smooth_noise", benchmark="one_vs_rest", n_normal=200))
    error = refused(dataset="mnist5k", oe_corpus="smooth_noise", benchmark="one_vs_rest", n_normal=384, n_val=128)
    assert error.key == "data.n_normal" and "which holds 400" in error.message  # 500 of a digit, 100 drawn for the test
    check_data(DataConfig(dataset="digits", oe_corpus="smooth_noise", benchmark="leave_one_out", n_normal=None,
                          n_test=None))
    error = refused(dataset="mnist5k", oe_corpus="smooth_noise", benchmark="one_vs_rest", n_normal=200, n_test=1001)
    assert error.key == "data.n_test" and "which holds 1000" in error.message  # 100 of each digit's 500
    error = refused(dataset="mnist5k", oe_corpus="mnist5k", benchmark="one_vs_rest")
    assert error.key == "data.oe_corpus" and "same collection (mnist)" in error.message


def test_a_missing_built_in_dataset_names_where_it_was_looked_for(tmp_path: Path) -> None:
    error = refused(dataset="cifar10", data_root=str(tmp_path))
    assert error.key == "data.dataset" and str(tmp_path / "cifar-10-batches-py") in error.message


def test_mvtec_budgets_are_checked_against_its_good_images(tmp_path: Path) -> None:
    write_mvtec(tmp_path / "mvtec", train_good=12)
    mvtec = {"name": "mvtec", "root": str(tmp_path / "mvtec"), "category": "bottle"}
    check_data(DataConfig(**{**SMALL, "n_normal": 8}, dataset=mvtec, benchmark="one_vs_rest"))
    error = refused(dataset=mvtec, benchmark="one_vs_rest")
    assert error.key == "data.n_normal" and "0 (good)" in error.message and "which holds 12" in error.message
    error = refused(dataset=mvtec, benchmark="one_vs_rest", fold=1, n_normal=None)
    assert error.key == "data.n_normal" and "1 (broken_large)" in error.message and "which holds 0" in error.message
