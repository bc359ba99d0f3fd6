"""A kept detector (adcore.saved) for every registered method: loaded through `adstudy score`, from its
folder and from the MLflow model its study logs, it scores its trial's own test images with the trial's
recorded test AUROC; a bad image or a detector of another config version is one clear error."""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from adcore.data import make_benchmark
from adcore.methods import METHODS
from adcore.metrics import auroc
from adcore.saved import DETECTOR_FILE, load_detector
from adstudy.cli import main as adstudy


def _test_images(trained, folder: Path) -> tuple[Path, torch.Tensor]:
    """The trial's own test images as an .npz (N, H, W, C) and their labels (1 = anomaly)."""
    bench = make_benchmark(trained.cfg.data, trained.cfg.seed)
    path = folder / "test.npz"
    np.savez(path, x_test=bench.test_images.numpy().transpose(0, 2, 3, 1))
    return path, bench.test_labels


def _scores(out: Path) -> tuple[list[str], np.ndarray, list[str]]:
    with (out / "scores.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    return [row["path"] for row in rows], np.array([float(row["score"]) for row in rows]), \
        [row.get("anomaly", "") for row in rows]


@pytest.fixture(scope="module")
def tracking(tmp_path_factory: pytest.TempPathFactory):
    """An MLflow store with a study's parent run, journaled as a study run journals it (tune/tracking.py)."""
    from tune.tracking import STUDY, Tracking, default_tracking_uri

    out = tmp_path_factory.mktemp("mlflow")
    run_path = out / "kept" / "run-0"
    tracking = Tracking(default_tracking_uri(out), "kept", str(run_path), str(out / "mlartifacts"))
    tracking.journal(STUDY).start("run-0", {}, {"study": "kept"})
    assert tracking.journal(STUDY).send(wait=True)  # children need their parent run
    return tracking


@pytest.mark.parametrize("name", METHODS.names())
def test_a_kept_detector_scores_its_trials_test_images_as_the_trial_did(name: str, trained, tracking,
                                                                        tmp_path: Path) -> None:
    trial = trained(name)
    assert trial.row["status"] == "ok", trial.row["message"]
    images, labels = _test_images(trial, tmp_path)
    assert adstudy(["score", str(trial.kept), str(images), "--out", str(tmp_path / "folder"),
                    "--threshold-from-val"]) == 0
    paths, scores, anomaly = _scores(tmp_path / "folder")
    assert paths == [f"{images}[{i}]" for i in range(len(labels))]
    assert auroc(labels, scores) == pytest.approx(trial.row["test_auroc"], abs=1e-6)
    threshold = load_detector(trial.kept, "cpu").threshold["value"]
    assert anomaly == [str(int(score >= np.float32(threshold))) for score in scores]
    assert (tmp_path / "folder" / "extremes.png").stat().st_size > 0

    # the same detector as a study logs it: a model of its trial's child run, sent through the trial's journal
    from mlflow import MlflowClient

    journal = tracking.journal(name)
    journal.start(name, {}, {"study": "kept"})
    journal.log_model(trial.kept, {"study": "kept"}, None, {"method.name": name})
    assert journal.send(wait=True)
    client = MlflowClient(tracking.uri)
    experiment = client.get_experiment_by_name("kept").experiment_id
    model = client.search_logged_models([experiment], filter_string=f"tags.`adstudy.model` = 'run-0/{name}'")
    assert len(model) == 1 and model[0].status == "READY" and model[0].params["method.name"] == name
    assert model[0].source_run_id == journal.state()["run_id"]
    tracking_before = os.environ.get("MLFLOW_TRACKING_URI")
    assert adstudy(["score", f"models:/{model[0].model_id}", str(images), "--out", str(tmp_path / "mlflow"),
                    "--tracking-uri", tracking.uri]) == 0
    assert os.environ.get("MLFLOW_TRACKING_URI") == tracking_before  # a driver started next keeps its own store
    _, from_mlflow, _ = _scores(tmp_path / "mlflow")
    assert auroc(labels, from_mlflow) == pytest.approx(trial.row["test_auroc"], abs=1e-6)


def test_an_unreadable_image_stops_the_scoring_by_name_unless_skipped(trained, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture) -> None:
    from PIL import Image

    trial = trained("mahalanobis")
    folder = tmp_path / "images" / "cats"  # a class folder: the layout does not matter
    folder.mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.full((20, 24), 40 * i, np.uint8)).save(folder / f"{i}.png")
    (folder / "broken.png").write_bytes(b"not an image")
    assert adstudy(["score", str(trial.kept), str(tmp_path / "images"), "--out", str(tmp_path / "a")]) == 2
    error = capsys.readouterr().err
    assert f"{folder / 'broken.png'} cannot be decoded" in error and "--unreadable skip" in error
    assert not (tmp_path / "a" / "scores.csv").exists()
    assert adstudy(["score", str(trial.kept), str(tmp_path / "images"), "--out", str(tmp_path / "b"),
                    "--unreadable", "skip"]) == 0
    assert f"skipped {folder / 'broken.png'}" in capsys.readouterr().err
    paths, scores, _ = _scores(tmp_path / "b")
    assert paths == [str(folder / f"{i}.png") for i in range(3)] and np.isfinite(scores).all()


def test_a_detector_kept_under_another_config_version_is_one_clear_error(trained, tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture) -> None:
    trial = trained("mahalanobis")
    saved = torch.load(trial.kept / DETECTOR_FILE, weights_only=True)
    saved.update(adcore="0.0.9", schema="0123456789abcdef")  # a version whose mahalanobis config differed
    saved["config"]["method"]["covariance"] = "diagonal"
    (tmp_path / "old").mkdir()
    torch.save(saved, tmp_path / "old" / DETECTOR_FILE)
    images, _ = _test_images(trial, tmp_path)
    assert adstudy(["score", str(tmp_path / "old"), str(images), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "kept by adcore 0.0.9" in error and "'mahalanobis'" in error
    assert "pip install adstudy==0.0.9" in error
