"""A study file is validated before anything starts: errors name the file, the key path and the
valid choices; --dry-run lists every trial of the grid without starting Ray."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import write_study
from tune.run_study import main

GOOD = {"grid": {"data.fold": [0, 1]}}


@pytest.mark.parametrize(("edit", "sets", "key", "hint"), [
    ({"schedulr": {"name": "asha"}}, [], "schedulr", "valid keys: base, budgets, concurrency"),
    ({"scheduler": {"name": "hyperband"}}, [], "scheduler.name", "'fifo', 'asha' or 'median'"),
    ({"scheduler": {"grace": 2}}, [], "scheduler.grace", "valid keys: grace_period, min_samples_required, name"),
    ({"metric": "test_ap"}, [], "metric", "test numbers are never an objective"),
    ({"resources": {"gpu": 0.3}}, [], "resources.gpu", "divide one card"),
    ({"base": {"data": {"benchmark": "leave_one"}}}, [], "data.benchmark",
     "unknown benchmark 'leave_one'; valid benchmarks: "),  # every registered name follows (tests/core/test_registries.py)
    ({"base": {"data": {"fols": 1}}}, [], "data.fols", "valid keys: augment, benchmark"),
    ({"base": {"method": {"name": "padim"}}}, [], "method", "valid methods: "),  # the list grows as adcore registers methods
    ({"base": {"regularizer": {"name": "l2sp", "alpah": 0.1}}}, [], "regularizer.alpah", "valid keys: alpha, form, name"),
    ({"grid": {"arm": ["a1", "a9"]}}, [], "grid.arm", "valid presets: a1, a2"),
    ({"search": {"num_samples": 2, "space": {"optim.lrr": {}}}, "grid": {}}, [], "search.space.optim.lrr",
     "valid keys: batch_size, epochs"),
    ({"search": {"num_samples": 2, "space": {"optim.lr": {}}}, "grid": {}, "metric": ["val_ap", "test_auroc"],
      "mode": ["max", "max"]}, [], "metric test_auroc", "test numbers are never an objective"),
    ({"search": {"num_samples": 2, "space": {"optim.lr": {}}}, "grid": {}, "metric": ["val_ap", "train_s"],
      "mode": ["max", "min"], "scheduler": {"name": "asha"}}, [], "scheduler.name asha", "use scheduler.name: fifo"),
    ({"search": {"num_samples": 2, "space": {"optim.lr": {}}}, "grid": {}, "metric": ["val_ap", "train_s"],
      "mode": "max"}, [], "mode", "one per metric"),
    ({"search": {"num_samples": 2, "algorithm": "bohb", "space": {"optim.lr": {}}}, "grid": {}}, [],
     "search.algorithm", "unknown sampler 'bohb'; valid samplers: "),
    ({"search": {"num_samples": 2, "options": {"n_startup": 3}, "space": {"optim.lr": {}}}, "grid": {}}, [],
     "search.options.n_startup", "unknown option of sampler tpe; valid options: n_startup_trials"),
    ({"search": {"num_samples": 2, "algorithm": "cmaes", "space": {"optim.lr": {}}}, "grid": {},
      "metric": ["val_ap", "train_s"], "mode": ["max", "min"]}, [], "search.algorithm", "optimises one objective"),
    ({"search": {"num_samples": 2, "space": {"arm": {"choices": ["a2", "a9"]}}}, "grid": {}}, [], "grid.arm",
     "unknown preset 'a9'"),
    ({"search": {"num_samples": 2, "space": {"arm": {"low": 1, "high": 2}}}, "grid": {}}, [], "search.space",
     "give choices"),
    ({}, ["optim.lrr=0.1"], "optim.lrr", "valid keys: batch_size, epochs"),
    ({}, ["schedulr.name=asha"], "schedulr", "a study key"),
])
def test_bad_study_file_fails_with_the_key_path(tmp_path: Path, capsys, edit: dict, sets: list[str], key: str,
                                                hint: str) -> None:
    study = write_study(tmp_path, "bad", **{**GOOD, **{k: v for k, v in edit.items() if k != "base"}},
                        base=edit.get("base"))
    code = main([str(study), "--dry-run", "--out", str(tmp_path / "results"), *(f"--set={s}" for s in sets)])
    error = capsys.readouterr().err
    assert code == 2
    assert str(study) in error and key in error and hint in error, error
    assert not {"applied", "overrides"} & set(error.replace(",", " ").split()), "internal fields listed as keys"
    assert not (tmp_path / "results").exists()  # nothing started


def test_dry_run_lists_the_product_of_the_grid(tmp_path: Path, capsys) -> None:
    grid = {"arm": ["a1", "a6", "a7"], "data.fold": [0, 3, 5, 9], "seed": [0, 1]}
    study = write_study(tmp_path, "product", grid=grid)
    assert main([str(study), "--dry-run", "--out", str(tmp_path / "results")]) == 0
    printed = capsys.readouterr().out
    assert "24 trials = arm (3) x data.fold (4) x seed (2)" in printed
    listed = [line.split()[0] for line in printed.splitlines() if line.startswith("  a")]
    assert len(listed) == len(set(listed)) == 24 and "a6-fold3-seed1" in listed
    assert not (tmp_path / "results").exists()

    assert main([str(study), "--dry-run", "--set", "data.fold=3", "--set", "grid.seed=[0,1,2]"]) == 0
    assert "9 trials = arm (3) x data.fold (1) x seed (3)" in capsys.readouterr().out



def test_resume_given_the_study_path_resumes_that_study(tmp_path: Path, capsys) -> None:
    """`--resume studies/x.yaml` names the study (its newest run), not a run id called studies/x.yaml."""
    study = write_study(tmp_path, "resumable", **GOOD)
    for argv in (["--resume", str(study)], ["--resume", str(study), "20990101-000000"], [str(study), "--resume"]):
        assert main([*argv, "--out", str(tmp_path / "results")]) == 2
        error = capsys.readouterr().err
        assert "of study 'resumable' to resume" in error and "the following arguments are required" not in error
