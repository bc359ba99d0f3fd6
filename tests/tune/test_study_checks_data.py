"""Before Ray starts, the driver checks every data config of a study against the data (tune/data_check.py):
a missing folder, a class that does not exist or a budget larger than the data ends the run with the
study file, the key path and what to do, under --dry-run too, without importing torch or Ray. A
one-vs-rest smoke study on mnist5k (one split: its test split drawn) runs to ok rows; paper 002's
ImageNet subsets study checks out on a fake synset tree."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from adcore.data.sources.imagenet_names import synset_of
from adcore.data.sources.imagenet_subsets import MEMBERS
from conftest import ROOT, the_run, trials, write_study
from tune.data_check import check_study_data
from tune.grid import expand
from tune.run_study import main
from tune.study import StudyError, load_study


def image_tree(root: Path, folders: list[str], per_class: int) -> Path:
    """``root/<folder>/<i>.png``: tiny images, a grey level per folder."""
    for level, name in enumerate(folders):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(np.full((8, 8, 3), (10 * level + i) % 256, np.uint8)).save(root / name / f"{i}.png")
    return root


@pytest.fixture
def flowers(tmp_path: Path) -> dict:
    image_tree(tmp_path / "flowers", ["daisy", "rose", "tulip"], 12)
    return {"name": "image_folder", "root": str(tmp_path / "flowers")}


@pytest.mark.parametrize(("data", "grid", "key", "words"), [
    ({"dataset": {"root": "/nonexistent/flowers"}}, {"data.fold": [0, 1]}, "data.dataset.root",
     "no folder /nonexistent/flowers"),
    ({}, {"data.fold": [0, 1, 5]}, "data.fold", "5 is not a class of image_folder"),
    ({"n_normal": 8}, {"data.fold": [0, 1]}, "data.n_normal",
     "data.n_normal + data.n_val ask for 12 images from class(es) 0 (daisy)"),
])
def test_a_study_whose_data_is_not_there_is_refused_before_ray(tmp_path: Path, capsys, flowers: dict, data: dict,
                                                               grid: dict, key: str, words: str) -> None:
    budget = {"n_normal": 4, "n_val": 4, "n_oe": 16, "n_test": 6}  # 10 training images per class: 2 drawn for the test
    base = {"data": {"benchmark": "one_vs_rest", "oe_corpus": "smooth_noise", **budget, **data,
                     "dataset": {**flowers, **data.get("dataset", {})}}}
    study = write_study(tmp_path, "own", base=base, grid=grid)
    for dry in ([], ["--dry-run"]):
        assert main([str(study), "--out", str(tmp_path / "results"), *dry]) == 2
        error = capsys.readouterr().err
        assert str(study) in error and f"{key}: " in error and words in error, error
    if key == "data.dataset.root":
        assert "grid point" not in error  # every point
    else:  # the points each problem concerns
        assert error.endswith("[grid point data.fold=5]\n") if key == "data.fold" else "(rose)" in error
    assert not (tmp_path / "results").exists()


def test_a_refused_study_imports_neither_torch_nor_ray(tmp_path: Path) -> None:
    study = write_study(tmp_path, "missing", base={"data": {"dataset": {"name": "mvtec", "root": str(tmp_path / "no"),
                                                                        "category": "bottle"}}})
    probe = (f"import sys; from tune.run_study import main; code = main([{str(study)!r}]); "
             "print(code, 'torch' in sys.modules, 'ray' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.stdout.split() == ["2", "False", "False"], done.stderr
    assert "data.dataset.root: no folder" in done.stderr


def test_a_one_vs_rest_smoke_study_on_mnist5k_runs_to_ok_rows(tmp_path: Path, run_study) -> None:
    study = write_study(tmp_path, "mnist5k_one_vs_rest", grid={"data.fold": [3, 8]},
                        base={"data": {"dataset": "mnist5k", "benchmark": "one_vs_rest", "oe_corpus": "smooth_noise"}})
    assert run_study(study) == 0
    frame = trials(the_run(tmp_path / "results", "mnist5k_one_vs_rest"))
    assert (frame["status"] == "ok").all() and len(frame) == 2
    assert (frame["test_split"] == "drawn").all() and (frame["data.test_fraction"] == 0.2).all()
    assert (frame["n_test"] == 96).all() and (frame["n_skipped_images"] == 0).all()


def test_the_imagenet_subsets_study_checks_out_on_a_fake_synset_tree(tmp_path: Path) -> None:
    synsets = [synset_of(member) for members in MEMBERS.values() for member in members]
    image_tree(tmp_path / "imagenet" / "train", synsets, 6)
    image_tree(tmp_path / "imagenet" / "val", synsets, 2)
    path = "studies/imagenet_subsets.yaml"
    sets = [f"data.dataset.root={tmp_path / 'imagenet'}"]
    with pytest.raises(StudyError, match=r"data.n_normal: .* from class\(es\) 1 \(bluetick\), .* \(leave_one_out\), "
                                         r"which holds 66"):  # the paper's budget, not the tree's: 11 dogs x 6
        check_study_data(load_study(path, sets), path)
    study = load_study(path, [*sets, "data.n_normal=20", "data.n_val=4"])
    check_study_data(study, path)
    points = expand(study, path)
    assert len(points) == 4 * 5 * 6
    assert {p.trial.data.dataset.subset for p in points} == set(MEMBERS)
    assert {p.trial.data.dataset.root for p in points} == {str(tmp_path / "imagenet")}
