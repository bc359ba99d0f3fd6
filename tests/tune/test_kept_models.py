"""Which trials keep their trained detector (tune/models.py), on rows alone: per arm of a grid the best by
the study's validation metric (never a test number), the best of a search, every finished trial with
runtime.keep_model all; the driver removes a detector as soon as it loses, and at the end keeps exactly
the selected ones."""
from __future__ import annotations

from pathlib import Path

from conftest import write_study
from tune.models import Selection, kept, model_dir, prune
from tune.results import RunDir
from tune.study import load_study


def _row(trial: str, arm: str, val_ap: float, test_ap: float, status: str = "ok", keep: str = "best") -> dict:
    return {"trial_id": trial, "arm": arm, "val_ap": val_ap, "test_ap": test_ap, "status": status,
            "runtime.keep_model": keep}


ROWS = [_row("a1-0", "a1", 0.50, 0.90), _row("a1-1", "a1", 0.70, 0.10), _row("a1-2", "a1", 0.99, 0.99, "failed"),
        _row("a2-0", "a2", 0.60, 0.20), _row("a2-1", "a2", 0.60, 0.80)]


def test_a_grid_keeps_each_arms_best_by_validation_and_a_search_its_best(tmp_path: Path) -> None:
    grid = load_study(write_study(tmp_path, "g", grid={"arm": ["a1", "a2"], "seed": [0, 1, 2]}))
    assert kept(grid, ROWS) == {"a1-1": "best val_ap of a1", "a2-0": "best val_ap of a2"}  # a tie: the first id
    search = load_study(write_study(tmp_path, "s", grid={"arm": ["a7"]}, search={
        "num_samples": 5, "space": {"optim.lr": {}}}))
    assert kept(search, ROWS) == {"a1-1": "best val_ap"}
    every = [{**row, "runtime.keep_model": "all"} for row in ROWS]
    assert set(kept(grid, every)) == {"a1-0", "a1-1", "a2-0", "a2-1"}
    assert kept(grid, [{**row, "runtime.keep_model": "none"} for row in ROWS]) == {}


def test_the_driver_removes_a_detector_once_it_loses_and_keeps_the_selection_at_the_end(tmp_path: Path) -> None:
    study = load_study(write_study(tmp_path, "g", grid={"arm": ["a1", "a2"], "seed": [0, 1, 2]}))
    run = RunDir.create(tmp_path / "results", "g")
    selection = Selection(study, run)
    for row in ROWS:  # each trial ends: its row, then the callback
        model_dir(run.path, row["trial_id"]).mkdir(parents=True)
        run.write_row(row)
        selection.ended(row["trial_id"])
    assert sorted(p.name for p in (run.path / "models").iterdir()) == ["a1-1", "a2-0"]
    model_dir(run.path, "a1-0").mkdir()  # e.g. left by a killed driver
    prune(run, kept(study, ROWS))
    assert sorted(p.name for p in (run.path / "models").iterdir()) == ["a1-1", "a2-0"]
