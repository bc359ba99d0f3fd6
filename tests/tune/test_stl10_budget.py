"""Table 4's STL-10 column (paper 000: "STL-10 contains a large unlabeled split, which we use for OE"): on a
fake STL-10 tree written in the official binary format, the study's paper_stl10 budget passes the check
before Ray, which counts the splits without reading the unlabelled images; the overlap guard still refuses
STL-10's unlabelled images as the OE of another benchmark that names the same classes (CIFAR-10)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from adcore.data.overlap import overlap_error
from adcore.data.sources import SOURCES, census
from tune.run_study import main

IMAGE_BYTES = 3 * 96 * 96
N_UNLABELLED = 50_128  # the budget's n_oe (50,000) + n_val (128), as oe_holdout draws them


def fake_stl10(root: Path, per_class: int = 24) -> Path:
    """``root/stl10_binary``: train and test images with labels 1..10 as the official files store them (each
    channel column-major), and an unlabelled split of N_UNLABELLED images as a sparse file (no disk used)."""
    folder = root / "stl10_binary"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, per in (("train", per_class), ("test", per_class // 3)):
        labels = np.repeat(np.arange(1, 11, dtype=np.uint8), per)
        images = rng.integers(0, 256, (len(labels), 3, 96, 96), dtype=np.uint8)
        (folder / f"{split}_X.bin").write_bytes(images.transpose(0, 1, 3, 2).tobytes())
        (folder / f"{split}_y.bin").write_bytes(labels.tobytes())
    with open(folder / "unlabeled_X.bin", "wb") as unlabelled:
        unlabelled.truncate(N_UNLABELLED * IMAGE_BYTES)
    return root


def test_the_paper_stl10_budget_of_table_4_checks_out(tmp_path: Path, capsys) -> None:
    root = fake_stl10(tmp_path / "data")
    code = main(["studies/ablation_table4.yaml", "--budget", "paper_stl10", "--dry-run", "--out",
                 str(tmp_path / "results"), "--set", f"data.data_root={root}"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "a7-fold8-seed1" in out.out and "--budget paper_stl10" in out.out


def test_stl10_census_counts_from_file_sizes(tmp_path: Path) -> None:
    root = fake_stl10(tmp_path)
    stl10 = SOURCES.get("stl10")
    train, unlabelled = census(stl10, "train", root), census(stl10, "unlabeled", root)
    assert train.counts == (24,) * 10 and train.unlabelled == 0
    assert unlabelled.counts == (0,) * 10 and unlabelled.unlabelled == N_UNLABELLED and not unlabelled.labelled


def test_stl10_unlabelled_is_the_oe_of_stl10_only(tmp_path: Path) -> None:
    root = fake_stl10(tmp_path)
    stl10, cifar10 = SOURCES.get("stl10"), SOURCES.get("cifar10")
    train, unlabelled = census(stl10, "train", root), census(stl10, "unlabeled", root)
    assert overlap_error(stl10, train, [0, 1, 2], stl10, unlabelled, None) is None
    error = overlap_error(cifar10, train, [0, 1, 2], stl10, unlabelled, None)  # refused before classes are compared
    assert error is not None and "same vocabulary (objects)" in error and "no classes to keep apart" in error


@pytest.mark.parametrize("split", ["train", "test"])
def test_stl10_labelled_splits_stay_refused_as_the_oe_of_stl10(tmp_path: Path, split: str) -> None:
    """A source drawing its OE from a split the benchmark uses would share images with it."""
    root = fake_stl10(tmp_path)
    stl10 = SOURCES.get("stl10")
    train = census(stl10, "train", root)
    error = overlap_error(stl10, train, [0, 2], replace(stl10, oe_split=split), train, None)
    assert error is not None and "same collection (stl10)" in error
